//! The events the layer logs, and the counters it calls, for each verdict.

use http::Method;
use tracing::Span;

use super::Metrics;
use crate::pipeline::respond::Refusal;
use crate::rejection::Rejection;
use crate::replay::StoreError;
use crate::signature::StreamUrlForm;
use crate::verified::PlivoVerified;

/// A request verified (and was not a replay).
pub(crate) fn accepted(
    span: &Span,
    metrics: Option<&dyn Metrics>,
    verified: &PlivoVerified,
    body_bytes: usize,
) {
    span.record("verdict", "accepted");
    span.record("version", verified.version().as_str());
    span.record("token", tracing::field::display(verified.token()));
    if let Some(tenant) = verified.tenant() {
        span.record("tenant", tenant);
    }
    span.record("nonce", verified.nonce());
    span.record("url", verified.url());
    tracing::debug!(
        target: "tower_plivo",
        verdict = "accepted",
        version = verified.version().as_str(),
        token = %verified.token(),
        tenant = verified.tenant(),
        nonce = %verified.nonce(),
        url = %verified.url(),
        stream_url_form = verified.stream_url_form().map(StreamUrlForm::as_str),
        body_bytes,
        "Plivo request accepted"
    );
    if let Some(metrics) = metrics {
        metrics.accepted(verified);
    }
}

/// What a rejection's log line says about the request.
pub(crate) struct Rejected<'a> {
    pub(crate) rejection: Rejection,
    pub(crate) method: &'a Method,
    /// The URL verified, once the origin is known (the span has the request target).
    pub(crate) url: Option<&'a str>,
    /// Why, when the reason alone does not say (how to enable V2, which client was refused).
    pub(crate) detail: Option<&'a str>,
    /// Report-only mode: the request goes on.
    pub(crate) reported_only: bool,
}

impl<'a> Rejected<'a> {
    /// The event of a refusal (its reason and detail).
    pub(crate) fn of(
        refusal: &'a Refusal,
        method: &'a Method,
        url: Option<&'a str>,
        reported_only: bool,
    ) -> Self {
        Self {
            rejection: refusal.rejection,
            method,
            url,
            detail: refusal.detail.as_deref(),
            reported_only,
        }
    }
}

/// A request was refused, or would have been in report-only mode.
pub(crate) fn rejected(span: &Span, metrics: Option<&dyn Metrics>, event: Rejected<'_>) {
    let Rejected {
        rejection,
        method,
        url,
        detail,
        reported_only,
    } = event;
    let verdict = if reported_only {
        "rejected (report-only)"
    } else {
        "rejected"
    };
    span.record("verdict", verdict);
    span.record("reason", rejection.code());
    if let Some(url) = url {
        span.record("url", url);
    }
    match rejection {
        // The operator must act (Plivo is being told to retry).
        Rejection::TenantStoreUnavailable => tracing::error!(
            target: "tower_plivo",
            verdict,
            reason = rejection.code(),
            method = %method,
            url,
            detail,
            "Plivo request rejected: the tenant token store cannot answer"
        ),
        Rejection::SignatureMismatch
        | Rejection::UnknownTenant
        | Rejection::UntrustedHost
        | Rejection::UnknownOrigin
        | Rejection::Replayed
        | Rejection::SignatureVersionNotAccepted
        | Rejection::SourceNotAllowed => tracing::warn!(
            target: "tower_plivo",
            verdict,
            reason = rejection.code(),
            method = %method,
            url,
            detail,
            "Plivo request rejected"
        ),
        _ => tracing::info!(
            target: "tower_plivo",
            verdict,
            reason = rejection.code(),
            method = %method,
            url,
            detail,
            "Plivo request rejected"
        ),
    }
    if let Some(metrics) = metrics {
        metrics.rejected(rejection);
    }
}

/// The nonce store could not answer.
pub(crate) fn store_unavailable(verified: &PlivoVerified, error: &StoreError, fail_open: bool) {
    tracing::error!(
        target: "tower_plivo",
        nonce = %verified.nonce(),
        url = %verified.url(),
        error = %error,
        fail_open,
        "nonce store unavailable: {}",
        if fail_open {
            "letting the request through (fail-open)"
        } else {
            "refusing with 503"
        }
    );
}

/// Report-only mode was configured (once, when the layer is built).
pub(crate) fn report_only_configured() {
    tracing::warn!(
        target: "tower_plivo",
        "Plivo signature layer in REPORT-ONLY mode: requests that fail verification are logged and let through"
    );
}

/// An extra stream URL form was opted into (once, when the layer is built).
pub(crate) fn extra_stream_url_form_configured(form: StreamUrlForm) {
    tracing::warn!(
        target: "tower_plivo",
        stream_url_form = form.as_str(),
        "Plivo signature layer also accepts audio streams signed over the {form} URL form, not \
         only the http:// form Plivo signs: an escape hatch; PlivoVerified::stream_url_form says \
         which form each stream matched"
    );
}

/// A request verified by the stream rule was answered: anything but `101 Switching Protocols`
/// means the route is not a WebSocket endpoint, and a handler there ran on a stream's
/// signature (which it can tell from `PlivoVerified::stream_url_form`).
pub(crate) fn stream_answered(status: Option<http::StatusCode>) {
    if status != Some(http::StatusCode::SWITCHING_PROTOCOLS) {
        tracing::warn!(
            target: "tower_plivo",
            status = status.map(|s| s.as_u16()),
            "a request verified as an audio-stream upgrade was not switched to a WebSocket: this \
             route is not a stream endpoint; a handler that is not one should refuse requests \
             whose PlivoVerified::stream_url_form() is Some"
        );
    }
}
