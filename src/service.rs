//! [`PlivoSignature`]: the service the layer wraps around the inner one.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use crate::body::{RequestBody, ResponseBody};
use crate::check::check_head;
use crate::collect::CollectBody;
use crate::config::Config;
use crate::future::ResponseFuture;
use crate::observe::request_span;
use crate::target::original_uri;
use crate::verified::PlivoVerdict;

/// Verifies Plivo signatures before calling the inner service. Made by
/// [`PlivoSignatureLayer`](crate::PlivoSignatureLayer).
///
/// ```
/// use tower::{ServiceExt, service_fn};
/// use tower_layer::Layer;
/// use tower_plivo::{PlivoSignatureLayer, RequestBody};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let inner = service_fn(|_: http::Request<RequestBody<http_body_util::Full<bytes::Bytes>>>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(bytes::Bytes::new())))
/// });
/// let layer = PlivoSignatureLayer::builder()
///     .auth_token("token")
///     .url_policy(tower_plivo::UrlPolicy::public_base("https://hooks.example.com").unwrap())
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
    config: Arc<Config>,
}

impl<S> PlivoSignature<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        Self { inner, config }
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
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (parts, body) = request.into_parts();
        // Compared with the path this service's inner service sees (not axum's `OriginalUri`):
        // a prefix written for another router never matches, so it guards more, never less.
        if self.config.skips(parts.uri.path()) {
            let request = Request::from_parts(parts, RequestBody::passthrough(body));
            return ResponseFuture::passthrough(self.inner.call(request));
        }
        let span = request_span(&parts.method, original_uri(&parts));
        match check_head(&self.config, &parts) {
            Err(refusal) => {
                let rejection = refusal.rejection;
                let url = original_uri(&parts).to_string();
                self.config.on_rejected(
                    &span,
                    rejection,
                    &parts.method,
                    &url,
                    refusal.detail.as_deref(),
                );
                if self.config.enforces(rejection) {
                    return ResponseFuture::rejected(
                        self.config.respond(rejection, &parts.headers),
                        span,
                    );
                }
                // Report-only: hand the request on unread, with the verdict it would have had.
                let mut parts = parts;
                parts.extensions.insert(PlivoVerdict::Rejected(rejection));
                let request = Request::from_parts(parts, RequestBody::passthrough(body));
                let future = {
                    let _entered = span.enter();
                    self.inner.call(request)
                };
                ResponseFuture::handed_on(future, span)
            }
            Ok(head) => {
                // The instance `poll_ready` prepared goes with this request; a fresh clone stays
                // for the next one.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                let collect =
                    CollectBody::new(body, self.config.body_limit, self.config.body_timeout);
                ResponseFuture::collecting(collect, head, parts, inner, self.config.clone(), span)
            }
        }
    }
}
