//! The exits: where a finished verdict is reported, once, by every host alike (the tower
//! future, the guard's calls). They read the verdict and never change it: the log line, the
//! span's fields, the counters, and the signature doctor (its line after the refusal's).

use std::sync::Arc;

#[cfg(feature = "diagnosis")]
use http::Method;
use tracing::Span;

use super::Observers;
#[cfg(feature = "diagnosis")]
use super::doctor::{Case, Referral};
use super::events::{self, Rejected};
use super::span::record_verify_time;
#[cfg(feature = "diagnosis")]
use crate::capture::ReceivedRequestLine;
use crate::pipeline::settings::Settings;
use crate::pipeline::verdict::{Passed, Refused, VerifyTime};
use crate::request_info::RequestHead;

/// A request passed: the store's failure when it goes on unprotected, then its line, the
/// span's fields and the counters.
pub(crate) fn passed(span: &Span, observers: &Observers, passed: &Passed, body_bytes: usize) {
    if let Some(time) = passed.verify_time {
        verify_time(span, time);
    }
    if let Some(error) = &passed.unprotected {
        events::store_unavailable_fail_open(&passed.verified, error);
    }
    events::accepted(
        span,
        observers.metrics.as_deref(),
        &passed.verified,
        body_bytes,
    );
}

/// A request refused (`reported_only`: in report-only mode, going on): its line, the span's
/// fields and the counters, then the doctor's examination when the verdict carries one and the
/// budget allows.
pub(crate) fn refused(
    span: &Span,
    settings: &Arc<Settings>,
    observers: &Observers,
    refused: &Refused,
    request: &RequestHead<'_>,
    reported_only: bool,
) {
    if let Some(time) = refused.verify_time {
        verify_time(span, time);
    }
    #[cfg(feature = "diagnosis")]
    let referral = refer(settings, observers, refused, request);
    let event = Rejected {
        refusal: &refused.refusal,
        request: Some(request),
        peer: request.peer_addr(),
        url: refused.url.as_deref(),
        reported_only,
    };
    events::rejected(span, settings, observers.metrics.as_deref(), event);
    #[cfg(feature = "diagnosis")]
    if let Some(referral) = referral {
        referral.send();
    }
}

/// The refusal's case for the doctor, when the verdict carries an examination and the budget
/// allows (sent after the refusal's line, so the doctor's line comes after it).
#[cfg(feature = "diagnosis")]
fn refer(
    settings: &Arc<Settings>,
    observers: &Observers,
    refused: &Refused,
    request: &RequestHead<'_>,
) -> Option<Referral> {
    let examination = refused.examination.as_ref()?;
    observers.doctor.as_ref()?.refer(|| Case {
        settings: settings.clone(),
        tenant: examination.tenant.clone(),
        rejection: refused.refusal.rejection,
        kind: examination.kind,
        post: request.method == Method::POST,
        target: request.original_uri().clone(),
        inner_path: request.uri.path().to_owned(),
        received: rewritten_in_front(request),
        headers: request.headers.clone(),
        peer: request.peer_addr(),
        body: examination.body.clone(),
    })
}

/// The signature check's time, in the span (and, with the `metrics` feature, the facade).
fn verify_time(span: &Span, time: VerifyTime) {
    record_verify_time(span, time.elapsed, time.body_bytes);
    #[cfg(feature = "metrics")]
    super::facade::verify_time(time.version, time.elapsed);
}

/// The request line as the outermost capture layer received it, when a layer in between
/// rewrote it.
#[cfg(feature = "diagnosis")]
fn rewritten_in_front(request: &RequestHead<'_>) -> Option<http::Uri> {
    let line = request.extensions.get::<ReceivedRequestLine>()?;
    line.rewritten_to(request.original_uri()).cloned()
}
