//! The proof of verification attached to each verified request.

use crate::signature::{SignatureVersion, TokenId};

/// Put in the extensions of every request the layer verified. Read it in a handler with axum's
/// `Extension<PlivoVerified>` or `request.extensions().get::<PlivoVerified>()`.
///
/// In report-only mode a request that would have been refused carries the
/// [`Rejection`](crate::Rejection) instead (or as well, for a verified replay).
///
/// ```
/// use axum::{Extension, Router, routing::post};
/// use tower_plivo::{PlivoVerified, TokenId};
///
/// async fn answer(Extension(verified): Extension<PlivoVerified>) -> String {
///     let from_main_account = verified.token() == TokenId::MainAccount;
///     format!("{} nonce {} (main account: {from_main_account})", verified.version().as_str(), verified.nonce())
/// }
/// let app: Router = Router::new().route("/answer", post(answer));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlivoVerified {
    version: SignatureVersion,
    token: TokenId,
    nonce: String,
    url: String,
}

impl PlivoVerified {
    pub(crate) fn new(
        version: SignatureVersion,
        token: TokenId,
        nonce: String,
        url: String,
    ) -> Self {
        Self {
            version,
            token,
            nonce,
            url,
        }
    }

    /// The signature version that verified (V3 or V2).
    pub fn version(&self) -> SignatureVersion {
        self.version
    }

    /// The configured token that matched, and so the header that carried the signature (an
    /// account token: `X-Plivo-Signature-V3` / `-V2`; the main account's: the `-Ma-` header).
    pub fn token(&self) -> TokenId {
        self.token
    }

    /// The nonce Plivo sent (opaque; safe to log).
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The URL the signature was checked against (`scheme://authority/path?query`; safe to log).
    pub fn url(&self) -> &str {
        &self.url
    }
}
