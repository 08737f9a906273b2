//! Why a signature did not verify, in the signature core's own terms (the layer turns each into
//! a [`Rejection`](crate::Rejection)).

use std::fmt;

/// Why [`Verifier::verify`](super::Verifier::verify) refused a request.
///
/// ```
/// use tower_plivo::signature::{
///     AuthTokens, SignatureHeaders, SignedRequest, SignedUrl, Verifier, VerifyError,
/// };
///
/// let verifier = Verifier::new(AuthTokens::new(["token"], None::<&str>)?);
/// let request = SignedRequest::get(SignedUrl::parse("https://hooks.example.com/answer")?);
/// let unsigned = SignatureHeaders::default();
/// assert_eq!(verifier.verify(&unsigned, &request), Err(VerifyError::MissingSignature));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VerifyError {
    /// No signature header of either version, or only blank ones.
    MissingSignature,
    /// A signature header without its nonce header.
    MissingNonce,
    /// The nonce is empty, or holds control characters or one of `.`, `/`, `?`, `#`, which
    /// would let part of a signed message move into the nonce without changing the signature.
    InvalidNonce,
    /// Under V3, a body the signature cannot cover: a POST body that is not a form.
    UnsupportedBody,
    /// No signature piece matches any configured token.
    SignatureMismatch,
    /// A V2 signature (and no V3 header) where only V3 is accepted: see
    /// [`Verifier::accept_v2`](super::Verifier::accept_v2).
    VersionNotAccepted,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VerifyError::MissingSignature => "no signature header",
            VerifyError::MissingNonce => "a signature header without its nonce header",
            VerifyError::InvalidNonce => "the nonce is empty or holds a character a nonce cannot",
            VerifyError::UnsupportedBody => "a V3 POST body that is not a form",
            VerifyError::SignatureMismatch => "no signature matches any configured token",
            VerifyError::VersionNotAccepted => "a V2 signature where only V3 is accepted",
        })
    }
}

impl std::error::Error for VerifyError {}
