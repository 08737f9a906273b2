//! [`RedisNonceStore`]: one store shared by every replica (feature `redis`; a Redis Cluster with
//! feature `redis-cluster`).

use std::fmt;
#[cfg(feature = "redis-cluster")]
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, RedisResult, ScriptInvocation};

use super::memory::MemoryNonceStore;
use super::store::ttl_millis;
use super::store::{NonceStore, ReplayKey, Reservation, ReservationId, StoreError, StoreFuture};

/// Deletes the key only if it still holds our reservation id: a release never removes a
/// reservation another request made after ours expired.
const RELEASE_IF_OWNER: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// How long the client waits for one TCP (and TLS) connection to a node.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the client waits for one answer from a node.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Remembers verified nonces in Redis, so every replica behind a load balancer refuses a request
/// any of them has already accepted.
///
/// - reserve: `SET <prefix><key> <reservation id> NX PX <ttl>`, atomic across replicas;
/// - release: a Lua compare-and-delete, so only the reservation's owner removes it;
/// - a `ConnectionManager` reconnects after Redis restarts; each operation is bounded by
///   [`DEFAULT_OPERATION_TIMEOUT`](Self::DEFAULT_OPERATION_TIMEOUT) (configurable), after which the store counts as unavailable
///   and the layer answers 503 (or lets the request through when configured to fail open).
///
/// Construction does not connect: a replica starts even while Redis is down.
///
/// [`RedisNonceStore::new`] talks to one Redis node; [`RedisNonceStore::cluster`] (feature
/// `redis-cluster`) to a Redis Cluster, with the same keys, semantics and settings. `rediss://`
/// URLs (TLS) need feature `redis-tls`; `redis://user:password@host:port` logs in as an ACL user
/// (`redis://:password@host:port` with the `default` user's password). The [`Debug`] output never
/// shows a URL, so never a password.
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
    connection: Connection,
    prefix: String,
    ttl: Duration,
    operation_timeout: Duration,
    release: redis::Script,
}

impl RedisNonceStore {
    /// The key prefix used unless [`key_prefix`](Self::key_prefix) says otherwise.
    pub const DEFAULT_KEY_PREFIX: &str = "tower-plivo:nonce:";

    /// How long one store operation may take before the store counts as unavailable: 2 s.
    pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(2);

    /// How long a nonce is remembered by default: 1 hour, as in the memory store.
    pub const DEFAULT_TTL: Duration = MemoryNonceStore::DEFAULT_TTL;

    /// A store for the Redis at `url` (`redis://host:port/db`, `redis://user:password@host:port`,
    /// or `rediss://…` with feature `redis-tls`). Must be called inside a Tokio runtime; connects
    /// lazily.
    ///
    /// A malformed URL (or `rediss://` without feature `redis-tls`) is a [`StoreError`].
    ///
    /// ```no_run
    /// use tower_plivo::replay::RedisNonceStore;
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = RedisNonceStore::new("redis://plivo:secret@127.0.0.1:6379/")?;
    /// # Ok(()) }
    /// ```
    pub fn new(url: &str) -> Result<Self, StoreError> {
        Self::single(redis::Client::open(url).map_err(StoreError::new)?)
    }

    /// As [`new`](Self::new) over TLS (`rediss://`), trusting the certificate authority in
    /// `ca_pem` (PEM) instead of the public roots: for a Redis whose certificate a private CA
    /// signed (self-hosted, or a managed service with a per-instance CA). The server's
    /// certificate is still verified, against that CA and the URL's host.
    ///
    /// ```no_run
    /// use tower_plivo::replay::RedisNonceStore;
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ca = std::fs::read("/etc/redis/ca.pem")?;
    /// let store = RedisNonceStore::new_with_ca("rediss://plivo:secret@10.0.0.5:6378", ca)?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "redis-tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-tls")))]
    pub fn new_with_ca(url: &str, ca_pem: impl Into<Vec<u8>>) -> Result<Self, StoreError> {
        let certificates = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(ca_pem.into()),
        };
        Self::single(redis::Client::build_with_tls(url, certificates).map_err(StoreError::new)?)
    }

    fn single(client: redis::Client) -> Result<Self, StoreError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection =
            ConnectionManager::new_lazy_with_config(client, config).map_err(StoreError::new)?;
        Ok(Self::with_connection(Connection::Single(connection)))
    }

    /// A store for the Redis Cluster reached through `seeds`, the URLs of one or more of its
    /// nodes (`redis://10.0.0.1:7000`, `redis://user:password@host:port`, or `rediss://…` with
    /// feature `redis-tls`); the client discovers the other nodes and follows the cluster's
    /// topology (slot moves, failovers). Every seed must use the same user, password and scheme;
    /// the nodes it discovers are reached with them too.
    ///
    /// Like [`RedisNonceStore::new`], construction does not connect: the first operation
    /// connects (within [`operation_timeout`](Self::operation_timeout)), and a failed connection
    /// fails that operation only, the next one tries again. Must be called inside a Tokio
    /// runtime.
    ///
    /// An empty `seeds`, a malformed URL, seeds that disagree on user, password or TLS, or
    /// `rediss://` without feature `redis-tls` is a [`StoreError`].
    ///
    /// Every operation touches one key, `<prefix><replay key>`, so it hashes to one slot and runs
    /// on the node that owns it: no hash tags are needed, and keys spread over the whole cluster.
    ///
    /// During a failover (a primary lost, a replica promoted) the operations on the lost
    /// primary's slots fail (each within the operation timeout, usually well under a second), so
    /// the layer answers 503 or fails open as configured; they succeed again by themselves once
    /// the cluster has promoted the replica: on a local cluster with `cluster-node-timeout 1000`,
    /// about 2.5 s after the primary died. An operation that fails or runs out of time drops
    /// the cluster connection, and the next one connects afresh: redis-rs's cluster connection
    /// can otherwise stay stalled after a primary dies with many requests in flight. Over TLS, the nodes' certificates must be valid for
    /// the addresses the cluster announces (see `cluster-preferred-endpoint-type`), since the
    /// client reaches the discovered nodes at those.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tower_plivo::replay::RedisNonceStore;
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = RedisNonceStore::cluster([
    ///     "rediss://plivo:secret@redis-1.internal:6379",
    ///     "rediss://plivo:secret@redis-2.internal:6379",
    /// ])?
    /// .ttl(Duration::from_secs(24 * 60 * 60));
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "redis-cluster")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-cluster")))]
    pub fn cluster<I, S>(seeds: I) -> Result<Self, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::cluster_with(seeds, |builder| builder)
    }

    /// As [`cluster`](Self::cluster) over TLS (`rediss://` seeds), trusting the certificate
    /// authority in `ca_pem` (PEM) instead of the public roots, for every node of the cluster:
    /// for nodes whose certificates a private CA signed. Each node's certificate is still
    /// verified, against that CA and the address the client reaches it at.
    ///
    /// ```no_run
    /// use tower_plivo::replay::RedisNonceStore;
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ca = std::fs::read("/etc/redis/ca.pem")?;
    /// let store = RedisNonceStore::cluster_with_ca(["rediss://10.0.0.5:6379"], ca)?;
    /// # Ok(()) }
    /// ```
    #[cfg(all(feature = "redis-cluster", feature = "redis-tls"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(all(feature = "redis-cluster", feature = "redis-tls")))
    )]
    pub fn cluster_with_ca<I, S>(seeds: I, ca_pem: impl Into<Vec<u8>>) -> Result<Self, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let certificates = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(ca_pem.into()),
        };
        Self::cluster_with(seeds, |builder| builder.certs(certificates))
    }

    /// A cluster store whose client builder `configure` completes.
    #[cfg(feature = "redis-cluster")]
    fn cluster_with<I, S>(
        seeds: I,
        configure: impl FnOnce(
            redis::cluster::ClusterClientBuilder,
        ) -> redis::cluster::ClusterClientBuilder,
    ) -> Result<Self, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let seeds: Vec<String> = seeds
            .into_iter()
            .map(|seed| seed.as_ref().to_owned())
            .collect();
        let seed_count = seeds.len();
        // Failover: a killed primary's commands fail (I/O error or timeout), the client retries a
        // few times with short waits, reconnecting and rebuilding its slot map from the nodes it
        // still reaches (and on every MOVED), so once a replica is promoted the next operations
        // find it. Meanwhile each operation fails within `operation_timeout` (503 or fail-open),
        // instead of the defaults' 16 retries over minutes.
        let client = redis::cluster::ClusterClientBuilder::new(seeds.iter().map(String::as_str))
            .connection_timeout(CONNECTION_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            // Bounded by the store's own `operation_timeout` instead.
            .overall_response_timeout(None)
            .retries(3)
            .min_retry_wait(50)
            .max_retry_wait(500)
            .retry_wait_formula(100, 2);
        let client = configure(client).build().map_err(StoreError::new)?;
        Ok(Self::with_connection(Connection::Cluster(Arc::new(
            LazyCluster::new(client, seed_count),
        ))))
    }

    fn with_connection(connection: Connection) -> Self {
        Self {
            connection,
            prefix: Self::DEFAULT_KEY_PREFIX.to_owned(),
            ttl: Self::DEFAULT_TTL,
            operation_timeout: Self::DEFAULT_OPERATION_TIMEOUT,
            release: redis::Script::new(RELEASE_IF_OWNER),
        }
    }

    /// How long a nonce is remembered (default [`DEFAULT_TTL`](Self::DEFAULT_TTL), 1 hour; at least 1 ms, at most
    /// 100 years: `Duration::MAX` is held at that).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The prefix of every key this store writes (default [`DEFAULT_KEY_PREFIX`](Self::DEFAULT_KEY_PREFIX)).
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

/// The connection of a [`RedisNonceStore`]: one node, or a cluster.
#[derive(Clone)]
enum Connection {
    /// Connects lazily and reconnects by itself.
    Single(ConnectionManager),
    /// Connected on first use; the cluster connection then follows the topology by itself.
    #[cfg(feature = "redis-cluster")]
    Cluster(Arc<LazyCluster>),
}

#[cfg(feature = "redis-cluster")]
struct LazyCluster {
    client: redis::cluster::ClusterClient,
    /// The connection in use, with its generation: `None` before the first connection, and
    /// again after an operation on it failed or ran out of time.
    current: std::sync::Mutex<Option<(u64, redis::cluster_async::ClusterConnection)>>,
    /// One connection attempt at a time (the others wait for it rather than each connecting).
    connecting: tokio::sync::Mutex<()>,
    generations: std::sync::atomic::AtomicU64,
    seed_count: usize,
}

#[cfg(feature = "redis-cluster")]
impl LazyCluster {
    fn new(client: redis::cluster::ClusterClient, seed_count: usize) -> Self {
        Self {
            client,
            current: std::sync::Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            generations: std::sync::atomic::AtomicU64::new(0),
            seed_count,
        }
    }

    fn cached(&self) -> Option<(u64, redis::cluster_async::ClusterConnection)> {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The connection in use, connecting first when there is none.
    async fn connection(&self) -> RedisResult<(u64, redis::cluster_async::ClusterConnection)> {
        if let Some(current) = self.cached() {
            return Ok(current);
        }
        let _one_attempt = self.connecting.lock().await;
        if let Some(current) = self.cached() {
            return Ok(current);
        }
        let connection = self.client.get_async_connection().await?;
        let generation = 1 + self
            .generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some((generation, connection.clone()));
        Ok((generation, connection))
    }

    /// Drops the connection of `generation` (unless another already replaced it), so that the
    /// next operation connects afresh. Why: redis-rs 1.8's cluster connection can stay wedged
    /// after a primary dies with many requests in flight, every later command timing out even
    /// once a replica was promoted (`tests/it/replay_redis_cluster.rs`); a new connection reads
    /// the topology again and finds the new primary.
    fn discard(&self, generation: u64) {
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if current
            .as_ref()
            .is_some_and(|(held, _)| *held == generation)
        {
            *current = None;
        }
    }

    /// Runs `operation` on the connection in use; if it fails, or is dropped unfinished (the
    /// store's operation timeout), the connection is discarded.
    async fn run<T, F>(
        &self,
        operation: impl FnOnce(redis::cluster_async::ClusterConnection) -> F,
    ) -> RedisResult<T>
    where
        F: std::future::Future<Output = RedisResult<T>>,
    {
        let (generation, connection) = self.connection().await?;
        let mut guard = DiscardUnlessDone {
            cluster: self,
            generation,
            done: false,
        };
        let result = operation(connection).await;
        guard.done = result.is_ok();
        result
    }
}

/// Discards its connection when dropped before the operation succeeded.
#[cfg(feature = "redis-cluster")]
struct DiscardUnlessDone<'a> {
    cluster: &'a LazyCluster,
    generation: u64,
    done: bool,
}

#[cfg(feature = "redis-cluster")]
impl Drop for DiscardUnlessDone<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.cluster.discard(self.generation);
        }
    }
}

impl Connection {
    async fn query<T: FromRedisValue>(&self, command: &Cmd) -> RedisResult<T> {
        match self {
            Self::Single(connection) => command.query_async(&mut connection.clone()).await,
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(cluster) => {
                cluster
                    .run(|mut connection| async move { command.query_async(&mut connection).await })
                    .await
            }
        }
    }

    /// Runs a script. On a cluster, `EVALSHA` is routed by its first key (redis-rs routes
    /// `EVALSHA` by the argument after the key count), so it runs on the node owning the key's
    /// slot; a `NOSCRIPT` answer makes redis-rs send `SCRIPT LOAD` to every node, then retry.
    async fn invoke<T: FromRedisValue>(&self, invocation: &ScriptInvocation<'_>) -> RedisResult<T> {
        match self {
            Self::Single(connection) => invocation.invoke_async(&mut connection.clone()).await,
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(cluster) => cluster
                .run(|mut connection| async move { invocation.invoke_async(&mut connection).await })
                .await,
        }
    }
}

impl NonceStore for RedisNonceStore {
    fn reserve(&self, key: &ReplayKey, id: ReservationId) -> StoreFuture<Reservation> {
        let connection = self.connection.clone();
        let key = self.redis_key(key);
        let ttl_ms = ttl_millis(self.ttl);
        let timeout = self.operation_timeout;
        StoreFuture::pending(async move {
            let mut command = redis::cmd("SET");
            command
                .arg(&key)
                .arg(id.as_u128().to_string())
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms);
            // Within the timeout: the cluster's first connection as well as the command.
            let set = connection.query::<Option<String>>(&command);
            match tokio::time::timeout(timeout, set).await {
                Ok(Ok(Some(_))) => Ok(Reservation::Reserved),
                Ok(Ok(None)) => Ok(Reservation::AlreadySeen),
                Ok(Err(error)) => Err(StoreError::new(error)),
                Err(_) => Err(StoreError::new(format!("no answer within {timeout:?}"))),
            }
        })
    }

    fn release(&self, key: &ReplayKey, id: ReservationId) {
        let connection = self.connection.clone();
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
            let released = tokio::time::timeout(timeout, connection.invoke::<i64>(&invocation)).await;
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
        // The URLs may carry a password: they are not shown.
        let mut debug = f.debug_struct("RedisNonceStore");
        match &self.connection {
            Connection::Single(_) => debug.field("mode", &"single"),
            #[cfg(feature = "redis-cluster")]
            Connection::Cluster(cluster) => debug
                .field("mode", &"cluster")
                .field("seeds", &cluster.seed_count),
        };
        debug
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("operation_timeout", &self.operation_timeout)
            .finish_non_exhaustive()
    }
}
