//! [`RedisNonceStore`]: one store shared by every replica (feature `redis`).

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::memory::DEFAULT_TTL;
use super::store::{NonceStore, ReplayKey, Reservation, ReservationId, StoreError, StoreFuture};

/// The key prefix used unless [`RedisNonceStore::key_prefix`] says otherwise.
pub const DEFAULT_KEY_PREFIX: &str = "tower-plivo:nonce:";
/// How long one store operation may take before the store counts as unavailable: 2 s.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(2);

/// Deletes the key only if it still holds our reservation id: a release never removes a
/// reservation another request made after ours expired.
const RELEASE_IF_OWNER: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// Remembers verified nonces in Redis, so every replica behind a load balancer refuses a request
/// any of them has already accepted.
///
/// - reserve: `SET <prefix><key> <reservation id> NX PX <ttl>`, atomic across replicas;
/// - release: a Lua compare-and-delete, so only the reservation's owner removes it;
/// - a `ConnectionManager` reconnects after Redis restarts; each operation is bounded by
///   [`DEFAULT_OPERATION_TIMEOUT`] (configurable), after which the store counts as unavailable
///   and the layer answers 503 (or lets the request through when configured to fail open).
///
/// Construction does not connect: a replica starts even while Redis is down.
///
/// ```no_run
/// use std::time::Duration;
/// use tower_plivo::replay::RedisNonceStore;
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisNonceStore::new("redis://127.0.0.1:6379/")?
///     .ttl(Duration::from_secs(24 * 60 * 60))
///     .key_prefix("myapp:plivo:");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisNonceStore {
    connection: ConnectionManager,
    prefix: String,
    ttl: Duration,
    operation_timeout: Duration,
    release: redis::Script,
}

impl RedisNonceStore {
    /// A store for the Redis at `url` (`redis://host:port/db`). Must be called inside a Tokio
    /// runtime; connects lazily.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(StoreError::new)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection =
            ConnectionManager::new_lazy_with_config(client, config).map_err(StoreError::new)?;
        Ok(Self {
            connection,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            ttl: DEFAULT_TTL,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            release: redis::Script::new(RELEASE_IF_OWNER),
        })
    }

    /// How long a nonce is remembered (default [`DEFAULT_TTL`], 1 hour; at least 1 ms).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// The prefix of every key this store writes (default [`DEFAULT_KEY_PREFIX`]).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one operation may take before the store counts as unavailable.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    fn redis_key(&self, key: &ReplayKey) -> String {
        format!("{}{key}", self.prefix)
    }
}

impl NonceStore for RedisNonceStore {
    fn reserve(&self, key: &ReplayKey, id: ReservationId) -> StoreFuture<Reservation> {
        let mut connection = self.connection.clone();
        let key = self.redis_key(key);
        let ttl_ms = self.ttl.as_millis() as u64;
        let timeout = self.operation_timeout;
        StoreFuture::pending(async move {
            let mut command = redis::cmd("SET");
            command
                .arg(&key)
                .arg(id.as_u128().to_string())
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms);
            let set = command.query_async::<Option<String>>(&mut connection);
            match tokio::time::timeout(timeout, set).await {
                Ok(Ok(Some(_))) => Ok(Reservation::Reserved),
                Ok(Ok(None)) => Ok(Reservation::AlreadySeen),
                Ok(Err(error)) => Err(StoreError::new(error)),
                Err(_) => Err(StoreError::new(format!("no answer within {timeout:?}"))),
            }
        })
    }

    fn release(&self, key: &ReplayKey, id: ReservationId) {
        let mut connection = self.connection.clone();
        let key = self.redis_key(key);
        let script = self.release.clone();
        let timeout = self.operation_timeout;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(target: "tower_plivo", key = %key, "no Tokio runtime to release a nonce reservation; it will expire with its TTL");
            return;
        };
        runtime.spawn(async move {
            let mut invocation = script.key(&key);
            invocation.arg(id.as_u128().to_string());
            let released = tokio::time::timeout(timeout, invocation.invoke_async::<i64>(&mut connection)).await;
            if !matches!(released, Ok(Ok(_))) {
                tracing::warn!(
                    target: "tower_plivo",
                    key = %key,
                    "could not release a nonce reservation; a retry of this request is refused until the TTL ends"
                );
            }
        });
    }
}

impl fmt::Debug for RedisNonceStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: it is not shown.
        f.debug_struct("RedisNonceStore")
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("operation_timeout", &self.operation_timeout)
            .finish_non_exhaustive()
    }
}
