//! [`ResponseFuture`]: reads the body, verifies, reserves the nonce when replay protection is
//! on, then calls the inner service (or answers with the rejection).

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
use crate::check::{Checked, HeadChecked};
use crate::collect::CollectBody;
use crate::config::Config;
use crate::rejection::Rejection;
use crate::replay::{ReleaseGuard, Reservation, ReservationId, StoreFuture};
use crate::verified::{PlivoVerdict, PlivoVerified};

pin_project! {
    /// The response future of [`PlivoSignature`](crate::PlivoSignature): reads the body,
    /// verifies, reserves the nonce when replay protection is on, then calls the inner service.
    /// Never boxed; see [`PlivoSignature`](crate::PlivoSignature) for an example driving it.
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
        Rejected { response: Option<Response<Full<Bytes>>> },
        Collecting {
            #[pin]
            collect: CollectBody<B>,
            pending: Option<Pending<S>>,
        },
        // The guard is armed from before the store is asked, so a request dropped while the
        // store is answering still releases whatever it may have reserved.
        Reserving {
            reserve: StoreFuture<Reservation>,
            verified: Option<Verified<S>>,
            guard: Option<ReleaseGuard>,
        },
        Calling {
            #[pin]
            future: S::Future,
            guard: Option<ReleaseGuard>,
        },
    }
}

/// What a request waits with while its body is read.
struct Pending<S> {
    head: HeadChecked,
    parts: Parts,
    inner: S,
    config: Arc<Config>,
}

/// A verified request waiting for its nonce reservation.
struct Verified<S> {
    request: Request<Bytes>,
    inner: S,
    config: Arc<Config>,
}

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
    pub(crate) fn handed_on(future: S::Future, span: Span) -> Self {
        Self {
            span,
            state: State::Calling {
                future,
                guard: None,
            },
        }
    }

    pub(crate) fn rejected(response: Response<Full<Bytes>>, span: Span) -> Self {
        Self {
            span,
            state: State::Rejected {
                response: Some(response),
            },
        }
    }

    pub(crate) fn collecting(
        collect: CollectBody<B>,
        head: HeadChecked,
        parts: Parts,
        inner: S,
        config: Arc<Config>,
        span: Span,
    ) -> Self {
        Self {
            span,
            state: State::Collecting {
                collect,
                pending: Some(Pending {
                    head,
                    parts,
                    inner,
                    config,
                }),
            },
        }
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>>,
    B: Body<Data = Bytes>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let span: &Span = this.span;
        let _entered = span.enter();
        let mut state = this.state;
        loop {
            let next = match state.as_mut().project() {
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                }
                StateProj::Calling { future, guard } => {
                    // From the first poll on, the handler may act: a drop keeps the nonce.
                    if let Some(guard) = guard.as_mut() {
                        guard.handler_started();
                    }
                    let result = ready!(future.poll(cx));
                    if let Some(guard) = guard.take() {
                        guard.finish(result.as_ref().ok().map(Response::status));
                    }
                    return Poll::Ready(result.map(|response| response.map(ResponseBody::inner)));
                }
                StateProj::Collecting { collect, pending } => {
                    let collected = ready!(collect.poll(cx));
                    let Pending {
                        head,
                        parts,
                        inner,
                        config,
                    } = pending
                        .take()
                        .expect("ResponseFuture polled after completion");
                    match collected {
                        Err(rejection) => {
                            let url = head.url(&parts);
                            config.on_rejected(span, rejection, &parts.method, &url, None);
                            State::Rejected {
                                response: Some(config.respond(rejection, &parts.headers)),
                            }
                        }
                        Ok(body) => match head.verify(&config, parts, body, span) {
                            Checked::Refused {
                                rejection,
                                url,
                                request,
                            } => {
                                config.on_rejected(span, rejection, request.method(), &url, None);
                                refuse_or_report(inner, request, rejection, &config)
                            }
                            Checked::Verified { request, key } => match (&config.replay, key) {
                                (Some(replay), Some(key)) => {
                                    let id = ReservationId::new();
                                    let reserve = replay.store.reserve(&key, id);
                                    let guard = ReleaseGuard::new(
                                        replay.store.clone(),
                                        key,
                                        id,
                                        replay.release_on_drop,
                                    );
                                    State::Reserving {
                                        reserve,
                                        verified: Some(Verified {
                                            request,
                                            inner,
                                            config: config.clone(),
                                        }),
                                        guard: Some(guard),
                                    }
                                }
                                _ => accept(inner, request, None, &config, span),
                            },
                        },
                    }
                }
                StateProj::Reserving {
                    reserve,
                    verified: waiting,
                    guard,
                } => {
                    let answer = ready!(Pin::new(reserve).poll(cx));
                    let Verified {
                        request,
                        inner,
                        config,
                    } = waiting
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let guard = guard
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let fail_open = config.replay.as_ref().is_some_and(|r| r.fail_open);
                    match answer {
                        Ok(Reservation::Reserved) => {
                            accept(inner, request, Some(guard), &config, span)
                        }
                        Ok(Reservation::AlreadySeen) => {
                            // Not ours to release: the first request holds it.
                            guard.keep();
                            let url = verified(&request).url.clone();
                            config.on_rejected(
                                span,
                                Rejection::Replayed,
                                request.method(),
                                &url,
                                None,
                            );
                            refuse_or_report(inner, request, Rejection::Replayed, &config)
                        }
                        Err(error) => {
                            let (nonce, url) = {
                                let v = verified(&request);
                                (v.nonce.clone(), v.url.clone())
                            };
                            tracing::error!(
                                target: "tower_plivo",
                                nonce = %nonce,
                                url = %url,
                                error = %error,
                                fail_open,
                                "nonce store unavailable: {}",
                                if fail_open { "letting the request through (fail-open)" } else { "refusing with 503" }
                            );
                            if fail_open {
                                accept(inner, request, Some(guard), &config, span)
                            } else {
                                // Dropped armed: if the store did record the key before failing,
                                // the compare-and-delete removes it.
                                drop(guard);
                                let rejection = Rejection::ReplayStoreUnavailable;
                                config.on_rejected(span, rejection, request.method(), &url, None);
                                refuse_or_report(inner, request, rejection, &config)
                            }
                        }
                    }
                }
            };
            state.set(next);
        }
    }
}

fn verified(request: &Request<Bytes>) -> &PlivoVerified {
    request
        .extensions()
        .get::<PlivoVerified>()
        .expect("set when the signature verified")
}

/// Hands a verified request to the inner service.
fn accept<S, B>(
    inner: S,
    mut request: Request<Bytes>,
    guard: Option<ReleaseGuard>,
    config: &Config,
    span: &Span,
) -> State<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    config.on_accepted(span, verified(&request), request.body().len());
    request.extensions_mut().insert(PlivoVerdict::Accepted);
    call(inner, request, guard)
}

/// Answers the rejection, or in report-only mode hands the request on with its verdict.
fn refuse_or_report<S, B>(
    inner: S,
    mut request: Request<Bytes>,
    rejection: Rejection,
    config: &Config,
) -> State<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    if config.enforces(rejection) {
        return State::Rejected {
            response: Some(config.respond(rejection, request.headers())),
        };
    }
    request
        .extensions_mut()
        .insert(PlivoVerdict::Rejected(rejection));
    call(inner, request, None)
}

fn call<S, B>(mut inner: S, request: Request<Bytes>, guard: Option<ReleaseGuard>) -> State<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    let future = inner.call(request.map(RequestBody::buffered));
    State::Calling { future, guard }
}
