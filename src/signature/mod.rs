//! The signature rules, free of HTTP types and I/O: form-pair parsing, the V3 and V2
//! messages, HMAC-SHA256, signature-header lists, constant-time comparison, and the [`Signer`].
//!
//! The layer uses this module; use it directly to verify outside a tower stack or to sign
//! requests in tests. There is exactly one canonicalisation, shared by [`Signer`] and
//! [`Verifier`].

mod form;
mod headers;
pub(crate) mod mac;
mod message;
mod signer;
mod url;
mod verifier;

pub use headers::{
    Claim, SignatureHeaders, V2_MAIN_ACCOUNT_SIGNATURE, V2_NONCE, V2_SIGNATURE,
    V3_MAIN_ACCOUNT_SIGNATURE, V3_NONCE, V3_SIGNATURE, Version,
};
pub use signer::Signer;
pub use url::{SignedUrl, UrlError};
pub use verifier::{Method, SignedRequest, Verifier};

pub(crate) use verifier::is_form_content_type;
