//! The proof of verification attached to each verified request.

use crate::rejection::Rejection;
use crate::signature::Version;
use crate::tokens::TokenId;

/// Put in the extensions of every request the layer verified. Read it in a handler with axum's
/// `Extension<PlivoVerified>` or `request.extensions().get::<PlivoVerified>()`.
///
/// ```
/// use axum::{Extension, Router, routing::post};
/// use tower_plivo::PlivoVerified;
///
/// async fn answer(Extension(verified): Extension<PlivoVerified>) -> String {
///     format!("{} via {} header, nonce {}", verified.version.as_str(), verified.header().as_str(), verified.nonce)
/// }
/// let app: Router = Router::new().route("/answer", post(answer));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlivoVerified {
    /// The scheme that verified (V3 or V2).
    pub version: Version,
    /// The configured token that matched.
    pub token: TokenId,
    /// The nonce Plivo sent (opaque; safe to log).
    pub nonce: String,
    /// The URL the signature was checked against (`scheme://authority/path?query`; safe to log).
    pub url: String,
}

impl PlivoVerified {
    /// Which header carried the matching signature.
    pub fn header(&self) -> SignatureHeader {
        match self.token {
            TokenId::MainAccount => SignatureHeader::MainAccount,
            TokenId::Account(_) => SignatureHeader::Account,
        }
    }
}

/// The header family that carried a matching signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureHeader {
    /// `X-Plivo-Signature-V3` / `-V2`, signed with an account or sub-account token.
    Account,
    /// `X-Plivo-Signature-Ma-V3` / `-Ma-V2`, signed with the main account's token.
    MainAccount,
}

impl SignatureHeader {
    /// `"account"` or `"main_account"`.
    ///
    /// ```
    /// assert_eq!(tower_plivo::SignatureHeader::MainAccount.as_str(), "main_account");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureHeader::Account => "account",
            SignatureHeader::MainAccount => "main_account",
        }
    }
}

/// The layer's verdict, put in the extensions of every guarded request that reaches the inner
/// service. Outside report-only mode it is always [`Accepted`](Self::Accepted); in report-only
/// mode a request that would have been refused arrives with [`Rejected`](Self::Rejected).
///
/// ```
/// use axum::{Extension, Router, routing::post};
/// use tower_plivo::PlivoVerdict;
///
/// async fn answer(Extension(verdict): Extension<PlivoVerdict>) -> &'static str {
///     match verdict {
///         PlivoVerdict::Accepted => "verified",
///         PlivoVerdict::Rejected(_) => "would have been refused",
///     }
/// }
/// let app: Router = Router::new().route("/answer", post(answer));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlivoVerdict {
    /// The signature verified (and the request was not a replay).
    Accepted,
    /// The request would have been refused for this reason.
    Rejected(Rejection),
}
