//! The signature rules, free of HTTP and layer types and of I/O: form-pair parsing, the V3 and
//! V2 messages, HMAC-SHA256, signature-header lists, constant-time comparison, the
//! [`Verifier`] and the [`Signer`]. The rules themselves are written down in
//! [`wire_format`](crate::wire_format).
//!
//! The layer uses this module; use it directly to verify outside a tower stack or to sign
//! requests in tests. There is exactly one canonicalisation, shared by [`Signer`] and
//! [`Verifier`].

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

pub use error::VerifyError;
pub(crate) use headers::{Claim, SHOWN_NAMES};
#[cfg(feature = "diagnosis")]
pub(crate) use headers::shown_name;
pub use headers::{
    SignatureHeaders, V2_MAIN_ACCOUNT_SIGNATURE, V2_NONCE, V2_SIGNATURE, V3_MAIN_ACCOUNT_SIGNATURE,
    V3_NONCE, V3_SIGNATURE,
};
pub use request::SignedRequest;
pub(crate) use request::is_form_content_type;
pub use signer::Signer;
pub use stream::StreamUrlForm;
pub(crate) use stream::{SIGNED_STREAM_SCHEME, StreamUrlPieces};
pub use token_id::TokenId;
pub use tokens::AuthTokens;
pub use url::SignedUrl;
pub use verifier::Verifier;
pub use version::SignatureVersion;
