//! The tower-free checks of an audio-stream upgrade, for servers that upgrade WebSockets
//! without tower (a bare tokio-tungstenite accept loop, say): the same stages as the layer
//! (head, verify, replay), over a request head alone. Made from a layer with
//! [`PlivoSignatureLayer::upgrade_check`](crate::PlivoSignatureLayer::upgrade_check) (any
//! store) or [`sync_upgrade_check`](crate::PlivoSignatureLayer::sync_upgrade_check) (stores
//! that answer at once), so they hold the layer's whole policy.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tracing::Span;

use crate::config_error::ConfigError;
use crate::layer::PlivoSignatureLayer;
use crate::observe::events::{self, Rejected};
use crate::observe::span::request_span;
use crate::pipeline::diagnose;
use crate::pipeline::head::{self, Head};
use crate::pipeline::replay::{self, Reserving};
use crate::pipeline::respond::Refusal;
use crate::pipeline::settings::{Settings, Tokens};
use crate::pipeline::tokens::{self, Pending, Resolution};
use crate::pipeline::upgrade::{self, RequestKind};
use crate::pipeline::verify::{self, Checked, Unchecked};
use crate::rejection::Rejection;
use crate::replay::{ReleaseGuard, Reservation, StoreError};
use crate::request_info::RequestHead;
use crate::tenants::Resolved;
use crate::verified::PlivoVerified;

/// Verifies an audio-stream upgrade (a Plivo `<Stream>` WebSocket) from its head, outside a
/// tower stack, with replay stores that need I/O (such as Redis). Made by
/// [`PlivoSignatureLayer::upgrade_check`], with the layer's tokens, URL policy, proxies,
/// source networks, replay store, doctor and metrics.
///
/// Call it on the upgrade request's head **before completing the handshake** (for example
/// after reading the head with hyper and before `hyper::upgrade::on`, or before
/// `tokio_tungstenite::WebSocketStream::from_raw_socket`), and answer 403 without upgrading
/// when it returns a [`Rejection`]. The check refuses anything but an HTTP/1.1 `GET` WebSocket
/// upgrade without a body, verifies the signature over the stream URL form Plivo signs
/// (`http://`, wire format §6) and reserves its replay key. A verified upgrade keeps its key
/// whatever happens to the handshake next (the safe side: a second copy is a replay).
///
/// For a synchronous callback, such as `tokio_tungstenite::accept_hdr_async`'s, see
/// [`SyncUpgradeCheck`].
///
/// With plain hyper, check the head, then answer `101` and take the upgraded connection:
///
/// ```no_run
/// use http::{Request, Response, StatusCode};
/// use http_body_util::Full;
/// use hyper_util::rt::TokioIo;
/// use tokio_tungstenite::{WebSocketStream, tungstenite::{handshake::derive_accept_key, protocol::Role}};
///
/// async fn answer(
///     check: tower_plivo::upgrade::UpgradeCheck,
///     mut request: Request<hyper::body::Incoming>,
///     peer: std::net::SocketAddr,
/// ) -> Response<Full<bytes::Bytes>> {
///     if check.check(&request, Some(peer)).await.is_err() {
///         let mut refusal = Response::new(Full::from("forbidden\n"));
///         *refusal.status_mut() = StatusCode::FORBIDDEN;
///         return refusal; // no 101, no socket
///     }
///     let Some(key) = request.headers().get("sec-websocket-key").cloned() else {
///         let mut bad = Response::new(Full::default());
///         *bad.status_mut() = StatusCode::BAD_REQUEST;
///         return bad;
///     };
///     let upgrade = hyper::upgrade::on(&mut request);
///     tokio::spawn(async move {
///         if let Ok(upgraded) = upgrade.await {
///             let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
///             // … Plivo's stream events …
///             # drop(socket);
///         }
///     });
///     Response::builder()
///         .status(StatusCode::SWITCHING_PROTOCOLS)
///         .header("connection", "Upgrade")
///         .header("upgrade", "websocket")
///         .header("sec-websocket-accept", derive_accept_key(key.as_bytes()))
///         .body(Full::default())
///         .unwrap()
/// }
/// ```
///
/// ```
/// use tower_plivo::{PlivoSignatureLayer, Rejection, UrlPolicy};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let check = PlivoSignatureLayer::builder()
///     .auth_token("token")
///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
///     .build()?
///     .upgrade_check()?;
/// let unsigned = http::Request::get("/stream")
///     .header("connection", "Upgrade")
///     .header("upgrade", "websocket")
///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
///     .header("sec-websocket-version", "13")
///     .body(())
///     .unwrap();
/// let verdict = check.check(&unsigned, Some("203.0.113.7:40000".parse().unwrap())).await;
/// assert_eq!(verdict, Err(Rejection::MissingSignature));
/// # Ok::<(), tower_plivo::ConfigError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct UpgradeCheck {
    settings: Arc<Settings>,
}

/// [`UpgradeCheck`] for a synchronous callback such as `tokio_tungstenite::accept_hdr_async`'s
/// (which sees the request head but not the peer address: capture it from `accept()`). Made by
/// [`PlivoSignatureLayer::sync_upgrade_check`], only for a layer whose replay store answers at
/// once (the default in-memory store, or none): a store that needs I/O is a build error here,
/// and so are [tenants](crate::tenants) (a tenant not in the cache needs a lookup).
///
/// It accepts only a WebSocket handshake (HTTP/1.1 `GET`, `Connection: upgrade`,
/// `Upgrade: websocket`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`, no body).
///
/// ```
/// use tower_plivo::{PlivoSignatureLayer, Rejection, UrlPolicy};
///
/// let check = PlivoSignatureLayer::builder()
///     .auth_token("token")
///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
///     .build()?
///     .sync_upgrade_check()?;
/// let not_an_upgrade = http::Request::get("/stream").body(()).unwrap();
/// assert_eq!(check.check(&not_an_upgrade, None), Err(Rejection::UnsupportedUpgrade));
/// # Ok::<(), tower_plivo::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SyncUpgradeCheck {
    settings: Arc<Settings>,
}

impl PlivoSignatureLayer {
    /// The tower-free check of audio-stream upgrades, with this layer's settings (see
    /// [`UpgradeCheck`]).
    ///
    /// A report-only layer is an error here: report-only lets refused requests through, while
    /// a check returns each verdict to its caller, who decides.
    pub fn upgrade_check(&self) -> Result<UpgradeCheck, ConfigError> {
        checkable(&self.settings)?;
        Ok(UpgradeCheck {
            settings: self.settings.clone(),
        })
    }

    /// The synchronous tower-free check of audio-stream upgrades (see [`SyncUpgradeCheck`]).
    /// An error for a report-only layer, and for a replay store that does not answer at once
    /// ([`NonceStore::answers_synchronously`](crate::replay::NonceStore::answers_synchronously)).
    pub fn sync_upgrade_check(&self) -> Result<SyncUpgradeCheck, ConfigError> {
        checkable(&self.settings)?;
        if let Some(replay) = &self.settings.replay
            && !replay.store.answers_synchronously()
        {
            return Err(ConfigError::Ineffective {
                setting: "sync_upgrade_check",
                reason: "the replay store needs I/O to answer (Redis, say): use upgrade_check, \
                         whose check is async",
            });
        }
        if matches!(self.settings.tokens, Tokens::Tenants(_)) {
            return Err(ConfigError::Ineffective {
                setting: "sync_upgrade_check",
                reason: "tenants are configured, and a tenant not in the cache needs a lookup in \
                         the store: use upgrade_check, whose check is async",
            });
        }
        Ok(SyncUpgradeCheck {
            settings: self.settings.clone(),
        })
    }
}

fn checkable(settings: &Settings) -> Result<(), ConfigError> {
    if settings.report_only {
        return Err(ConfigError::Ineffective {
            setting: "upgrade_check / sync_upgrade_check",
            reason: "the layer is report-only, and a check returns every verdict to its caller, \
                     who decides: build the check from a layer without report_only",
        });
    }
    Ok(())
}

impl UpgradeCheck {
    /// Checks an upgrade's head. `peer` is the TCP peer address (`None`: read from the
    /// extensions, as the layer does, else unknown, so forwarding headers are not believed).
    /// All the head's work is done before the future is returned; the future waits only for
    /// the tenant's lookup (with [tenants](crate::tenants), on a cache miss) and the replay
    /// store.
    pub fn check<'a>(
        &self,
        head: impl Into<RequestHead<'a>>,
        peer: Option<SocketAddr>,
    ) -> UpgradeFuture {
        let request = head.into();
        let state = match begin(&self.settings, &request, peer) {
            Err(rejection) => Waiting::Done(Err(rejection)),
            Ok(Begun::Resolved(head, span)) => waiting_for_store(
                &self.settings,
                verify_head(&self.settings, head, &request, span),
            ),
            Ok(Begun::LookingUp(head, pending, span)) => Waiting::Tenant(Box::new(LookingUp {
                head,
                pending,
                request: OwnedHead::of(&request),
                span,
            })),
        };
        UpgradeFuture {
            settings: self.settings.clone(),
            state: Some(state),
        }
    }
}

/// The verdict of [`UpgradeCheck::check`], once the replay store has answered.
#[must_use = "the upgrade is verified only once the future resolves"]
pub struct UpgradeFuture {
    settings: Arc<Settings>,
    state: Option<Waiting>,
}

enum Waiting {
    Done(Result<PlivoVerified, Rejection>),
    /// With tenants, on a cache miss: the store is asked.
    Tenant(Box<LookingUp>),
    Store {
        verified: PlivoVerified,
        span: Span,
        // Boxed: the reservation of two keys is large, and most upgrades are `Done` at once.
        reserve: Box<Reserving>,
        guard: ReleaseGuard,
    },
}

impl Future for UpgradeFuture {
    type Output = Result<PlivoVerified, Rejection>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            let state = this
                .state
                .take()
                .expect("UpgradeFuture polled after completion");
            let next = match state {
                Waiting::Done(verdict) => return Poll::Ready(verdict),
                Waiting::Tenant(mut looking_up) => {
                    match looking_up.pending.lookup.as_mut().poll(cx) {
                        Poll::Pending => {
                            this.state = Some(Waiting::Tenant(looking_up));
                            return Poll::Pending;
                        }
                        Poll::Ready(resolved) => {
                            after_lookup(&this.settings, *looking_up, resolved)
                        }
                    }
                }
                Waiting::Store {
                    verified,
                    span,
                    mut reserve,
                    guard,
                } => match Pin::new(&mut reserve).poll(cx) {
                    Poll::Pending => {
                        this.state = Some(Waiting::Store {
                            verified,
                            span,
                            reserve,
                            guard,
                        });
                        return Poll::Pending;
                    }
                    Poll::Ready(answer) => Waiting::Done(finish(
                        &this.settings,
                        verified,
                        Some((answer, guard)),
                        &span,
                    )),
                },
            };
            this.state = Some(next);
        }
    }
}

impl fmt::Debug for UpgradeFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpgradeFuture").finish_non_exhaustive()
    }
}

impl SyncUpgradeCheck {
    /// Checks an upgrade's head, at once. `peer` as for [`UpgradeCheck::check`].
    pub fn check<'a>(
        &self,
        head: impl Into<RequestHead<'a>>,
        peer: Option<SocketAddr>,
    ) -> Result<PlivoVerified, Rejection> {
        let request = head.into();
        let (head, span) = match begin(&self.settings, &request, peer)? {
            Begun::Resolved(head, span) => (head, span),
            // `sync_upgrade_check` refuses to be made with tenants.
            Begun::LookingUp(..) => return Err(Rejection::TenantStoreUnavailable),
        };
        let Started {
            verified,
            span,
            reservation,
        } = verify_head(&self.settings, head, &request, span)?;
        let answer = reservation.map(|(reserve, guard)| {
            let answer = reserve.now().unwrap_or_else(|| {
                Err(StoreError::new(
                    "the nonce store said it answers synchronously, and did not",
                ))
            });
            (answer, guard)
        });
        finish(&self.settings, verified, answer, &span)
    }
}

/// A verified upgrade whose replay key is being reserved.
struct Started {
    verified: PlivoVerified,
    span: Span,
    reservation: Option<(Reserving, ReleaseGuard)>,
}

/// From the store's answer about the tenant: verify, or refuse.
fn after_lookup(settings: &Arc<Settings>, looking_up: LookingUp, resolved: Resolved) -> Waiting {
    let LookingUp {
        mut head,
        pending,
        request,
        span,
    } = looking_up;
    let found = {
        let _entered = span.enter();
        tokens::after_lookup(&mut head, &pending, resolved).map_err(|refusal| {
            let asked = Asked::Head(&request.head(), head.peer);
            refused(settings, &span, asked, refusal, None)
        })
    };
    match found {
        Err(rejection) => Waiting::Done(Err(rejection)),
        Ok(()) => waiting_for_store(settings, verify_head(settings, head, &request.head(), span)),
    }
}

/// An upgrade waiting for its tenant's lookup, with what verification will read of it.
struct LookingUp {
    head: Head,
    pending: Pending,
    request: OwnedHead,
    span: Span,
}

/// Where an upgrade stands after its head: its tokens known, or being looked up.
enum Begun {
    Resolved(Head, Span),
    LookingUp(Head, Pending, Span),
}

/// The head stage, then the tokens stage.
fn begin(
    settings: &Arc<Settings>,
    request: &RequestHead<'_>,
    peer: Option<SocketAddr>,
) -> Result<Begun, Rejection> {
    let peer = peer.or_else(|| request.peer_addr());
    let span = request_span(request.method, request.original_uri(), peer);
    let entered = span.enter();
    let resolution = upgrade::classify(request.method, request.version, request.headers)
        .and_then(require_upgrade)
        .and_then(|kind| head::check_classified(settings, kind, request, peer))
        .map(|mut head| (tokens::resolve(settings, &mut head, request), head));
    let resolution = match resolution {
        Err(mut refusal) => {
            // A stream's signature covers no body: the doctor is shown it now, if at all.
            let read_body = diagnose::head_refusal(settings, &mut refusal, request, peer);
            debug_assert!(!read_body, "an upgrade has no body to wait for");
            Err(refused(
                settings,
                &span,
                Asked::Head(request, peer),
                refusal,
                None,
            ))
        }
        Ok((Resolution::Ready(Err(refusal)), _)) => Err(refused(
            settings,
            &span,
            Asked::Head(request, peer),
            refusal,
            None,
        )),
        Ok((Resolution::Ready(Ok(())), head)) => Ok((head, None)),
        Ok((Resolution::Pending(pending), head)) => Ok((head, Some(pending))),
    };
    drop(entered);
    Ok(match resolution? {
        (head, None) => Begun::Resolved(head, span),
        (head, Some(pending)) => Begun::LookingUp(head, pending, span),
    })
}

/// The signature stage, then the reservation asked for.
fn verify_head(
    settings: &Arc<Settings>,
    head: Head,
    request: &RequestHead<'_>,
    span: Span,
) -> Result<Started, Rejection> {
    let entered = span.enter();
    let Checked { mut verified, keys } =
        verify::check(settings, &head, request, &Bytes::new(), &span).map_err(
            |Unchecked { refusal, url }| {
                let asked = Asked::Head(request, head.peer);
                refused(settings, &span, asked, refusal, Some(&url))
            },
        )?;
    let reservation = match (&settings.replay, keys) {
        (Some(replay_settings), Some(keys)) => Some(replay::reserve(replay_settings, keys)),
        _ => None,
    };
    verified.set_tenant(head.tenant.known());
    drop(entered);
    Ok(Started {
        verified,
        span,
        reservation,
    })
}

/// What an upgrade waits for once verified: the store's answer, or nothing.
fn waiting_for_store(settings: &Settings, started: Result<Started, Rejection>) -> Waiting {
    match started {
        Err(rejection) => Waiting::Done(Err(rejection)),
        Ok(Started {
            verified,
            span,
            reservation: None,
        }) => Waiting::Done(finish(settings, verified, None, &span)),
        Ok(Started {
            verified,
            span,
            reservation: Some((reserve, guard)),
        }) => Waiting::Store {
            verified,
            span,
            reserve: Box::new(reserve),
            guard,
        },
    }
}

/// An upgrade's head, kept while its tenant is looked up: what verification reads of it (the
/// path as received, the headers).
struct OwnedHead {
    method: http::Method,
    uri: http::Uri,
    version: http::Version,
    headers: http::HeaderMap,
    extensions: http::Extensions,
}

impl OwnedHead {
    fn of(request: &RequestHead<'_>) -> Self {
        Self {
            method: request.method.clone(),
            uri: request.original_uri().clone(),
            version: request.version,
            headers: request.headers.clone(),
            extensions: http::Extensions::new(),
        }
    }

    fn head(&self) -> RequestHead<'_> {
        RequestHead {
            method: &self.method,
            uri: &self.uri,
            version: self.version,
            headers: &self.headers,
            extensions: &self.extensions,
        }
    }
}

/// Only a stream upgrade goes through this check.
fn require_upgrade(kind: RequestKind) -> Result<RequestKind, Refusal> {
    match kind {
        RequestKind::StreamUpgrade => Ok(kind),
        RequestKind::Webhook => Err(Refusal::explained(
            Rejection::UnsupportedUpgrade,
            "not a WebSocket upgrade (GET with Connection: upgrade and Upgrade: websocket)",
        )),
    }
}

/// The store's answer (if replay protection is on) decides.
fn finish(
    settings: &Settings,
    verified: PlivoVerified,
    answer: Option<(Result<Reservation, StoreError>, ReleaseGuard)>,
    span: &Span,
) -> Result<PlivoVerified, Rejection> {
    let _entered = span.enter();
    if let Some((answer, guard)) = answer {
        match replay::settle(settings.replay.as_ref(), &verified, answer, guard) {
            // The handshake goes on: whatever happens to it, the key stays taken.
            Ok(guard) => guard.keep(),
            Err(refusal) => {
                let url = verified.url();
                return Err(refused(settings, span, Asked::Gone, refusal, Some(url)));
            }
        }
    }
    events::accepted(span, settings.metrics.as_deref(), &verified, 0);
    Ok(verified)
}

/// What a refusal's log line can tell of the request.
#[derive(Clone, Copy)]
enum Asked<'a> {
    /// Its head, and the TCP peer.
    Head(&'a RequestHead<'a>, Option<SocketAddr>),
    /// Nothing more: the caller kept the head (a replay refused once the store answered).
    Gone,
}

/// Logs and counts a refusal, and gives its rejection.
fn refused(
    settings: &Settings,
    span: &Span,
    asked: Asked<'_>,
    refusal: Refusal,
    url: Option<&str>,
) -> Rejection {
    let (request, peer) = match asked {
        Asked::Head(request, peer) => (Some(request), peer),
        Asked::Gone => (None, None),
    };
    let event = Rejected {
        refusal: &refusal,
        request,
        peer,
        url,
        reported_only: false,
    };
    events::rejected(span, settings, event);
    refusal.rejection
}

impl fmt::Debug for UpgradeCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpgradeCheck")
            .field("settings", &self.settings)
            .finish()
    }
}

impl fmt::Debug for SyncUpgradeCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncUpgradeCheck")
            .field("settings", &self.settings)
            .finish()
    }
}
