//! Replay protection: refuse a signed request that was already accepted. **On by default**,
//! with an in-process [`MemoryNonceStore`].
//!
//! Plivo's signatures carry no timestamp: a request captured once (a proxy log, a leaked trace)
//! verifies forever, and under V2 it may even carry another body. After the signature has
//! verified, the layer:
//!
//! 1. **reserves** the request's [`ReplayKey`], a digest of the signed message without its
//!    parameters (base URL and nonce), atomically
//!    before calling the inner service; a key already present is refused with 403
//!    [`Rejection::Replayed`](crate::Rejection::Replayed). Every request whose signed message
//!    equals an accepted one has the same key, however its parameters are written;
//! 2. **releases** the reservation only when the handler did not act: the inner service
//!    answered 5xx or failed (each time it does: answer 5xx only when nothing was done), or the
//!    request was dropped before the inner service's future was first polled. A request
//!    dropped after that (the client disconnected, an outer timeout fired) keeps its
//!    reservation until the TTL, so disconnecting early cannot free a nonce for another copy;
//!    [`replay_release_on_drop`](crate::PlivoGuardBuilder::replay_release_on_drop) is
//!    the explicit opt-in to the opposite trade-off;
//! 3. answers 503 when the store cannot answer (Plivo retries later), or lets the request
//!    through when configured to fail open. Both are logged.
//!
//! [`MemoryNonceStore`] serves one process. Several replicas behind a load balancer each have
//! their own memory, so a copy sent to another replica would be accepted: they need one shared
//! store, such as `RedisNonceStore` (feature `redis`; on a Redis Cluster with feature
//! `redis-cluster`, over TLS with feature `redis-tls`).
//!
//! ```
//! use std::sync::Arc;
//! use tower_plivo::{PlivoSignatureLayer, UrlPolicy};
//! use tower_plivo::replay::MemoryNonceStore;
//!
//! // One store for two layers, so a request accepted by one is a replay for the other.
//! let store = Arc::new(MemoryNonceStore::new());
//! let voice = PlivoSignatureLayer::builder()
//!     .auth_token("token")
//!     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
//!     .replay_store(store.clone())
//!     .build()?;
//! let sms = PlivoSignatureLayer::builder()
//!     .auth_token("token")
//!     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
//!     .accept_v2(true)
//!     .replay_store(store)
//!     .build()?;
//! # Ok::<(), tower_plivo::ConfigError>(())
//! ```

mod guard;
mod keys;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod shard;
mod store;

pub(crate) use guard::ReleaseGuard;
pub(crate) use keys::ReplayKeys;
pub use memory::MemoryNonceStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisNonceStore;
pub use store::{NonceStore, ReplayKey, Reservation, ReservationId, StoreError, StoreFuture};
