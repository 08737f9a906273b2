//! Checking a claimed signature against the configured tokens (SPEC §2–§5).

use super::headers::{Claim, Version};
use super::mac::{KeyedMac, ReceivedSignatures, Tag, message_digest};
use super::message::{V3Message, v2_parts};
use super::url::SignedUrl;
use crate::rejection::Rejection;
use crate::tokens::{AuthTokens, TokenId};

/// The two methods that carry Plivo signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: Plivo puts its parameters in the query string.
    Get,
    /// `POST`: Plivo sends its parameters as a form body.
    Post,
}

impl Method {
    /// Parses an HTTP method token; anything but `GET` and `POST` is refused.
    ///
    /// ```
    /// use tower_plivo::{Rejection, signature::Method};
    ///
    /// assert_eq!(Method::parse("POST"), Ok(Method::Post));
    /// assert_eq!(Method::parse("PUT"), Err(Rejection::MethodNotAllowed));
    /// ```
    pub fn parse(method: &str) -> Result<Self, Rejection> {
        match method {
            "GET" => Ok(Method::Get),
            "POST" => Ok(Method::Post),
            _ => Err(Rejection::MethodNotAllowed),
        }
    }
}

/// What the signature is checked against, besides the headers (see [`Verifier`] for a full
/// example).
///
/// ```
/// use tower_plivo::signature::{Method, SignedRequest, SignedUrl};
///
/// let request = SignedRequest {
///     method: Method::Get,
///     url: SignedUrl::parse("https://hooks.example.com/answer?CallUUID=1")?,
///     content_type: None,
///     body: b"",
/// };
/// # Ok::<(), tower_plivo::signature::UrlError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct SignedRequest<'a> {
    /// GET or POST.
    pub method: Method,
    /// The URL Plivo called.
    pub url: SignedUrl<'a>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a [u8]>,
    /// The whole body.
    pub body: &'a [u8],
}

/// Verifies Plivo signatures against a set of [`AuthTokens`]. Pure: no HTTP types, no I/O.
///
/// ```
/// use tower_plivo::AuthTokens;
/// use tower_plivo::signature::{Method, SignatureHeaders, SignedRequest, SignedUrl, Signer, Verifier};
///
/// let verifier = Verifier::new(AuthTokens::new(["my_auth_token"], None::<&str>)?);
/// let url = "https://hooks.example.com/answer";
/// let signature = Signer::new("my_auth_token").sign_v3(Method::Post, url, b"From=1555", "42")?;
///
/// let headers = SignatureHeaders {
///     v3_signature: Some(signature.as_bytes()),
///     v3_nonce: Some(b"42"),
///     ..Default::default()
/// };
/// let request = SignedRequest {
///     method: Method::Post,
///     url: SignedUrl::parse(url)?,
///     content_type: Some(b"application/x-www-form-urlencoded"),
///     body: b"From=1555",
/// };
/// let token = verifier.verify(&headers.claim()?, &request)?;
/// assert_eq!(token, tower_plivo::TokenId::Account(0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Verifier {
    tokens: AuthTokens,
}

impl Verifier {
    /// A verifier for these tokens.
    pub fn new(tokens: AuthTokens) -> Self {
        Self { tokens }
    }

    /// Checks the claim against the request. On success, says which token matched (the plain
    /// header's account tokens are tried before the `-Ma-` header's main-account token).
    ///
    /// A request to the root path `/` is also checked as if the URL had an empty path: on the
    /// wire `https://example.com` and `https://example.com/` are the same request line, and
    /// Plivo signs whichever of the two was configured.
    pub fn verify(
        &self,
        claim: &Claim<'_>,
        request: &SignedRequest<'_>,
    ) -> Result<TokenId, Rejection> {
        self.verify_inner(claim, request, false)
            .map(|matched| matched.token)
    }

    /// Verifies as [`verify`](Self::verify) does and also returns the SHA-256 digest of the
    /// message that matched (what replay keys are made of).
    pub(crate) fn verify_with_digest(
        &self,
        claim: &Claim<'_>,
        request: &SignedRequest<'_>,
    ) -> Result<(TokenId, [u8; 32]), Rejection> {
        let matched = self.verify_inner(claim, request, true)?;
        Ok((
            matched.token,
            matched.digest.expect("a digest was asked for"),
        ))
    }

    fn verify_inner(
        &self,
        claim: &Claim<'_>,
        request: &SignedRequest<'_>,
        with_digest: bool,
    ) -> Result<Matched, Rejection> {
        let form_body = match claim.version {
            Version::V3 => v3_form_body(request)?,
            Version::V2 => None,
        };
        // Each header is decoded once, whatever the number of tokens and URLs tried.
        let account = ReceivedSignatures::decode(claim.account);
        let main_account = ReceivedSignatures::decode(claim.main_account);
        let could_match = (!account.is_empty() && !self.tokens.account.is_empty())
            || (!main_account.is_empty() && self.tokens.main_account.is_some());
        if !could_match {
            return Err(Rejection::SignatureMismatch);
        }
        let signatures = (&account, &main_account);
        let root = request.url.path() == "/";
        let [scheme, separator, authority, _] = request.url.base_parts();
        // Each message is tried as the pieces it is made of; the one that matched is the one
        // the digest is taken of.
        let attempt = |parts: &[&[u8]]| {
            self.check(signatures, |mac| mac.tag_parts(parts))
                .map(|token| Matched {
                    token,
                    digest: with_digest.then(|| message_digest(parts)),
                })
        };
        let found = match claim.version {
            Version::V3 => {
                let message = V3Message::build(&request.url, form_body, claim.nonce);
                attempt(&[message.bytes()]).or_else(|| {
                    // The same message with an empty path: same rest, another base.
                    root.then(|| attempt(&[scheme, separator, authority, message.after_base()]))
                        .flatten()
                })
            }
            Version::V2 => {
                let parts = v2_parts(&request.url, claim.nonce);
                attempt(&parts).or_else(|| {
                    // The same message without the path `/`.
                    let [scheme, separator, authority, _, nonce] = parts;
                    root.then(|| attempt(&[scheme, separator, authority, nonce]))
                        .flatten()
                })
            }
        };
        found.ok_or(Rejection::SignatureMismatch)
    }

    /// The first token whose tag of the message (computed by `tag`) is among the decoded
    /// signatures: account tokens in order against the plain header, then the main-account
    /// token against the `-Ma-` header.
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
        match &self.tokens.main_account {
            Some(mac) if !main_account.is_empty() && main_account.any_matches(&tag(mac)) => {
                Some(TokenId::MainAccount)
            }
            _ => None,
        }
    }
}

/// The token that matched, and the digest of the message it matched when one was asked for.
struct Matched {
    token: TokenId,
    digest: Option<[u8; 32]>,
}

/// The body V3 signs: a POST's form body, or nothing. Bodies the signature cannot cover are
/// refused, so a captured signed URL cannot carry a body of the attacker's choice.
fn v3_form_body<'a>(request: &SignedRequest<'a>) -> Result<Option<&'a [u8]>, Rejection> {
    if request.body.is_empty() {
        return Ok(None);
    }
    match request.method {
        Method::Post if request.content_type.is_some_and(is_form_content_type) => {
            Ok(Some(request.body))
        }
        _ => Err(Rejection::UnsupportedBody),
    }
}

/// Whether a `Content-Type` value is `application/x-www-form-urlencoded` (any case, parameters
/// such as `charset` allowed).
pub(crate) fn is_form_content_type(value: &[u8]) -> bool {
    let essence = value
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    essence.eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_content_type_variants() {
        assert!(is_form_content_type(b"application/x-www-form-urlencoded"));
        assert!(is_form_content_type(
            b"Application/X-WWW-Form-Urlencoded; charset=UTF-8"
        ));
        assert!(!is_form_content_type(b"application/json"));
        assert!(!is_form_content_type(b"multipart/form-data; boundary=x"));
    }
}
