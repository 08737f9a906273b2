//! [`TenantRequest`]: what a [`TokenSource`](super::TokenSource) sees of a request to choose
//! its tenant.

use std::borrow::Cow;

use http::{HeaderMap, Method};

/// A signed request as a [`TokenSource`](super::TokenSource) sees it, before its body is read:
/// the host and path of the URL that will be verified (covered by every signature, exactly as
/// shown) and the headers (not covered).
///
/// The query is not shown: a V2 signature does not cover it, and a V3 signature covers its
/// decoded, sorted parameters rather than the text (`a=1&b=2` and `b=2&a=1` verify alike), so a
/// tenant read from it could differ between two requests under one signature.
///
/// ```
/// use tower_plivo::tenants::TenantRequest;
///
/// let headers = http::HeaderMap::new();
/// let request = TenantRequest::new(&http::Method::POST, "hooks.example.com", "/acme/answer", &headers);
/// assert_eq!(request.path_segment(0), Some("acme"));
/// assert_eq!(request.path_segment(1), Some("answer"));
/// assert_eq!(request.path_segment(2), None);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TenantRequest<'a> {
    method: &'a Method,
    host: &'a str,
    /// The path prefix a proxy removed (`""`: none), before `path`.
    prefix: &'a str,
    path: &'a str,
    headers: &'a HeaderMap,
}

impl<'a> TenantRequest<'a> {
    /// A request with these parts (the layer makes them; this is for testing a
    /// [`TokenSource`](super::TokenSource)).
    pub fn new(method: &'a Method, host: &'a str, path: &'a str, headers: &'a HeaderMap) -> Self {
        Self {
            method,
            host,
            prefix: "",
            path,
            headers,
        }
    }

    /// The same request under the path prefix a proxy removed (`/plivo`, from the URL policy's
    /// public base or a trusted `X-Forwarded-Prefix`).
    pub(crate) fn with_prefix(self, prefix: &'a str) -> Self {
        Self { prefix, ..self }
    }

    /// The method (`GET` or `POST`).
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The authority of the URL verified, as the URL policy established it, with its port as
    /// received or configured: a `Host` of `hooks.example.com:443` keeps its `:443` (Plivo
    /// signs the URL as it was configured, port included), while an `X-Forwarded-Port` equal to
    /// the scheme's default adds none. Compare ports as your tenants' URLs are configured. With
    /// [`UrlPolicy::public_base`](crate::UrlPolicy::public_base) it is the same for every
    /// request, so it cannot tell tenants apart.
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The path of the URL verified, not percent-decoded: the path prefix a proxy in front
    /// removed, if one is configured ([`UrlPolicy::public_base`](crate::UrlPolicy::public_base)
    /// with a path) or forwarded ([`ProxyHeader::XForwardedPrefix`](crate::ProxyHeader::XForwardedPrefix)),
    /// then the path as the app received it (before any router stripped a prefix of its own).
    /// It is borrowed when there is no prefix.
    ///
    /// ```
    /// # let headers = http::HeaderMap::new();
    /// let request = tower_plivo::tenants::TenantRequest::new(&http::Method::GET, "h", "/acme/answer", &headers);
    /// assert_eq!(request.path(), "/acme/answer");
    /// ```
    pub fn path(&self) -> Cow<'a, str> {
        match self.prefix {
            "" => Cow::Borrowed(self.path),
            prefix => Cow::Owned([prefix, self.path].concat()),
        }
    }

    /// The `index`th segment of [`path`](Self::path) (`0` is `acme` in `/acme/answer`), not
    /// decoded; `None` if there is none or it is empty. Under a path prefix, the prefix's
    /// segments come first (`0` is `plivo` in `/plivo` + `/acme/answer`).
    pub fn path_segment(&self, index: usize) -> Option<&'a str> {
        // The prefix never ends in `/`, and a path either starts with one or (`*`) gives no
        // segment: no segment spans both.
        [self.prefix, self.path]
            .into_iter()
            .filter(|piece| !piece.is_empty())
            .flat_map(|piece| {
                piece
                    .strip_prefix('/')
                    .into_iter()
                    .flat_map(|rest| rest.split('/'))
            })
            .nth(index)
            .filter(|segment| !segment.is_empty())
    }

    /// The request headers. They are not signed: see
    /// [`TokenSource::tenant`](super::TokenSource::tenant) before choosing a tenant from one.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_a_prefix_the_path_and_its_segments_are_the_url_verified() {
        let headers = HeaderMap::new();
        let request = TenantRequest::new(&Method::POST, "h", "/acme/answer", &headers);
        let prefixed = request.with_prefix("/plivo");
        assert_eq!(prefixed.path(), "/plivo/acme/answer");
        let segments: Vec<_> = (0..4).map(|i| prefixed.path_segment(i)).collect();
        assert_eq!(
            segments,
            [Some("plivo"), Some("acme"), Some("answer"), None]
        );
        assert_eq!(request.path(), "/acme/answer");
        assert_eq!(request.path_segment(0), Some("acme"));
        let root = TenantRequest::new(&Method::GET, "h", "/", &headers).with_prefix("/a/b");
        assert_eq!(root.path(), "/a/b/");
        assert_eq!(
            (root.path_segment(1), root.path_segment(2)),
            (Some("b"), None)
        );
    }
}
