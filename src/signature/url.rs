//! The URL Plivo called, split into the pieces the signature uses (wire format §2.1, §3).

use std::fmt;

use memchr::{memchr, memchr2, memchr3, memrchr};

/// The URL Plivo called, as the pieces that are signed: `scheme://authority`, the path prefix a
/// proxy removed (empty unless one is configured or forwarded), the path as received, and the
/// raw query. Nothing is normalised: host case, an explicit port, a trailing slash and
/// percent-escapes all stay as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SignedUrl<'a> {
    scheme: &'a str,
    authority: &'a str,
    prefix: &'a str,
    path: &'a str,
    query: Option<&'a str>,
}

impl<'a> SignedUrl<'a> {
    /// Builds the pieces directly (the layer does this from its URL policy and the request
    /// target). `query` is the raw query string without its `?`.
    pub(crate) fn from_parts(
        scheme: &'a str,
        authority: &'a str,
        path: &'a str,
        query: Option<&'a str>,
    ) -> Self {
        Self {
            scheme,
            authority,
            prefix: "",
            path,
            query,
        }
    }

    /// The same URL with `prefix` (a path prefix a proxy removed, such as `/plivo`) before the
    /// path as received.
    pub(crate) fn with_prefix(self, prefix: &'a str) -> Self {
        Self { prefix, ..self }
    }

    /// Parses an absolute URL such as `https://hooks.example.com/answer?x=1`. The fragment and
    /// any userinfo (`user:pw@`) are dropped: neither reaches a server in a request.
    pub(crate) fn parse(url: &'a str) -> Result<Self, UrlError> {
        // One pass over bytes, left to right: each piece ends at the first byte that can end
        // it (the pure verifier parses its URL on every call, so this is on the hot path).
        let scheme_len = url
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
            .unwrap_or(url.len());
        let (scheme, rest) = url.split_at(scheme_len);
        let starts_alphabetic = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic());
        let rest = match rest.strip_prefix("://") {
            Some(rest) if starts_alphabetic => rest,
            _ => return Err(UrlError::MissingScheme),
        };
        // The searches below are `memchr`'s (vector compares), not a closure per byte: a query
        // can be long (a GET's parameters).
        let authority_end = memchr3(b'/', b'?', b'#', rest.as_bytes()).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(authority_end);
        let authority = match memrchr(b'@', authority.as_bytes()) {
            Some(at) => &authority[at + 1..],
            None => authority,
        };
        if authority.is_empty() {
            return Err(UrlError::MissingHost);
        }
        let (path, rest) =
            rest.split_at(memchr2(b'?', b'#', rest.as_bytes()).unwrap_or(rest.len()));
        let query = rest.strip_prefix('?').map(|query| {
            let end = memchr(b'#', query.as_bytes()).unwrap_or(query.len());
            &query[..end]
        });
        Ok(Self {
            scheme,
            authority,
            prefix: "",
            path,
            query,
        })
    }

    /// The scheme, without `://`.
    pub(crate) fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// The authority (`host[:port]`) as written, without userinfo.
    pub(crate) fn authority(&self) -> &'a str {
        self.authority
    }

    /// The path as received, after the prefix (may be empty).
    pub(crate) fn path(&self) -> &'a str {
        self.path
    }

    /// The raw query string, without `?`.
    pub(crate) fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// `scheme://authority prefix path`: the part of the URL both versions sign verbatim.
    #[cfg(test)]
    pub(crate) fn base(&self) -> String {
        self.text_pieces()[..5].concat()
    }

    pub(crate) fn base_len(&self) -> usize {
        self.scheme.len() + 3 + self.authority.len() + self.prefix.len() + self.path.len()
    }

    /// The base as the pieces to hash in order: scheme, `://`, authority, prefix, path.
    pub(crate) fn base_parts(&self) -> [&'a [u8]; 5] {
        let [scheme, separator, authority, prefix, path, ..] = self.text_pieces();
        [scheme, separator, authority, prefix, path].map(str::as_bytes)
    }

    pub(crate) fn write_base(&self, out: &mut Vec<u8>) {
        for part in self.base_parts() {
            out.extend_from_slice(part);
        }
    }
}

impl<'a> SignedUrl<'a> {
    /// The URL's text as pieces in order (the `Display` form).
    fn text_pieces(&self) -> [&'a str; 7] {
        let (question, query) = match self.query {
            Some(query) => ("?", query),
            None => ("", ""),
        };
        [
            self.scheme,
            "://",
            self.authority,
            self.prefix,
            self.path,
            question,
            query,
        ]
    }

    /// The `Display` form as a `String`, sized once and copied piece by piece (the layer makes
    /// one per verified request, for [`PlivoVerified::url`](crate::PlivoVerified::url): the
    /// formatting machinery of `to_string` cost about as much as a dozen header lookups).
    pub(crate) fn url_text(&self) -> String {
        self.text_pieces().concat()
    }
}

impl fmt::Display for SignedUrl<'_> {
    /// The URL without userinfo or fragment: what the signature was checked against.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.text_pieces()
            .into_iter()
            .try_for_each(|piece| f.write_str(piece))
    }
}

/// Why a URL given to the [`Signer`](super::Signer) could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UrlError {
    /// The URL does not start with `scheme://`.
    MissingScheme,
    /// The URL has no host.
    MissingHost,
    /// A stream URL that is not `wss://` or `ws://`.
    NotAWebSocketUrl,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for UrlError {}

impl UrlError {
    /// What is wrong, as a sentence.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UrlError::MissingScheme => "a URL to sign must start with `scheme://`",
            UrlError::MissingHost => "a URL to sign must have a host",
            UrlError::NotAWebSocketUrl => "a stream URL to sign starts with `wss://` or `ws://`",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_as_written() {
        let url = SignedUrl::parse("https://EX.com:443/a%20b/?q=1&r#f").unwrap();
        assert_eq!(url.base(), "https://EX.com:443/a%20b/");
        assert_eq!(url.query(), Some("q=1&r"));
    }

    #[test]
    fn the_url_text_is_the_display_form_with_or_without_a_query() {
        for (written, shown) in [
            (
                "https://EX.com:443/a%20b/?q=1&r#f",
                "https://EX.com:443/a%20b/?q=1&r",
            ),
            ("http://h/p?", "http://h/p?"),
            ("https://answer.url", "https://answer.url"),
            ("wss://h/stream?callId=1", "wss://h/stream?callId=1"),
        ] {
            let url = SignedUrl::parse(written).unwrap();
            assert_eq!(url.to_string(), shown);
            assert_eq!(url.url_text(), shown);
            assert_eq!(url.url_text().capacity(), shown.len(), "sized once");
        }
    }

    #[test]
    fn a_prefix_goes_between_the_authority_and_the_path_as_received() {
        let url = SignedUrl::from_parts("https", "h", "/answer", Some("x=1")).with_prefix("/plivo");
        assert_eq!(url.base(), "https://h/plivo/answer");
        assert_eq!(url.url_text(), "https://h/plivo/answer?x=1");
        assert_eq!(url.to_string(), url.url_text());
        assert_eq!(url.base_len(), url.base().len());
        assert_eq!(url.path(), "/answer");
    }

    #[test]
    fn query_without_path() {
        let url = SignedUrl::parse("https://answer.url?x=1").unwrap();
        assert_eq!((url.path(), url.query()), ("", Some("x=1")));
    }

    #[test]
    fn empty_query_is_present_but_empty() {
        let url = SignedUrl::parse("http://h/p?").unwrap();
        assert_eq!(url.query(), Some(""));
    }

    #[test]
    fn rejects_non_urls() {
        assert_eq!(SignedUrl::parse("/answer"), Err(UrlError::MissingScheme));
        assert_eq!(SignedUrl::parse("1http://x"), Err(UrlError::MissingScheme));
        assert_eq!(SignedUrl::parse("https:///x"), Err(UrlError::MissingHost));
        assert_eq!(SignedUrl::parse("://x/"), Err(UrlError::MissingScheme));
        assert_eq!(
            SignedUrl::parse("/x?u=http://y"),
            Err(UrlError::MissingScheme)
        );
        assert_eq!(SignedUrl::parse("ht tp://x/"), Err(UrlError::MissingScheme));
        assert_eq!(SignedUrl::parse("https:/x"), Err(UrlError::MissingScheme));
        assert_eq!(SignedUrl::parse("https://u@/x"), Err(UrlError::MissingHost));
    }

    #[test]
    fn userinfo_fragment_and_query_end_where_a_server_ends_them() {
        for (written, scheme, authority, path, query) in [
            ("https://u:p@h:1/a?b#c", "https", "h:1", "/a", Some("b")),
            ("https://a@b@h/p", "https", "h", "/p", None),
            ("https://h#f/p?q", "https", "h", "", None),
            ("https://h/p#f?q", "https", "h", "/p", None),
            ("https://h?q/r#f", "https", "h", "", Some("q/r")),
            ("wss://h/s?a=http://x", "wss", "h", "/s", Some("a=http://x")),
            ("svn+ssh.x-y://h", "svn+ssh.x-y", "h", "", None),
        ] {
            let url = SignedUrl::parse(written).unwrap();
            let got = (url.scheme(), url.authority(), url.path(), url.query());
            assert_eq!(got, (scheme, authority, path, query), "{written}");
        }
    }
}
