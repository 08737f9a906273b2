//! Stage 4, verify: the signature over the URL and the whole body (an empty one for a stream
//! upgrade, verified from its head alone).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderValue;
use http::header::CONTENT_TYPE;

use super::diagnose::{self, Examination};
use super::head::{Head, SignedMethod};
use super::respond::Refusal;
use super::settings::Settings;
use super::upgrade::RequestKind;
use crate::rejection::Rejection;
use crate::replay::{ReplayKey, ReplayKeys};
use crate::request_info::RequestHead;
use crate::signature::{
    AuthTokens, SignedRequest, SignedUrl, StreamUrlForm, Verifier, VerifyError,
};
use crate::verified::PlivoVerified;

/// A request that verified: what the handler is told, and the replay keys to reserve (none
/// when replay protection is off).
pub(crate) struct Checked {
    pub(crate) verified: PlivoVerified,
    pub(crate) keys: Option<ReplayKeys>,
}

/// A request that did not verify: why, the URL that was verified (for the log line), and what
/// the doctor is given, when it examines the refusal.
pub(crate) struct Unchecked {
    pub(crate) refusal: Refusal,
    pub(crate) url: String,
    pub(crate) examination: Option<Examination>,
}

/// Verifies the signature over the URL and `body` with the request's tokens (its tenant's, or
/// the layer's). A stream upgrade is tried in the stream URL form Plivo signs, then in the one
/// extra form opted into, if any. `timed`: how long the signature check took is measured (the
/// second value), for the span and the counters.
pub(crate) fn signature(
    settings: &Settings,
    head: &Head,
    request: &RequestHead<'_>,
    body: &Bytes,
    timed: bool,
) -> (Result<Checked, Unchecked>, Option<Duration>) {
    let url = head.signed_url(request);
    let verifier = match head.verifier(settings) {
        Ok(verifier) => verifier,
        Err(why) => {
            // The same work as a tenant the store knows, over a key nobody holds (the result
            // is thrown away): an unknown tenant's refusal must not come back faster than a
            // known tenant's forgery, or its timing would tell which names are tenants.
            let _ = check_url(settings, stand_in(), head, request, url, body);
            let unchecked = Unchecked {
                refusal: Refusal::explained(Rejection::UnknownTenant, why),
                url: url.url_text(),
                examination: None,
            };
            return (Err(unchecked), None);
        }
    };
    let default_form =
        (head.kind == RequestKind::StreamUpgrade).then_some(StreamUrlForm::HttpScheme);
    let started = timed.then(Instant::now);
    let mut outcome = check_url(settings, verifier, head, request, url, body)
        .map(|matched| (matched, default_form));
    if let (Err(VerifyError::SignatureMismatch), RequestKind::StreamUpgrade, Some(form)) =
        (&outcome, head.kind, settings.extra_stream_url_form)
    {
        let pieces = head.stream_url_pieces(form, request);
        let extra = pieces.signed_url(&head.origin.authority, &head.origin.prefix);
        if let Ok(matched) = check_url(settings, verifier, head, request, extra, body) {
            outcome = Ok((matched, Some(form)));
        }
    }
    let elapsed = started.map(|started| started.elapsed());
    let checked = match outcome {
        Ok((matched, stream_url_form)) => {
            let mut verified = PlivoVerified::new(
                head.version,
                matched.token,
                head.nonce_text(),
                matched.url,
                stream_url_form,
            );
            verified.set_tenant(head.tenant.known_ref().cloned());
            Ok(Checked {
                keys: matched.digest.map(|digest| {
                    let decided = ReplayKey::from_digest(digest);
                    match v2_half_key(verifier, head, url) {
                        Some(v2_half) => ReplayKeys::with_v2_half(decided, v2_half),
                        None => ReplayKeys::one(decided),
                    }
                }),
                verified,
            })
        }
        Err(error) => {
            let rejection = Rejection::from(error);
            let examination = (rejection == Rejection::SignatureMismatch)
                .then(|| diagnose::mismatch(settings, head, body))
                .flatten();
            Err(Unchecked {
                refusal: Refusal::from(rejection),
                url: url.url_text(),
                examination,
            })
        }
    };
    (checked, elapsed)
}

/// The verifier an unknown tenant's request is checked with, to cost what a known tenant's
/// does; its answer is never used, so its key need not be secret.
fn stand_in() -> &'static Verifier {
    static STAND_IN: OnceLock<Verifier> = OnceLock::new();
    STAND_IN.get_or_init(|| {
        let tokens = AuthTokens::new(
            ["tower-plivo: the stand-in for an unknown tenant"],
            None::<&str>,
        );
        Verifier::new(tokens.expect("a valid token"))
    })
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
