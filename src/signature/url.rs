//! The URL Plivo called, split into the pieces the signature uses (wire format §2.1, §3).

use std::fmt;

/// The URL Plivo called, as the pieces that are signed: `scheme://authority path` and the raw
/// query. Nothing is normalised: host case, an explicit port, a trailing slash and
/// percent-escapes all stay as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SignedUrl<'a> {
    scheme: &'a str,
    authority: &'a str,
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
            path,
            query,
        }
    }

    /// Parses an absolute URL such as `https://hooks.example.com/answer?x=1`. The fragment and
    /// any userinfo (`user:pw@`) are dropped: neither reaches a server in a request.
    pub(crate) fn parse(url: &'a str) -> Result<Self, UrlError> {
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::MissingScheme)?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !scheme_ok {
            return Err(UrlError::MissingScheme);
        }
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(authority_end);
        let authority = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        if authority.is_empty() {
            return Err(UrlError::MissingHost);
        }
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        Ok(Self {
            scheme,
            authority,
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

    /// The path as written (may be empty).
    pub(crate) fn path(&self) -> &'a str {
        self.path
    }

    /// The raw query string, without `?`.
    pub(crate) fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// `scheme://authority path`: the part of the URL both versions sign verbatim.
    #[cfg(test)]
    pub(crate) fn base(&self) -> String {
        self.text_pieces()[..4].concat()
    }

    pub(crate) fn base_len(&self) -> usize {
        self.scheme.len() + 3 + self.authority.len() + self.path.len()
    }

    /// The base as the pieces to hash in order: scheme, `://`, authority, path.
    pub(crate) fn base_parts(&self) -> [&'a [u8]; 4] {
        let [scheme, separator, authority, path, ..] = self.text_pieces();
        [scheme, separator, authority, path].map(str::as_bytes)
    }

    pub(crate) fn write_base(&self, out: &mut Vec<u8>) {
        for part in self.base_parts() {
            out.extend_from_slice(part);
        }
    }
}

impl<'a> SignedUrl<'a> {
    /// The URL's text as pieces in order (the `Display` form).
    fn text_pieces(&self) -> [&'a str; 6] {
        let (question, query) = match self.query {
            Some(query) => ("?", query),
            None => ("", ""),
        };
        [
            self.scheme,
            "://",
            self.authority,
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
    }
}
