//! Stage 3, read body: the whole request body, under a size limit and a time limit.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::Body;
use pin_project_lite::pin_project;
use tokio::time::Sleep;

use crate::rejection::Rejection;

pin_project! {
    /// Resolves to the whole body, or to [`Rejection::BodyTooLarge`] as soon as the bytes read
    /// cross the limit (so at most one frame past the limit is ever held), or to
    /// [`Rejection::BodyReadFailed`] when the stream fails, or to [`Rejection::BodyTimeout`]
    /// when the whole body has not arrived in time. Trailers are ignored.
    pub(crate) struct ReadBody<B> {
        #[pin]
        body: B,
        timeout: Option<Duration>,
        // Armed the first time the body is not ready: most webhook bodies arrive with the
        // headers, and those requests never pay for a timer.
        #[pin]
        deadline: Option<Sleep>,
        limit: usize,
        // The bytes the body says it has (its `Content-Length`, as hyper reports it), at most
        // the limit: the buffer a body arriving in pieces is gathered into never grows past
        // it (see `gathered_capacity`).
        expected: usize,
        // The first chunk is kept as is; a copy happens only when a body arrives in pieces.
        first: Option<Bytes>,
        rest: Option<Vec<u8>>,
    }
}

impl<B> ReadBody<B> {
    /// `timeout` counts from the first time the body is not ready. It needs a Tokio runtime with
    /// its time driver (as axum, hyper-util and tonic servers run); outside any Tokio runtime the
    /// body is read without a deadline.
    pub(crate) fn new(body: B, limit: usize, timeout: Option<Duration>) -> Self
    where
        B: Body,
    {
        let expected = expected_len(body.size_hint().lower(), limit);
        Self {
            expected,
            body,
            timeout,
            deadline: None,
            limit,
            first: None,
            rest: None,
        }
    }
}

impl<B> Future for ReadBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
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
                Some(Err(error)) => return Poll::Ready(Err(body_error(&*error.into()))),
                Some(Ok(frame)) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            if held(this.first, this.rest) + data.len() > *this.limit {
                return Poll::Ready(Err(Rejection::BodyTooLarge));
            }
            // Invariant: at most one of `first` and `rest` holds bytes, so `held` counts each
            // byte once.
            match (this.first.take(), this.rest.as_mut()) {
                (None, None) => *this.first = Some(data),
                (Some(first), None) => {
                    let mut joined = Vec::new();
                    make_room(
                        &mut joined,
                        first.len() + data.len(),
                        *this.expected,
                        *this.limit,
                    );
                    joined.extend_from_slice(&first);
                    joined.extend_from_slice(&data);
                    *this.rest = Some(joined);
                }
                (None, Some(rest)) => {
                    make_room(rest, data.len(), *this.expected, *this.limit);
                    rest.extend_from_slice(&data);
                }
                (Some(_), Some(_)) => unreachable!("the first chunk moves into `rest`"),
            }
        }
        let body = match (this.rest.take(), this.first.take()) {
            (Some(joined), _) => Bytes::from(joined),
            (None, Some(first)) => first,
            (None, None) => Bytes::new(),
        };
        Poll::Ready(Ok(body))
    }
}

/// The error type bodies convert theirs into (as tower-http's layers ask of a body).
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a body's error means: a size limit an outer layer enforces while streaming (tower-http's
/// `RequestBodyLimitLayer` on a body without `Content-Length`, whose `LengthLimitError` may come
/// wrapped, as axum wraps it) is a body too large, 413; anything else, a body that could not be
/// read, 400.
fn body_error(error: &(dyn std::error::Error + 'static)) -> Rejection {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return Rejection::BodyTooLarge;
        }
        cause = error.source();
    }
    Rejection::BodyReadFailed
}

/// The buffer to gather a body of at least `lower` bytes into (its size hint's lower bound,
/// which is its `Content-Length` when it has one), never more than the limit: a body that
/// declares more is refused before reading, and one that lies is refused once past the limit.
fn expected_len(lower: u64, limit: usize) -> usize {
    usize::try_from(lower).map_or(limit, |lower| lower.min(limit))
}

/// The capacity to give the buffer a body is gathered into, when it must hold `needed` bytes
/// (at most `limit`) and has `capacity`: doubled, as a `Vec` grows, but never past the body's
/// declared length `expected` while the body keeps within it, nor past the limit. So a body
/// that arrives in pieces ends in a buffer of exactly its declared size, not up to twice it;
/// and a declared length is never allocated ahead of the bytes: a sender that declares the
/// limit and sends two bytes makes the layer hold a few bytes, not the limit. A body without
/// a length (chunked), or with more than it declared, doubles up to the limit.
fn gathered_capacity(capacity: usize, needed: usize, expected: usize, limit: usize) -> usize {
    let ceiling = if expected >= needed { expected } else { limit };
    capacity
        .saturating_mul(2)
        .max(needed)
        .min(ceiling.max(needed))
}

/// Grows `buffer`, if it must, to hold `incoming` more bytes, to the capacity
/// [`gathered_capacity`] gives (exactly: `Vec`'s own growth would double past it).
fn make_room(buffer: &mut Vec<u8>, incoming: usize, expected: usize, limit: usize) {
    let needed = buffer.len() + incoming;
    if needed > buffer.capacity() {
        let capacity = gathered_capacity(buffer.capacity(), needed, expected, limit);
        buffer.reserve_exact(capacity - buffer.len());
    }
}

/// The bytes held so far.
fn held(first: &Option<Bytes>, rest: &Option<Vec<u8>>) -> usize {
    first.as_ref().map_or(0, Bytes::len) + rest.as_ref().map_or(0, Vec::len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, Limited};
    use std::convert::Infallible;
    use std::pin::pin;
    use std::task::Waker;

    /// A body that declares `lower` bytes (as a `Content-Length` does) and whose frames are
    /// ready one per poll; after the last one it ends, or, unless `ends`, is still arriving.
    struct Declared {
        frames: std::collections::VecDeque<Bytes>,
        lower: u64,
        ends: bool,
    }

    impl Body for Declared {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
            match self.frames.pop_front() {
                Some(data) => Poll::Ready(Some(Ok(http_body::Frame::data(data)))),
                None if self.ends => Poll::Ready(None),
                None => Poll::Pending,
            }
        }

        fn size_hint(&self) -> http_body::SizeHint {
            let mut hint = http_body::SizeHint::new();
            hint.set_lower(self.lower);
            hint
        }
    }

    /// Collects a body that arrives in frames of these sizes (frame `i` filled with `b'a' + i`),
    /// declaring no length.
    fn collect(frames: &[usize], limit: usize) -> Result<Bytes, Rejection> {
        gather(frames, 0, limit, true)
            .0
            .expect("every frame is ready")
    }

    /// Polls a [`Declared`] body of frames of these sizes (frame `i` filled with `b'a' + i`)
    /// once: what it resolved to, if it did, and the capacity of the buffer gathering it.
    fn gather(
        frames: &[usize],
        lower: u64,
        limit: usize,
        ends: bool,
    ) -> (Option<Result<Bytes, Rejection>>, usize) {
        let frames = frames
            .iter()
            .enumerate()
            .map(|(i, &len)| Bytes::from(vec![b'a' + i as u8; len]))
            .collect();
        let body = Declared {
            frames,
            lower,
            ends,
        };
        let mut future = pin!(ReadBody::new(body, limit, None));
        let polled = future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
        let capacity = future.project().rest.as_ref().map_or(0, Vec::capacity);
        match polled {
            Poll::Ready(result) => (Some(result), capacity),
            Poll::Pending => (None, capacity),
        }
    }

    /// The bytes of frames of these sizes, in order.
    fn expected_bytes(frames: &[usize]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for (i, &len) in frames.iter().enumerate() {
            bytes.extend(std::iter::repeat_n(b'a' + i as u8, len));
        }
        bytes
    }

    #[test]
    fn a_declared_length_caps_the_buffer_but_is_never_allocated_ahead_of_the_bytes() {
        // The limit declared, two one-byte frames, then silence: two bytes held, not 1 MiB.
        let (done, capacity) = gather(&[1, 1], 1 << 20, 1 << 20, false);
        assert!(done.is_none(), "still arriving");
        assert_eq!(capacity, 2);
        // 64 KiB declared, 7 of its 8 KiB frames in: doubled to the declared size, no further.
        let (done, capacity) = gather(
            &[16 << 10, 8 << 10, 8 << 10, 8 << 10, 16 << 10],
            64 << 10,
            1 << 20,
            false,
        );
        assert!(done.is_none());
        assert_eq!(capacity, 64 << 10);
        // The whole of it arrives, in order.
        let frames = [16 << 10, 8 << 10, 8 << 10, 8 << 10, 16 << 10, 8 << 10];
        let (done, _) = gather(&frames, 64 << 10, 1 << 20, true);
        assert_eq!(done.unwrap().unwrap(), expected_bytes(&frames));
        // More than declared (a body that lies low): all of it, in order, under the limit.
        let (done, _) = gather(&[10, 20], 7, 1 << 20, true);
        assert_eq!(done.unwrap().unwrap(), expected_bytes(&[10, 20]));
        // A declaration no buffer could hold (lying high): the limit decides, nothing else.
        let (done, capacity) = gather(&[50, 50], u64::MAX, 100, false);
        assert!(done.is_none());
        assert_eq!(capacity, 100);
        let (done, _) = gather(&[50, 51], u64::MAX, 100, true);
        assert_eq!(done.unwrap().err(), Some(Rejection::BodyTooLarge));
    }

    /// An error that wraps another, as axum's body error wraps the one it was made from.
    #[derive(Debug)]
    struct Wrapped(BoxError);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("wrapped")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(self.0.as_ref())
        }
    }

    #[test]
    fn a_streamed_limit_is_too_large_however_wrapped_and_other_errors_are_failed_reads() {
        // The error tower-http's limit raises: `Limited`'s, on a body over its limit.
        let limited = Limited::new(Full::new(Bytes::from("12345")), 4);
        let Poll::Ready(Some(Err(limit))) =
            pin!(limited).poll_frame(&mut Context::from_waker(Waker::noop()))
        else {
            panic!("a five-byte body over a four-byte limit fails");
        };
        assert_eq!(body_error(&*limit), Rejection::BodyTooLarge);
        assert_eq!(body_error(&Wrapped(limit)), Rejection::BodyTooLarge);
        let io: BoxError = std::io::Error::other("connection reset").into();
        assert_eq!(body_error(&*io), Rejection::BodyReadFailed);
        assert_eq!(body_error(&Wrapped(io)), Rejection::BodyReadFailed);
    }

    #[test]
    fn the_gathering_buffer_doubles_up_to_the_declared_length_and_no_further() {
        // 64 KiB declared, arriving in 8 KiB pieces: 16, 32, then exactly 64 KiB.
        let (expected, limit) = (64 * 1024, 1 << 20);
        let mut capacity = gathered_capacity(0, 16 * 1024, expected, limit);
        assert_eq!(capacity, 16 * 1024);
        capacity = gathered_capacity(capacity, 24 * 1024, expected, limit);
        assert_eq!(capacity, 32 * 1024);
        capacity = gathered_capacity(capacity, 40 * 1024, expected, limit);
        assert_eq!(capacity, 64 * 1024, "capped at the declared length");
        // Declared as the limit, two bytes sent: two bytes held, not the limit.
        assert_eq!(gathered_capacity(0, 2, limit, limit), 2);
        assert_eq!(gathered_capacity(2, 3, limit, limit), 4);
        // No Content-Length (chunked), or more than declared: doubling, up to the limit.
        assert_eq!(gathered_capacity(4096, 4097, 0, limit), 8192);
        assert_eq!(gathered_capacity(100, 150, 120, limit), 200);
        assert_eq!(gathered_capacity(600 * 1024, 700 * 1024, 0, limit), limit);
        assert_eq!(
            gathered_capacity(usize::MAX / 2 + 1, usize::MAX, 0, usize::MAX),
            usize::MAX
        );
    }

    #[test]
    fn a_body_is_gathered_into_its_declared_size_never_past_the_limit() {
        assert_eq!(
            expected_len(0, 1024),
            0,
            "no Content-Length: grown as it comes"
        );
        assert_eq!(expected_len(700, 1024), 700);
        assert_eq!(expected_len(1024, 1024), 1024);
        assert_eq!(
            expected_len(1025, 1024),
            1024,
            "a declared excess is not allocated"
        );
        assert_eq!(expected_len(u64::MAX, 1024), 1024);
        let declared = Full::new(Bytes::from_static(b"a=1&b=2"));
        assert_eq!(ReadBody::new(declared, 1024, None).expected, 7);
    }

    #[test]
    fn every_byte_counts_once_whatever_the_frames() {
        // 55,000 bytes under a 64 KiB limit, in 1, 2, 3 and 6 frames: once a third frame
        // arrived, the first one used to be counted twice (a false 413).
        for frames in [
            &[55_000][..],
            &[27_500, 27_500],
            &[20_000, 20_000, 15_000],
            &[10_000, 10_000, 10_000, 10_000, 10_000, 5_000],
        ] {
            let body = collect(frames, 64 * 1024).unwrap();
            assert_eq!(body.len(), 55_000, "{frames:?}");
            assert_eq!(body[0], b'a');
            assert_eq!(body[54_999], b'a' + frames.len() as u8 - 1);
        }
        assert_eq!(collect(&[10, 10, 10], 30).map(|b| b.len()), Ok(30));
        assert_eq!(collect(&[10, 10, 11], 30), Err(Rejection::BodyTooLarge));
        assert_eq!(collect(&[], 30), Ok(Bytes::new()));
    }
}
