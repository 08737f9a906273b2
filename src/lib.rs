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
//!   query and form-body parameters, and `X-Plivo-Signature-V3-Nonce`.
//! - **V2** (messaging, verify, legacy voice): `X-Plivo-Signature-V2` (and `-Ma-V2`) over the
//!   base URL and `X-Plivo-Signature-V2-Nonce` only.
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
//! Handlers see only verified requests, with the body intact (`Form`, `Bytes` and `String`
//! extractors work) and a [`PlivoVerified`] extension. Everything else gets 403 (413 for a body
//! over the limit, 400 for a broken body stream) with a typed [`Rejection`].
//!
//! ## Behind a proxy or load balancer
//!
//! Tell the layer the public origin, or which proxies to believe:
//!
//! ```
//! use tower_plivo::{PlivoSignatureLayer, Scheme, UrlPolicy};
//!
//! // The proxies at 10.0.0.0/8 terminate TLS and send X-Forwarded-Proto / -Host (or Forwarded).
//! let policy = UrlPolicy::trusted_proxies(["10.0.0.0/8"])?
//!     .with_fallback_scheme(Scheme::Https)
//!     .allow_hosts(["hooks.example.com"])?;
//! let plivo = PlivoSignatureLayer::builder().auth_token("token").url_policy(policy).build()?;
//! # Ok::<(), tower_plivo::ConfigError>(())
//! ```
//!
//! Serve axum with `into_make_service_with_connect_info::<SocketAddr>()` so the layer knows the
//! TCP peer; without it, forwarding headers are never believed.
//!
//! ## Replays, rollout, diagnosis
//!
//! - [`replay`]: refuse a request whose nonce was already accepted (in memory, or shared
//!   through Redis with the `redis` feature).
//! - [`report_only`](PlivoSignatureLayerBuilder::report_only): verify and log without refusing,
//!   to roll out on a live endpoint.
//! - [`diagnose`](PlivoSignatureLayerBuilder::diagnose): when a signature does not match, log
//!   which URL or token Plivo actually signed and the configuration change that fixes it.
//! - Every guarded request gets a `plivo_webhook` tracing span; [`Metrics`] counts verdicts.
//!
//! ## Features
//!
//! - `axum` (default): reads the peer address from `ConnectInfo<SocketAddr>` and the path from
//!   `OriginalUri`, so `Router::nest` does not change what is verified.
//! - `tonic`: reads the peer address from tonic's `TcpConnectInfo`.
//! - `redis`: `replay::RedisNonceStore`, replay protection shared by several replicas.
//!
//! With plain hyper, insert a [`PeerAddr`] into each request's extensions.
//!
//! [tower]: https://docs.rs/tower

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod body;
mod builder;
mod check;
mod collect;
mod config;
mod config_error;
mod doctor;
mod future;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod layer;
mod observe;
mod peer;
mod rejection;
pub mod replay;
mod service;
pub mod signature;
mod target;
mod tokens;
mod url_policy;
mod verified;

pub use body::{RequestBody, ResponseBody};
pub use builder::{DEFAULT_BODY_LIMIT, DEFAULT_BODY_TIMEOUT, PlivoSignatureLayerBuilder};
pub use config_error::ConfigError;
pub use future::ResponseFuture;
pub use layer::PlivoSignatureLayer;
pub use observe::Metrics;
pub use peer::PeerAddr;
pub use rejection::Rejection;
pub use service::PlivoSignature;
pub use tokens::{AuthTokens, TokenId};
pub use url_policy::{Scheme, UrlPolicy};
pub use verified::{PlivoVerdict, PlivoVerified, SignatureHeader};

/// The README's Rust examples, compiled as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
