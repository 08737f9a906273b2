//! [`ResponseFuture`]: the tower host of the one flow (`pipeline/flow.rs`). Each `poll` arm
//! waits for one thing (the tenant's tokens, the body, the replay store, the inner service) and
//! hands the result to the flow; [`Held`] then places the request where the flow's answer says.
//! Neither decides anything: the flow's stages do, and `observe/exits.rs` reports the verdict.

use std::future::Future;
use std::pin::Pin;
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
use crate::guard::PlivoGuard;
use crate::observe::span::{self, request_span, wants_verify_time};
use crate::observe::{events, exits};
use crate::pipeline::flow::{self, BodyStep, Expect, HeadStep, LookingUp, Reading, Unreserved};
use crate::pipeline::read_body::{BoxError, ReadBody};
use crate::pipeline::reserve::Reserving;
use crate::pipeline::respond::{self, Disposition};
use crate::pipeline::verdict::Verdict;
use crate::rejection::Rejection;
use crate::replay::ReleaseGuard;
use crate::request_info::RequestHead;
use crate::tenants::Resolved;

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
        held: Held<S, B>,
        #[pin]
        state: State<S, B>,
    }
}

/// What a guarded request carries from step to step, until the inner service is called.
struct Held<S, B> {
    guard: Option<PlivoGuard>,
    inner: Option<S>,
    parts: Option<Parts>,
    /// The body as received, until it is read (or, refused unread in report-only mode, handed
    /// on as it is).
    body: Option<B>,
    /// The body as read.
    read: Option<Bytes>,
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<RequestBody<B>>>,
        B: Body,
    {
        Refused { response: Option<Response<Full<Bytes>>> },
        LookingUp { looking_up: Option<LookingUp> },
        Reading {
            #[pin]
            read: ReadBody<B>,
            reading: Option<Reading>,
        },
        // A tenant named in the body, looked up before the body is verified.
        LookingUpAfterBody { looking_up: Option<LookingUp> },
        Reserving {
            reserving: Reserving,
            unreserved: Option<Unreserved>,
        },
        Calling {
            #[pin]
            future: S::Future,
            reservation: Option<ReleaseGuard>,
            // Verified by the stream rule: its answer should switch protocols.
            stream: bool,
        },
    }
}

const POLLED_AFTER_COMPLETION: &str = "ResponseFuture polled after completion";

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    /// A request outside the guarded paths, already handed to the inner service.
    pub(crate) fn passthrough(future: S::Future) -> Self {
        Self {
            span: Span::none(),
            held: Held {
                guard: None,
                inner: None,
                parts: None,
                body: None,
                read: None,
            },
            state: State::Calling {
                future,
                reservation: None,
                stream: false,
            },
        }
    }

    /// A guarded request: its head step runs now (no body is touched), then it waits as the
    /// flow says.
    pub(crate) fn guarded(guard: PlivoGuard, parts: Parts, body: B, inner: S) -> Self {
        let span = {
            let request = RequestHead::from(&parts);
            request_span(request.method, request.original_uri(), request.peer_addr())
        };
        let step = span.in_scope(|| {
            flow::start(
                &guard.shared.settings,
                &RequestHead::from(&parts),
                Expect::Any,
            )
        });
        let mut held = Held {
            guard: Some(guard),
            inner: Some(inner),
            parts: Some(parts),
            body: Some(body),
            read: None,
        };
        let state = span.in_scope(|| held.after_head(step, &span));
        Self { span, held, state }
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
        let held = this.held;
        let mut state = this.state;
        loop {
            let next = match state.as_mut().project() {
                StateProj::Refused { response } => {
                    let response = response.take().expect(POLLED_AFTER_COMPLETION);
                    span::record_status(this.span, response.status());
                    return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                }
                StateProj::LookingUp { looking_up } => {
                    let waiting = looking_up.as_mut().expect(POLLED_AFTER_COMPLETION);
                    let resolved = ready!(waiting.pending.lookup.as_mut().poll(cx));
                    let looking_up = looking_up.take().expect(POLLED_AFTER_COMPLETION);
                    let step = match flow::looked_up(looking_up, resolved) {
                        Ok(reading) => HeadStep::Read(reading),
                        Err(refused) => HeadStep::Refused(refused),
                    };
                    held.after_head(step, this.span)
                }
                StateProj::Reading { read, reading } => {
                    let body = ready!(read.poll(cx));
                    let reading = reading.take().expect(POLLED_AFTER_COMPLETION);
                    held.after_body(reading, body, this.span)
                }
                StateProj::LookingUpAfterBody { looking_up } => {
                    let waiting = looking_up.as_mut().expect(POLLED_AFTER_COMPLETION);
                    let resolved = ready!(waiting.pending.lookup.as_mut().poll(cx));
                    let looking_up = looking_up.take().expect(POLLED_AFTER_COMPLETION);
                    held.after_tenant(looking_up, resolved, this.span)
                }
                StateProj::Reserving {
                    reserving,
                    unreserved,
                } => {
                    let answer = ready!(Pin::new(reserving).poll(cx));
                    let unreserved = unreserved.take().expect(POLLED_AFTER_COMPLETION);
                    let verdict = flow::reserved(held.settings(), unreserved, answer);
                    held.conclude(verdict, this.span)
                }
                StateProj::Calling {
                    future,
                    reservation,
                    stream,
                } => {
                    if let Some(reservation) = reservation.as_mut() {
                        reservation.handler_started();
                    }
                    let result = ready!(future.poll(cx));
                    let status = result.as_ref().ok().map(Response::status);
                    if let Some(status) = status {
                        span::record_status(this.span, status);
                    }
                    if let Some(reservation) = reservation.take() {
                        reservation.finish(status);
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

impl<S, B> Held<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    fn settings(&self) -> &crate::pipeline::settings::Settings {
        &self
            .guard
            .as_ref()
            .expect(POLLED_AFTER_COMPLETION)
            .shared
            .settings
    }

    fn head(&self) -> RequestHead<'_> {
        RequestHead::from(self.parts.as_ref().expect(POLLED_AFTER_COMPLETION))
    }

    /// Where the head step leads: the tenant's lookup, the body (or, for a stream upgrade, the
    /// body step at once), or the refusal.
    fn after_head(&mut self, step: HeadStep, span: &Span) -> State<S, B> {
        match step {
            HeadStep::LookUp(looking_up) => State::LookingUp {
                looking_up: Some(looking_up),
            },
            HeadStep::Read(reading) if reading.reads_body() => {
                let settings = self.settings();
                let (limit, timeout) = (settings.body_limit, settings.body_timeout);
                let body = self.body.take().expect(POLLED_AFTER_COMPLETION);
                State::Reading {
                    read: ReadBody::new(body, limit, timeout),
                    reading: Some(reading),
                }
            }
            HeadStep::Read(reading) => self.after_body(reading, Ok(Bytes::new()), span),
            HeadStep::Refused(refused) => self.conclude(Verdict::Refused(refused), span),
        }
    }

    /// Where the body step leads: the replay store, or the verdict.
    fn after_body(
        &mut self,
        reading: Reading,
        body: Result<Bytes, Rejection>,
        span: &Span,
    ) -> State<S, B> {
        let timed = wants_verify_time(span);
        let step = flow::body_read(
            self.settings(),
            reading,
            &self.head(),
            body.as_ref().map_err(|rejection| *rejection),
            timed,
        );
        self.read = body.ok();
        self.after_body_step(step, span)
    }

    /// Verifies the body read with the tokens of the tenant it named, once looked up.
    fn after_tenant(
        &mut self,
        looking_up: LookingUp,
        resolved: Resolved,
        span: &Span,
    ) -> State<S, B> {
        let timed = wants_verify_time(span);
        let body = self.read.as_ref().expect(POLLED_AFTER_COMPLETION);
        let step = flow::looked_up_after_body(
            self.settings(),
            looking_up,
            resolved,
            &self.head(),
            body,
            timed,
        );
        self.after_body_step(step, span)
    }

    /// Where the body step leads: the tenant's lookup, the replay store, or the verdict.
    fn after_body_step(&mut self, step: BodyStep, span: &Span) -> State<S, B> {
        match step {
            BodyStep::LookUp(looking_up) => State::LookingUpAfterBody {
                looking_up: Some(looking_up),
            },
            BodyStep::Reserve(reserving, unreserved) => State::Reserving {
                reserving,
                unreserved: Some(unreserved),
            },
            BodyStep::Done(verdict) => self.conclude(verdict, span),
        }
    }

    /// Reports the verdict at the exits, then calls the inner service (verified, or refused in
    /// report-only mode) or answers the refusal.
    fn conclude(&mut self, verdict: Verdict, span: &Span) -> State<S, B> {
        let guard = self.guard.take().expect(POLLED_AFTER_COMPLETION);
        let (settings, observers) = (&guard.shared.settings, &guard.shared.observers);
        let mut parts = self.parts.take().expect(POLLED_AFTER_COMPLETION);
        match verdict {
            Verdict::Passed(passed) => {
                let body = self.read.take().unwrap_or_default();
                exits::passed(span, observers, &passed, body.len());
                let stream = passed.verified.stream_url_form().is_some();
                parts.extensions.insert(passed.verified);
                let request = Request::from_parts(parts, RequestBody::buffered(body));
                self.call(request, passed.reservation, stream)
            }
            Verdict::Refused(refused) => {
                let rejection = refused.refusal.rejection;
                let disposition = respond::dispose(settings, rejection, &parts.headers);
                let reported_only = matches!(disposition, Disposition::HandOn);
                let head = RequestHead::from(&parts);
                exits::refused(span, settings, observers, &refused, &head, reported_only);
                match disposition {
                    Disposition::Answer(response) => State::Refused {
                        response: Some(response),
                    },
                    // Report-only: on, with the rejection it would have had (and what
                    // verified, when it did), its body as read or still unread.
                    Disposition::HandOn => {
                        parts.extensions.insert(rejection);
                        if let Some(verified) = refused.verified {
                            parts.extensions.insert(verified);
                        }
                        let body = match (self.read.take(), self.body.take()) {
                            (Some(read), _) => RequestBody::buffered(read),
                            (None, Some(unread)) => RequestBody::passthrough(unread),
                            (None, None) => RequestBody::buffered(Bytes::new()),
                        };
                        let request = Request::from_parts(parts, body);
                        span.in_scope(|| self.call(request, None, false))
                    }
                }
            }
        }
    }

    fn call(
        &mut self,
        request: Request<RequestBody<B>>,
        reservation: Option<ReleaseGuard>,
        stream: bool,
    ) -> State<S, B> {
        let mut inner = self.inner.take().expect(POLLED_AFTER_COMPLETION);
        State::Calling {
            future: inner.call(request),
            reservation,
            stream,
        }
    }
}
