//! # tower-plivo
//!
//! A [tower] layer that lets through only the webhooks Plivo really sent.
//!
//! ## What Plivo sends
//!
//! Every callback carries an HMAC-SHA256 signature of the URL Plivo called, keyed with your
//! auth token:
//!
//! - **V3** (voice: answer, hangup, action and callback URLs): `X-Plivo-Signature-V3` (and
//!   `X-Plivo-Signature-Ma-V3`, signed with the main account's token) over the URL, its sorted
//!   query and form-body parameters, and `X-Plivo-Signature-V3-Nonce`. The layer accepts V3.
//! - **V2** (messaging, verify, legacy voice): `X-Plivo-Signature-V2` (and `-Ma-V2`) over the
//!   base URL and `X-Plivo-Signature-V2-Nonce` only: neither the body nor the query is signed.
//!   The layer accepts it only where
//!   [`accept_v2`](PlivoGuardBuilder::accept_v2) says so (messaging routes).
//!
//! The signature covers the URL **as Plivo called it** (`https://hooks.example.com/answer`),
//! which behind a TLS-terminating proxy is not what your server sees
//! (`http://10.0.0.5:8080/answer`). A [`UrlPolicy`] tells the layer the truth.
//!
//! ## A working axum app
//!
//! ```no_run
//! use axum::{Router, routing::post};
//! use tower_plivo::{PlivoSignatureLayer, UrlPolicy};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let plivo = PlivoSignatureLayer::builder()
//!         .auth_token(std::env::var("PLIVO_AUTH_TOKEN")?)
//!         .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
//!         .build()?;
//!     let app = Router::new()
//!         .route("/answer", post(|| async { "<Response><Speak>Hello</Speak></Response>" }))
//!         .layer(plivo);
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! Handlers see only verified requests, once each (replay protection is on by default), with
//! the body intact (`Form`, `Bytes` and `String` extractors work) and a [`PlivoVerified`]
//! extension. Everything else gets 403 (413 for a body over the limit, 400 for a broken body
//! stream, 408 for a body too slow, 503 while the replay store or a tenant store cannot answer); the typed [`Rejection`] is in the log, the metrics and the
//! response's extensions, never in its body.
//!
//! ## Behind a proxy or load balancer
//!
//! Tell the layer the public origin, or which proxies to believe:
//!
//! ```
//! use tower_plivo::{PlivoSignatureLayer, Scheme, UrlPolicy};
//!
//! // Safest: the URL configured in Plivo, whatever the proxies in between do.
//! let fixed = PlivoSignatureLayer::builder()
//!     .auth_token("token")
//!     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
//!     .build()?;
//!
//! // Or the request's own Host among known hosts, with the scheme from the X-Forwarded-Proto
//! // that the load balancers at 10.0.0.0/8 set (only that header is believed, only from them).
//! let proxied = PlivoSignatureLayer::builder()
//!     .auth_token("token")
//!     .url_policy(UrlPolicy::from_request(Scheme::Https).allow_hosts(["hooks.example.com"])?)
//!     .trusted_proxies(["10.0.0.0/8"])
//!     .build()?;
//! # Ok::<(), tower_plivo::ConfigError>(())
//! ```
//!
//! Serve axum with `into_make_service_with_connect_info::<SocketAddr>()` so the layer knows the
//! TCP peer; without it, forwarding headers are never believed. Other forwarding headers are
//! believed only when named with
//! [`proxy_headers`](PlivoGuardBuilder::proxy_headers); an optional
//! [`source_networks`](PlivoGuardBuilder::source_networks) list refuses clients outside
//! Plivo's networks.
//!
//! ## Audio streams
//!
//! Plivo's `<Stream>` opens a WebSocket to your server; the layer verifies the upgrade before
//! the `101`, over the stream URL with its scheme replaced by `http` (as Plivo signs it), so an
//! unsigned socket is never opened. axum's `WebSocketUpgrade` works behind it. Servers that
//! upgrade without tower call [`PlivoGuard::check_upgrade`] (or, in a synchronous callback,
//! [`SyncPlivoGuard::check_upgrade`](guard::SyncPlivoGuard::check_upgrade)) on the request head.
//!
//! ## Without tower
//!
//! The layer is a [`PlivoGuard`] around a service. Any other host (actix-web, AWS Lambda, a CLI)
//! builds the guard with the same builder and calls its two steps:
//! [`check_head`](PlivoGuard::check_head) before reading the body (refuse now, or read at most
//! [`body_limit`](guard::HeadChecked::body_limit) bytes), then [`check_body`](PlivoGuard::check_body),
//! with the whole policy (URL policy, replay protection, tenants, V3 only by default).
//!
//! ## Many accounts
//!
//! A platform that answers Plivo for many customers gives the layer a
//! [`TokenSource`](tenants::TokenSource) over its own store instead of a token list: each request
//! is verified with the tokens of the tenant its URL names, cached in a
//! [`TenantCache`](tenants::TenantCache). See [`tenants`].
//!
//! ## Replays, rollout, diagnosis
//!
//! - [`replay`]: a request whose signed message was already accepted is refused (in memory by
//!   default; shared through Redis with the `redis` feature for several replicas, or through a
//!   Redis Cluster with `redis-cluster`).
//! - [`report_only`](PlivoGuardBuilder::report_only): verify and log without refusing,
//!   to roll out on a live endpoint.
//! - [`diagnose`](PlivoGuardBuilder::diagnose) (on by default): when a refusal could be
//!   a configuration mistake, log what Plivo actually signed and the change that fixes it.
//! - Every guarded request gets a `plivo_webhook` tracing span (its fields named after
//!   OpenTelemetry's HTTP conventions); [`Metrics`] counts verdicts, and with the `metrics`
//!   feature every verdict also goes to the `metrics` facade.
//! - [`capture::CaptureReceivedLayer`], outermost, lets a refusal say what a layer in front of this one
//!   changed (a path normaliser, a rewrite). The deployment guide's "Where the layer goes
//!   among other layers" ([`guide::deployments`]) says which side of this layer each
//!   tower-http and tower neighbour belongs on.
//!
//! ## Features
//!
//! - `diagnosis` (default): the signature doctor ([`diagnose`](PlivoGuardBuilder::diagnose)),
//!   the origin report in a refusal's log line, and [`capture`]. Without it all three are
//!   compiled out, the doctor's thread included.
//! - `axum` (default): reads the peer address from `ConnectInfo<SocketAddr>` and the path from
//!   `OriginalUri`, so `Router::nest` does not change what is verified.
//! - `tonic`: reads the peer address from tonic's `TcpConnectInfo`.
//! - `redis`: `replay::RedisNonceStore`, replay protection shared by several replicas.
//! - `redis-cluster` (implies `redis`): `replay::RedisNonceStore::cluster`, the same store on a
//!   Redis Cluster, through redis-rs's cluster-aware async client (seed nodes, the rest
//!   discovered; follows failovers and slot moves).
//! - `redis-tls` (implies `redis`): `rediss://` URLs (TLS, as managed Redis services require) for
//!   `RedisNonceStore::new` and `RedisNonceStore::cluster`, with rustls (ring) and the webpki
//!   root certificates. Builds without it pull in no TLS crates.
//! - `metrics`: reports every verdict through the [`metrics`](https://docs.rs/metrics) facade,
//!   for any exporter: the counter `plivo_webhook_requests_total` (labels `verdict` =
//!   `accepted` | `rejected` | `reported`, `reason` = the [`Rejection::code`] or `none`) and the
//!   histogram `plivo_webhook_verify_duration_seconds` (label `version` = `v3` | `v2`), in
//!   addition to any custom [`Metrics`].
//!
//! With plain hyper, insert a [`PeerAddr`] into each request's extensions.
//!
//! [tower]: https://docs.rs/tower

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod builder;
#[cfg(feature = "diagnosis")]
#[cfg_attr(docsrs, doc(cfg(feature = "diagnosis")))]
pub mod capture;
mod config_error;
mod future;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod guard;
mod layer;
mod observe;
mod pipeline;
mod rejection;
pub mod replay;
mod request_info;
pub mod service;
pub mod signature;
pub mod tenants;
mod url_policy;
mod verified;

/// The wire format: how Plivo signs its requests and what the layer checks, with the decisions
/// taken where Plivo's SDKs disagree and the public vectors. The same text is
/// `docs/wire-format.md` in the repository.
#[doc = include_str!("../docs/wire-format.md")]
pub mod wire_format {}

/// The guides: one per capability, each also a page under `docs/guides/` in the repository (the
/// README links them). Their Rust examples compile as doc tests.
pub mod guide {
    /// Every builder setting, the URL policies, which signature versions Plivo's products send,
    /// and the `server` example's environment.
    #[doc = include_str!("../docs/guides/configuration.md")]
    pub mod configuration {}

    /// Behind proxies and load balancers, among other tower layers, and serving it.
    #[doc = include_str!("../docs/guides/deployments.md")]
    pub mod deployments {}

    /// Audio streams: Plivo's WebSocket upgrades, verified before the `101`.
    #[doc = include_str!("../docs/guides/streams.md")]
    pub mod streams {}

    /// Many accounts: each request verified with its tenant's tokens.
    #[doc = include_str!("../docs/guides/tenants.md")]
    pub mod tenants {}

    /// Replay protection: the stores, what a failover does, the trade-offs.
    #[doc = include_str!("../docs/guides/replay.md")]
    pub mod replay {}

    /// Spans, log lines, counters, the signature doctor and report-only mode.
    #[doc = include_str!("../docs/guides/observability.md")]
    pub mod observability {}

    /// Signature never matches? Each misconfiguration, the doctor's line and the fix.
    #[doc = include_str!("../docs/guides/troubleshooting.md")]
    pub mod troubleshooting {}

    /// Each attack and what stops it, what a signature does not bind, and conformance.
    #[doc = include_str!("../docs/guides/security.md")]
    pub mod security {}

    /// What the layer costs, measured against its targets.
    #[doc = include_str!("../docs/guides/performance.md")]
    pub mod performance {}
}

pub use builder::PlivoGuardBuilder;
pub use config_error::ConfigError;
pub use guard::PlivoGuard;
pub use layer::PlivoSignatureLayer;
pub use observe::Metrics;
pub use rejection::Rejection;
pub use request_info::{PeerAddr, RequestHead};
pub use signature::{SignatureVersion, StreamUrlForm, TokenId};
pub use url_policy::{ProxyHeader, Scheme, UrlPolicy};
pub use verified::PlivoVerified;

/// The README's Rust examples, compiled as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
