//! The security headers of what we serve, in one place: `nosniff` on every answer, a strict
//! Content-Security-Policy on the dashboard, and on the opt-out pages a policy whose
//! `frame-ancestors` are the site's own domains (the opt-out is meant to be framed by the site's
//! privacy page, and by nothing else).

use hyper::HeaderMap;
use hyper::header::{CONTENT_SECURITY_POLICY, HeaderValue, X_CONTENT_TYPE_OPTIONS};
use sha2::{Digest, Sha256};

use crate::summary::SiteFacts;

/// Every answer: the browser takes the content type as given.
pub(crate) fn nosniff(headers: &mut HeaderMap) {
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

/// The dashboard: its own scripts, styles and API only; framed by nothing else.
pub(crate) const DASHBOARD_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'";

/// The one inline script of the Matomo opt-out iframe: its checkbox's handler, allowed by hash.
pub(crate) const SUBMIT_ON_CHANGE: &str = "this.form.submit()";

/// An opt-out page's policy: inline styles (the page's own and the site's colours), no script
/// but `handler` (by hash) if given, forms to ourselves, and framed only by the site's domains
/// (any subdomain of them too) or by ourselves. The collector-wide page (no `idsite`) may be
/// framed by any configured site.
pub(crate) fn opt_out_policy(headers: &mut HeaderMap, facts: &SiteFacts, handler: Option<&str>) {
    let mut policy = String::from("default-src 'none'; style-src 'unsafe-inline'; img-src data:; ");
    if let Some(handler) = handler {
        let hash = base64(&Sha256::digest(handler.as_bytes()));
        policy.push_str(&format!("script-src 'unsafe-hashes' 'sha256-{hash}'; "));
    }
    policy.push_str("form-action 'self'; base-uri 'none'; frame-ancestors 'self'");
    // Any port and either scheme of the site's own hosts: a source without them would only
    // match the collector's scheme on the default port.
    for domain in facts.domains.iter().filter(|d| is_host(d)) {
        policy.push_str(&format!(" https://{domain}:* http://{domain}:* https://*.{domain}:* http://*.{domain}:*"));
    }
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(CONTENT_SECURITY_POLICY, value);
    }
}

/// A host name as a CSP source may carry it (letters, digits, dots and hyphens).
fn is_host(domain: &str) -> bool {
    !domain.is_empty() && domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Standard base64 (with padding), for CSP hashes.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opt_out_may_be_framed_by_its_site_only() {
        let config =
            crate::config::Config::from_toml("[[sites]]\nid = 1\ndomains = [\"example.org\"]\n", std::iter::empty())
                .unwrap();
        let facts = SiteFacts::of(&config, &config.sites[0]);
        let mut headers = HeaderMap::new();
        opt_out_policy(&mut headers, &facts, Some(SUBMIT_ON_CHANGE));
        let policy = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.ends_with(
            "frame-ancestors 'self' https://example.org:* http://example.org:* https://*.example.org:* http://*.example.org:*"
        ));
        assert!(!is_host("bad domain;") && is_host("www.example-1.org"));
        // The hash of the checkbox handler, as browsers compute it.
        assert!(policy.contains("'sha256-"), "{policy}");
    }

    #[test]
    fn base64_of_known_values() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
