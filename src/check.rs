//! The verification of one HTTP request, in two steps: what can be decided from the head (before
//! any body is read), then the signature over the buffered body.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Request};

use std::time::Instant;

use tracing::Span;

use crate::config::Config;
use crate::doctor;
use crate::observe;
use crate::peer::peer_addr;
use crate::rejection::Rejection;
use crate::signature::{
    Claim, Method, SignatureHeaders, SignedRequest, SignedUrl, V2_MAIN_ACCOUNT_SIGNATURE, V2_NONCE,
    V2_SIGNATURE, V3_MAIN_ACCOUNT_SIGNATURE, V3_NONCE, V3_SIGNATURE, Version, is_form_content_type,
};
use crate::target::original_uri;
use crate::url_policy::Origin;
use crate::verified::PlivoVerified;

/// The outcome of verifying a whole request. Either way the request comes back, so report-only
/// mode can still hand it on.
pub(crate) enum Checked {
    /// It verified; it carries a [`PlivoVerified`] extension.
    Verified(Request<Bytes>),
    /// It did not; `url` is the URL verified, for the log line.
    Refused {
        rejection: Rejection,
        url: String,
        request: Request<Bytes>,
    },
}

/// What the head of a request established, kept while its body is read.
#[derive(Debug)]
pub(crate) struct HeadChecked {
    method: Method,
    origin: Origin,
    version: Version,
    account: Option<HeaderValue>,
    main_account: Option<HeaderValue>,
    nonce: HeaderValue,
}

/// Checks everything the head decides: method, signature headers, declared body size, origin.
pub(crate) fn check_head(config: &Config, parts: &Parts) -> Result<HeadChecked, Rejection> {
    let method = Method::parse(parts.method.as_str())?;
    let headers = signature_headers(&parts.headers)?;
    let claim = headers.claim()?;
    let declared = declared_length(&parts.headers);
    if declared.is_some_and(|len| len > config.body_limit as u64) {
        return Err(Rejection::BodyTooLarge);
    }
    if claim.version() == Version::V3 && declared.is_some_and(|len| len > 0) {
        let form = parts
            .headers
            .get(CONTENT_TYPE)
            .is_some_and(|ct| is_form_content_type(ct.as_bytes()));
        if method == Method::Get || !form {
            return Err(Rejection::UnsupportedBody);
        }
    }
    let origin = config.url_policy.resolve(
        original_uri(parts),
        &parts.headers,
        peer_addr(&parts.extensions),
    )?;
    // The kept values are the request's own header values (a reference count, not a copy).
    let (account, main_account, nonce) = match claim.version() {
        Version::V3 => (V3_SIGNATURE, V3_MAIN_ACCOUNT_SIGNATURE, V3_NONCE),
        _ => (V2_SIGNATURE, V2_MAIN_ACCOUNT_SIGNATURE, V2_NONCE),
    };
    let kept = |name: &str| parts.headers.get(name).cloned();
    Ok(HeadChecked {
        method,
        origin,
        version: claim.version(),
        account: kept(account),
        main_account: kept(main_account),
        nonce: kept(nonce).expect("the claim has a nonce"),
    })
}

impl HeadChecked {
    /// The URL being verified, for log lines (origin from the policy, path and query as received).
    pub(crate) fn url(&self, parts: &Parts) -> String {
        let uri = original_uri(parts);
        self.signed_url(uri).to_string()
    }

    fn signed_url<'a>(&'a self, uri: &'a http::Uri) -> SignedUrl<'a> {
        SignedUrl::from_parts(
            self.origin.scheme.as_str(),
            &self.origin.authority,
            uri.path(),
            uri.query(),
        )
    }

    pub(crate) fn origin(&self) -> &Origin {
        &self.origin
    }

    pub(crate) fn method(&self) -> Method {
        self.method
    }

    pub(crate) fn version(&self) -> Version {
        self.version
    }

    /// The claim the headers make, borrowed from the kept header values.
    pub(crate) fn claim(&self) -> Claim<'_> {
        Claim {
            version: self.version,
            account: self.account.as_ref().map(HeaderValue::as_bytes),
            main_account: self.main_account.as_ref().map(HeaderValue::as_bytes),
            nonce: self.nonce.as_bytes(),
        }
    }

    /// Verifies the signature over the whole body. Either way the request comes back (with a
    /// [`PlivoVerified`] extension when it verified), so report-only mode can still hand it on.
    pub(crate) fn verify(
        self,
        config: &Config,
        mut parts: Parts,
        body: Bytes,
        span: &Span,
    ) -> Checked {
        let uri = original_uri(&parts);
        let url = self.signed_url(uri);
        let request = SignedRequest {
            method: self.method,
            url,
            content_type: parts.headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes),
            body: &body,
        };
        let started = Instant::now();
        let verdict = config.verifier.verify(&self.claim(), &request);
        observe::record_verify_time(span, started.elapsed(), body.len());
        let url = url.to_string();
        match verdict {
            Ok(token) => {
                let verified = PlivoVerified {
                    version: self.version,
                    token,
                    nonce: String::from_utf8_lossy(self.nonce.as_bytes()).into_owned(),
                    url,
                };
                parts.extensions.insert(verified);
                Checked::Verified(Request::from_parts(parts, body))
            }
            Err(rejection) => {
                if rejection == Rejection::SignatureMismatch && config.diagnose {
                    doctor::diagnose(
                        &config.verifier,
                        config.main_account_token,
                        &self,
                        &parts,
                        &body,
                        &url,
                    );
                }
                Checked::Refused {
                    rejection,
                    url,
                    request: Request::from_parts(parts, body),
                }
            }
        }
    }
}

/// Reads the six signature headers. A header sent several times must repeat the same value:
/// otherwise which one a proxy or framework would pick is anyone's guess.
fn signature_headers(headers: &HeaderMap) -> Result<SignatureHeaders<'_>, Rejection> {
    let single = |name: &str| -> Result<Option<&[u8]>, Rejection> {
        let mut values = headers.get_all(name).iter();
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if values.any(|other| other != first) {
            return Err(Rejection::ConflictingHeaders);
        }
        Ok(Some(first.as_bytes()))
    };
    Ok(SignatureHeaders {
        v3_signature: single(V3_SIGNATURE)?,
        v3_main_account_signature: single(V3_MAIN_ACCOUNT_SIGNATURE)?,
        v3_nonce: single(V3_NONCE)?,
        v2_signature: single(V2_SIGNATURE)?,
        v2_main_account_signature: single(V2_MAIN_ACCOUNT_SIGNATURE)?,
        v2_nonce: single(V2_NONCE)?,
    })
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
