//! [`PlivoGuard`], the verification core, and what its steps hand back: it holds the whole
//! policy and answers for one request in two steps, for any host. The
//! [`PlivoSignatureLayer`](crate::PlivoSignatureLayer) wraps one; any other server (actix-web,
//! AWS Lambda, a bare WebSocket accept loop, a CLI) calls it directly.

mod outcome;
mod sync;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use tracing::Span;

pub use outcome::{Accepted, HeadChecked, Refused};
pub use sync::SyncPlivoGuard;

use crate::config_error::ConfigError;
use crate::observe::span::{request_span, wants_verify_time};
use crate::observe::{Observers, exits};
use crate::pipeline::flow::{self, BodyStep, Expect, HeadStep};
use crate::pipeline::respond;
use crate::pipeline::settings::{Settings, Tokens};
use crate::pipeline::verdict::{self, Verdict};
use crate::request_info::RequestHead;
use crate::verified::PlivoVerified;

/// The verification core: tokens or tenants, URL policy and proxies, signature versions, body
/// rules, replay store, source networks and report-only mode, checked once by its
/// [builder](crate::PlivoGuardBuilder). Cloning is cheap (the policy is shared).
///
/// It answers for one request in two steps, so that a host refuses what the head already
/// condemns before reading any body:
///
/// 1. [`check_head`](Self::check_head): method, source network, signature headers and
///    version, declared body, which URL is verified, whose tokens (a tenant's lookup is the
///    only wait). `Err`: answer it now, body unread. `Ok`: read the body, at most
///    [`body_limit`](HeadChecked::body_limit) bytes within
///    [`body_timeout`](HeadChecked::body_timeout) (none when
///    [`reads_body`](HeadChecked::reads_body) is `false`: an audio-stream upgrade).
/// 2. [`check_body`](Self::check_body): the signature over the URL and body, then the replay
///    store. `Ok`: hand the request on; `Err`: answer the refusal.
///
/// Every verdict is logged, counted and (for a refusal a configuration could explain) shown
/// to the signature doctor, as the layer does. [`check_upgrade`](Self::check_upgrade) does both
/// steps for an audio-stream upgrade, before the `101`. [`synchronous`](Self::synchronous) gives
/// the same calls without `async`, where every store answers at once.
///
/// The inputs are `http` 1 types ([`RequestHead`], made from `http::request::Parts` or any
/// `http::Request`) and [`Bytes`]: the types most Rust servers already have, and one
/// conversion away for the others (actix-web's, Lambda's). The TCP peer and a client address
/// given by the platform are separate inputs ([`RequestHead::with_peer`],
/// [`RequestHead::with_platform_client`]).
///
/// ```
/// use tower_plivo::{PlivoGuard, RequestHead, UrlPolicy};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let guard = PlivoGuard::builder()
///     .auth_token("token")
///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
///     .build()?;
/// let request = http::Request::post("/answer").body(()).unwrap();
/// let head = RequestHead::from(&request).with_peer(Some("203.0.113.7:40000".parse().unwrap()));
/// let refused = match guard.check_head(head).await {
///     Ok(checked) => guard.check_body(checked, head, bytes::Bytes::new()).await.err(),
///     Err(refused) => Some(refused),
/// };
/// assert_eq!(refused.unwrap().into_response().status(), 403); // not signed
/// # Ok::<(), tower_plivo::ConfigError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct PlivoGuard {
    pub(crate) shared: Arc<Shared>,
}

/// The policy and what reports on its verdicts.
pub(crate) struct Shared {
    pub(crate) settings: Arc<Settings>,
    pub(crate) observers: Observers,
}

impl PlivoGuard {
    pub(crate) fn new(settings: Settings, observers: Observers) -> Self {
        Self {
            shared: Arc::new(Shared {
                settings: Arc::new(settings),
                observers,
            }),
        }
    }

    /// The head step: everything the head decides, before any body is read.
    pub async fn check_head(&self, head: RequestHead<'_>) -> Result<HeadChecked, Refused> {
        self.head_step(&head, Expect::Any).await
    }

    /// The body step: the signature over the URL and `body` (the whole body, as read under the
    /// limit and timeout `checked` gives; empty when it reads none), then the replay store.
    /// `head` is the one `checked` came from.
    ///
    /// An [`Accepted`] holds the request's replay reservation: tell it how the handler answered
    /// ([`Accepted::finish`]) so that a 5xx lets Plivo's retry through.
    pub async fn check_body(
        &self,
        checked: HeadChecked,
        head: RequestHead<'_>,
        body: Bytes,
    ) -> Result<Accepted, Refused> {
        let HeadChecked { reading, span, .. } = checked;
        let settings = &self.shared.settings;
        let timed = wants_verify_time(&span);
        let mut step =
            span.in_scope(|| flow::body_read(settings, reading, &head, Ok(&body), timed));
        let verdict = loop {
            step = match step {
                BodyStep::Done(verdict) => break verdict,
                BodyStep::Reserve(reserving, unreserved) => {
                    let answer = reserving.await;
                    break flow::reserved(settings, unreserved, answer);
                }
                BodyStep::LookUp(mut looking_up) => {
                    let resolved = (&mut looking_up.pending.lookup).await;
                    span.in_scope(|| {
                        flow::looked_up_after_body(
                            settings, looking_up, resolved, &head, &body, timed,
                        )
                    })
                }
            };
        };
        self.conclude(verdict, &span, &head, body.len())
    }

    /// Both steps for an audio-stream upgrade (a Plivo `<Stream>` WebSocket), from its head,
    /// before the handshake is completed: anything but an HTTP/1.1 `GET` WebSocket upgrade
    /// without a body is refused, the signature is verified over the stream URL form Plivo
    /// signs (`http://`, wire format §6), and its replay key is reserved and kept whatever
    /// happens to the handshake next (the safe side: a second copy is a replay).
    ///
    /// ```
    /// use tower_plivo::{PlivoGuard, Rejection, RequestHead, UrlPolicy};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let guard = PlivoGuard::builder()
    ///     .auth_token("token")
    ///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
    ///     .build()?;
    /// let unsigned = http::Request::get("/stream")
    ///     .header("connection", "Upgrade")
    ///     .header("upgrade", "websocket")
    ///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    ///     .header("sec-websocket-version", "13")
    ///     .body(())
    ///     .unwrap();
    /// let head = RequestHead::from(&unsigned).with_peer(Some("203.0.113.7:40000".parse().unwrap()));
    /// let refused = guard.check_upgrade(head).await.unwrap_err();
    /// assert_eq!(refused.rejection(), Rejection::MissingSignature); // answer it: no 101
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// # }).unwrap();
    /// ```
    pub async fn check_upgrade(&self, head: RequestHead<'_>) -> Result<PlivoVerified, Refused> {
        let checked = self.head_step(&head, Expect::Upgrade).await?;
        let accepted = self.check_body(checked, head, Bytes::new()).await?;
        Ok(accepted.keep())
    }

    /// The same calls, synchronous (see [`SyncPlivoGuard`]). An error when a store needs I/O
    /// to answer: a replay store such as Redis
    /// ([`NonceStore::answers_synchronously`](crate::replay::NonceStore::answers_synchronously)),
    /// or [tenants](crate::tenants) (a tenant not in the cache needs a lookup).
    pub fn synchronous(&self) -> Result<SyncPlivoGuard, ConfigError> {
        SyncPlivoGuard::of(self)
    }

    async fn head_step(
        &self,
        request: &RequestHead<'_>,
        expect: Expect,
    ) -> Result<HeadChecked, Refused> {
        let settings = &self.shared.settings;
        let span = request_span(request.method, request.original_uri(), request.peer_addr());
        let step = span.in_scope(|| flow::start(settings, request, expect));
        let reading = match step {
            HeadStep::Read(reading) => Ok(reading),
            HeadStep::Refused(refused) => Err(refused),
            HeadStep::LookUp(mut looking_up) => {
                let resolved = (&mut looking_up.pending.lookup).await;
                flow::looked_up(looking_up, resolved)
            }
        };
        match reading {
            Ok(reading) => Ok(HeadChecked {
                reading,
                span,
                body_limit: settings.body_limit,
                body_timeout: settings.body_timeout,
            }),
            Err(refused) => Err(self.refuse(refused, &span, request)),
        }
    }

    /// Reports a verdict at the exits and turns it into what the host acts on.
    fn conclude(
        &self,
        verdict: Verdict,
        span: &Span,
        request: &RequestHead<'_>,
        body_bytes: usize,
    ) -> Result<Accepted, Refused> {
        match verdict {
            Verdict::Passed(passed) => {
                exits::passed(span, &self.shared.observers, &passed, body_bytes);
                Ok(Accepted::new(passed))
            }
            Verdict::Refused(refused) => Err(self.refuse(refused, span, request)),
        }
    }

    fn refuse(&self, refused: verdict::Refused, span: &Span, request: &RequestHead<'_>) -> Refused {
        let Shared {
            settings,
            observers,
        } = &*self.shared;
        let rejection = refused.refusal.rejection;
        let enforced = respond::enforces(settings.report_only, rejection);
        exits::refused(span, settings, observers, &refused, request, !enforced);
        let response = respond::render(settings, rejection, request.headers);
        Refused::new(rejection, enforced, response)
    }

    /// Whether a tenant's lookup may be needed.
    pub(crate) fn has_tenants(&self) -> bool {
        matches!(self.shared.settings.tokens, Tokens::Tenants(_))
    }
}

impl fmt::Debug for PlivoGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlivoGuard")
            .field("settings", &self.shared.settings)
            .field("observers", &self.shared.observers)
            .finish()
    }
}
