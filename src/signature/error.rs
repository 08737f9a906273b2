//! Why a signature did not verify, in the signature core's own terms (the layer turns each into
//! a [`Rejection`](crate::Rejection)).

use std::fmt;

/// Why the signature core refused a request (each becomes a [`Rejection`](crate::Rejection)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum VerifyError {
    /// No signature header of either version, or only blank ones.
    MissingSignature,
    /// A signature header sent twice with different values.
    ConflictingHeaders,
    /// A signature header without its nonce header.
    MissingNonce,
    /// The nonce is empty, or holds control characters or one of `.`, `/`, `?`, `#`, which
    /// would let part of a signed message move into the nonce without changing the signature.
    InvalidNonce,
    /// Under V3, a body the signature cannot cover: a POST body that is not a form.
    UnsupportedBody,
    /// No signature piece matches any configured token.
    SignatureMismatch,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VerifyError::MissingSignature => "no signature header",
            VerifyError::ConflictingHeaders => "a signature header sent twice, differently",
            VerifyError::MissingNonce => "a signature header without its nonce header",
            VerifyError::InvalidNonce => "the nonce is empty or holds a character a nonce cannot",
            VerifyError::UnsupportedBody => "a V3 POST body that is not a form",
            VerifyError::SignatureMismatch => "no signature matches any configured token",
        })
    }
}

impl std::error::Error for VerifyError {}
