//! The request body handed downstream and the response body handed back.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use pin_project_lite::pin_project;

pin_project! {
    /// The request body the inner service receives: the verified body, buffered once and handed
    /// on byte for byte (axum's `Form`, `Bytes` and `String` extractors work on it), or the
    /// original body of a request the layer lets through unread (a skipped path, or report-only
    /// mode refusing from the head). Made only by the layer.
    ///
    /// ```
    /// use axum::{Router, routing::post};
    ///
    /// // An axum handler reads it as any body: `Bytes`, `String`, `Form`...
    /// async fn answer(body: String) -> String { body }
    /// let app: Router = Router::new().route("/answer", post(answer));
    /// ```
    #[derive(Debug)]
    pub struct RequestBody<B> {
        #[pin]
        kind: Either<B>,
    }
}

pin_project! {
    /// The response body: the inner service's, or the layer's own rejection.
    ///
    /// ```
    /// use http_body_util::BodyExt;
    /// use tower::{ServiceExt, service_fn};
    /// use tower_layer::Layer;
    /// use tower_plivo::PlivoSignatureLayer;
    /// use tower_plivo::service::RequestBody;
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
    /// let body = response.into_body().collect().await.unwrap().to_bytes();
    /// assert_eq!(body, "forbidden\n");
    /// # });
    /// ```
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        kind: Either<B>,
    }
}

pin_project! {
    /// Bytes the layer holds, or a body it passes on untouched.
    #[project = EitherProj]
    #[derive(Debug)]
    enum Either<B> {
        Held { #[pin] body: Full<Bytes> },
        Passed { #[pin] body: B },
    }
}

impl<B> RequestBody<B> {
    /// A body holding these bytes.
    pub(crate) fn buffered(bytes: Bytes) -> Self {
        Self {
            kind: Either::Held {
                body: Full::new(bytes),
            },
        }
    }

    /// A body passed through unread.
    pub(crate) fn passthrough(body: B) -> Self {
        Self {
            kind: Either::Passed { body },
        }
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn inner(body: B) -> Self {
        Self {
            kind: Either::Passed { body },
        }
    }

    pub(crate) fn rejection(body: Full<Bytes>) -> Self {
        Self {
            kind: Either::Held { body },
        }
    }
}

// Both public bodies are the same two-way choice under different names (a request body and a
// response body must not be interchangeable types); one macro writes their delegation to `Either`.
macro_rules! delegate_body_to_either {
    ($($wrapper:ident),+) => {$(
        impl<B> Body for $wrapper<B>
        where
            B: Body<Data = Bytes>,
        {
            type Data = Bytes;
            type Error = B::Error;

            fn poll_frame(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
                self.project().kind.poll_frame(cx)
            }

            fn is_end_stream(&self) -> bool {
                self.kind.is_end_stream()
            }

            fn size_hint(&self) -> SizeHint {
                self.kind.size_hint()
            }
        }
    )+};
}

delegate_body_to_either!(RequestBody, ResponseBody);

/// An empty body, with no bound on `B`: the layers that answer with a body of their own type
/// (tower-http's `TimeoutLayer` and `CorsLayer` answer `ResBody::default()`) compose directly on
/// top of the layer.
///
/// ```
/// use http_body::Body;
/// use tower_plivo::service::ResponseBody;
///
/// let empty = ResponseBody::<axum::body::Body>::default();
/// assert!(empty.is_end_stream());
/// ```
impl<B> Default for ResponseBody<B> {
    fn default() -> Self {
        Self::rejection(Full::default())
    }
}

impl<B> Body for Either<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project() {
            EitherProj::Held { body } => body.poll_frame(cx).map_err(|never| match never {}),
            EitherProj::Passed { body } => body.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Either::Held { body } => body.is_end_stream(),
            Either::Passed { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Either::Held { body } => body.size_hint(),
            Either::Passed { body } => body.size_hint(),
        }
    }
}
