//! Hop-by-hop header handling (RFC 9110 §7.6.1): headers that describe one connection, not the
//! message, and must not be passed on by a proxy.

use http::HeaderMap;
use http::header::{self, HeaderName};

/// Headers that are always connection-specific. `Proxy-*` (Proxy-Authorization,
/// Proxy-Authenticate, the non-standard Proxy-Connection) is handled by prefix below.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Removes the hop-by-hop headers: the fixed list, any `Proxy-*` header, and every header that
/// `Connection` names (`Connection: close, x-foo` makes `x-foo` hop-by-hop too).
///
/// Transfer-Encoding goes because hyper re-frames each side itself: it sends chunked or
/// Content-Length according to the body it is given. Content-Length stays: it is end to end,
/// and the forwarded body always has exactly that length (hyper enforces it on the way in).
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Collect first: the names borrow from `headers`. Clients name only what goes anyway
    // (`keep-alive`, `close`), which is skipped, so this nearly always stays empty and unallocated.
    let mut named: Vec<HeaderName> = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',').map(str::trim).filter(|t| !goes_anyway(t)) {
            if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
                named.push(name);
            }
        }
    }
    named.extend(
        headers
            .keys()
            .filter(|name| name.as_str().starts_with("proxy-"))
            .cloned(),
    );
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

/// A `Connection` token that needs no header name of its own: a header removed anyway, or
/// `close` (an option, not a header).
fn goes_anyway(token: &str) -> bool {
    token.eq_ignore_ascii_case("close")
        || HOP_BY_HOP
            .iter()
            .any(|name| token.eq_ignore_ascii_case(name.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn removes_fixed_listed_and_proxy_headers_only() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "Keep-Alive, X-Drop-Me, close"),
            ("keep-alive", "timeout=5"),
            ("x-drop-me", "1"),
            ("proxy-authorization", "Basic abc"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-t"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("authorization", "Bearer secret"),
            ("content-length", "12"),
            ("x-keep", "yes"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort();
        assert_eq!(left, ["authorization", "content-length", "x-keep"]);
    }

    #[test]
    fn only_tokens_naming_other_headers_need_a_name_built() {
        assert!(goes_anyway("Keep-Alive"));
        assert!(goes_anyway("close"));
        assert!(goes_anyway("TE"));
        assert!(!goes_anyway("x-drop-me"));
    }
}
