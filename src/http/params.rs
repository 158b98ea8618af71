//! Strict `application/x-www-form-urlencoded` decoding for tracking requests.
//!
//! Unlike `form_urlencoded::parse`, which decodes anything lossily, this rejects what a real
//! tracker never sends: a `%` not followed by two hex digits, or bytes that are not UTF-8 once
//! decoded. Such a request is answered 400 (structurally malformed), not silently mangled.
//! Values are borrowed from the request when no decoding is needed.

use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("bad percent-encoding in parameter {0}")]
    BadEscape(usize),
    #[error("parameter {0} is not UTF-8 once decoded")]
    NotUtf8(usize),
}

/// Decoded parameters in request order. Later values of a repeated key win in [`Params::get`],
/// as in PHP (Matomo) where the request body overrides the query string.
#[derive(Debug, Default, Clone)]
pub struct Params<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Params<'a> {
    /// Decodes `input` (a query string without `?`, or a form body) and appends its pairs.
    pub(crate) fn extend_from(&mut self, input: &'a str) -> Result<(), ParamsError> {
        // Byte scanning: `&` and `=` are ASCII, so every cut is at a character boundary.
        let bytes = input.as_bytes();
        let (mut start, mut index) = (0, 0);
        while start <= bytes.len() {
            let end = bytes[start..].iter().position(|&b| b == b'&').map_or(bytes.len(), |n| start + n);
            let piece = &input[start..end];
            if !piece.is_empty() {
                let (key, value) = match piece.bytes().position(|b| b == b'=') {
                    Some(eq) => (&piece[..eq], &piece[eq + 1..]),
                    None => (piece, ""),
                };
                self.pairs.push((decode(key, index)?, decode(value, index)?));
            }
            index += 1;
            start = end + 1;
        }
        Ok(())
    }

    pub fn parse(input: &'a str) -> Result<Params<'a>, ParamsError> {
        // A Matomo pixel carries a dozen or two parameters.
        let mut params = Params { pairs: Vec::with_capacity(24) };
        params.extend_from(input)?;
        Ok(params)
    }

    /// These parameters with `key` set to `value` (it wins over any earlier value).
    pub(crate) fn with(&self, key: &'a str, value: String) -> Params<'a> {
        let mut params = self.clone();
        params.pairs.push((Cow::Borrowed(key), Cow::Owned(value)));
        params
    }

    /// The last value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }

    /// The last value for `key`, unless it is empty.
    pub(crate) fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// One pass: `+` becomes a space, `%XY` its byte, anything else is copied; then one UTF-8
/// check. (Validating, replacing `+` and percent-decoding in three passes cost more than the
/// rest of the parameter handling; the load profile showed it.)
fn decode(raw: &str, index: usize) -> Result<Cow<'_, str>, ParamsError> {
    let bytes = raw.as_bytes();
    let Some(first) = bytes.iter().position(|&b| b == b'%' || b == b'+') else {
        return Ok(Cow::Borrowed(raw));
    };
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..first]);
    let mut i = first;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let digit = |at: usize| bytes.get(at).and_then(|&b| (b as char).to_digit(16));
                let (Some(high), Some(low)) = (digit(i + 1), digit(i + 2)) else {
                    return Err(ParamsError::BadEscape(index));
                };
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            _ => {
                // Copy the plain run up to the next escape in one go.
                let run = bytes[i..].iter().position(|&b| b == b'%' || b == b'+').unwrap_or(bytes.len() - i);
                out.extend_from_slice(&bytes[i..i + run]);
                i += run;
            }
        }
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|_| ParamsError::NotUtf8(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_borrows() {
        let p = Params::parse("idsite=1&rec=1&url=https%3A%2F%2Fex.org%2Fa%20b&action_name=Hello+world&empty=&flag")
            .unwrap();
        assert_eq!(p.get("idsite"), Some("1"));
        assert_eq!(p.get("url"), Some("https://ex.org/a b"));
        assert_eq!(p.get("action_name"), Some("Hello world"));
        assert_eq!(p.get("empty"), Some(""));
        assert_eq!(p.non_empty("empty"), None);
        assert_eq!(p.get("flag"), Some(""));
        assert!(matches!(p.pairs[0].1, Cow::Borrowed(_)));
    }

    #[test]
    fn later_values_win() {
        let mut p = Params::parse("a=1&b=2").unwrap();
        p.extend_from("a=3").unwrap();
        assert_eq!(p.get("a"), Some("3"));
    }

    #[test]
    fn rejects_bad_escapes_and_non_utf8() {
        assert_eq!(Params::parse("a=%zz").unwrap_err(), ParamsError::BadEscape(0));
        assert_eq!(Params::parse("a=1&b=%4").unwrap_err(), ParamsError::BadEscape(1));
        assert_eq!(Params::parse("a=%").unwrap_err(), ParamsError::BadEscape(0));
        assert_eq!(Params::parse("a=%ff%fe").unwrap_err(), ParamsError::NotUtf8(0));
        assert_eq!(Params::parse("a=%C3%A9").unwrap().get("a"), Some("é"));
        assert_eq!(Params::parse("a=%2B+%2b%20x").unwrap().get("a"), Some("+ + x"), "an encoded + stays a +");
        assert_eq!(Params::parse("a=caf%C3%A9+cr%C3%A8me&b=%41").unwrap().get("a"), Some("café crème"));
        assert_eq!(Params::parse("a=x%2").unwrap_err(), ParamsError::BadEscape(0));
    }
}
