//! Which refusals the signature doctor is shown, and what of them: a mismatch (from the verify
//! stage), and a refusal made from the head that a configuration mistake could explain (an
//! untrusted host, an unknown origin, a V2 signature where only V3 is accepted). The doctor
//! examines an owned copy on its own thread; the request is answered at once, whatever the
//! doctor does.
//!
//! A POST refused from its head under V3 carries a signature over its body: with diagnosis on,
//! its body is read (within the body limit and timeout, as a forgery's is) before it is refused,
//! whether or not the doctor's budget then admits it, so that the time taken says nothing about
//! the budget. The answer stays the head's refusal.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::Method;

use super::head::{Head, claim_of};
use super::respond::Refusal;
use super::settings::{Settings, Tokens};
use super::upgrade::{self, RequestKind};
use crate::capture::ReceivedRequestLine;
use crate::observe::doctor::Case;
use crate::rejection::Rejection;
use crate::request_info::RequestHead;
use crate::signature::SignatureVersion;
use crate::tenants::Tenant;

/// Whether the doctor examines refusals for this reason made from the head.
pub(crate) fn explained_by_configuration(rejection: Rejection) -> bool {
    matches!(
        rejection,
        Rejection::UntrustedHost
            | Rejection::UnknownOrigin
            | Rejection::SignatureVersionNotAccepted
    )
}

/// Shows a head refusal to the doctor now when its signature covers no body (a GET, a stream
/// upgrade, a V2 signature); returns `true` when the body must be read first (a V3 POST).
///
/// Not examined: with tenants (no tenant's tokens are known before the origin is), a V2
/// signature on a stream upgrade (Plivo signs streams with V3: no configuration enables it),
/// and, in report-only mode, a V3 POST (its body goes on to the service unread).
pub(crate) fn head_refusal(
    settings: &Arc<Settings>,
    refusal: &mut Refusal,
    request: &RequestHead<'_>,
    peer: Option<SocketAddr>,
) -> bool {
    let Some((kind, version)) = examinable(settings, refusal.rejection, request) else {
        return false;
    };
    let needs_body = request.method == Method::POST
        && kind == RequestKind::Webhook
        && version == SignatureVersion::V3;
    if needs_body {
        return !settings.report_only;
    }
    refer(settings, None, refusal, kind, request, peer, Bytes::new());
    false
}

/// Shows a head refusal whose body was read to the doctor (a body that could not be read
/// whole is not examined: its signature cannot be checked).
pub(crate) fn after_body(
    settings: &Arc<Settings>,
    refusal: &mut Refusal,
    request: &RequestHead<'_>,
    peer: Option<SocketAddr>,
    body: Result<&Bytes, Rejection>,
) {
    // Only a webhook's body is ever read for the doctor.
    if let Ok(body) = body {
        refer(
            settings,
            None,
            refusal,
            RequestKind::Webhook,
            request,
            peer,
            body.clone(),
        );
    }
}

/// Shows a signature mismatch to the doctor, with the tokens it was verified with.
pub(crate) fn mismatch(
    settings: &Arc<Settings>,
    head: &Head,
    refusal: &mut Refusal,
    request: &RequestHead<'_>,
    body: &Bytes,
) {
    let tenant = head.tenant.known_ref();
    refer(
        settings,
        tenant,
        refusal,
        head.kind,
        request,
        head.peer,
        body.clone(),
    );
}

/// The request's kind and signature version when the doctor would examine a head refusal for
/// `rejection`.
fn examinable(
    settings: &Settings,
    rejection: Rejection,
    request: &RequestHead<'_>,
) -> Option<(RequestKind, SignatureVersion)> {
    // Whether the body is read depends on the configuration only, never on the log filter
    // or the budget (`Doctor::refer` checks those).
    settings.doctor.as_ref()?;
    if !explained_by_configuration(rejection) || !matches!(settings.tokens, Tokens::Static(_)) {
        return None;
    }
    let kind = upgrade::classify(request.method, request.version, request.headers).ok()?;
    let stream_v2 =
        kind == RequestKind::StreamUpgrade && rejection == Rejection::SignatureVersionNotAccepted;
    let version = claim_of(request.headers)?.version;
    (!stream_v2).then_some((kind, version))
}

/// The target as captured in front of the layer, when its path or query differs from the one
/// the layer verified.
fn rewritten_in_front(request: &RequestHead<'_>) -> Option<http::Uri> {
    let line = request.extensions.get::<ReceivedRequestLine>()?;
    line.rewritten_to(request.original_uri()).cloned()
}

/// Gives the refusal an owned copy of what the doctor needs, within its budget (sent once the
/// refusal's line is logged).
fn refer(
    settings: &Arc<Settings>,
    tenant: Option<&Arc<Tenant>>,
    refusal: &mut Refusal,
    kind: RequestKind,
    request: &RequestHead<'_>,
    peer: Option<SocketAddr>,
    body: Bytes,
) {
    let Some(doctor) = &settings.doctor else {
        return;
    };
    let rejection = refusal.rejection;
    let referral = doctor.refer(|| Case {
        settings: settings.clone(),
        tenant: tenant.cloned(),
        rejection,
        kind,
        post: request.method == Method::POST,
        target: request.original_uri().clone(),
        inner_path: request.uri.path().to_owned(),
        received: rewritten_in_front(request),
        headers: request.headers.clone(),
        peer,
        body,
    });
    refusal.referral.set(referral);
}
