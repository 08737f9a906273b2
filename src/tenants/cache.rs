//! [`TenantCache`]: each tenant's keyed HMAC states for a TTL, unknown tenants for a shorter
//! one, bounded, with concurrent misses for one tenant sharing one lookup.
//!
//! Made for this job rather than taken from a general cache crate: a hit is on every request
//! of a platform, and must cost well under the 100 ns the static token list is allowed to
//! differ by (`benches/tenants.rs`). A hit is one read lock, one hash of the tenant name and
//! one clock read; the store is asked only on a miss.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::{StoreError, TenantRequest, TokenSource};
use crate::config_error::ConfigError;
use crate::signature::Verifier;

/// A tenant the store knows: its name and a verifier over its tokens (keyed HMAC states only;
/// `Verifier`'s `Debug` shows counts).
#[derive(Debug)]
pub(crate) struct Tenant {
    pub(crate) name: Box<str>,
    pub(crate) verifier: Verifier,
}

/// What the cache or the store said about a tenant.
#[derive(Clone, Debug)]
pub(crate) enum Resolved {
    Known(Arc<Tenant>),
    Unknown,
    /// The store could not answer (never cached: the next request asks again).
    Unavailable(Arc<StoreError>),
}

/// A lookup on its way (shared with every concurrent miss for the same tenant).
pub(crate) type PendingLookup = Pin<Box<dyn Future<Output = Resolved> + Send + 'static>>;

/// The tokens of many tenants, from a [`TokenSource`], kept for a TTL. Clone it to keep a
/// handle for [`invalidate`](Self::invalidate): clones share one cache.
///
/// - A tenant's tokens are used for [`ttl`](TenantCacheBuilder::ttl) (60 s by default)
///   after they were looked up, then looked up again: a token removed from the store stops
///   verifying within the TTL. While the store is down, a cached tenant is served until its
///   TTL runs out (no grace beyond it); a tenant not in the cache gets 503.
/// - "No such tenant" is remembered for [`unknown_ttl`](TenantCacheBuilder::unknown_ttl)
///   (10 s by default); a store error is never remembered.
/// - At most [`max_tenants`](TenantCacheBuilder::max_tenants) (10,000 by default) are kept;
///   when full, expired entries go first, then the tenant closest to expiry; an unknown tenant
///   is not remembered while the cache is full of unexpired entries.
/// - Concurrent requests for a tenant not in the cache share one lookup.
/// - Only keyed HMAC states are kept, never a token's text; `Debug` shows settings only.
///
/// ```
/// use std::borrow::Cow;
/// use std::time::Duration;
/// use tower_plivo::signature::AuthTokens;
/// use tower_plivo::tenants::{StoreFuture, TenantCache, TenantRequest, TokenSource};
///
/// struct OneTenant;
/// impl TokenSource for OneTenant {
///     fn tenant<'a>(&self, request: &TenantRequest<'a>) -> Option<Cow<'a, str>> {
///         Some(Cow::Borrowed(request.host()))
///     }
///     fn tokens(&self, _tenant: &str) -> StoreFuture<Option<AuthTokens>> {
///         StoreFuture::ready(Ok(Some(AuthTokens::new(["token"], None::<&str>).unwrap())))
///     }
/// }
///
/// let cache = TenantCache::builder(OneTenant)
///     .ttl(Duration::from_secs(300))
///     .unknown_ttl(Duration::from_secs(30))
///     .max_tenants(50_000)
///     .build()?;
/// // After a rotation you know about, without waiting for the TTL:
/// cache.invalidate("hooks.example.com");
/// # Ok::<(), tower_plivo::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct TenantCache {
    inner: Arc<Inner>,
}

struct Inner {
    source: Box<dyn TokenSource>,
    entries: RwLock<HashMap<Box<str>, Entry>>,
    /// Lookups on their way, by tenant: a miss joins the one already running.
    flights: Mutex<HashMap<Box<str>, Arc<OnceCell<Resolved>>>>,
    ttl: Duration,
    unknown_ttl: Duration,
    max_tenants: usize,
    /// The signed parameter that names a webhook's tenant, if the tenant is chosen from it.
    signed_parameter: Option<Box<str>>,
}

struct Entry {
    /// `None`: never (a TTL too long for the clock).
    expires: Option<Instant>,
    /// `None`: no such tenant.
    tenant: Option<Arc<Tenant>>,
}

/// Settings of a [`TenantCache`]; made by [`TenantCache::builder`].
#[must_use]
pub struct TenantCacheBuilder {
    source: Box<dyn TokenSource>,
    ttl: Duration,
    unknown_ttl: Duration,
    max_tenants: usize,
    signed_parameter: Option<Box<str>>,
}

impl TenantCache {
    /// How long a tenant's tokens are used before the store is asked again, by default.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

    /// How long "no such tenant" is remembered, by default: shorter, so a tenant just created
    /// starts verifying soon, long enough that a flood of unknown names does not reach the
    /// store once per request.
    pub const DEFAULT_UNKNOWN_TTL: Duration = Duration::from_secs(10);

    /// How many tenants (known and unknown) are remembered at most, by default.
    pub const DEFAULT_MAX_TENANTS: usize = 10_000;

    /// The longest tenant name looked up. A longer one is refused as unknown without a lookup,
    /// so a flood of long made-up names costs neither store queries nor memory.
    pub const MAX_TENANT_NAME_LEN: usize = 255;

    /// A cache over `source` with the default TTLs and bound.
    pub fn new(source: impl TokenSource) -> Self {
        Self::from_builder(Self::builder(source))
    }

    /// A cache over `source` with settings of your own.
    pub fn builder(source: impl TokenSource) -> TenantCacheBuilder {
        TenantCacheBuilder {
            source: Box::new(source),
            ttl: TenantCache::DEFAULT_TTL,
            unknown_ttl: TenantCache::DEFAULT_UNKNOWN_TTL,
            max_tenants: TenantCache::DEFAULT_MAX_TENANTS,
            signed_parameter: None,
        }
    }

    fn from_builder(builder: TenantCacheBuilder) -> Self {
        Self {
            inner: Arc::new(Inner {
                source: builder.source,
                entries: RwLock::new(HashMap::new()),
                flights: Mutex::new(HashMap::new()),
                ttl: builder.ttl,
                unknown_ttl: builder.unknown_ttl,
                max_tenants: builder.max_tenants,
                signed_parameter: builder.signed_parameter,
            }),
        }
    }

    /// Forgets what is cached for `tenant` (its tokens, or that it is unknown): its next
    /// request looks it up again. Call it when you change a tenant's tokens. A lookup already
    /// on its way still answers the requests that were waiting for it before this call, but
    /// does not fill the cache, and no later request joins it.
    pub fn invalidate(&self, tenant: &str) {
        // The lookup on its way leaves the map first, under the lock its answer is cached
        // under: it can no longer fill the cache, and a request arriving from now on starts a
        // new one.
        let mut flights = lock(&self.inner.flights);
        flights.remove(tenant);
        write(&self.inner.entries).remove(tenant);
    }

    /// Forgets every tenant (and every lookup on its way, as [`invalidate`](Self::invalidate)).
    pub fn invalidate_all(&self) {
        let mut flights = lock(&self.inner.flights);
        flights.clear();
        write(&self.inner.entries).clear();
    }

    /// The tenant a request is for, by the source's rule.
    pub(crate) fn tenant_of<'a>(
        &self,
        request: &TenantRequest<'a>,
    ) -> Option<std::borrow::Cow<'a, str>> {
        self.inner.source.tenant(request)
    }

    /// The signed parameter that names a webhook's tenant, when the tenant is chosen from the
    /// body (see [`tenant_from_signed_parameter`](TenantCacheBuilder::tenant_from_signed_parameter)).
    pub(crate) fn signed_parameter(&self) -> Option<&str> {
        self.inner.signed_parameter.as_deref()
    }

    /// What the cache holds for `tenant`, if it has not expired: the hit path.
    pub(crate) fn cached(&self, tenant: &str) -> Option<Resolved> {
        self.inner.cached(tenant)
    }

    /// Looks `tenant` up in the store (joining a lookup already on its way) and caches the
    /// answer.
    pub(crate) fn lookup(&self, tenant: &str) -> PendingLookup {
        let inner = self.inner.clone();
        let name: Box<str> = tenant.into();
        Box::pin(async move { inner.lookup(name).await })
    }
}

impl Inner {
    fn cached(&self, tenant: &str) -> Option<Resolved> {
        let entries = read(&self.entries);
        let entry = entries.get(tenant)?;
        if entry
            .expires
            .is_some_and(|expires| expires <= Instant::now())
        {
            return None;
        }
        Some(match &entry.tenant {
            Some(known) => Resolved::Known(known.clone()),
            None => Resolved::Unknown,
        })
    }

    async fn lookup(self: Arc<Self>, name: Box<str>) -> Resolved {
        let cell = lock(&self.flights)
            .entry(name.clone())
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone();
        let flight = Flight {
            inner: &self,
            name: &name,
            cell,
        };
        flight
            .cell
            .get_or_init(|| self.ask_store(&name, &flight.cell))
            .await
            .clone()
    }

    async fn ask_store(&self, name: &str, flight: &Arc<OnceCell<Resolved>>) -> Resolved {
        // A flight that just ended may have filled the cache after this request missed it.
        if let Some(resolved) = self.cached(name) {
            return resolved;
        }
        let resolved = match self.source.tokens(name).await {
            Ok(Some(tokens)) => Resolved::Known(Arc::new(Tenant {
                name: name.into(),
                verifier: Verifier::new(tokens),
            })),
            Ok(None) => Resolved::Unknown,
            Err(error) => return Resolved::Unavailable(Arc::new(error)),
        };
        self.remember(name, &resolved, flight);
        resolved
    }

    /// Caches an answer, unless its lookup was invalidated while on its way (checked under the
    /// flights lock, which `invalidate` holds while it forgets).
    fn remember(&self, name: &str, resolved: &Resolved, flight: &Arc<OnceCell<Resolved>>) {
        let now = Instant::now();
        let (tenant, ttl) = match resolved {
            Resolved::Known(tenant) => (Some(tenant.clone()), self.ttl),
            Resolved::Unknown => (None, self.unknown_ttl),
            Resolved::Unavailable(_) => return,
        };
        let flights = lock(&self.flights);
        if !flights
            .get(name)
            .is_some_and(|current| Arc::ptr_eq(current, flight))
        {
            return;
        }
        let mut entries = write(&self.entries);
        if !entries.contains_key(name) && entries.len() >= self.max_tenants {
            // Full: made-up names are not worth a scan of the cache under its write lock (a
            // flood of them would hold up every hit); a real tenant is.
            if tenant.is_none() {
                return;
            }
            make_room(&mut entries, now);
        }
        entries.insert(
            name.into(),
            Entry {
                expires: now.checked_add(ttl),
                tenant,
            },
        );
        drop(flights);
    }
}

/// One request's share of a lookup. Dropped when the request has its answer or is abandoned;
/// the flight leaves the map when it has answered or when no request waits for it any more, so
/// requests abandoned mid-lookup (a client that hangs up) leave nothing behind.
struct Flight<'a> {
    inner: &'a Inner,
    name: &'a str,
    cell: Arc<OnceCell<Resolved>>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut flights = lock(&self.inner.flights);
        let current = flights
            .get(self.name)
            .is_some_and(|cell| Arc::ptr_eq(cell, &self.cell));
        // Two references: the map's and this one. Counted under the map's lock, which every
        // new waiter takes to join.
        let last_waiter = Arc::strong_count(&self.cell) <= 2;
        if current && (self.cell.initialized() || last_waiter) {
            flights.remove(self.name);
        }
    }
}

/// Frees one place at least: every expired entry, else the unknown tenant, else the known
/// one, closest to expiry.
fn make_room(entries: &mut HashMap<Box<str>, Entry>, now: Instant) {
    let before = entries.len();
    entries.retain(|_, entry| entry.expires.is_none_or(|expires| expires > now));
    if entries.len() < before {
        return;
    }
    let victim = entries
        .iter()
        .min_by_key(|(_, entry)| {
            (
                entry.tenant.is_some(),
                entry.expires.is_none(),
                entry.expires,
            )
        })
        .map(|(name, _)| name.clone());
    if let Some(victim) = victim {
        entries.remove(&victim);
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TenantCacheBuilder {
    /// How long a tenant's tokens are used before the store is asked again (60 s by default):
    /// the longest a token removed from the store keeps verifying, and the longest a cached
    /// tenant is served while the store is down. Zero asks the store on every request
    /// (concurrent requests still share one lookup); a TTL too long for the clock
    /// (`Duration::MAX`) never expires: then [`invalidate`](TenantCache::invalidate) is the only
    /// way a removed token stops verifying.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long "no such tenant" is remembered (10 s by default): the longest a tenant just
    /// added to the store keeps being refused.
    pub fn unknown_ttl(mut self, ttl: Duration) -> Self {
        self.unknown_ttl = ttl;
        self
    }

    /// How many tenants are remembered at most (10,000 by default).
    pub fn max_tenants(mut self, max: usize) -> Self {
        self.max_tenants = max;
        self
    }

    /// Choose a webhook's tenant from one of its signed parameters, as a messaging platform
    /// knows its customer by the number called (`To`): the query of a GET, the form body of a
    /// POST, the key matched exactly once after decoding (as the signature and your form
    /// extractor decode it), its decoded value the tenant's name. A missing or repeated
    /// parameter is refused as an unknown tenant. [`TokenSource::tenant`] is then asked only
    /// for audio-stream upgrades, which have no body: it is their rule (return `None` to refuse
    /// them).
    ///
    /// The tenant is known only once the body is read, so:
    ///
    /// - **V3 only.** V2 signs neither the body nor the query: a request with V2 alone is
    ///   refused (`signature_version_not_accepted`), whatever `accept_v2` says.
    /// - **Only the tenant's own account tokens verify it; its main-account tokens never do**
    ///   (its `-Ma-` header is not read). V3's body string has no separators, so a body can be
    ///   re-split so that the parameter names another value (`Text=hi` + `To=19998887777` +
    ///   an empty key `To14155550199` signs like the genuine `Text=hiTo19998887777` +
    ///   `To=14155550199`); such a request verifies for the other tenant only under a token both
    ///   share, and a main-account token is shared by every sub-account under it. **Give each
    ///   tenant chosen this way tokens no other tenant has**: two names that return the same
    ///   account token are, to the signature, one tenant, and a request for one can be re-split
    ///   to name the other (name your tenants by account, or accept that).
    /// - **A flood of made-up names costs a body read each** (up to the layer's
    ///   [`body_limit`](crate::PlivoGuardBuilder::body_limit), within its body timeout) before
    ///   the store is asked, then one lookup per name per [`unknown_ttl`](Self::unknown_ttl),
    ///   as for any tenant rule.
    ///
    /// Several routes with different rules: give each its own layer (axum's `route_layer`).
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use tower_plivo::signature::AuthTokens;
    /// use tower_plivo::tenants::{StoreFuture, TenantCache, TenantRequest, TokenSource};
    ///
    /// /// Each number's own (sub-account) tokens; streams have no tenant here.
    /// struct Numbers;
    /// impl TokenSource for Numbers {
    ///     fn tenant<'a>(&self, _request: &TenantRequest<'a>) -> Option<Cow<'a, str>> {
    ///         None
    ///     }
    ///     fn tokens(&self, number: &str) -> StoreFuture<Option<AuthTokens>> {
    ///         let tokens = (number == "14155550199").then(|| AuthTokens::new(["sub-token"], None::<&str>));
    ///         StoreFuture::ready(tokens.transpose().map_err(tower_plivo::tenants::StoreError::new))
    ///     }
    /// }
    ///
    /// let cache = TenantCache::builder(Numbers).tenant_from_signed_parameter("To").build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn tenant_from_signed_parameter(mut self, name: &str) -> Self {
        self.signed_parameter = Some(name.into());
        self
    }

    /// The cache. A bound of zero tenants is an error (it could remember nothing: use a zero
    /// TTL to ask the store every time).
    pub fn build(self) -> Result<TenantCache, ConfigError> {
        if self
            .signed_parameter
            .as_deref()
            .is_some_and(|name| name.is_empty() || name.len() > TenantCache::MAX_TENANT_NAME_LEN)
        {
            return Err(ConfigError::InvalidValue {
                setting: "TenantCacheBuilder::tenant_from_signed_parameter (a parameter name of 1 to 255 bytes)",
                value: self.signed_parameter.unwrap_or_default().into(),
            });
        }
        if self.max_tenants == 0 {
            return Err(ConfigError::Ineffective {
                setting: "TenantCacheBuilder::max_tenants",
                reason: "a cache of zero tenants remembers nothing; for a lookup on every \
                         request keep a bound and set .ttl(Duration::ZERO)",
            });
        }
        Ok(TenantCache::from_builder(self))
    }
}

impl fmt::Debug for TenantCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("TenantCache")
            .field("cached_tenants", &read(&inner.entries).len())
            .field("ttl", &inner.ttl)
            .field("unknown_ttl", &inner.unknown_ttl)
            .field("max_tenants", &inner.max_tenants)
            .field("signed_parameter", &inner.signed_parameter)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TenantCacheBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantCacheBuilder")
            .field("ttl", &self.ttl)
            .field("unknown_ttl", &self.unknown_ttl)
            .field("max_tenants", &self.max_tenants)
            .field("signed_parameter", &self.signed_parameter)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::signature::AuthTokens;
    use crate::tenants::{StoreFuture, TenantRequest};

    /// Answers `known` for the tenant `known` after `delay`, unknown for anything else; counts.
    struct Slow {
        delay: Duration,
        lookups: Arc<AtomicUsize>,
    }

    impl TokenSource for Slow {
        fn tenant<'a>(&self, request: &TenantRequest<'a>) -> Option<Cow<'a, str>> {
            request.path_segment(0).map(Cow::Borrowed)
        }

        fn tokens(&self, tenant: &str) -> StoreFuture<Option<AuthTokens>> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            let (delay, known) = (self.delay, tenant == "known");
            StoreFuture::pending(async move {
                tokio::time::sleep(delay).await;
                Ok(known.then(|| AuthTokens::new(["t"], None::<&str>).unwrap()))
            })
        }
    }

    fn cache(delay: Duration, max_tenants: usize) -> (TenantCache, Arc<AtomicUsize>) {
        let lookups = Arc::new(AtomicUsize::new(0));
        let source = Slow {
            delay,
            lookups: lookups.clone(),
        };
        let cache = TenantCache::builder(source)
            .max_tenants(max_tenants)
            .build()
            .unwrap();
        (cache, lookups)
    }

    fn flights(cache: &TenantCache) -> usize {
        lock(&cache.inner.flights).len()
    }

    #[tokio::test]
    async fn an_abandoned_lookup_leaves_no_flight_behind() {
        let (cache, lookups) = cache(Duration::from_secs(3600), 10);
        for i in 0..50 {
            let pending = cache.lookup(&format!("made-up-{i}"));
            assert!(
                tokio::time::timeout(Duration::from_millis(1), pending)
                    .await
                    .is_err()
            );
        }
        assert_eq!(lookups.load(Ordering::SeqCst), 50);
        assert_eq!(flights(&cache), 0);
    }

    #[tokio::test]
    async fn waiters_share_a_flight_and_it_ends_with_the_answer() {
        let (cache, lookups) = cache(Duration::from_millis(50), 10);
        let waiters = (0..20).map(|_| cache.lookup("known"));
        let answers = futures_util::future::join_all(waiters).await;
        assert!(answers.iter().all(|a| matches!(a, Resolved::Known(_))));
        assert_eq!(lookups.load(Ordering::SeqCst), 1);
        assert_eq!(flights(&cache), 0);
        assert!(matches!(cache.cached("known"), Some(Resolved::Known(_))));
    }

    #[tokio::test]
    async fn a_flood_of_unknown_names_evicts_no_known_tenant() {
        let (cache, _) = cache(Duration::ZERO, 3);
        for name in ["known", "unknown-a", "unknown-b"] {
            cache.lookup(name).await;
        }
        for i in 0..100 {
            cache.lookup(&format!("flood-{i}")).await;
        }
        assert!(matches!(cache.cached("known"), Some(Resolved::Known(_))));
        assert!(matches!(cache.cached("unknown-a"), Some(Resolved::Unknown)));
        assert!(cache.cached("flood-99").is_none());
        assert_eq!(read_len(&cache), 3);
    }

    #[tokio::test]
    async fn a_ttl_too_long_for_the_clock_never_expires_and_never_panics() {
        let lookups = Arc::new(AtomicUsize::new(0));
        let source = Slow {
            delay: Duration::ZERO,
            lookups: lookups.clone(),
        };
        let cache = TenantCache::builder(source)
            .ttl(Duration::MAX)
            .unknown_ttl(Duration::MAX)
            .build()
            .unwrap();
        assert!(matches!(cache.lookup("known").await, Resolved::Known(_)));
        assert!(matches!(cache.lookup("nobody").await, Resolved::Unknown));
        assert!(matches!(cache.cached("known"), Some(Resolved::Known(_))));
        assert!(matches!(cache.cached("nobody"), Some(Resolved::Unknown)));
        assert_eq!(lookups.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_request_after_an_invalidation_does_not_join_the_lookup_before_it() {
        let (cache, lookups) = cache(Duration::from_millis(50), 10);
        let before = tokio::spawn(cache.lookup("known"));
        tokio::time::sleep(Duration::from_millis(10)).await;
        cache.invalidate("known");
        let after = tokio::spawn(cache.lookup("known"));
        assert!(matches!(before.await.unwrap(), Resolved::Known(_)));
        assert!(matches!(after.await.unwrap(), Resolved::Known(_)));
        assert_eq!(lookups.load(Ordering::SeqCst), 2);
        // The later lookup, not invalidated, fills the cache.
        assert!(matches!(cache.cached("known"), Some(Resolved::Known(_))));
    }

    #[tokio::test]
    async fn an_invalidation_during_a_lookup_keeps_its_answer_out_of_the_cache() {
        let (cache, _) = cache(Duration::from_millis(50), 10);
        let pending = tokio::spawn(cache.lookup("known"));
        tokio::time::sleep(Duration::from_millis(10)).await;
        cache.invalidate("known");
        assert!(matches!(pending.await.unwrap(), Resolved::Known(_)));
        assert!(cache.cached("known").is_none());
    }

    fn read_len(cache: &TenantCache) -> usize {
        read(&cache.inner.entries).len()
    }
}
