//! Part of stage 2, head: whether a request is a WebSocket upgrade (an audio stream), and
//! whether it is one the layer can verify. An upgrade is verified from its head alone, over
//! the stream URL form (wire format §6), so it must carry nothing the signature does not cover.

use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, Method, Version};

use super::respond::Refusal;
use crate::rejection::Rejection;

/// What kind of request the head describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestKind {
    /// An ordinary webhook: its body, if any, is read and verified.
    Webhook,
    /// An HTTP/1.1 WebSocket upgrade (`GET`, `Connection: upgrade`, `Upgrade: websocket`),
    /// verified from its head alone.
    StreamUpgrade,
}

/// Classifies a request head, refusing the upgrades the layer cannot verify: an HTTP/2
/// WebSocket (extended `CONNECT`, RFC 8441: Plivo opens streams over HTTP/1.1, and nothing
/// says how it would sign one), an upgrade with another method or HTTP version, and an upgrade
/// that declares a body (the signature would not cover it, and no body rides along with a
/// verified head).
pub(crate) fn classify(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Result<RequestKind, Refusal> {
    let refuse = |why: &str| {
        Err(Refusal {
            rejection: Rejection::UnsupportedUpgrade,
            detail: Some(why.to_owned()),
        })
    };
    if method == Method::CONNECT && version >= Version::HTTP_2 {
        return refuse(
            "an HTTP/2 WebSocket (extended CONNECT, RFC 8441): Plivo opens audio streams as \
             HTTP/1.1 upgrades, and how it would sign an HTTP/2 one is not known",
        );
    }
    if !is_websocket_upgrade(headers) {
        return Ok(RequestKind::Webhook);
    }
    if method != Method::GET {
        return refuse("a WebSocket upgrade that is not a GET");
    }
    if version != Version::HTTP_11 {
        return refuse("a WebSocket upgrade that is not HTTP/1.1");
    }
    if declares_body(headers) {
        return refuse("a WebSocket upgrade that declares a body");
    }
    Ok(RequestKind::StreamUpgrade)
}

/// `Connection` has the token `upgrade` and `Upgrade` has the token `websocket` (each
/// case-insensitive, in any of the headers' comma lists).
fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    has_token(headers, CONNECTION, "upgrade") && has_token(headers, UPGRADE, "websocket")
}

fn has_token(headers: &HeaderMap, name: http::header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|piece| piece.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// A `Transfer-Encoding`, or a `Content-Length` that is not exactly zero.
fn declares_body(headers: &HeaderMap) -> bool {
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get_all(CONTENT_LENGTH)
            .iter()
            .any(|value| value.as_bytes().trim_ascii() != b"0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    const UPGRADE_HEADERS: [(&str, &str); 2] =
        [("connection", "Upgrade"), ("upgrade", "websocket")];

    fn kind(
        method: Method,
        version: Version,
        extra: &[(&'static str, &'static str)],
    ) -> Result<RequestKind, Rejection> {
        let mut all = UPGRADE_HEADERS.to_vec();
        all.extend_from_slice(extra);
        classify(&method, version, &headers(&all)).map_err(|refusal| refusal.rejection)
    }

    #[test]
    fn a_get_over_http_1_1_with_both_tokens_is_a_stream_upgrade() {
        assert_eq!(
            kind(Method::GET, Version::HTTP_11, &[]),
            Ok(RequestKind::StreamUpgrade)
        );
        assert_eq!(
            kind(Method::GET, Version::HTTP_11, &[("content-length", "0")]),
            Ok(RequestKind::StreamUpgrade)
        );
        // Tokens in lists, any case, across repeated headers.
        let listed = headers(&[
            ("connection", "keep-alive"),
            ("connection", "KEEP-ALIVE, UpGrAdE"),
            ("upgrade", "foo/1, WebSocket"),
        ]);
        assert_eq!(
            classify(&Method::GET, Version::HTTP_11, &listed).map_err(|r| r.rejection),
            Ok(RequestKind::StreamUpgrade)
        );
    }

    #[test]
    fn without_both_tokens_it_is_a_webhook() {
        for pairs in [
            &[("upgrade", "websocket")][..],
            &[("connection", "upgrade")][..],
            &[("connection", "upgrade"), ("upgrade", "h2c")][..],
            &[("connection", "upgraded"), ("upgrade", "websockets")][..],
            &[][..],
        ] {
            assert_eq!(
                classify(&Method::POST, Version::HTTP_11, &headers(pairs)).map_err(|r| r.rejection),
                Ok(RequestKind::Webhook),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn upgrades_the_layer_cannot_verify_are_refused() {
        let refused = Err(Rejection::UnsupportedUpgrade);
        assert_eq!(kind(Method::POST, Version::HTTP_11, &[]), refused);
        assert_eq!(kind(Method::GET, Version::HTTP_10, &[]), refused);
        assert_eq!(
            kind(Method::GET, Version::HTTP_11, &[("content-length", "5")]),
            refused
        );
        assert_eq!(
            kind(
                Method::GET,
                Version::HTTP_11,
                &[("transfer-encoding", "chunked")]
            ),
            refused
        );
        // HTTP/2 extended CONNECT, with or without the HTTP/1 upgrade tokens.
        assert_eq!(kind(Method::CONNECT, Version::HTTP_2, &[]), refused);
        assert_eq!(
            classify(&Method::CONNECT, Version::HTTP_2, &HeaderMap::new()).map_err(|r| r.rejection),
            refused
        );
    }
}
