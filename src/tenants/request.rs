//! [`TenantRequest`]: what a [`TokenSource`](super::TokenSource) sees of a request to choose
//! its tenant.

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
            path,
            headers,
        }
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

    /// The path as received (before any router stripped a prefix), not percent-decoded.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The `index`th segment of the path (`0` is `acme` in `/acme/answer`), not decoded;
    /// `None` if there is none or it is empty.
    pub fn path_segment(&self, index: usize) -> Option<&'a str> {
        self.path
            .strip_prefix('/')?
            .split('/')
            .nth(index)
            .filter(|segment| !segment.is_empty())
    }

    /// The request headers. They are not signed: see
    /// [`TokenSource::tenant`](super::TokenSource::tenant) before choosing a tenant from one.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }
}
