//! [`MemoryNonceStore`]: the in-process store, bounded in entries and time.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::shard::Shard;
use super::store::{NonceStore, ReplayKey, Reservation, ReservationId, StoreFuture, ttl_millis};

const SHARDS: usize = 16;

/// Remembers verified nonces in this process, for [`DEFAULT_TTL`](Self::DEFAULT_TTL) and up to
/// [`DEFAULT_MAX_ENTRIES`](Self::DEFAULT_MAX_ENTRIES) unless configured otherwise.
///
/// An entry is 128 bits of the key (a SHA-256 digest, so already uniform),
/// whatever the URL length. Expired entries are reclaimed a few at a time on each reservation (oldest
/// first, never a full scan), and when the store is full the oldest entry is evicted: memory
/// stays bounded, at the price of forgetting the oldest nonces early (logged as a warning).
/// Sixteen independently locked shards keep concurrent requests from queueing on one lock; each
/// keeps its entries in one ring of 32-byte records in expiry order, found through a table of
/// 4-byte positions, so a remembered nonce costs about 40 bytes.
///
/// One process only: several replicas behind a load balancer need a shared store such as
/// `RedisNonceStore` (feature `redis`).
///
/// ```
/// use std::time::Duration;
/// use tower_plivo::replay::{MemoryNonceStore, NonceStore, ReplayKey, Reservation, ReservationId};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryNonceStore::new().ttl(Duration::from_secs(600)).max_entries(50_000);
/// let key = ReplayKey::of_message(b"https://h/a.42");
/// assert_eq!(store.reserve(&key, ReservationId::new()).await.unwrap(), Reservation::Reserved);
/// assert_eq!(store.reserve(&key, ReservationId::new()).await.unwrap(), Reservation::AlreadySeen);
/// # });
/// ```
pub struct MemoryNonceStore {
    shards: Box<[Mutex<Shard>]>,
    ttl_ms: u64,
    max_per_shard: usize,
    epoch: Instant,
    evictions: AtomicU64,
}

impl MemoryNonceStore {
    /// How long a nonce is remembered by default: 1 hour.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(60 * 60);

    /// How many nonces are remembered at most by default: 100,000 (about 4 MB: 40 bytes per
    /// ring record, 33 to 38 bytes per remembered nonce measured by `cargo bench --bench
    /// replay`).
    pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

    /// A store with the default TTL and size.
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            ttl_ms: ttl_millis(Self::DEFAULT_TTL),
            max_per_shard: Self::DEFAULT_MAX_ENTRIES.div_ceil(SHARDS),
            epoch: Instant::now(),
            evictions: AtomicU64::new(0),
        }
    }

    /// How long a nonce is remembered (at least 1 ms, at most 100 years: `Duration::MAX` is
    /// held at that).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl_ms = ttl_millis(ttl);
        self
    }

    /// How many nonces are remembered at most (rounded up to a multiple of 16, at least 16).
    /// Each of the 16 shards holds a sixteenth, so eviction can start in a busy shard a little
    /// before the whole store is full.
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_per_shard = max.div_ceil(SHARDS).max(1);
        self
    }

    /// The number of nonces remembered now (expired ones not yet reclaimed included).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many unexpired nonces were forgotten early because the store was full.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// The first 128 bits of the digest: two different messages share them with probability
    /// 2^-128, and the map needs no hashing of its own.
    fn hash(&self, key: &ReplayKey) -> u128 {
        let bytes: [u8; 16] = key.as_bytes()[..16].try_into().expect("16 of 32 bytes");
        u128::from_le_bytes(bytes)
    }

    fn shard(&self, hash: u128) -> MutexGuard<'_, Shard> {
        lock(&self.shards[(hash >> 120) as usize % SHARDS])
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
}

/// The owner as a shard records it: the low 64 bits of the id, its per-process counter, which
/// no two ids made in this process share (the store lives in one process).
fn owner(id: ReservationId) -> u64 {
    id.as_u128() as u64
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // The lock is never held across user code, and the shard's methods panic on no input
    // (allocation failure aborts), so a poisoned lock cannot mean a half-done mutation.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

impl NonceStore for MemoryNonceStore {
    fn reserve(&self, key: &ReplayKey, id: ReservationId) -> StoreFuture<Reservation> {
        let hash = self.hash(key);
        let mut shard = self.shard(hash);
        // Read under the lock, so that records enter each shard's ring in expiry order.
        let now = self.now_ms();
        shard.reclaim(now);
        if shard.remembers(hash, now) {
            return StoreFuture::ready(Ok(Reservation::AlreadySeen));
        }
        if shard.len() >= self.max_per_shard && shard.evict_oldest() {
            let evictions = self.evictions.fetch_add(1, Ordering::Relaxed) + 1;
            if evictions.is_power_of_two() {
                tracing::warn!(
                    target: "tower_plivo",
                    evictions,
                    "memory nonce store is full: the oldest nonces are forgotten before their TTL; raise max_entries or lower the TTL"
                );
            }
        }
        // At most 100 years of TTL on a clock counted from this store's creation: no overflow.
        shard.insert(hash, owner(id), now + self.ttl_ms);
        StoreFuture::ready(Ok(Reservation::Reserved))
    }

    fn release(&self, key: &ReplayKey, id: ReservationId) {
        let hash = self.hash(key);
        self.shard(hash).release(hash, owner(id));
    }

    /// In memory, under a lock: the answer is always known at once.
    fn answers_synchronously(&self) -> bool {
        true
    }
}

impl Default for MemoryNonceStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryNonceStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryNonceStore")
            .field("ttl_ms", &self.ttl_ms)
            .field("max_entries", &(self.max_per_shard * SHARDS))
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn now<T>(future: StoreFuture<T>) -> T {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(result) => result.unwrap(),
            Poll::Pending => panic!("memory store answers at once"),
        }
    }

    fn key(nonce: u64) -> ReplayKey {
        ReplayKey::of_message(format!("https://h/a.{nonce}").as_bytes())
    }

    #[test]
    fn reserve_release_and_ownership() {
        let store = MemoryNonceStore::new();
        let (first, second) = (ReservationId::new(), ReservationId::new());
        assert_eq!(now(store.reserve(&key(1), first)), Reservation::Reserved);
        assert_eq!(
            now(store.reserve(&key(1), second)),
            Reservation::AlreadySeen
        );
        store.release(&key(1), second); // not the owner: nothing happens
        assert_eq!(
            now(store.reserve(&key(1), second)),
            Reservation::AlreadySeen
        );
        store.release(&key(1), first);
        assert_eq!(now(store.reserve(&key(1), second)), Reservation::Reserved);
    }

    #[test]
    fn a_ttl_too_long_to_count_is_held_at_100_years_not_wrapped() {
        // `Duration::MAX` cut to 64 bits of milliseconds and added to the clock used to wrap to
        // an expiry in the past: every replay was accepted (and debug builds panicked).
        for ttl in [
            Duration::MAX,
            Duration::from_secs(u64::MAX),
            Duration::from_secs(18_446_744_073_709_552),
        ] {
            let store = MemoryNonceStore::new().ttl(ttl);
            assert_eq!(store.ttl_ms, ttl_millis(super::super::store::MAX_TTL));
            std::thread::sleep(Duration::from_millis(2));
            assert_eq!(
                now(store.reserve(&key(1), ReservationId::new())),
                Reservation::Reserved
            );
            assert_eq!(
                now(store.reserve(&key(1), ReservationId::new())),
                Reservation::AlreadySeen,
                "{ttl:?}"
            );
        }
        assert_eq!(ttl_millis(Duration::ZERO), 1);
        assert_eq!(ttl_millis(Duration::from_millis(1500)), 1500);
    }

    #[test]
    fn entries_expire() {
        let store = MemoryNonceStore::new().ttl(Duration::from_millis(30));
        assert_eq!(
            now(store.reserve(&key(1), ReservationId::new())),
            Reservation::Reserved
        );
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            now(store.reserve(&key(1), ReservationId::new())),
            Reservation::Reserved
        );
        // Reclaimed on the way: only the fresh entry is held in its shard.
        assert!(store.len() <= 2);
    }

    #[test]
    fn memory_bound_holds_under_a_million_distinct_nonces() {
        let store = MemoryNonceStore::new().max_entries(10_000);
        for nonce in 0..1_000_000 {
            assert_eq!(
                now(store.reserve(&key(nonce), ReservationId::new())),
                Reservation::Reserved
            );
        }
        assert!(store.len() <= 10_000, "{}", store.len());
        for shard in store.shards.iter() {
            let (held, capacity) = lock(shard).held_and_capacity();
            assert!(held <= capacity && capacity <= 8 * 10_000_usize.div_ceil(SHARDS) / 3 + 16);
        }
        assert!(store.evictions() >= 990_000);
        // The newest nonces are still remembered.
        assert_eq!(
            now(store.reserve(&key(999_999), ReservationId::new())),
            Reservation::AlreadySeen
        );
    }

    #[test]
    fn released_entries_do_not_bloat_the_queue() {
        let store = MemoryNonceStore::new().max_entries(160);
        for nonce in 0..100_000 {
            let id = ReservationId::new();
            now(store.reserve(&key(nonce), id));
            store.release(&key(nonce), id);
        }
        for shard in store.shards.iter() {
            let (held, capacity) = lock(shard).held_and_capacity();
            assert!(held <= capacity && capacity <= 8 * 160 / SHARDS / 3 + 16);
        }
        assert!(store.is_empty());
    }
}
