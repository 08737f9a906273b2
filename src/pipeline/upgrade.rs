//! Part of stage 2, head: whether a request is a WebSocket upgrade (an audio stream), and
//! whether it is one the layer can verify. An upgrade is verified from its head alone, over
//! the stream URL form (wire format §6), so it must carry nothing the signature does not cover.

use http::header::{
    CONNECTION, CONTENT_LENGTH, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, TRANSFER_ENCODING,
    UPGRADE,
};
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

/// Classifies a request head, refusing the upgrades the layer cannot verify.
///
/// Any request with an `Upgrade` header is one a server may switch to another protocol (hyper
/// makes every HTTP/1.1 request with one upgradable, and frameworks differ in how strictly they
/// read `Connection`), so it goes on only as a WebSocket upgrade the layer verifies by the
/// stream rule: an HTTP/1.1 `GET` with `Connection: upgrade`, `Upgrade: websocket`,
/// `Sec-WebSocket-Key` and `Sec-WebSocket-Version: 13`, and no body (the signature would not
/// cover one). Anything else carrying `Upgrade` is refused, as is an HTTP/2 WebSocket (extended
/// `CONNECT`, RFC 8441: Plivo opens streams over HTTP/1.1, and how it would sign an HTTP/2 one
/// is not known). A request without `Upgrade` is a webhook.
pub(crate) fn classify(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Result<RequestKind, Refusal> {
    let refuse = |why: &str| Err(Refusal::explained(Rejection::UnsupportedUpgrade, why));
    if method == Method::CONNECT && version >= Version::HTTP_2 {
        return refuse(
            "an HTTP/2 WebSocket (extended CONNECT, RFC 8441): Plivo opens audio streams as \
             HTTP/1.1 upgrades, and how it would sign an HTTP/2 one is not known",
        );
    }
    if !headers.contains_key(UPGRADE) {
        return Ok(RequestKind::Webhook);
    }
    if !has_token(headers, UPGRADE, "websocket") {
        return refuse("an upgrade to another protocol than WebSocket");
    }
    if !has_token(headers, CONNECTION, "upgrade") {
        return refuse("an Upgrade header without the `upgrade` token in Connection");
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
    let version_13 = headers
        .get_all(SEC_WEBSOCKET_VERSION)
        .iter()
        .map(|value| value.as_bytes().trim_ascii())
        .eq([b"13".as_slice()]);
    if !headers.contains_key(SEC_WEBSOCKET_KEY) || !version_13 {
        return refuse(
            "a WebSocket upgrade without Sec-WebSocket-Key and Sec-WebSocket-Version: 13",
        );
    }
    Ok(RequestKind::StreamUpgrade)
}

/// Whether one of the `name` headers has `token` in its comma list (case-insensitive).
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

    /// What a WebSocket client (Plivo's) sends.
    const WEBSOCKET: [(&str, &str); 4] = [
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
    ];

    fn kind_of(
        method: Method,
        version: Version,
        pairs: &[(&'static str, &'static str)],
    ) -> Result<RequestKind, Rejection> {
        classify(&method, version, &headers(pairs)).map_err(|refusal| refusal.rejection)
    }

    fn websocket_with(
        replaced: &[(&'static str, &'static str)],
        added: &[(&'static str, &'static str)],
    ) -> Vec<(&'static str, &'static str)> {
        let mut pairs: Vec<_> = WEBSOCKET
            .iter()
            .map(|&(name, value)| {
                replaced
                    .iter()
                    .find(|(n, _)| *n == name)
                    .copied()
                    .unwrap_or((name, value))
            })
            .filter(|(_, value)| !value.is_empty())
            .collect();
        pairs.extend_from_slice(added);
        pairs
    }

    #[test]
    fn a_websocket_handshake_over_http_1_1_is_a_stream_upgrade() {
        let stream = Ok(RequestKind::StreamUpgrade);
        assert_eq!(kind_of(Method::GET, Version::HTTP_11, &WEBSOCKET), stream);
        let zero = websocket_with(&[], &[("content-length", "0")]);
        assert_eq!(kind_of(Method::GET, Version::HTTP_11, &zero), stream);
        // Tokens in lists, in any case, across repeated headers.
        let listed = websocket_with(
            &[
                ("connection", "keep-alive"),
                ("upgrade", "foo/1, WebSocket"),
            ],
            &[("connection", "KEEP-ALIVE, UpGrAdE")],
        );
        assert_eq!(kind_of(Method::GET, Version::HTTP_11, &listed), stream);
    }

    #[test]
    fn without_an_upgrade_header_it_is_a_webhook() {
        for pairs in [
            &[][..],
            &[("connection", "upgrade")][..],
            &[("sec-websocket-key", "x"), ("sec-websocket-version", "13")][..],
        ] {
            assert_eq!(
                kind_of(Method::POST, Version::HTTP_11, pairs),
                Ok(RequestKind::Webhook),
                "{pairs:?}"
            );
        }
    }

    /// Any `Upgrade` header makes a request upgradable by hyper, whatever `Connection` says as
    /// axum reads it (a substring of its first value): each is refused unless it is a WebSocket
    /// handshake the stream rule verifies.
    #[test]
    fn every_other_request_with_an_upgrade_header_is_refused() {
        let refused = Err(Rejection::UnsupportedUpgrade);
        let cases: Vec<Vec<(&str, &str)>> = vec![
            websocket_with(&[("connection", "")], &[]),
            websocket_with(&[("connection", "Upgraded")], &[]),
            websocket_with(&[("connection", "keep-alive upgrade")], &[]),
            websocket_with(&[("connection", "upgrade;x")], &[]),
            websocket_with(&[("connection", "xupgrade")], &[]),
            websocket_with(&[("upgrade", "h2c")], &[]),
            websocket_with(&[("upgrade", "websockets")], &[]),
            websocket_with(&[("sec-websocket-key", "")], &[]),
            websocket_with(&[("sec-websocket-version", "8")], &[]),
            websocket_with(&[("sec-websocket-version", "")], &[]),
            websocket_with(&[], &[("sec-websocket-version", "8")]),
            websocket_with(&[], &[("content-length", "5")]),
            websocket_with(&[], &[("content-length", "00")]),
            websocket_with(&[], &[("transfer-encoding", "chunked")]),
            websocket_with(&[], &[("transfer-encoding", "identity")]),
        ];
        for pairs in &cases {
            assert_eq!(
                kind_of(Method::GET, Version::HTTP_11, pairs),
                refused,
                "{pairs:?}"
            );
        }
        assert_eq!(kind_of(Method::POST, Version::HTTP_11, &WEBSOCKET), refused);
        assert_eq!(kind_of(Method::GET, Version::HTTP_10, &WEBSOCKET), refused);
        assert_eq!(kind_of(Method::GET, Version::HTTP_2, &WEBSOCKET), refused);
        // HTTP/2 extended CONNECT, with or without the HTTP/1 upgrade headers.
        assert_eq!(
            kind_of(Method::CONNECT, Version::HTTP_2, &WEBSOCKET),
            refused
        );
        assert_eq!(kind_of(Method::CONNECT, Version::HTTP_2, &[]), refused);
    }
}
