//! The signature rules, free of layer types and of I/O: form-pair parsing, the V3 and V2
//! messages, HMAC-SHA256, the six signature headers, constant-time comparison, the [`Verifier`]
//! and the [`Signer`]. The rules themselves are written down in
//! [`wire_format`](crate::wire_format).
//!
//! The guard uses this module. Use the [`Verifier`] directly for the signature check alone
//! (no URL policy, replay protection or tenants: a [`PlivoGuard`](crate::PlivoGuard) has
//! them), and the [`Signer`] to sign requests in tests. There is exactly one canonicalisation,
//! shared by both.

mod error;
mod form;
mod headers;
pub(crate) mod mac;
mod message;
mod request;
mod signer;
mod stream;
mod token_id;
mod tokens;
mod url;
mod verifier;
mod version;

pub(crate) use error::VerifyError;
pub(crate) use form::values_of;
#[cfg(feature = "diagnosis")]
pub(crate) use headers::shown_name;
pub(crate) use headers::{Claim, SHOWN_NAMES, SignatureHeaders, claim_of, header_values};
#[cfg(feature = "diagnosis")]
pub(crate) use headers::{V2_SIGNATURE, V3_SIGNATURE};
pub(crate) use request::SignedRequest;
pub(crate) use request::is_form_content_type;
pub use signer::Signer;
pub use stream::StreamUrlForm;
pub(crate) use stream::{SIGNED_STREAM_SCHEME, StreamUrlPieces};
pub use token_id::TokenId;
pub use tokens::AuthTokens;
pub(crate) use url::SignedUrl;
pub use verifier::Verifier;
pub use version::SignatureVersion;
