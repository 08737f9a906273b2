//! [`PlivoSignature`]: the service the layer wraps around the inner one. `call` routes the
//! request, checks its head, and starts the [`ResponseFuture`] that reads, verifies and calls.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use crate::body::{RequestBody, ResponseBody};
use crate::future::ResponseFuture;
use crate::observe::events::{self, Rejected};
use crate::observe::span::request_span;
use crate::pipeline::read_body::ReadBody;
use crate::pipeline::respond::{Disposition, dispose};
use crate::pipeline::settings::Settings;
use crate::pipeline::upgrade::RequestKind;
use crate::pipeline::{head, route};
use crate::request_info::RequestHead;

/// Verifies Plivo signatures before calling the inner service. Made by
/// [`PlivoSignatureLayer`](crate::PlivoSignatureLayer).
///
/// ```
/// use tower::{ServiceExt, service_fn};
/// use tower_layer::Layer;
/// use tower_plivo::{PlivoSignatureLayer, RequestBody, UrlPolicy};
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
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let settings = &self.settings;
        let (mut parts, body) = request.into_parts();
        if route::skips(&settings.skipped_prefixes, parts.uri.path()) {
            let request = Request::from_parts(parts, RequestBody::passthrough(body));
            return ResponseFuture::passthrough(self.inner.call(request));
        }
        let (span, checked) = {
            let request = RequestHead::from(&parts);
            let span = request_span(&parts.method, request.original_uri());
            (span, head::check(settings, &request, request.peer_addr()))
        };
        let head = match checked {
            Ok(head) => head,
            Err(refusal) => {
                let rejection = refusal.rejection;
                let disposition = dispose(settings, rejection, &parts.headers);
                events::rejected(
                    &span,
                    settings.metrics.as_deref(),
                    Rejected {
                        rejection,
                        method: &parts.method,
                        url: None,
                        detail: refusal.detail.as_deref(),
                        reported_only: matches!(disposition, Disposition::HandOn),
                    },
                );
                return match disposition {
                    Disposition::Answer(response) => ResponseFuture::refused(response, span),
                    // Report-only: on, unread, with the rejection it would have had.
                    Disposition::HandOn => {
                        parts.extensions.insert(rejection);
                        let request = Request::from_parts(parts, RequestBody::passthrough(body));
                        let future = span.in_scope(|| self.inner.call(request));
                        ResponseFuture::handed_on(future, span)
                    }
                };
            }
        };
        // The instance `poll_ready` prepared goes with this request; a fresh clone stays for
        // the next one.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        match head.kind {
            RequestKind::Webhook => {
                let read = ReadBody::new(body, settings.body_limit, settings.body_timeout);
                ResponseFuture::reading(read, head, parts, inner, settings.clone(), span)
            }
            // Verified from its head alone: it declared no body, and none is read (what the
            // upgrade needs travels in the extensions, which go on with the head).
            RequestKind::StreamUpgrade => {
                ResponseFuture::from_head_alone(head, parts, inner, settings.clone(), span)
            }
        }
    }
}
