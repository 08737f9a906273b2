//! Checking a claimed signature against the configured tokens.

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method};

use super::error::VerifyError;
use super::headers::{Claim, SignatureHeaders};
use super::mac::{KeyedMac, ReceivedSignatures, Tag, replay_digest};
use super::message::{V3Message, v2_parts};
use super::request::SignedRequest;
use super::token_id::TokenId;
use super::tokens::AuthTokens;
use super::url::SignedUrl;
use super::version::SignatureVersion;
use crate::rejection::Rejection;

/// Verifies Plivo signatures against a set of [`AuthTokens`], for one request at a time:
/// the signature check alone, with no URL policy, replay protection, tenants or body reading
/// (a [`PlivoGuard`](crate::PlivoGuard) adds those). No I/O.
///
/// It accepts **V3 only** unless told otherwise with [`accept_v2`](Self::accept_v2), as the
/// guard does, and says which version verified.
///
/// ```
/// use http::{HeaderMap, Method};
/// use tower_plivo::{SignatureVersion, TokenId};
/// use tower_plivo::signature::{AuthTokens, Signer, Verifier};
///
/// let verifier = Verifier::new(AuthTokens::new(["my_auth_token"], None::<&str>)?);
/// let url = "https://hooks.example.com/answer";
/// let signature = Signer::new("my_auth_token").sign_v3_post(url, b"From=1555", "42")?;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-plivo-signature-v3", signature.parse()?);
/// headers.insert("x-plivo-signature-v3-nonce", "42".parse()?);
/// headers.insert("content-type", "application/x-www-form-urlencoded".parse()?);
/// let (version, token) = verifier.verify(&Method::POST, url, &headers, b"From=1555")?;
/// assert_eq!((version, token), (SignatureVersion::V3, TokenId::Account(0)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Verifier {
    tokens: AuthTokens,
    accept_v2: bool,
}

/// A verification that succeeded: the token that matched, and the digest of the message it
/// matched when one was asked for.
pub(crate) struct Verified {
    pub(crate) token: TokenId,
    pub(crate) digest: Option<[u8; 32]>,
}

impl Verifier {
    /// A verifier for these tokens, accepting V3 signatures only.
    pub fn new(tokens: AuthTokens) -> Self {
        Self {
            tokens,
            accept_v2: false,
        }
    }

    /// Also accept V2 signatures (`accept` true), as Plivo sends for Verify and for accounts
    /// and products that still sign messaging with V2 alone. V3 still decides whenever a V3
    /// header is present.
    ///
    /// **V2 signs neither the body nor the query**: anyone holding one V2-signed request for a
    /// URL can send any body under its signature. Accept it only where Plivo sends V2, and
    /// refuse a second use of its message (the guard's replay protection does). A V2 request
    /// where V2 is not accepted gets [`Rejection::SignatureVersionNotAccepted`].
    ///
    /// ```
    /// use http::{HeaderMap, Method};
    /// use tower_plivo::{Rejection, SignatureVersion};
    /// use tower_plivo::signature::{AuthTokens, Signer, Verifier};
    ///
    /// let url = "https://hooks.example.com/sms";
    /// let signature = Signer::new("token").sign_v2(url, "42")?;
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-plivo-signature-v2", signature.parse()?);
    /// headers.insert("x-plivo-signature-v2-nonce", "42".parse()?);
    /// let v3_only = Verifier::new(AuthTokens::new(["token"], None::<&str>)?);
    /// let refused = v3_only.verify(&Method::GET, url, &headers, b"");
    /// assert_eq!(refused, Err(Rejection::SignatureVersionNotAccepted));
    /// let with_v2 = v3_only.accept_v2(true);
    /// assert_eq!(with_v2.verify(&Method::GET, url, &headers, b"")?.0, SignatureVersion::V2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn accept_v2(mut self, accept: bool) -> Self {
        self.accept_v2 = accept;
        self
    }

    /// Whether a main-account token is configured (the `-Ma-` headers are checked).
    #[cfg(feature = "diagnosis")]
    pub(crate) fn has_main_account_token(&self) -> bool {
        !self.tokens.main_account.is_empty()
    }

    /// Verifies one request: its `method` (Plivo signs GET and POST), the `url` Plivo called
    /// (scheme, host, path and query exactly as configured in Plivo: behind a proxy, not the
    /// URL your server sees), its `headers` (the six signature headers and `Content-Type`) and
    /// its whole `body`. On success, says which version verified and which token matched (the
    /// plain header's account tokens are tried before the `-Ma-` header's main-account token).
    ///
    /// A request to the root path `/` is also checked as if the URL had an empty path: on the
    /// wire `https://example.com` and `https://example.com/` are the same request line, and
    /// Plivo signs whichever of the two was configured.
    ///
    /// A `url` that is not absolute (`scheme://host...`) is refused as
    /// [`Rejection::UnknownOrigin`]: the URL Plivo called is not known.
    pub fn verify(
        &self,
        method: &Method,
        url: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(SignatureVersion, TokenId), Rejection> {
        let url = SignedUrl::parse(url).map_err(|_| Rejection::UnknownOrigin)?;
        let request = match *method {
            Method::GET if body.is_empty() => SignedRequest::get(url),
            Method::GET => return Err(Rejection::UnsupportedBody),
            Method::POST => {
                let content_type = headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes);
                SignedRequest::post(url, content_type, body)
            }
            _ => return Err(Rejection::MethodNotAllowed),
        };
        self.verify_read(SignatureHeaders::read(headers)?, &request)
    }

    /// [`verify`](Self::verify) once the headers are read and the request is known.
    pub(crate) fn verify_read(
        &self,
        headers: SignatureHeaders<'_>,
        request: &SignedRequest<'_>,
    ) -> Result<(SignatureVersion, TokenId), Rejection> {
        let claim = headers.claim()?;
        if claim.version == SignatureVersion::V2 && !self.accept_v2 {
            return Err(Rejection::SignatureVersionNotAccepted);
        }
        let verified = self.verify_claim(&claim, request, false)?;
        Ok((claim.version, verified.token))
    }

    /// Checks a claim already made (the layer makes it before reading the body), and computes
    /// the SHA-256 digest of the message that matched when `with_digest` (what replay keys are
    /// made of).
    pub(crate) fn verify_claim(
        &self,
        claim: &Claim<'_>,
        request: &SignedRequest<'_>,
        with_digest: bool,
    ) -> Result<Verified, VerifyError> {
        let form_body = match claim.version {
            SignatureVersion::V3 => request
                .v3_form_body()
                .map_err(|()| VerifyError::UnsupportedBody)?,
            SignatureVersion::V2 => None,
        };
        // Each header is decoded once, whatever the number of tokens and URLs tried.
        let account = ReceivedSignatures::decode(claim.account);
        let main_account = ReceivedSignatures::decode(claim.main_account);
        let could_match = (!account.is_empty() && !self.tokens.account.is_empty())
            || (!main_account.is_empty() && !self.tokens.main_account.is_empty());
        if !could_match {
            return Err(VerifyError::SignatureMismatch);
        }
        let signatures = (&account, &main_account);
        let url = request.url();
        // A received path `/` is also tried without it: `https://h/` and `https://h` (or, under
        // a prefix, `https://h/plivo/` and `https://h/plivo`) reach a server alike.
        let root = url.path() == "/";
        let [scheme, separator, authority, prefix, _] = url.base_parts();
        // Each message is tried as the pieces it is made of; the one that matched is the one
        // the digest is taken of.
        let attempt = |parts: &[&[u8]]| {
            self.check(signatures, |mac| mac.tag_parts(parts))
                .map(|token| Verified {
                    token,
                    digest: with_digest.then(|| replay_digest(parts)),
                })
        };
        let found = match claim.version {
            SignatureVersion::V3 => {
                let message = V3Message::build(url, form_body, claim.nonce);
                attempt(&[message.bytes()]).or_else(|| {
                    // The same message with an empty path: same rest, another base.
                    root.then(|| {
                        attempt(&[scheme, separator, authority, prefix, message.after_base()])
                    })
                    .flatten()
                })
            }
            SignatureVersion::V2 => {
                let parts = v2_parts(url, claim.nonce);
                attempt(&parts).or_else(|| {
                    // The same message without the path `/`.
                    let [scheme, separator, authority, prefix, _, nonce] = parts;
                    root.then(|| attempt(&[scheme, separator, authority, prefix, nonce]))
                        .flatten()
                })
            }
        };
        found.ok_or(VerifyError::SignatureMismatch)
    }

    /// The first token whose tag of the message (computed by `tag`) is among the decoded
    /// signatures: account tokens in order against the plain header, then the main-account
    /// tokens in order against the `-Ma-` header.
    fn check(
        &self,
        (account, main_account): (&ReceivedSignatures, &ReceivedSignatures),
        tag: impl Fn(&KeyedMac) -> Tag,
    ) -> Option<TokenId> {
        if !account.is_empty() {
            for (index, mac) in self.tokens.account.iter().enumerate() {
                if account.any_matches(&tag(mac)) {
                    return Some(TokenId::Account(index));
                }
            }
        }
        if !main_account.is_empty() {
            for (index, mac) in self.tokens.main_account.iter().enumerate() {
                if main_account.any_matches(&tag(mac)) {
                    return Some(TokenId::MainAccount(index));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::Signer;

    /// A GET to `url` signed (V3) for `signed`, with its headers.
    fn signed_get(signed: &str) -> HeaderMap {
        let signature = Signer::new("token").sign_v3_get(signed, "42").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-plivo-signature-v3", signature.parse().unwrap());
        headers.insert("x-plivo-signature-v3-nonce", HeaderValue::from_static("42"));
        headers
    }

    #[test]
    fn what_the_call_itself_refuses_next_to_the_genuine_request() {
        let verifier = Verifier::new(AuthTokens::new(["token"], None::<&str>).unwrap());
        let url = "https://hooks.example.com/answer?CallUUID=1";
        let headers = signed_get(url);
        assert!(verifier.verify(&Method::GET, url, &headers, b"").is_ok());
        // The same signed GET, with a URL the verifier cannot split, another method, a body a
        // GET cannot carry, or a signature header sent twice differently.
        let relative = verifier.verify(&Method::GET, "/answer?CallUUID=1", &headers, b"");
        assert_eq!(relative, Err(Rejection::UnknownOrigin));
        let put = verifier.verify(&Method::PUT, url, &headers, b"");
        assert_eq!(put, Err(Rejection::MethodNotAllowed));
        let with_body = verifier.verify(&Method::GET, url, &headers, b"CallUUID=2");
        assert_eq!(with_body, Err(Rejection::UnsupportedBody));
        let mut twice = headers.clone();
        twice.append("x-plivo-signature-v3", HeaderValue::from_static("other"));
        let conflicting = verifier.verify(&Method::GET, url, &twice, b"");
        assert_eq!(conflicting, Err(Rejection::ConflictingHeaders));
    }
}
