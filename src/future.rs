//! [`ResponseFuture`]: reads the body, verifies, reserves the nonce when replay protection is
//! on, then calls the inner service.

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

use crate::body::{RequestBody, ResponseBody};
use crate::check::{HeadChecked, log_accepted, log_rejection};
use crate::collect::CollectBody;
use crate::config::Config;
use crate::rejection::Rejection;
use crate::replay::{ReleaseGuard, ReplayKey, Reservation, ReservationId, StoreFuture};
use crate::verified::PlivoVerified;

pin_project! {
    /// The response future of [`PlivoSignature`](crate::PlivoSignature).
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<RequestBody<B>>>,
        B: Body,
    {
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
    pub(crate) fn passthrough(future: S::Future) -> Self {
        Self {
            state: State::Calling {
                future,
                guard: None,
            },
        }
    }

    pub(crate) fn rejected(response: Response<Full<Bytes>>) -> Self {
        Self {
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
    ) -> Self {
        Self {
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
        let mut state = self.project().state;
        loop {
            let next = match state.as_mut().project() {
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                }
                StateProj::Calling { future, guard } => {
                    let result = ready!(future.poll(cx));
                    // A 5xx or an error means the request was not handled: release the nonce
                    // so Plivo's retry is accepted. Otherwise keep it until its TTL.
                    if let (Ok(response), Some(guard)) = (&result, guard.take())
                        && !response.status().is_server_error()
                    {
                        guard.keep();
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
                    let verdict = match collected {
                        Ok(body) => head.verify(&config, parts, body),
                        Err(rejection) => {
                            log_rejection(rejection, &parts.method, &head.url(&parts));
                            Err(rejection)
                        }
                    };
                    match verdict {
                        Err(rejection) => State::Rejected {
                            response: Some(config.respond(rejection)),
                        },
                        Ok(request) => match &config.replay {
                            None => call(inner, request, None),
                            Some(replay) => {
                                let verified = request
                                    .extensions()
                                    .get::<PlivoVerified>()
                                    .expect("set by verify");
                                let key = ReplayKey::of(verified);
                                let id = ReservationId::new();
                                let reserve = replay.store.reserve(&key, id);
                                let guard = ReleaseGuard::new(replay.store.clone(), key, id);
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
                        },
                    }
                }
                StateProj::Reserving {
                    reserve,
                    verified,
                    guard,
                } => {
                    let answer = ready!(Pin::new(reserve).poll(cx));
                    let Verified {
                        request,
                        inner,
                        config,
                    } = verified
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let guard = guard
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let fail_open = config.replay.as_ref().is_some_and(|r| r.fail_open);
                    match answer {
                        Ok(Reservation::Reserved) => call(inner, request, Some(guard)),
                        Ok(Reservation::AlreadySeen) => {
                            // Not ours to release: the first request holds it.
                            guard.keep();
                            log_replay(Rejection::Replayed, &request, None);
                            State::Rejected {
                                response: Some(config.respond(Rejection::Replayed)),
                            }
                        }
                        Err(error) if fail_open => {
                            log_replay(Rejection::ReplayStoreUnavailable, &request, Some(&error));
                            call(inner, request, Some(guard))
                        }
                        Err(error) => {
                            log_replay(Rejection::ReplayStoreUnavailable, &request, Some(&error));
                            // The guard is dropped armed: if the store did record the key before
                            // failing, the compare-and-delete removes it.
                            drop(guard);
                            State::Rejected {
                                response: Some(config.respond(Rejection::ReplayStoreUnavailable)),
                            }
                        }
                    }
                }
            };
            state.set(next);
        }
    }
}

fn call<S, B>(mut inner: S, request: Request<Bytes>, guard: Option<ReleaseGuard>) -> State<S, B>
where
    S: Service<Request<RequestBody<B>>>,
    B: Body,
{
    log_accepted(&request);
    let future = inner.call(request.map(RequestBody::buffered));
    State::Calling { future, guard }
}

fn log_replay(
    outcome: Rejection,
    request: &Request<Bytes>,
    error: Option<&crate::replay::StoreError>,
) {
    let verified = request.extensions().get::<PlivoVerified>();
    let nonce = verified.map_or("", |v| v.nonce.as_str());
    let url = verified.map_or("", |v| v.url.as_str());
    match (outcome, error) {
        (Rejection::Replayed, _) => tracing::warn!(
            target: "tower_plivo",
            verdict = "rejected",
            reason = outcome.code(),
            nonce = %nonce,
            url = %url,
            "Plivo request replayed: its nonce was already accepted"
        ),
        (_, Some(error)) => tracing::error!(
            target: "tower_plivo",
            reason = outcome.code(),
            nonce = %nonce,
            url = %url,
            error = %error,
            "nonce store unavailable"
        ),
        _ => {}
    }
}
