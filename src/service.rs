//! The tower plumbing of [`PlivoSignatureLayer`](crate::PlivoSignatureLayer), as tower-http
//! keeps each middleware's: the service it makes ([`PlivoSignature`]), that service's
//! [`ResponseFuture`], and the two body types it hands on ([`RequestBody`] to the inner service,
//! [`ResponseBody`] back). A handler never names them; a stack that writes its types out
//! (a plain hyper or tonic server, a `tower::ServiceBuilder` bound) does.
//!
//! `PlivoSignature::call` routes the request, checks its head, resolves its tokens, and starts
//! the [`ResponseFuture`] that reads, verifies and calls.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

pub use crate::body::{RequestBody, ResponseBody};
pub use crate::future::ResponseFuture;
use crate::observe::span::request_span;
use crate::pipeline::read_body::BoxError;
use crate::pipeline::settings::Settings;
use crate::pipeline::tokens::{self, Resolution};
use crate::pipeline::{diagnose, head, route};
use crate::request_info::RequestHead;

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
    settings: Arc<Settings>,
}

impl<S> PlivoSignature<S> {
    pub(crate) fn new(inner: S, settings: Arc<Settings>) -> Self {
        Self { inner, settings }
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
        let settings = &self.settings;
        let (parts, body) = request.into_parts();
        if route::skips(&settings.skipped_prefixes, parts.uri.path()) {
            let request = Request::from_parts(parts, RequestBody::passthrough(body));
            return ResponseFuture::passthrough(self.inner.call(request));
        }
        let (span, resolution) = {
            let request = RequestHead::from(&parts);
            let peer = request.peer_addr();
            let span = request_span(&parts.method, request.original_uri(), peer);
            let resolution = match head::check(settings, &request, peer) {
                Ok(mut head) => Ok((tokens::resolve(settings, &mut head, &request), head)),
                Err(mut refusal) => {
                    let read_body = span.in_scope(|| {
                        diagnose::head_refusal(settings, &mut refusal, &request, peer)
                    });
                    Err((refusal, read_body))
                }
            };
            (span, resolution)
        };
        // The instance `poll_ready` prepared goes with this request; a fresh clone stays for
        // the next one.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let settings = settings.clone();
        match resolution {
            Ok((Resolution::Ready(Ok(())), head)) => {
                ResponseFuture::after_head(head, parts, body, inner, settings, span)
            }
            Err((refusal, true)) => {
                ResponseFuture::refused_after_body(refusal, parts, body, inner, settings, span)
            }
            Err((refusal, false)) | Ok((Resolution::Ready(Err(refusal)), _)) => {
                ResponseFuture::refused_unread(refusal, parts, body, inner, &settings, span)
            }
            Ok((Resolution::Pending(pending), head)) => {
                ResponseFuture::resolving(head, pending, parts, body, inner, settings, span)
            }
        }
    }
}
