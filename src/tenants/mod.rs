//! Many Plivo accounts behind one endpoint: the auth tokens of each request resolved from the
//! request itself, through a store of your own, with a cache made for it.
//!
//! A platform that answers Plivo for many customers holds each customer's tokens in its own
//! database. Putting every token in one static list would let any customer's signature verify
//! on every other customer's routes. Instead, a [`TokenSource`] says which tenant a request is
//! for (from its path, host or headers: your rule) and looks that tenant's tokens up; a
//! [`TenantCache`] keeps the answers (keyed HMAC states, never the token text) for a TTL, so a
//! request costs one lookup per tenant per TTL, and concurrent first requests share one
//! lookup. Give it to the layer with
//! [`tenants`](crate::PlivoGuardBuilder::tenants).
//!
//! A request is refused before any lookup if it carries no signature headers. A tenant the
//! store does not know is refused with [`Rejection::UnknownTenant`](crate::Rejection::UnknownTenant)
//! (403, the same body as every other refusal, so tenants cannot be enumerated); a store that
//! cannot answer gives [`Rejection::TenantStoreUnavailable`](crate::Rejection::TenantStoreUnavailable)
//! (503, so Plivo retries; logged at ERROR; never fail-open). A signature made with tenant A's
//! token never verifies on a request resolved to tenant B: each tenant is verified with its own
//! tokens only. [`PlivoVerified::tenant`](crate::PlivoVerified::tenant) names the tenant.
//!
//! ```
//! use std::borrow::Cow;
//! use std::collections::HashMap;
//! use tower_plivo::signature::AuthTokens;
//! use tower_plivo::tenants::{LookupError, TenantCache, TenantRequest, TokenLookup, TokenSource};
//! use tower_plivo::{PlivoSignatureLayer, UrlPolicy};
//!
//! /// Tenants named by the first path segment (`/acme/answer`), tokens from a map (your
//! /// database in real life).
//! struct Customers(HashMap<String, Vec<String>>);
//!
//! impl TokenSource for Customers {
//!     fn tenant<'a>(&self, request: &TenantRequest<'a>) -> Option<Cow<'a, str>> {
//!         request.path_segment(0).map(Cow::Borrowed)
//!     }
//!
//!     fn tokens(&self, tenant: &str) -> TokenLookup {
//!         let tokens = self.0.get(tenant).cloned();
//!         Box::pin(async move {
//!             match tokens {
//!                 None => Ok(None),
//!                 Some(tokens) => AuthTokens::new(tokens, None::<&str>)
//!                     .map(Some)
//!                     .map_err(LookupError::new),
//!             }
//!         })
//!     }
//! }
//!
//! let customers = Customers(HashMap::from([("acme".into(), vec!["acme-token".into()])]));
//! let layer = PlivoSignatureLayer::builder()
//!     .tenants(TenantCache::new(customers))
//!     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
//!     .build()?;
//! # Ok::<(), tower_plivo::ConfigError>(())
//! ```

mod cache;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

mod request;

pub(crate) use cache::{PendingLookup, Resolved, Tenant};
pub use cache::{TenantCache, TenantCacheBuilder};
pub use request::TenantRequest;

use crate::signature::AuthTokens;

/// Where each request's auth tokens come from, when one endpoint serves many Plivo accounts.
/// Implement it over your own store; wrap it in a [`TenantCache`].
pub trait TokenSource: Send + Sync + 'static {
    /// The tenant a request is for, or `None` if it names none (refused as an unknown tenant,
    /// without a lookup). Called on every signed request, before its body is read: borrow
    /// from the request where you can.
    ///
    /// Choose the tenant from the URL that is verified ([`host`](TenantRequest::host),
    /// [`path`](TenantRequest::path)): every signature covers them, so a request signed for one
    /// tenant cannot be sent as another's. Headers are not
    /// signed: a tenant chosen from a header is one the sender picks, and two tenants that
    /// share a token (sub-accounts under one main account, both listing its token) could then
    /// each pass for the other.
    fn tenant<'a>(&self, request: &TenantRequest<'a>) -> Option<Cow<'a, str>>;

    /// The tokens of `tenant` from your store: `Ok(Some(tokens))` (account and sub-account
    /// tokens, main-account tokens, several of each during a rotation), `Ok(None)` if there is
    /// no such tenant, or an error if the store cannot answer. Bound it with a timeout of your
    /// own (your database client's): the requests waiting for a lookup wait as long as it takes.
    /// Each distinct name a signed-looking request carries costs one lookup per unknown TTL,
    /// so a flood of made-up names reaches your store: keep lookups cheap, or refuse names
    /// your rule knows cannot exist in `tenant`.
    fn tokens(&self, tenant: &str) -> TokenLookup;
}

/// The answer of a [`TokenSource`] lookup, still to come.
pub type TokenLookup =
    Pin<Box<dyn Future<Output = Result<Option<AuthTokens>, LookupError>> + Send + 'static>>;

/// Why a [`TokenSource`] could not answer (the request gets 503 and Plivo retries). Its text is
/// logged: never put a token in it.
///
/// ```
/// let error = tower_plivo::tenants::LookupError::new("database is locked");
/// assert_eq!(error.to_string(), "tenant store unavailable: database is locked");
/// ```
pub struct LookupError(Box<dyn std::error::Error + Send + Sync>);

impl LookupError {
    /// Wraps the underlying error.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(error.into())
    }
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tenant store unavailable: {}", self.0)
    }
}

impl fmt::Debug for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LookupError")
            .field(&self.0.to_string())
            .finish()
    }
}

impl std::error::Error for LookupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}
