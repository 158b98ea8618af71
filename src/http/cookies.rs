//! The request's cookies: the one reader, for the opt-out flag and the dashboard session alike.

use hyper::HeaderMap;
use hyper::header::COOKIE;

/// The request's cookies, as (name, value) pairs, in the order sent.
pub fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// The value of the first cookie called `name` that is not empty.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookies(headers).find(|(n, v)| *n == name && !v.is_empty()).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn reads_pairs_across_headers_and_names_exactly() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=b; session=abc"));
        headers.append(COOKIE, HeaderValue::from_static("c=d=e"));
        assert_eq!(cookies(&headers).collect::<Vec<_>>(), vec![("a", "b"), ("session", "abc"), ("c", "d=e")]);
        assert_eq!(cookie(&headers, "session"), Some("abc"));
        assert_eq!(cookie(&headers, "sess"), None);
    }
}
