//! The tower plumbing of [`PlivoSignatureLayer`](crate::PlivoSignatureLayer), as tower-http
//! keeps each middleware's: the service it makes ([`PlivoSignature`]), that service's
//! [`ResponseFuture`], and the two body types it hands on ([`RequestBody`] to the inner service,
//! [`ResponseBody`] back). A handler never names them; a stack that writes its types out
//! (a plain hyper or tonic server, a `tower::ServiceBuilder` bound) does.
//!
//! `PlivoSignature::call` routes the request (guarded, or passed through unread) and starts the
//! [`ResponseFuture`] that runs the guard's flow and calls the inner service.

use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

pub use crate::body::{RequestBody, ResponseBody};
pub use crate::future::ResponseFuture;
use crate::guard::PlivoGuard;
use crate::pipeline::read_body::BoxError;
use crate::pipeline::route;

/// Verifies Plivo signatures before calling the inner service. Made by
/// [`PlivoSignatureLayer`](crate::PlivoSignatureLayer).
///
/// ```
/// use tower::{ServiceExt, service_fn};
/// use tower_layer::Layer;
/// use tower_plivo::{PlivoSignatureLayer, UrlPolicy};
/// use tower_plivo::service::RequestBody;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let inner = service_fn(|_: http::Request<RequestBody<http_body_util::Full<bytes::Bytes>>>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(bytes::Bytes::new())))
/// });
/// let layer = PlivoSignatureLayer::builder()
///     .auth_token("token")
///     .url_policy(UrlPolicy::public_base("https://hooks.example.com").unwrap())
///     .build()
///     .unwrap();
/// let service = layer.layer(inner);
/// let response = service.oneshot(http::Request::new(http_body_util::Full::default())).await.unwrap();
/// assert_eq!(response.status(), 403); // no signature headers
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct PlivoSignature<S> {
    inner: S,
    guard: PlivoGuard,
}

impl<S> PlivoSignature<S> {
    pub(crate) fn new(inner: S, guard: PlivoGuard) -> Self {
        Self { inner, guard }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes `self`, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for PlivoSignature<S>
where
    S: Service<Request<RequestBody<ReqBody>>, Response = Response<ResBody>> + Clone,
    ReqBody: Body<Data = Bytes>,
    ReqBody::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (parts, body) = request.into_parts();
        if route::skips(
            &self.guard.shared.settings.skipped_prefixes,
            parts.uri.path(),
        ) {
            let request = Request::from_parts(parts, RequestBody::passthrough(body));
            return ResponseFuture::passthrough(self.inner.call(request));
        }
        // The instance `poll_ready` prepared goes with this request; a fresh clone stays for
        // the next one.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::guarded(self.guard.clone(), parts, body, inner)
    }
}
