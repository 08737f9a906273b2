//! [`ResponseFuture`]: moves a guarded request from stage to stage (look its tenant up, read the
//! body, verify, reserve its replay key, call the inner service) or to its refusal. The decisions are the
//! stages' own (`pipeline/`); this file only carries the request between them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use pin_project_lite::pin_project;
use tower_service::Service;
use tracing::Span;

use crate::body::{RequestBody, ResponseBody};
use crate::observe::events::{self, Rejected};
use crate::observe::span;
use crate::pipeline::diagnose;
use crate::pipeline::head::Head;
use crate::pipeline::read_body::{BoxError, ReadBody};
use crate::pipeline::replay::{self, Reserving};
use crate::pipeline::respond::{Disposition, Refusal, dispose, render};
use crate::pipeline::settings::Settings;
use crate::pipeline::tokens::{self, Pending};
use crate::pipeline::upgrade::RequestKind;
use crate::pipeline::verify::{self, Accepted, Failed, Unchecked, Verdict};
use crate::rejection::Rejection;
use crate::replay::{ReleaseGuard, Reservation, StoreError};
use crate::request_info::RequestHead;
use crate::tenants::Resolved;
use crate::verified::PlivoVerified;

pin_project! {
    /// The response future of [`PlivoSignature`](crate::service::PlivoSignature): reads the body,
    /// verifies, reserves the replay key, then calls the inner service. Never boxed; see
    /// [`PlivoSignature`](crate::service::PlivoSignature) for an example driving it.
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<RequestBody<B>>>,
        B: Body,
    {
        // Entered on every poll, so the inner service's events nest under the request's span.
        span: Span,
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<RequestBody<B>>>,
        B: Body,
    {
        Refused { response: Option<Response<Full<Bytes>>> },
        // With tenants, on a cache miss: the store is asked before the body is read.
        ResolvingTokens { waiting: Option<WaitingForTokens<S, B>> },
        ReadingBody {
            #[pin]
            read: ReadBody<B>,
            waiting: Option<WaitingForBody<S>>,
        },
        // A refusal the doctor examines once the body its signature covers is read.
        ReadingForDoctor {
            #[pin]
            read: ReadBody<B>,
            waiting: Option<WaitingForDoctor<S>>,
        },
        Reserving {
            reserve: Reserving,
            waiting: Option<WaitingForReservation<S>>,
        },
        Calling {
            #[pin]
            future: S::Future,
            guard: Option<ReleaseGuard>,
            // Verified by the stream rule: its answer should switch protocols.
            stream: bool,
        },
    }
}

/// What a request waits with while its tenant is looked up: its body still unread.
struct WaitingForTokens<S, B> {
    head: Head,
    pending: Pending,
    parts: Parts,
    body: B,
    inner: S,
    settings: Arc<Settings>,
}

/// What a request waits with while its body is read.
struct WaitingForBody<S> {
    head: Head,
    parts: Parts,
    inner: S,
    settings: Arc<Settings>,
}

/// A refused request waiting for its body, for the doctor.
struct WaitingForDoctor<S> {
    refusal: Refusal,
    parts: Parts,
    inner: S,
    settings: Arc<Settings>,
}

/// A verified request waiting for its replay key's reservation.
struct WaitingForReservation<S> {
    accepted: Accepted,
    inner: S,
    settings: Arc<Settings>,
    guard: ReleaseGuard,
}

const POLLED_AFTER_COMPLETION: &str = "ResponseFuture polled after completion";

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    /// A request outside the guarded paths.
    pub(crate) fn passthrough(future: S::Future) -> Self {
        Self::handed_on(future, Span::none())
    }

    /// A request already handed to the inner service.
    fn handed_on(future: S::Future, span: Span) -> Self {
        Self::new(
            span,
            State::Calling {
                future,
                guard: None,
                stream: false,
            },
        )
    }

    /// A request whose head was checked and whose tokens are known: its body is read, or (a
    /// stream upgrade) it is verified from its head alone.
    pub(crate) fn after_head(
        head: Head,
        parts: Parts,
        body: B,
        inner: S,
        settings: Arc<Settings>,
        span: Span,
    ) -> Self {
        let state = after_head(head, parts, body, inner, settings, &span);
        Self::new(span, state)
    }

    /// A request waiting for its tenant's tokens from the store.
    pub(crate) fn resolving(
        head: Head,
        pending: Pending,
        parts: Parts,
        body: B,
        inner: S,
        settings: Arc<Settings>,
        span: Span,
    ) -> Self {
        let waiting = WaitingForTokens {
            head,
            pending,
            parts,
            body,
            inner,
            settings,
        };
        Self::new(
            span,
            State::ResolvingTokens {
                waiting: Some(waiting),
            },
        )
    }

    /// A request refused from its head (or its tenant's lookup), body unread.
    pub(crate) fn refused_unread(
        refusal: Refusal,
        parts: Parts,
        body: B,
        inner: S,
        settings: &Settings,
        span: Span,
    ) -> Self {
        let state = refuse_unread(refusal, parts, body, inner, settings, &span);
        Self::new(span, state)
    }

    /// A request refused from its head whose body is read for the doctor before it is
    /// answered (with the head's refusal).
    pub(crate) fn refused_after_body(
        refusal: Refusal,
        parts: Parts,
        body: B,
        inner: S,
        settings: Arc<Settings>,
        span: Span,
    ) -> Self {
        let read = ReadBody::new(body, settings.body_limit, settings.body_timeout);
        let waiting = WaitingForDoctor {
            refusal,
            parts,
            inner,
            settings,
        };
        Self::new(
            span,
            State::ReadingForDoctor {
                read,
                waiting: Some(waiting),
            },
        )
    }

    fn new(span: Span, state: State<S, B>) -> Self {
        Self { span, state }
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut state = this.state;
        loop {
            let next = match state.as_mut().project() {
                StateProj::Refused { response } => {
                    let response = response.take().expect(POLLED_AFTER_COMPLETION);
                    span::record_status(this.span, response.status());
                    return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                }
                StateProj::ResolvingTokens { waiting } => {
                    let lookup = &mut waiting
                        .as_mut()
                        .expect(POLLED_AFTER_COMPLETION)
                        .pending
                        .lookup;
                    let resolved = ready!(lookup.as_mut().poll(cx));
                    let waiting = waiting.take().expect(POLLED_AFTER_COMPLETION);
                    after_tokens(waiting, resolved, this.span)
                }
                StateProj::ReadingBody { read, waiting } => {
                    let body = ready!(read.poll(cx));
                    let waiting = waiting.take().expect(POLLED_AFTER_COMPLETION);
                    after_body(waiting, body, this.span)
                }
                StateProj::ReadingForDoctor { read, waiting } => {
                    let body = ready!(read.poll(cx));
                    let waiting = waiting.take().expect(POLLED_AFTER_COMPLETION);
                    after_body_for_doctor(waiting, body, this.span)
                }
                StateProj::Reserving { reserve, waiting } => {
                    let answer = ready!(Pin::new(reserve).poll(cx));
                    let waiting = waiting.take().expect(POLLED_AFTER_COMPLETION);
                    after_reservation(waiting, answer, this.span)
                }
                StateProj::Calling {
                    future,
                    guard,
                    stream,
                } => {
                    if let Some(guard) = guard.as_mut() {
                        guard.handler_started();
                    }
                    let result = ready!(future.poll(cx));
                    let status = result.as_ref().ok().map(Response::status);
                    if let Some(status) = status {
                        span::record_status(this.span, status);
                    }
                    if let Some(guard) = guard.take() {
                        guard.finish(status);
                    }
                    if *stream {
                        events::stream_answered(status);
                    }
                    return Poll::Ready(result.map(|response| response.map(ResponseBody::inner)));
                }
            };
            state.set(next);
        }
    }
}

/// From a checked head with its tokens known: read the body, or verify a stream upgrade from
/// its head alone.
fn after_head<S, B>(
    head: Head,
    parts: Parts,
    body: B,
    inner: S,
    settings: Arc<Settings>,
    span: &Span,
) -> State<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    match head.kind {
        RequestKind::Webhook => State::ReadingBody {
            read: ReadBody::new(body, settings.body_limit, settings.body_timeout),
            waiting: Some(WaitingForBody {
                head,
                parts,
                inner,
                settings,
            }),
        },
        // Verified from its head alone: it declared no body, and none is read (what the
        // upgrade needs travels in the extensions, which go on with the head).
        RequestKind::StreamUpgrade => {
            let waiting = WaitingForBody {
                head,
                parts,
                inner,
                settings,
            };
            span.in_scope(|| after_body(waiting, Ok(Bytes::new()), span))
        }
    }
}

/// From the store's answer about the tenant: read the body, or refuse it unread.
fn after_tokens<S, B>(
    waiting: WaitingForTokens<S, B>,
    resolved: Resolved,
    span: &Span,
) -> State<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    let WaitingForTokens {
        mut head,
        pending,
        parts,
        body,
        inner,
        settings,
    } = waiting;
    match tokens::after_lookup(&mut head, &pending, resolved) {
        Ok(()) => after_head(head, parts, body, inner, settings, span),
        Err(refusal) => refuse_unread(refusal, parts, body, inner, &settings, span),
    }
}

/// Answers a refusal made before the body was read, or in report-only mode hands the request
/// on unread with its rejection.
fn refuse_unread<S, B>(
    refusal: Refusal,
    mut parts: Parts,
    body: B,
    mut inner: S,
    settings: &Settings,
    span: &Span,
) -> State<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    let rejection = refusal.rejection;
    match logged_disposition(settings, &refusal, &RequestHead::from(&parts), None, span) {
        Disposition::Answer(response) => State::Refused {
            response: Some(response),
        },
        // Report-only: on, unread, with the rejection it would have had.
        Disposition::HandOn => {
            parts.extensions.insert(rejection);
            let request = Request::from_parts(parts, RequestBody::passthrough(body));
            let future = span.in_scope(|| inner.call(request));
            State::Calling {
                future,
                guard: None,
                stream: false,
            }
        }
    }
}

/// From a read body: verify, then reserve the replay key (or call the inner service straight
/// away when replay protection is off), or refuse.
fn after_body<S, B>(
    waiting: WaitingForBody<S>,
    body: Result<Bytes, Rejection>,
    span: &Span,
) -> State<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    let WaitingForBody {
        head,
        parts,
        inner,
        settings,
    } = waiting;
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let request = RequestHead::from(&parts);
            let url = head.signed_url(&request).to_string();
            // A body not read whole is never handed on: these rejections are enforced in every
            // mode (`respond::enforces`).
            let response = render(&settings, rejection, &parts.headers);
            let refusal = Refusal::from(rejection);
            let event = Rejected {
                refusal: &refusal,
                request: Some(&request),
                peer: head.peer,
                url: Some(&url),
                reported_only: false,
            };
            events::rejected(span, &settings, event);
            return State::Refused {
                response: Some(response),
            };
        }
    };
    match verify::verify(&settings, head, parts, body, span) {
        Verdict::Failed(Failed {
            request,
            unchecked: Unchecked { refusal, url },
        }) => refuse_or_report(inner, request, None, refusal, Some(&url), &settings, span),
        Verdict::Accepted(accepted) => match (&settings.replay, accepted.keys) {
            (Some(replay_settings), Some(keys)) => {
                let (reserve, guard) = replay::reserve(replay_settings, keys);
                State::Reserving {
                    reserve,
                    waiting: Some(WaitingForReservation {
                        accepted,
                        inner,
                        settings,
                        guard,
                    }),
                }
            }
            _ => accept(inner, accepted, None, &settings, span),
        },
    }
}

/// From the body read for the doctor: its examination, then the refusal the head made (the
/// answer is the one the request would have had without the doctor).
fn after_body_for_doctor<S, B>(
    waiting: WaitingForDoctor<S>,
    body: Result<Bytes, Rejection>,
    span: &Span,
) -> State<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    let WaitingForDoctor {
        mut refusal,
        parts,
        inner,
        settings,
    } = waiting;
    let request = RequestHead::from(&parts);
    let read = body.as_ref().map_err(|rejection| *rejection);
    span.in_scope(|| {
        diagnose::after_body(&settings, &mut refusal, &request, request.peer_addr(), read)
    });
    let request = Request::from_parts(parts, body.unwrap_or_default());
    refuse_or_report(inner, request, None, refusal, None, &settings, span)
}

/// From the store's answer: call the inner service holding the reservation, or refuse.
fn after_reservation<S, B>(
    waiting: WaitingForReservation<S>,
    answer: Result<Reservation, StoreError>,
    span: &Span,
) -> State<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    let WaitingForReservation {
        accepted,
        inner,
        settings,
        guard,
    } = waiting;
    match replay::settle(settings.replay.as_ref(), &accepted.verified, answer, guard) {
        Ok(guard) => accept(inner, accepted, Some(guard), &settings, span),
        Err(refusal) => {
            let Accepted {
                request, verified, ..
            } = accepted;
            let url = verified.url().to_owned();
            refuse_or_report(
                inner,
                request,
                Some(verified),
                refusal,
                Some(&url),
                &settings,
                span,
            )
        }
    }
}

/// Hands a verified request to the inner service.
fn accept<S, B>(
    inner: S,
    accepted: Accepted,
    guard: Option<ReleaseGuard>,
    settings: &Settings,
    span: &Span,
) -> State<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    let Accepted {
        mut request,
        verified,
        ..
    } = accepted;
    events::accepted(
        span,
        settings.metrics.as_deref(),
        &verified,
        request.body().len(),
    );
    let stream = verified.stream_url_form().is_some();
    request.extensions_mut().insert(verified);
    call(inner, request, guard, stream)
}

/// Answers the rejection, or in report-only mode hands the request on with it (and with its
/// verification, when it verified).
fn refuse_or_report<S, B>(
    inner: S,
    mut request: Request<Bytes>,
    verified: Option<PlivoVerified>,
    refusal: Refusal,
    url: Option<&str>,
    settings: &Settings,
    span: &Span,
) -> State<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    let rejection = refusal.rejection;
    let disposition =
        logged_disposition(settings, &refusal, &RequestHead::from(&request), url, span);
    match disposition {
        Disposition::Answer(response) => State::Refused {
            response: Some(response),
        },
        Disposition::HandOn => {
            request.extensions_mut().insert(rejection);
            if let Some(verified) = verified {
                request.extensions_mut().insert(verified);
            }
            call(inner, request, None, false)
        }
    }
}

/// What becomes of a refused request (answered, or handed on in report-only mode), logged and
/// counted.
fn logged_disposition(
    settings: &Settings,
    refusal: &Refusal,
    request: &RequestHead<'_>,
    url: Option<&str>,
    span: &Span,
) -> Disposition {
    let disposition = dispose(settings, refusal.rejection, request.headers);
    let event = Rejected {
        refusal,
        request: Some(request),
        peer: request.peer_addr(),
        url,
        reported_only: matches!(disposition, Disposition::HandOn),
    };
    events::rejected(span, settings, event);
    disposition
}

fn call<S, B>(
    mut inner: S,
    request: Request<Bytes>,
    guard: Option<ReleaseGuard>,
    stream: bool,
) -> State<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    let future = inner.call(request.map(RequestBody::buffered));
    State::Calling {
        future,
        guard,
        stream,
    }
}
