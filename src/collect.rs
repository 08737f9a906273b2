//! Reading a whole request body under a size limit.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::Body;
use pin_project_lite::pin_project;
use tokio::time::Sleep;

use crate::rejection::Rejection;

pin_project! {
    /// Resolves to the whole body, or to [`Rejection::BodyTooLarge`] as soon as the bytes read
    /// cross the limit (so at most one frame past the limit is ever held), or to
    /// [`Rejection::BodyReadFailed`] when the stream fails, or to [`Rejection::BodyTimeout`]
    /// when the whole body has not arrived in time. Trailers are ignored.
    pub(crate) struct CollectBody<B> {
        #[pin]
        body: B,
        timeout: Option<Duration>,
        // Armed the first time the body is not ready: most webhook bodies arrive with the
        // headers, and those requests never pay for a timer.
        #[pin]
        deadline: Option<Sleep>,
        limit: usize,
        // The first chunk is kept as is; a copy happens only when a body arrives in pieces.
        first: Option<Bytes>,
        rest: Option<BytesMut>,
    }
}

impl<B> CollectBody<B> {
    /// `timeout` counts from the first time the body is not ready. It needs a Tokio runtime with
    /// its time driver (as axum, hyper-util and tonic servers run); outside any Tokio runtime the
    /// body is read without a deadline.
    pub(crate) fn new(body: B, limit: usize, timeout: Option<Duration>) -> Self {
        Self {
            body,
            timeout,
            deadline: None,
            limit,
            first: None,
            rest: None,
        }
    }
}

impl<B> Future for CollectBody<B>
where
    B: Body<Data = Bytes>,
{
    type Output = Result<Bytes, Rejection>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let frame = match this.body.as_mut().poll_frame(cx) {
                Poll::Ready(frame) => frame,
                Poll::Pending => {
                    if this.deadline.is_none()
                        && let Some(timeout) = this.timeout.take()
                        && tokio::runtime::Handle::try_current().is_ok()
                    {
                        this.deadline.set(Some(tokio::time::sleep(timeout)));
                    }
                    if let Some(deadline) = this.deadline.as_mut().as_pin_mut() {
                        ready!(deadline.poll(cx));
                        return Poll::Ready(Err(Rejection::BodyTimeout));
                    }
                    return Poll::Pending;
                }
            };
            let frame = match frame {
                None => break,
                Some(Err(_)) => return Poll::Ready(Err(Rejection::BodyReadFailed)),
                Some(Ok(frame)) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            let held = this.first.as_ref().map_or(0, Bytes::len)
                + this.rest.as_ref().map_or(0, BytesMut::len);
            if held + data.len() > *this.limit {
                return Poll::Ready(Err(Rejection::BodyTooLarge));
            }
            match (this.first.as_ref(), this.rest.as_mut()) {
                (None, _) => *this.first = Some(data),
                (Some(first), None) => {
                    let mut joined = BytesMut::with_capacity(first.len() + data.len());
                    joined.extend_from_slice(first);
                    joined.extend_from_slice(&data);
                    *this.rest = Some(joined);
                }
                (Some(_), Some(rest)) => rest.extend_from_slice(&data),
            }
        }
        let body = match (this.rest.take(), this.first.take()) {
            (Some(joined), _) => joined.freeze(),
            (None, Some(first)) => first,
            (None, None) => Bytes::new(),
        };
        Poll::Ready(Ok(body))
    }
}
