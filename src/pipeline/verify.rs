//! Stage 4, verify: the signature over the whole body.

use std::time::Instant;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderValue, Request};
use tracing::Span;

use super::head::{Head, SignedMethod};
use super::settings::Settings;
use crate::observe::doctor::Mismatch;
use crate::observe::span::record_verify_time;
use crate::rejection::Rejection;
use crate::replay::ReplayKey;
use crate::signature::{SignedRequest, VerifyError};
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
    /// The replay key of its signed message, when replay protection is on.
    pub(crate) key: Option<ReplayKey>,
}

/// A request whose signature did not verify. The request comes back, so report-only mode can
/// still hand it on.
pub(crate) struct Failed {
    pub(crate) request: Request<Bytes>,
    pub(crate) rejection: Rejection,
    /// The URL verified, for the log line.
    pub(crate) url: String,
}

/// Verifies the signature of the request whose head is `head` over its whole `body`; on a
/// mismatch, lets the signature doctor (when on) look at it.
pub(crate) fn verify(
    settings: &Settings,
    head: Head,
    parts: Parts,
    body: Bytes,
    span: &Span,
) -> Verdict {
    let url = head.signed_url(&parts);
    let content_type = parts.headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes);
    let verdict = match head.method {
        // Plivo's GET parameters are in the query: a GET body (sent chunked, so not refused
        // from its declared length) is nothing the signature covers.
        SignedMethod::Get if !body.is_empty() => Err(VerifyError::UnsupportedBody),
        method => {
            let request = match method {
                SignedMethod::Get => SignedRequest::get(url),
                SignedMethod::Post => SignedRequest::post(url, content_type, &body),
            };
            let started = Instant::now();
            // The digest of the matched message is the replay key: computed only when a store
            // will need it.
            let verdict =
                settings
                    .verifier
                    .verify_claim(&head.claim(), &request, settings.replay.is_some());
            record_verify_time(span, started.elapsed(), body.len());
            verdict
        }
    };
    let url_text = url.to_string();
    match verdict {
        Ok(matched) => {
            let verified =
                PlivoVerified::new(head.version, matched.token, head.nonce_text(), url_text);
            Verdict::Accepted(Accepted {
                request: Request::from_parts(parts, body),
                verified,
                key: matched.digest.map(ReplayKey::from_digest),
            })
        }
        Err(error) => {
            let rejection = Rejection::from(error);
            if rejection == Rejection::SignatureMismatch
                && let Some(doctor) = &settings.doctor
            {
                let mismatch = Mismatch {
                    origin: &head.origin,
                    claim: head.claim(),
                    post: head.method == SignedMethod::Post,
                    parts: &parts,
                    body: &body,
                    url: &url_text,
                };
                doctor.examine(&settings.verifier, &mismatch);
            }
            Verdict::Failed(Failed {
                request: Request::from_parts(parts, body),
                rejection,
                url: url_text,
            })
        }
    }
}
