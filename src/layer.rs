//! [`PlivoSignatureLayer`]: the tower layer (made by its builder, `builder.rs`).

use std::sync::Arc;

use tower_layer::Layer;

use crate::pipeline::settings::Settings;
use crate::service::PlivoSignature;

/// A tower layer that lets through only requests carrying a valid Plivo signature, once.
///
/// It checks the signature headers before reading any body, buffers the body up to a limit,
/// verifies the signature against the configured tokens and URL policy, refuses a signed
/// message it already accepted, and hands the request on with its body intact and a
/// [`PlivoVerified`](crate::PlivoVerified) extension, or answers 403 (413 for a body over the
/// limit, 400 for a broken body stream, 408 for a body too slow, 503 when the replay store
/// cannot answer).
///
/// Cloning is cheap (the settings are shared).
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
    pub(crate) settings: Arc<Settings>,
}

impl PlivoSignatureLayer {
    pub(crate) fn from_settings(settings: Settings) -> Self {
        Self {
            settings: Arc::new(settings),
        }
    }
}

impl<S> Layer<S> for PlivoSignatureLayer {
    type Service = PlivoSignature<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PlivoSignature::new(inner, self.settings.clone())
    }
}
