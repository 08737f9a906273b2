//! Which refusals are kept for the signature doctor, and what of them: a mismatch (from the
//! verify stage), and a refusal made from the head that a configuration mistake could explain
//! (an untrusted host, an unknown origin, a V2 signature where only V3 is accepted). These are
//! decisions only: the refusal carries an [`Examination`] in its verdict, and the doctor (in
//! `observe/`) reads it at the exit, after the refusal's own line, within its budget.
//!
//! A POST refused from its head under V3 carries a signature over its body: with diagnosis on,
//! its body is read (within the body limit and timeout, as a forgery's is) before it is refused,
//! whether or not the doctor's budget then admits it, so that the time taken says nothing about
//! the budget. The answer stays the head's refusal.

use std::sync::Arc;

use bytes::Bytes;
use http::Method;

use super::head::Head;
use super::settings::{Settings, Tokens};
use super::upgrade::{self, RequestKind};
use crate::rejection::Rejection;
use crate::request_info::RequestHead;
use crate::signature::SignatureVersion;
use crate::signature::claim_of;
use crate::tenants::Tenant;

/// What the doctor is given of a refused request, besides its head: its kind, its tenant when
/// one was resolved, and its body (empty when the signature covers none).
#[derive(Debug)]
#[cfg_attr(not(feature = "diagnosis"), allow(dead_code))] // read by the doctor only
pub(crate) struct Examination {
    pub(crate) kind: RequestKind,
    pub(crate) tenant: Option<Arc<Tenant>>,
    pub(crate) body: Bytes,
}

/// Whether the doctor examines refusals for this reason made from the head.
pub(crate) fn explained_by_configuration(rejection: Rejection) -> bool {
    matches!(
        rejection,
        Rejection::UntrustedHost
            | Rejection::UnknownOrigin
            | Rejection::SignatureVersionNotAccepted
    )
}

/// What becomes of a head refusal for the doctor.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AtHead {
    /// Not examined.
    No,
    /// Examined as it is: its signature covers no body (a GET, a stream upgrade, V2).
    Now(RequestKind),
    /// Examined once its body is read: a V3 POST's signature covers it.
    AfterBody,
}

/// Whether a refusal made from the head is examined, and whether its body is read first (not
/// in report-only mode, where the request goes on unread).
pub(crate) fn at_head(
    settings: &Settings,
    rejection: Rejection,
    request: &RequestHead<'_>,
) -> AtHead {
    let Some((kind, version)) = examinable(settings, rejection, request) else {
        return AtHead::No;
    };
    let needs_body = request.method == Method::POST
        && kind == RequestKind::Webhook
        && version == SignatureVersion::V3;
    match (needs_body, settings.report_only) {
        (false, _) => AtHead::Now(kind),
        (true, false) => AtHead::AfterBody,
        (true, true) => AtHead::No,
    }
}

/// A mismatch, examined with its body and tenant, when diagnosis is on.
pub(crate) fn mismatch(settings: &Settings, head: &Head, body: &Bytes) -> Option<Examination> {
    settings.diagnose.then(|| Examination {
        kind: head.kind,
        tenant: head.tenant.known_ref().cloned(),
        body: body.clone(),
    })
}

/// The request kind and signature version of a head refusal the doctor can examine: diagnosis
/// on, a reason a configuration could explain, the layer's own tokens (a tenant's are not
/// known before its lookup), readable signature headers, and not a V2 stream (which no
/// configuration makes valid).
fn examinable(
    settings: &Settings,
    rejection: Rejection,
    request: &RequestHead<'_>,
) -> Option<(RequestKind, SignatureVersion)> {
    if !settings.diagnose
        || !explained_by_configuration(rejection)
        || !matches!(settings.tokens, Tokens::Static(_))
    {
        return None;
    }
    let kind = upgrade::classify(request.method, request.version, request.headers).ok()?;
    let stream_v2 =
        kind == RequestKind::StreamUpgrade && rejection == Rejection::SignatureVersionNotAccepted;
    let version = claim_of(request.headers)?.version;
    (!stream_v2).then_some((kind, version))
}
