//! [`PlivoSignatureLayer`]: the tower layer, a [`PlivoGuard`] around a service.

use tower_layer::Layer;

use crate::guard::PlivoGuard;
use crate::service::PlivoSignature;

/// A tower layer that lets through only requests carrying a valid Plivo signature, once: a
/// [`PlivoGuard`] in front of a service.
///
/// It checks the signature headers before reading any body, buffers the body up to a limit,
/// verifies the signature against the configured tokens and URL policy, refuses a signed
/// message it already accepted, and hands the request on with its body intact and a
/// [`PlivoVerified`](crate::PlivoVerified) extension, or answers 403 (413 for a body over the
/// limit, 400 for a broken body stream, 408 for a body too slow, 503 when the replay store
/// cannot answer).
///
/// Cloning is cheap (the policy is shared).
///
/// ```
/// use axum::{Router, routing::post};
/// use tower_plivo::{PlivoSignatureLayer, UrlPolicy};
///
/// let plivo = PlivoSignatureLayer::builder()
///     .auth_token("your-auth-token")
///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
///     .build()?;
/// let app: Router = Router::new()
///     .route("/answer", post(|| async { "<Response/>" }))
///     .layer(plivo);
/// # Ok::<(), tower_plivo::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct PlivoSignatureLayer {
    guard: PlivoGuard,
}

impl PlivoSignatureLayer {
    /// The layer around `guard`.
    ///
    /// ```
    /// use tower_plivo::{PlivoGuard, PlivoSignatureLayer, UrlPolicy};
    ///
    /// let guard = PlivoGuard::builder()
    ///     .auth_token("token")
    ///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
    ///     .build()?;
    /// let layer = PlivoSignatureLayer::new(guard.clone()); // the same policy, one store
    /// # let _ = layer;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn new(guard: PlivoGuard) -> Self {
        Self { guard }
    }

    /// The guard it holds: the same policy and stores, for hosts outside tower (an upgrade
    /// accepted without tower, a second server).
    pub fn guard(&self) -> &PlivoGuard {
        &self.guard
    }
}

impl From<PlivoGuard> for PlivoSignatureLayer {
    fn from(guard: PlivoGuard) -> Self {
        Self::new(guard)
    }
}

impl<S> Layer<S> for PlivoSignatureLayer {
    type Service = PlivoSignature<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PlivoSignature::new(inner, self.guard.clone())
    }
}
