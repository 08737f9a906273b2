//! [`PlivoSignatureLayer`]: the tower layer.

use std::sync::Arc;

use tower_layer::Layer;

use crate::builder::PlivoSignatureLayerBuilder;
use crate::config::Config;
use crate::service::PlivoSignature;

/// A tower layer that lets through only requests carrying a valid Plivo signature.
///
/// It checks the signature headers before reading any body, buffers the body up to a limit,
/// verifies the V3 or V2 signature against the configured tokens and URL policy, and hands the
/// request on with its body intact and a [`PlivoVerified`](crate::PlivoVerified) extension, or
/// answers 403 (413 for a body over the limit, 400 for a broken body stream).
///
/// Cloning is cheap (the configuration is shared).
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
    config: Arc<Config>,
}

impl PlivoSignatureLayer {
    /// Starts a configuration (see [`PlivoSignatureLayerBuilder`] for the settings and defaults).
    pub fn builder() -> PlivoSignatureLayerBuilder {
        PlivoSignatureLayerBuilder::default()
    }

    pub(crate) fn from_config(config: Config) -> Self {
        Self {
            config: Arc::new(config),
        }
    }
}

impl<S> Layer<S> for PlivoSignatureLayer {
    type Service = PlivoSignature<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PlivoSignature::new(inner, self.config.clone())
    }
}
