//! Replay protection: refuse a signed request that was already accepted.
//!
//! Plivo's signatures carry no timestamp: a request captured once (a proxy log, a leaked trace)
//! verifies forever, and under V2 it may even carry another body. The nonce is the only handle.
//! With a [`NonceStore`] configured, the layer, after the signature has verified:
//!
//! 1. **reserves** the request's [`ReplayKey`] atomically before calling the inner service; a
//!    key already present is refused with 403 [`Rejection::Replayed`](crate::Rejection::Replayed);
//! 2. **releases** the reservation when the inner service answers 5xx, fails, or its future is
//!    dropped (the client went away), so Plivo's retry is not locked out; otherwise the key is
//!    kept until the store's TTL ends;
//! 3. answers 503 when the store cannot answer (Plivo retries later), or lets the request
//!    through when configured to fail open. Both are logged.
//!
//! [`MemoryNonceStore`] serves one process; `RedisNonceStore` (feature `redis`) is shared by
//! every replica behind a load balancer.
//!
//! ```
//! use tower_plivo::PlivoSignatureLayer;
//! use tower_plivo::replay::MemoryNonceStore;
//!
//! let layer = PlivoSignatureLayer::builder()
//!     .auth_token("token")
//!     .replay_store(MemoryNonceStore::new())
//!     .build()?;
//! # Ok::<(), tower_plivo::ConfigError>(())
//! ```

mod guard;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod store;

pub(crate) use guard::ReleaseGuard;
pub use memory::{DEFAULT_MAX_ENTRIES, DEFAULT_TTL, MemoryNonceStore};
#[cfg(feature = "redis")]
pub use redis::{DEFAULT_KEY_PREFIX, DEFAULT_OPERATION_TIMEOUT, RedisNonceStore};
pub use store::{NonceStore, ReplayKey, Reservation, ReservationId, StoreError, StoreFuture};
