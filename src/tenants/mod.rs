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
//! use tower_plivo::tenants::{StoreError, StoreFuture, TenantCache, TenantRequest, TokenSource};
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
//!     fn tokens(&self, tenant: &str) -> StoreFuture<Option<AuthTokens>> {
//!         // A map answers at once; a database client would use `StoreFuture::pending`.
//!         StoreFuture::ready(match self.0.get(tenant) {
//!             None => Ok(None),
//!             Some(tokens) => AuthTokens::new(tokens, None::<&str>)
//!                 .map(Some)
//!                 .map_err(StoreError::new),
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

mod request;

pub(crate) use cache::{PendingLookup, Resolved, Tenant};
pub use cache::{TenantCache, TenantCacheBuilder};
pub use request::TenantRequest;

pub use crate::replay::{StoreError, StoreFuture};
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
    /// no such tenant, or a [`StoreError`] if the store cannot answer (503: Plivo retries).
    /// [`StoreFuture::ready`] for an answer known at once, [`StoreFuture::pending`] for one
    /// still to come. Bound it with a timeout of your
    /// own (your database client's): the requests waiting for a lookup wait as long as it takes.
    /// Each distinct name a signed-looking request carries costs one lookup per unknown TTL,
    /// so a flood of made-up names reaches your store: keep lookups cheap, or refuse names
    /// your rule knows cannot exist in `tenant`.
    fn tokens(&self, tenant: &str) -> StoreFuture<Option<AuthTokens>>;
}
