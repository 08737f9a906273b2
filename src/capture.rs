//! [`CaptureReceivedLayer`]: records the request line as it arrived, for diagnosis only.
//!
//! A layer in front of [`PlivoSignatureLayer`](crate::PlivoSignatureLayer) can change the
//! request in place (tower-http's `NormalizePathLayer` trims a trailing slash, a rewrite maps
//! one path onto another) before the signature layer sees it; the signature layer then verifies
//! a URL Plivo did not sign, and cannot tell why. Put this layer outermost: it keeps the method
//! and target as received in the request's extensions, and when a refusal's target differs
//! from it, the refusal's line shows it (`received=`) and the signature doctor names the layer
//! in front as the cause. It never changes a verdict: verification reads the request as the
//! signature layer gets it (under an axum `Router`, its `OriginalUri`), never the capture.

use std::task::{Context, Poll};

use http::{Method, Request, Uri};
use tower_layer::Layer;
use tower_service::Service;

use crate::request_info::RequestHead;

/// Records each request's method and target as received, in a [`ReceivedRequestLine`]
/// extension, so that a refusal by [`PlivoSignatureLayer`](crate::PlivoSignatureLayer) can say
/// what the layers between them changed. Put it outermost (first in a `ServiceBuilder`, or the
/// last `Router::layer` call); it costs one `Uri` clone per request and never changes a verdict.
///
/// ```
/// use axum::{Router, routing::post};
/// use tower::ServiceBuilder;
/// use tower_plivo::{PlivoSignatureLayer, UrlPolicy};
/// use tower_plivo::capture::CaptureReceivedLayer;
///
/// let plivo = PlivoSignatureLayer::builder()
///     .auth_token("token")
///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
///     .build()?;
/// let app: Router = Router::new()
///     .route("/answer", post(|| async { "<Response/>" }))
///     .layer(
///         ServiceBuilder::new()
///             .layer(CaptureReceivedLayer::new()) // outermost: the request as it arrived
///             // .. any layer that may rewrite the request ..
///             .layer(plivo),
///     );
/// # let _ = app;
/// # Ok::<(), tower_plivo::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct CaptureReceivedLayer {
    _private: (),
}

impl CaptureReceivedLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for CaptureReceivedLayer {
    type Service = CaptureReceived<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CaptureReceived { inner }
    }
}

/// The service [`CaptureReceivedLayer`] makes: inserts a [`ReceivedRequestLine`] and calls the
/// inner service; its response, error and future are the inner service's own.
#[derive(Clone, Copy, Debug)]
pub struct CaptureReceived<S> {
    inner: S,
}

impl<S> CaptureReceived<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Consumes `self`, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for CaptureReceived<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        record(&mut request);
        self.inner.call(request)
    }
}

/// Keeps the request line as it is now, unless a capture further out already kept it (the
/// outermost one knows best what arrived). Inside an axum `Router` the target is the one the
/// signature layer reads too (`OriginalUri`, before `nest` stripped a prefix), so that a
/// capture placed there reports no change that is not one.
fn record<B>(request: &mut Request<B>) {
    if request.extensions().get::<ReceivedRequestLine>().is_none() {
        let head = RequestHead::from(&*request);
        let line = ReceivedRequestLine {
            method: head.method.clone(),
            uri: head.original_uri().clone(),
        };
        request.extensions_mut().insert(line);
    }
}

/// The method and target of a request as [`CaptureReceivedLayer`] received it (before the
/// layers inside it changed anything), for diagnosis. Nothing about it is verified: what the
/// signature covers is [`PlivoVerified::url`](crate::PlivoVerified::url).
///
/// ```
/// use tower::{ServiceExt, service_fn};
/// use tower_layer::Layer;
/// use tower_plivo::capture::{CaptureReceivedLayer, ReceivedRequestLine};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let service = CaptureReceivedLayer::new().layer(service_fn(|request: http::Request<()>| async move {
///     let line = request.extensions().get::<ReceivedRequestLine>().unwrap();
///     Ok::<_, std::convert::Infallible>(line.uri().to_string())
/// }));
/// let request = http::Request::post("/answer/?CallUUID=1").body(()).unwrap();
/// assert_eq!(service.oneshot(request).await.unwrap(), "/answer/?CallUUID=1");
/// # });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedRequestLine {
    method: Method,
    uri: Uri,
}

impl ReceivedRequestLine {
    /// The method as received.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target as received.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// What a layer in front of the signature layer changed, when it changed the method, the
    /// path or the query of the request the signature layer got (`method`, `uri`): the
    /// request line as received, `"POST /answer/"`. `None` when nothing changed.
    pub(crate) fn changed_from(&self, method: &Method, uri: &Uri) -> Option<String> {
        (self.method != method || self.rewritten_to(uri).is_some())
            .then(|| format!("{} {}", self.method, path_and_query(&self.uri)))
    }

    /// The target as received, when its path or query differs from `uri`, the one the
    /// signature layer got.
    pub(crate) fn rewritten_to(&self, uri: &Uri) -> Option<&Uri> {
        (path_and_query(&self.uri) != path_and_query(uri)).then_some(&self.uri)
    }
}

/// The path and query of a target (an absolute-form target, as HTTP/2 requests carry, compares
/// by these alone).
pub(crate) fn path_and_query(uri: &Uri) -> &str {
    uri.path_and_query().map_or("/", |pq| pq.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(method: Method, uri: &str) -> ReceivedRequestLine {
        ReceivedRequestLine {
            method,
            uri: uri.parse().unwrap(),
        }
    }

    #[test]
    fn a_change_is_the_method_path_or_query_never_the_form_of_the_target() {
        let received = line(Method::POST, "/answer/?a=1");
        let post = &Method::POST;
        assert_eq!(
            received.changed_from(post, &"/answer/?a=1".parse().unwrap()),
            None
        );
        // HTTP/2's absolute form names the same target.
        let absolute = "https://hooks.example.com/answer/?a=1".parse().unwrap();
        assert_eq!(received.changed_from(post, &absolute), None);
        for (method, uri) in [
            (post, "/answer?a=1"),
            (post, "/answer/"),
            (post, "/answer/?a=2"),
            (&Method::GET, "/answer/?a=1"),
        ] {
            assert_eq!(
                received
                    .changed_from(method, &uri.parse().unwrap())
                    .as_deref(),
                Some("POST /answer/?a=1"),
                "{method} {uri}"
            );
        }
    }

    #[test]
    fn the_outermost_capture_wins() {
        let mut request = Request::post("/as-received").body(()).unwrap();
        record(&mut request);
        *request.uri_mut() = "/rewritten".parse().unwrap();
        record(&mut request);
        let kept = request.extensions().get::<ReceivedRequestLine>().unwrap();
        assert_eq!(kept.uri(), "/as-received");
    }
}
