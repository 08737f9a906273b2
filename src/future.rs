//! [`ResponseFuture`]: reads the body, verifies, then calls the inner service.

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
use crate::check::{HeadChecked, log_rejection};
use crate::collect::CollectBody;
use crate::config::Config;

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
        Calling { #[pin] future: S::Future },
    }
}

/// What a request waits with while its body is read.
struct Pending<S> {
    head: HeadChecked,
    parts: Parts,
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
            state: State::Calling { future },
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
            match state.as_mut().project() {
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                }
                StateProj::Calling { future } => {
                    return future
                        .poll(cx)
                        .map_ok(|response| response.map(ResponseBody::inner));
                }
                StateProj::Collecting { collect, pending } => {
                    let collected = ready!(collect.poll(cx));
                    let Pending {
                        head,
                        parts,
                        mut inner,
                        config,
                    } = pending
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let outcome = match collected {
                        Ok(body) => head.verify(&config, parts, body),
                        Err(rejection) => {
                            log_rejection(rejection, &parts.method, &head.url(&parts));
                            Err(rejection)
                        }
                    };
                    match outcome {
                        Ok(request) => {
                            let future = inner.call(request.map(RequestBody::buffered));
                            state.set(State::Calling { future });
                        }
                        Err(rejection) => {
                            state.set(State::Rejected {
                                response: Some(config.respond(rejection)),
                            });
                        }
                    }
                }
            }
        }
    }
}
