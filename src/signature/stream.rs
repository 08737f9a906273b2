//! Audio streams: the URL a WebSocket upgrade is signed over (wire format §6), and the other
//! forms Plivo's stream SDKs use, which only the doctor and an explicit opt-in try.

use std::borrow::Cow;
use std::fmt;

use super::url::SignedUrl;

/// The scheme Plivo signs an audio stream's URL with, whatever it dialled (`ws` or `wss`): the
/// default stream form's, and the one the head and the doctor verify a stream upgrade over.
pub(crate) const SIGNED_STREAM_SCHEME: &str = "http";

/// The URL form a stream upgrade's signature is computed over. Plivo dials `wss://host/path`
/// (or `ws://`) and signs the V3 GET message of that URL **with its scheme replaced by
/// `http`** ([`HttpScheme`](Self::HttpScheme)): that is the only form accepted by default.
/// Plivo's own stream SDKs compute other forms; they are named here so that the signature
/// doctor can say which one a request matched, and so that a user whose traffic provably
/// differs can opt into one of them with
/// [`also_accept_stream_url_form`](crate::PlivoGuardBuilder::also_accept_stream_url_form).
///
/// ```
/// use tower_plivo::signature::StreamUrlForm;
///
/// let url = StreamUrlForm::HttpScheme.url(true, "hooks.example.com", "/stream", Some("call=1"));
/// assert_eq!(url, "http://hooks.example.com/stream?call=1");
/// let dialled = StreamUrlForm::WebSocketScheme.url(true, "hooks.example.com", "/stream", None);
/// assert_eq!(dialled, "wss://hooks.example.com/stream");
/// let python = StreamUrlForm::WebSocketSuffix.url(true, "hooks.example.com", "/stream", None);
/// assert_eq!(python, "http://hooks.example.com/stream/websocket");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StreamUrlForm {
    /// `http://` + host, port, path and query as dialled: what Plivo signs (the default, and
    /// the only form accepted unless another is opted into).
    HttpScheme,
    /// The URL as dialled: `wss://` (or `ws://` when the public URL is plain `http`).
    WebSocketScheme,
    /// `https://` when the public URL is `https` (Plivo's Node stream SDK over TLS).
    HttpsScheme,
    /// `http://` with `/websocket` appended to the whole URL, after the query if there is one
    /// (Plivo's Python stream SDK).
    WebSocketSuffix,
}

impl StreamUrlForm {
    /// Every form, the default first.
    #[cfg(feature = "diagnosis")]
    pub(crate) const ALL: [StreamUrlForm; 4] = [
        StreamUrlForm::HttpScheme,
        StreamUrlForm::WebSocketScheme,
        StreamUrlForm::HttpsScheme,
        StreamUrlForm::WebSocketSuffix,
    ];

    /// The form's name, as logged (`stream_url_form="http_scheme"`).
    pub fn as_str(self) -> &'static str {
        match self {
            StreamUrlForm::HttpScheme => "http_scheme",
            StreamUrlForm::WebSocketScheme => "websocket_scheme",
            StreamUrlForm::HttpsScheme => "https_scheme",
            StreamUrlForm::WebSocketSuffix => "websocket_suffix",
        }
    }

    /// The signed URL's pieces in this form, for a stream whose public URL is `https` (`tls`)
    /// or `http`: the scheme, and the path and query as signed.
    pub(crate) fn pieces<'a>(
        self,
        tls: bool,
        path: &'a str,
        query: Option<&'a str>,
    ) -> StreamUrlPieces<'a> {
        let scheme = match (self, tls) {
            (StreamUrlForm::WebSocketScheme, true) => "wss",
            (StreamUrlForm::WebSocketScheme, false) => "ws",
            (StreamUrlForm::HttpsScheme, true) => "https",
            _ => SIGNED_STREAM_SCHEME,
        };
        let (path, query) = match (self, query) {
            (StreamUrlForm::WebSocketSuffix, Some(query)) => (
                Cow::Borrowed(path),
                Some(Cow::Owned(format!("{query}/websocket"))),
            ),
            (StreamUrlForm::WebSocketSuffix, None) => {
                (Cow::Owned(format!("{path}/websocket")), None)
            }
            (_, query) => (Cow::Borrowed(path), query.map(Cow::Borrowed)),
        };
        StreamUrlPieces {
            scheme,
            path,
            query,
        }
    }

    /// The whole URL in this form: for documentation and the doctor's log lines.
    pub fn url(self, tls: bool, authority: &str, path: &str, query: Option<&str>) -> String {
        self.pieces(tls, path, query)
            .signed_url(authority, "")
            .to_string()
    }
}

impl fmt::Display for StreamUrlForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stream URL's scheme, path and query in one form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StreamUrlPieces<'a> {
    pub(crate) scheme: &'static str,
    pub(crate) path: Cow<'a, str>,
    pub(crate) query: Option<Cow<'a, str>>,
}

impl StreamUrlPieces<'_> {
    /// The URL of these pieces at `authority`, under the path `prefix` a proxy removed.
    pub(crate) fn signed_url<'b>(&'b self, authority: &'b str, prefix: &'b str) -> SignedUrl<'b> {
        SignedUrl::from_parts(self.scheme, authority, &self.path, self.query.as_deref())
            .with_prefix(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_form_over_tls_and_plain() {
        let cases = [
            (StreamUrlForm::HttpScheme, true, "http://h/s?q=1"),
            (StreamUrlForm::HttpScheme, false, "http://h/s?q=1"),
            (StreamUrlForm::WebSocketScheme, true, "wss://h/s?q=1"),
            (StreamUrlForm::WebSocketScheme, false, "ws://h/s?q=1"),
            (StreamUrlForm::HttpsScheme, true, "https://h/s?q=1"),
            (StreamUrlForm::HttpsScheme, false, "http://h/s?q=1"),
            (
                StreamUrlForm::WebSocketSuffix,
                true,
                "http://h/s?q=1/websocket",
            ),
        ];
        for (form, tls, expected) in cases {
            assert_eq!(
                form.url(tls, "h", "/s", Some("q=1")),
                expected,
                "{form} tls={tls}"
            );
        }
        assert_eq!(
            StreamUrlForm::WebSocketSuffix.url(false, "h:8080", "/s", None),
            "http://h:8080/s/websocket"
        );
    }
}
