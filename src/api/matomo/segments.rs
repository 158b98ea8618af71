//! Matomo's `segment` parameter, for the dimensions we store: `countryCode==fr;deviceType==smartphone`,
//! `pageUrl=@/articles,pageUrl=@/news` (`;` is AND, `,` is OR, as in Matomo). Operators `==`,
//! `!=`, `=@` (contains), `!@`, `=^` (starts with), `=$` (ends with). Values are URL-encoded
//! in the segment, as Matomo's clients send them. A segment naming anything else is refused in
//! Matomo's words, never ignored (an ignored segment would answer for every visitor).

use crate::query::request::{Dimension, Filter, FilterTree, Operator};

/// The most conditions one segment may hold.
const MAX_CONDITIONS: usize = 20;

/// Our dimension for a Matomo segment name, and how its values are written there.
fn dimension(name: &str) -> Option<(Dimension, Value)> {
    Some(match name {
        "countryCode" => (Dimension::Country, Value::Upper),
        "regionName" => (Dimension::Region, Value::AsIs),
        "city" => (Dimension::City, Value::AsIs),
        "referrerType" => (Dimension::Channel, Value::ReferrerType),
        "referrerName" => (Dimension::Source, Value::AsIs),
        "referrerUrl" => (Dimension::Referrer, Value::Host),
        "deviceType" => (Dimension::Device, Value::DeviceType),
        "browserName" => (Dimension::Browser, Value::AsIs),
        "operatingSystemName" => (Dimension::Os, Value::AsIs),
        "languageCode" => (Dimension::Language, Value::Lower),
        "pageUrl" => (Dimension::Page, Value::Path),
        "entryPageUrl" => (Dimension::EntryPage, Value::Path),
        "exitPageUrl" => (Dimension::ExitPage, Value::Path),
        "pageTitle" => (Dimension::PageTitle, Value::AsIs),
        "eventCategory" => (Dimension::EventCategory, Value::AsIs),
        "eventAction" => (Dimension::EventAction, Value::AsIs),
        "eventName" => (Dimension::EventLabel, Value::AsIs),
        "siteSearchKeyword" => (Dimension::SearchKeyword, Value::Lower),
        "outlinkUrl" => (Dimension::Outlink, Value::HostAndPath),
        "downloadUrl" => (Dimension::Download, Value::HostAndPath),
        "campaignName" => (Dimension::UtmCampaign, Value::AsIs),
        "campaignSource" => (Dimension::UtmSource, Value::AsIs),
        "campaignMedium" => (Dimension::UtmMedium, Value::AsIs),
        _ => return None,
    })
}

/// How a segment value becomes the value we store.
#[derive(Debug, Clone, Copy)]
enum Value {
    AsIs,
    Upper,
    Lower,
    /// A URL or a path: its path.
    Path,
    /// A URL: its host.
    Host,
    /// A URL: host + path, as outlinks and downloads are stored.
    HostAndPath,
    /// Matomo's referrer type: our channel.
    ReferrerType,
    /// Matomo's device type: ours.
    DeviceType,
}

impl Value {
    fn stored(self, value: &str) -> String {
        let url = || url::Url::parse(value).ok();
        match self {
            Value::AsIs => value.to_string(),
            Value::Upper => value.to_ascii_uppercase(),
            Value::Lower => value.to_lowercase(),
            Value::Path => url().map_or_else(|| value.to_string(), |u| u.path().to_string()),
            Value::Host => url().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_else(|| value.to_string()),
            Value::HostAndPath => url()
                .map(|u| format!("{}{}", u.host_str().unwrap_or(""), u.path()))
                .unwrap_or_else(|| value.to_string()),
            // Matomo's types (direct, search, social, website, campaign) are channels of ours.
            Value::ReferrerType => value.to_ascii_lowercase(),
            Value::DeviceType => match value.to_ascii_lowercase().as_str() {
                "smartphone" | "phablet" | "feature phone" => "mobile".to_string(),
                other => other.to_string(),
            },
        }
    }
}

/// The filters of a `segment` (empty when there is none), or Matomo's message.
pub(crate) fn filters(segment: Option<&str>) -> Result<Vec<FilterTree>, String> {
    let Some(segment) = segment.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(Vec::new()) };
    let mut trees = Vec::new();
    let mut count = 0;
    for all in segment.split(';') {
        let mut any = Vec::new();
        for condition in all.split(',') {
            count += 1;
            if count > MAX_CONDITIONS {
                return Err(format!("The segment has more than {MAX_CONDITIONS} conditions."));
            }
            any.push(FilterTree::Leaf(leaf(condition)?));
        }
        trees.push(if any.len() == 1 { any.pop().expect("one") } else { FilterTree::Or(any) });
    }
    Ok(trees)
}

/// One condition: `name` operator `value`.
fn leaf(condition: &str) -> Result<Filter, String> {
    const OPERATORS: [&str; 6] = ["==", "!=", "=@", "!@", "=^", "=$"];
    let (at, op) = OPERATORS
        .iter()
        .filter_map(|op| condition.find(op).map(|at| (at, *op)))
        .min_by_key(|(at, _)| *at)
        .ok_or_else(|| format!("The segment condition '{condition}' is not valid."))?;
    let (name, raw) = (&condition[..at], &condition[at + op.len()..]);
    let (dimension, value) = dimension(name).ok_or_else(|| {
        format!("The segment '{name}' is not supported: mesure keeps no such data, or not per visitor.")
    })?;
    let decoded: String =
        form_urlencoded::parse(format!("v={raw}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default();
    let stored = value.stored(&decoded);
    let escaped = regex::escape(&stored);
    let (operator, pattern) = match op {
        "==" => (Operator::Is, stored),
        "!=" => (Operator::IsNot, stored),
        "=@" => (Operator::Contains, stored),
        "!@" => (Operator::ContainsNot, stored),
        "=^" => (Operator::Matches, format!("^{escaped}")),
        _ => (Operator::Matches, format!("{escaped}$")),
    };
    Ok(Filter { operator, dimension, values: vec![pattern], case_sensitive: matches!(op, "==" | "!=") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_become_filters_or_are_refused() {
        assert!(filters(None).unwrap().is_empty());
        let trees = filters(Some("countryCode==fr;deviceType==smartphone")).unwrap();
        assert_eq!(trees.len(), 2);
        let FilterTree::Leaf(country) = &trees[0] else { panic!("{trees:?}") };
        assert_eq!((country.dimension.clone(), country.values[0].as_str()), (Dimension::Country, "FR"));
        let FilterTree::Leaf(device) = &trees[1] else { panic!("{trees:?}") };
        assert_eq!(device.values[0], "mobile");
        let any = filters(Some("pageUrl=@%2Farticles,pageUrl=^https%3A%2F%2Fexample.org%2Fnews")).unwrap();
        let FilterTree::Or(leaves) = &any[0] else { panic!("{any:?}") };
        let FilterTree::Leaf(starts) = &leaves[1] else { panic!() };
        assert_eq!((starts.operator, starts.values[0].as_str()), (Operator::Matches, "^/news"));
        assert!(filters(Some("visitorId==abc")).unwrap_err().contains("not supported"));
        assert!(filters(Some("countryCode")).unwrap_err().contains("not valid"));
        assert!(filters(Some(&vec!["city==Paris"; 21].join(";"))).is_err());
    }
}
