//! The nonce-store contract: reserve a key atomically, release a reservation you own.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// A store that remembers which signed requests were already seen, shared by every instance that
/// must refuse a replay.
///
/// Implement it to plug in your own storage. Both methods are called only for requests whose
/// signature has verified, so unverified nonces are never recorded.
///
/// ```
/// use std::sync::Mutex;
/// use std::collections::HashMap;
/// use tower_plivo::replay::{NonceStore, ReplayKey, Reservation, ReservationId, StoreFuture};
///
/// /// A toy store without expiry (use `MemoryNonceStore` for real).
/// #[derive(Default)]
/// struct Toy(Mutex<HashMap<ReplayKey, ReservationId>>);
///
/// impl NonceStore for Toy {
///     fn reserve(&self, key: &ReplayKey, id: ReservationId) -> StoreFuture<Reservation> {
///         let mut seen = self.0.lock().unwrap();
///         if seen.contains_key(key) {
///             return StoreFuture::ready(Ok(Reservation::AlreadySeen));
///         }
///         seen.insert(*key, id);
///         StoreFuture::ready(Ok(Reservation::Reserved))
///     }
///
///     fn release(&self, key: &ReplayKey, id: ReservationId) {
///         let mut seen = self.0.lock().unwrap();
///         if seen.get(key) == Some(&id) {
///             seen.remove(key);
///         }
///     }
/// }
/// ```
pub trait NonceStore: Send + Sync + 'static {
    /// Atomically records `key` with the owner `id` unless it is already present (insert if
    /// absent, with the store's time-to-live).
    fn reserve(&self, key: &ReplayKey, id: ReservationId) -> StoreFuture<Reservation>;

    /// Forgets `key`, but only if it is still held by `id` (compare and delete), so a
    /// reservation made since by another request is never removed. Must not block: stores whose
    /// release is asynchronous start it in the background.
    fn release(&self, key: &ReplayKey, id: ReservationId);

    /// Whether [`reserve`](Self::reserve) always answers at once ([`StoreFuture::ready`]),
    /// without I/O, so the store can serve a synchronous check such as
    /// [`SyncPlivoGuard`](crate::guard::SyncPlivoGuard). `false` unless a store says otherwise;
    /// a store that says `true` and then answers later is treated as unavailable there.
    fn answers_synchronously(&self) -> bool {
        false
    }
}

/// A shared store is a store: one `Arc<MemoryNonceStore>` can serve several layers (a voice
/// router and a messaging router, say) so they refuse each other's replays.
impl<S: NonceStore + ?Sized> NonceStore for std::sync::Arc<S> {
    fn reserve(&self, key: &ReplayKey, id: ReservationId) -> StoreFuture<Reservation> {
        (**self).reserve(key, id)
    }

    fn release(&self, key: &ReplayKey, id: ReservationId) {
        (**self).release(key, id)
    }

    fn answers_synchronously(&self) -> bool {
        (**self).answers_synchronously()
    }
}

/// What [`NonceStore::reserve`] found.
///
/// ```
/// use tower_plivo::replay::Reservation;
/// let first_time = Reservation::Reserved;
/// assert_ne!(first_time, Reservation::AlreadySeen);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// The key was absent and is now held by the caller.
    Reserved,
    /// The key was present: the request is a replay.
    AlreadySeen,
}

/// A store could not answer (unreachable, timed out, failed): a replay store's
/// [`NonceStore`] call, or a [`TokenSource`](crate::tenants::TokenSource)'s lookup. The request
/// gets 503 and Plivo retries. Its text is logged: never put a token in it.
#[derive(Debug)]
pub struct StoreError(Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// Wraps the underlying error.
    ///
    /// ```
    /// let error = tower_plivo::replay::StoreError::new("connection refused");
    /// assert_eq!(error.to_string(), "store unavailable: connection refused");
    /// ```
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(error.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store unavailable: {}", self.0)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// The answer of a store ([`NonceStore`], [`TokenSource`](crate::tenants::TokenSource)): ready
/// at once (an in-memory store) or a boxed future (a network store), so in-memory stores cost
/// no allocation.
///
/// ```
/// use tower_plivo::replay::{Reservation, StoreFuture};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let now = StoreFuture::ready(Ok(Reservation::Reserved));
/// let later = StoreFuture::pending(async { Ok(Reservation::AlreadySeen) });
/// assert_eq!(now.await.unwrap(), Reservation::Reserved);
/// assert_eq!(later.await.unwrap(), Reservation::AlreadySeen);
/// # });
/// ```
pub struct StoreFuture<T>(Answer<T>);

// Never pinned structurally: the ready value is moved out, the pending future is boxed.
impl<T> Unpin for StoreFuture<T> {}

enum Answer<T> {
    Ready(Option<Result<T, StoreError>>),
    Pending(Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>),
}

impl<T> StoreFuture<T> {
    /// An answer known now.
    pub fn ready(result: Result<T, StoreError>) -> Self {
        Self(Answer::Ready(Some(result)))
    }

    /// An answer still to come.
    pub fn pending(future: impl Future<Output = Result<T, StoreError>> + Send + 'static) -> Self {
        Self(Answer::Pending(Box::pin(future)))
    }
}

impl<T> Future for StoreFuture<T> {
    type Output = Result<T, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            Answer::Ready(result) => {
                Poll::Ready(result.take().expect("StoreFuture polled after completion"))
            }
            Answer::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

impl<T> fmt::Debug for StoreFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Answer::Ready(_) => "StoreFuture::Ready",
            Answer::Pending(_) => "StoreFuture::Pending",
        })
    }
}

/// Identifies one reservation, so only its owner releases it. Unique within a process and,
/// with overwhelming probability, across processes (a random per-process prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReservationId(u128);

impl ReservationId {
    /// A fresh id.
    ///
    /// ```
    /// use tower_plivo::replay::ReservationId;
    /// assert_ne!(ReservationId::new(), ReservationId::new());
    /// ```
    #[allow(clippy::new_without_default)] // each call must give a different value
    pub fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self(u128::from(process_prefix()) << 64 | u128::from(count))
    }

    /// The id as a number (what a store writes).
    pub fn as_u128(self) -> u128 {
        self.0
    }
}

fn process_prefix() -> u64 {
    use std::hash::BuildHasher;
    use std::sync::OnceLock;
    static PREFIX: OnceLock<u64> = OnceLock::new();
    // `RandomState` is seeded from the OS: a cheap source of per-process randomness.
    *PREFIX
        .get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(std::process::id()))
}

/// What a replay is recognised by: the SHA-256 digest of the signed message without its
/// parameters, i.e. of the URL's base and the nonce (`https://h/answer` + `.` + nonce for V3,
/// the whole message for V2, which signs no parameters).
///
/// **Invariant: every request whose signed message equals an accepted one has the same key**,
/// and so is a replay. The key is computed from the bytes of the message that verified, never
/// from the request as parsed: Plivo's canonical form is many-to-one (body pairs re-split
/// across the missing separator, `ab=c` and `a=bc` both signing as `abc`; `%26`/`%3D` inside a
/// query value signing as real separators; a GET and an empty-body POST with the same query
/// signing alike; under V2, characters moved between the end of the path and the nonce), and
/// each variant signs the same bytes, so it gets the same key. Nor does the key depend on the
/// version: a V3 message without parameters and a V2 message of the same bytes (`…/a` + `.123`
/// and `…/a.1` + `23`) share it.
///
/// Leaving the parameters out makes the key cheap (some 60 bytes to hash, where the message
/// can be kilobytes) and coarser than the message: two messages to the same URL with the same
/// nonce share a key even if their parameters differ, so a nonce reused for another message is
/// refused as a replay too. That is the safe side, and Plivo makes a nonce per request. The key
/// is not secret (a digest of what travels in the clear) and contains no token.
///
/// ```
/// use tower_plivo::replay::ReplayKey;
///
/// let key = ReplayKey::of_message(b"https://h.example/answer?From1555.31627761595286130198");
/// // The same URL and nonce: the same key, whatever the parameters.
/// assert_eq!(key, ReplayKey::of_message(b"https://h.example/answer?From1556.31627761595286130198"));
/// assert_eq!(key, ReplayKey::of_message(b"https://h.example/answer.31627761595286130198"));
/// // Another nonce or another URL: another key.
/// assert_ne!(key, ReplayKey::of_message(b"https://h.example/answer?From1555.31627761595286130199"));
/// assert_ne!(key, ReplayKey::of_message(b"https://h.example/hangup?From1555.31627761595286130198"));
/// assert_eq!(key.to_string().len(), 64); // lowercase hex
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayKey([u8; 32]);

impl ReplayKey {
    /// The key of a signed message (the exact bytes the HMAC covers): the digest of its bytes
    /// without its parameters.
    pub fn of_message(message: &[u8]) -> Self {
        Self(crate::signature::mac::replay_digest(&[message]))
    }

    /// The key of a message whose digest the verifier already computed.
    pub(crate) fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for ReplayKey {
    /// Lowercase hex, 64 characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplayKey({self})")
    }
}

/// The longest time a store remembers a nonce: 100 years. A longer TTL (`Duration::MAX` for
/// "forever") is held at this, because a TTL in milliseconds cut to 64 bits, or added to the
/// clock without a check, would wrap to a short one and let replays through.
pub(crate) const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// A store's TTL in whole milliseconds, between 1 ms (a nonce forgotten at once protects
/// nothing) and [`MAX_TTL`].
pub(crate) fn ttl_millis(ttl: Duration) -> u64 {
    let clamped = ttl.clamp(Duration::from_millis(1), MAX_TTL);
    u64::try_from(clamped.as_millis()).expect("100 years of milliseconds fit in 64 bits")
}
