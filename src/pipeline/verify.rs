//! Stage 4, verify: the signature over the URL and the whole body (an empty one for a stream
//! upgrade, verified from its head alone).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderValue, Request};
use tracing::Span;

use super::diagnose;
use super::head::{Head, SignedMethod};
use super::respond::Refusal;
use super::settings::Settings;
use super::upgrade::RequestKind;
use crate::observe::span::{record_verify_time, wants_verify_time};
use crate::rejection::Rejection;
use crate::replay::{ReplayKey, ReplayKeys};
use crate::request_info::RequestHead;
use crate::signature::{SignedRequest, SignedUrl, StreamUrlForm, Verifier, VerifyError};
use crate::verified::PlivoVerified;

/// What verification made of a request.
pub(crate) enum Verdict {
    Accepted(Accepted),
    Failed(Failed),
}

/// A request whose signature verified.
pub(crate) struct Accepted {
    pub(crate) request: Request<Bytes>,
    pub(crate) verified: PlivoVerified,
    /// The replay keys of its signed messages, when replay protection is on.
    pub(crate) keys: Option<ReplayKeys>,
}

/// A request whose signature did not verify. The request comes back, so report-only mode can
/// still hand it on.
pub(crate) struct Failed {
    pub(crate) request: Request<Bytes>,
    pub(crate) unchecked: Unchecked,
}

/// Verifies the request whose head is `head` over its whole `body`, and gives the request
/// back with the verdict.
pub(crate) fn verify(
    settings: &Arc<Settings>,
    head: Head,
    parts: Parts,
    body: Bytes,
    span: &Span,
) -> Verdict {
    match check(settings, &head, &RequestHead::from(&parts), &body, span) {
        Ok(Checked { mut verified, keys }) => {
            // Moved, not cloned: the request keeps its tenant for as long as it lives.
            verified.set_tenant(head.tenant.known());
            Verdict::Accepted(Accepted {
                request: Request::from_parts(parts, body),
                verified,
                keys,
            })
        }
        Err(unchecked) => Verdict::Failed(Failed {
            request: Request::from_parts(parts, body),
            unchecked,
        }),
    }
}

/// A signature that verified (its tenant, if any, is for the caller to move in).
pub(crate) struct Checked {
    pub(crate) verified: PlivoVerified,
    pub(crate) keys: Option<ReplayKeys>,
}

/// A signature that did not verify: the refusal (with the doctor's findings, when it looked),
/// and the URL verified.
pub(crate) struct Unchecked {
    pub(crate) refusal: Refusal,
    pub(crate) url: String,
}

/// Checks the signature of a request (its head and its whole body); on a mismatch, shows it to
/// the signature doctor (when on, and within its budget; the answer does not wait for it).
pub(crate) fn check(
    settings: &Arc<Settings>,
    head: &Head,
    request: &RequestHead<'_>,
    body: &Bytes,
    span: &Span,
) -> Result<Checked, Unchecked> {
    let url = head.signed_url(request);
    // No tenant: one the store does not know (refused here, after the body was read like a
    // forgery's, so the sender cannot tell a known tenant from an unknown one).
    let verifier = match head.verifier(settings) {
        Ok(verifier) => verifier,
        Err(why) => {
            return Err(Unchecked {
                refusal: Refusal::explained(Rejection::UnknownTenant, why),
                url: url.url_text(),
            });
        }
    };
    let default_form =
        (head.kind == RequestKind::StreamUpgrade).then_some(StreamUrlForm::HttpScheme);
    let started = wants_verify_time(span).then(Instant::now);
    let mut outcome = check_url(settings, verifier, head, request, url, body)
        .map(|matched| (matched, default_form));
    // The one other stream form the user opted into, tried only after the default failed.
    if let (Err(VerifyError::SignatureMismatch), RequestKind::StreamUpgrade, Some(form)) =
        (&outcome, head.kind, settings.extra_stream_url_form)
    {
        let pieces = head.stream_url_pieces(form, request);
        let extra = pieces.signed_url(&head.origin.authority);
        if let Ok(matched) = check_url(settings, verifier, head, request, extra, body) {
            outcome = Ok((matched, Some(form)));
        }
    }
    if let Some(started) = started {
        let elapsed = started.elapsed();
        record_verify_time(span, elapsed, body.len());
        #[cfg(feature = "metrics")]
        crate::observe::facade::verify_time(head.version, elapsed);
    }
    match outcome {
        Ok((matched, stream_url_form)) => Ok(Checked {
            keys: matched.digest.map(|digest| {
                let decided = ReplayKey::from_digest(digest);
                match v2_half_key(verifier, head, url) {
                    Some(v2_half) => ReplayKeys::with_v2_half(decided, v2_half),
                    None => ReplayKeys::one(decided),
                }
            }),
            verified: PlivoVerified::new(
                head.version,
                matched.token,
                head.nonce_text(),
                matched.url,
                stream_url_form,
            ),
        }),
        Err(error) => {
            let mut refusal = Refusal::from(Rejection::from(error));
            if refusal.rejection == Rejection::SignatureMismatch {
                diagnose::mismatch(settings, head, &mut refusal, request, body);
            }
            Err(Unchecked {
                refusal,
                url: url.url_text(),
            })
        }
    }
}

/// The replay key the same request would reserve without its V3 headers: the key of its V2
/// message (base URL and V2 nonce), when the head kept a V2 half (a route that accepts V2, with
/// replay protection on) and that half verifies.
///
/// It must verify, as the request without its V3 headers would have to: a V2 half that does
/// not verify here cannot verify alone either (same tokens, same URL), so it has nothing to
/// protect, and a store only ever records messages some token signed. Verifying also says which
/// of the root URL's two readings (`https://h/` or `https://h`) was signed, as the request
/// alone would find. It costs one HMAC of a short message, for requests carrying both
/// families only.
fn v2_half_key(verifier: &Verifier, head: &Head, url: SignedUrl<'_>) -> Option<ReplayKey> {
    let claim = head.v2_half()?;
    // V2 signs neither the query nor the body: a GET of the same URL signs what a POST does.
    let matched = verifier
        .verify_claim(&claim, &SignedRequest::get(url), true)
        .ok()?;
    matched.digest.map(ReplayKey::from_digest)
}

/// What matched: the token, the URL, and the digest of the message (the replay key's).
struct MatchedUrl {
    token: crate::signature::TokenId,
    url: String,
    digest: Option<[u8; 32]>,
}

/// The signature over one URL.
fn check_url(
    settings: &Settings,
    verifier: &Verifier,
    head: &Head,
    request: &RequestHead<'_>,
    url: SignedUrl<'_>,
    body: &[u8],
) -> Result<MatchedUrl, VerifyError> {
    let signed = match head.method {
        // Plivo's GET parameters are in the query: a GET body (sent chunked, so not refused
        // from its declared length) is nothing the signature covers.
        SignedMethod::Get if !body.is_empty() => return Err(VerifyError::UnsupportedBody),
        SignedMethod::Get => SignedRequest::get(url),
        SignedMethod::Post => {
            let content_type = request.headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes);
            SignedRequest::post(url, content_type, body)
        }
    };
    // The digest of the matched message is the replay key: computed only when a store will
    // need it.
    verifier
        .verify_claim(&head.claim(), &signed, settings.replay.is_some())
        .map(|matched| MatchedUrl {
            token: matched.token,
            url: url.url_text(),
            digest: matched.digest,
        })
}
