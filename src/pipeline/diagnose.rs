//! Part of the head stage: a refusal made from the head that a configuration mistake could
//! explain (an untrusted host, an unknown origin, a V2 signature where only V3 is accepted) is
//! shown to the signature doctor, within its budget. A signature over a body needs the body:
//! such a request is then read before it is refused (with the same answer it would have had).
//! Mismatches are examined by the verify stage.

use std::net::SocketAddr;

use http::Method;

use super::head::claim_of;
use super::respond::Refusal;
use super::settings::{Settings, Tokens};
use super::upgrade::{self, RequestKind};
use crate::observe::doctor::{Suspect, Ticket};
use crate::rejection::Rejection;
use crate::request_info::RequestHead;

/// Whether the doctor examines refusals for this reason made from the head.
pub(crate) fn explained_by_configuration(rejection: Rejection) -> bool {
    matches!(
        rejection,
        Rejection::UntrustedHost
            | Rejection::UnknownOrigin
            | Rejection::SignatureVersionNotAccepted
    )
}

/// Examines a head refusal now when its signature covers no body (a GET, a stream upgrade);
/// returns the doctor's ticket when the body must be read first (a POST webhook).
///
/// Not examined: with tenants (no tenant's tokens are known before the origin is), a V2
/// signature on a stream upgrade (Plivo signs streams with V3: no configuration enables it),
/// and, in report-only mode, a POST (its body goes on to the service unread).
pub(crate) fn head_refusal(
    settings: &Settings,
    refusal: &mut Refusal,
    request: &RequestHead<'_>,
    peer: Option<SocketAddr>,
) -> Option<Ticket> {
    let doctor = settings.doctor.as_ref()?;
    if !explained_by_configuration(refusal.rejection) {
        return None;
    }
    if !matches!(settings.tokens, Tokens::Static(_)) {
        return None;
    }
    let kind = upgrade::classify(request.method, request.version, request.headers).ok()?;
    let stream_v2 = kind == RequestKind::StreamUpgrade
        && refusal.rejection == Rejection::SignatureVersionNotAccepted;
    let post = request.method == Method::POST;
    let needs_body = post && kind == RequestKind::Webhook;
    if stream_v2 || (needs_body && settings.report_only) {
        return None;
    }
    claim_of(request.headers)?;
    let ticket = doctor.admit()?;
    if needs_body {
        return Some(ticket);
    }
    examine(settings, ticket, refusal, request, peer, &[]);
    None
}

/// Examines a head refusal whose body has been read (or could not be).
pub(crate) fn after_body(
    settings: &Settings,
    ticket: Ticket,
    refusal: &mut Refusal,
    request: &RequestHead<'_>,
    peer: Option<SocketAddr>,
    body: Result<&[u8], Rejection>,
) {
    match body {
        Ok(body) => examine(settings, ticket, refusal, request, peer, body),
        Err(_) => refusal.examined = Some(ticket.unread()),
    }
}

fn examine(
    settings: &Settings,
    ticket: Ticket,
    refusal: &mut Refusal,
    request: &RequestHead<'_>,
    peer: Option<SocketAddr>,
    body: &[u8],
) {
    let (Tokens::Static(verifier), Some(claim), Ok(kind)) = (
        &settings.tokens,
        claim_of(request.headers),
        upgrade::classify(request.method, request.version, request.headers),
    ) else {
        return;
    };
    let suspect = Suspect {
        rejection: refusal.rejection,
        kind,
        claim,
        post: request.method == Method::POST,
        request,
        peer,
        body,
    };
    refusal.examined = Some(ticket.examine(settings, verifier, &suspect));
}
