//! The visitor's language, reduced to its primary subtag (`fr-CA,fr;q=0.9` → `fr`).

/// The primary language of an `Accept-Language` value or a Matomo `lang` parameter; `""` when
/// there is none that looks like a language.
pub(crate) fn primary_language(value: &str) -> String {
    let first = value.split(',').next().unwrap_or("");
    let tag = first.split(';').next().unwrap_or("").trim();
    let primary = tag.split(['-', '_']).next().unwrap_or("");
    if (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic()) {
        primary.to_ascii_lowercase()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::primary_language;

    #[test]
    fn primary_subtags() {
        assert_eq!(primary_language("fr-CA,fr;q=0.9,en;q=0.8"), "fr");
        assert_eq!(primary_language("en_US"), "en");
        assert_eq!(primary_language("DE"), "de");
        assert_eq!(primary_language("*"), "");
        assert_eq!(primary_language(""), "");
        assert_eq!(primary_language("x-klingon"), "");
    }
}
