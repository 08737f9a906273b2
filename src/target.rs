//! The request target as received, before any router rewrote it.

use http::Uri;
use http::request::Parts;

/// The URI to take the path and query from. Under axum's `Router::nest` the URI a layer sees has
/// its prefix stripped; axum keeps the original in `OriginalUri`, and that is what Plivo signed.
pub(crate) fn original_uri(parts: &Parts) -> &Uri {
    #[cfg(feature = "axum")]
    if let Some(axum::extract::OriginalUri(uri)) =
        parts.extensions.get::<axum::extract::OriginalUri>()
    {
        return uri;
    }
    &parts.uri
}
