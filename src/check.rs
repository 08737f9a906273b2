//! The verification of one HTTP request, in two steps: what can be decided from the head (before
//! any body is read), then the signature over the buffered body.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Request};

use std::time::Instant;

use tracing::Span;

use crate::config::Config;
use crate::observe;
use crate::peer::peer_addr;
use crate::rejection::Rejection;
use crate::replay::ReplayKey;
use crate::signature::{
    Claim, Method, SignatureHeaders, SignedRequest, SignedUrl, V2_MAIN_ACCOUNT_SIGNATURE, V2_NONCE,
    V2_SIGNATURE, V3_MAIN_ACCOUNT_SIGNATURE, V3_NONCE, V3_SIGNATURE, Version, is_form_content_type,
};
use crate::source::{self, Client};
use crate::target::original_uri;
use crate::url_policy::{Origin, origin_of};
use crate::verified::PlivoVerified;

/// The outcome of verifying a whole request. Either way the request comes back, so report-only
/// mode can still hand it on.
pub(crate) enum Checked {
    /// It verified; it carries a [`PlivoVerified`] extension, and the replay key of its signed
    /// message when replay protection is on.
    Verified {
        request: Request<Bytes>,
        key: Option<ReplayKey>,
    },
    /// It did not; `url` is the URL verified, for the log line.
    Refused {
        rejection: Rejection,
        url: String,
        request: Request<Bytes>,
    },
}

/// A refusal decided from the head, and what its log line adds to the reason.
#[derive(Debug)]
pub(crate) struct HeadRefusal {
    pub(crate) rejection: Rejection,
    pub(crate) detail: Option<String>,
}

impl From<Rejection> for HeadRefusal {
    fn from(rejection: Rejection) -> Self {
        Self {
            rejection,
            detail: None,
        }
    }
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

/// The log line's explanation of a V2 request on a V3-only route.
const V2_NOT_ACCEPTED: &str = "a V2 signature on a route that accepts only V3: V2 signs neither the \
     body nor the query, so anyone holding one V2-signed request for this URL could send any body \
     under it; if Plivo calls this route with V2 (messaging, Verify), enable it with .accept_v2(true) \
     on this route only";

/// Checks everything the head decides: method, client network, signature headers and version,
/// declared body size, origin.
pub(crate) fn check_head(config: &Config, parts: &Parts) -> Result<HeadChecked, HeadRefusal> {
    let method = Method::parse(parts.method.as_str())?;
    let peer = peer_addr(&parts.extensions);
    if let Some(networks) = &config.source_networks {
        let client = Client::of(peer, config.proxies.as_ref(), &parts.headers);
        source::check(networks, client).map_err(|why| HeadRefusal {
            rejection: Rejection::SourceNotAllowed,
            detail: Some(why),
        })?;
    }
    let headers = signature_headers(&parts.headers)?;
    let claim = headers.claim()?;
    if claim.version() == Version::V2 && !config.accept_v2 {
        return Err(HeadRefusal {
            rejection: Rejection::SignatureVersionNotAccepted,
            detail: Some(V2_NOT_ACCEPTED.to_owned()),
        });
    }
    let declared = declared_length(&parts.headers);
    if declared.is_some_and(|len| len > config.body_limit as u64) {
        return Err(Rejection::BodyTooLarge.into());
    }
    if claim.version() == Version::V3 && declared.is_some_and(|len| len > 0) {
        let form = parts
            .headers
            .get(CONTENT_TYPE)
            .is_some_and(|ct| is_form_content_type(ct.as_bytes()));
        if method == Method::Get || !form {
            return Err(Rejection::UnsupportedBody.into());
        }
    }
    let origin = origin_of(
        &config.url_policy,
        config.proxies.as_ref(),
        original_uri(parts),
        &parts.headers,
        peer,
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
        let claim = self.claim();
        // The digest of the matched message is the replay key; it is computed only when a
        // store will need it.
        let verdict = match config.replay {
            Some(_) => config
                .verifier
                .verify_with_digest(&claim, &request)
                .map(|(token, digest)| (token, Some(ReplayKey::from_digest(digest)))),
            None => config
                .verifier
                .verify(&claim, &request)
                .map(|token| (token, None)),
        };
        observe::record_verify_time(span, started.elapsed(), body.len());
        let url = url.to_string();
        match verdict {
            Ok((token, key)) => {
                let verified = PlivoVerified {
                    version: self.version,
                    token,
                    nonce: String::from_utf8_lossy(self.nonce.as_bytes()).into_owned(),
                    url,
                };
                parts.extensions.insert(verified);
                Checked::Verified {
                    request: Request::from_parts(parts, body),
                    key,
                }
            }
            Err(rejection) => {
                if rejection == Rejection::SignatureMismatch
                    && let Some(doctor) = &config.doctor
                {
                    doctor.examine(
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
