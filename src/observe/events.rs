//! The events the layer logs, and the counters it calls, for each verdict.

use std::net::SocketAddr;

use tracing::{Level, Span};

use super::Metrics;
#[cfg(feature = "diagnosis")]
use crate::capture::ReceivedRequestLine;
use crate::pipeline::respond::Refusal;
use crate::pipeline::settings::Settings;
use crate::rejection::Rejection;
use crate::replay::StoreError;
use crate::request_info::RequestHead;
use crate::signature::{SHOWN_NAMES, StreamUrlForm};
#[cfg(feature = "diagnosis")]
use crate::url_policy::OriginReport;
use crate::verified::PlivoVerified;

/// A request verified (and was not a replay). The span's fields are recorded after the event,
/// so that the event's line shows each field once.
pub(crate) fn accepted(
    span: &Span,
    metrics: Option<&dyn Metrics>,
    verified: &PlivoVerified,
    body_bytes: usize,
) {
    // What the span already carries appears in the event only when there is no span to show.
    let spanless = span.is_disabled();
    tracing::debug!(
        target: "tower_plivo",
        verdict = "accepted",
        version = verified.version().as_str(),
        token = %verified.token(),
        tenant = verified.tenant(),
        nonce = %verified.nonce(),
        url = %verified.url(),
        stream_url_form = verified.stream_url_form().map(StreamUrlForm::as_str),
        body_bytes = spanless.then_some(body_bytes),
        "Plivo request accepted"
    );
    // A disabled span records nothing, but each `record` would still look its field up by
    // name: skipped, as a tenth of the layer's own work when no subscriber listens.
    if !spanless {
        span.record("plivo.verdict", "accepted");
        span.record("plivo.version", verified.version().as_str());
        span.record("plivo.token", tracing::field::display(verified.token()));
        if let Some(tenant) = verified.tenant() {
            span.record("plivo.tenant", tenant);
        }
        span.record("plivo.nonce", verified.nonce());
        span.record("url.full", verified.url());
    }
    if let Some(metrics) = metrics {
        metrics.accepted(verified);
    }
    #[cfg(feature = "metrics")]
    super::facade::accepted();
}

/// What a refusal's log line is made from.
pub(crate) struct Rejected<'a> {
    pub(crate) refusal: &'a Refusal,
    /// The request's head (`None`: the caller kept it, as an upgrade check's caller does once
    /// the replay store answers).
    pub(crate) request: Option<&'a RequestHead<'a>>,
    /// The TCP peer, when known.
    pub(crate) peer: Option<SocketAddr>,
    /// The URL verified, once the origin is known.
    pub(crate) url: Option<&'a str>,
    /// Report-only mode: the request goes on.
    pub(crate) reported_only: bool,
}

/// The fields of a refusal's line: each once (what the span shows is left out when it is
/// shown), enough to fix a configuration without another log level: the reason and why, the
/// URL verified, the TCP peer and whether it is trusted, the `Host` and each forwarding header
/// with whether it was believed, and the signature headers seen. Never a token.
struct Line {
    verdict: &'static str,
    reason: &'static str,
    detail: Option<String>,
    method: Option<String>,
    target: Option<String>,
    /// The request line as the outermost `CaptureReceivedLayer` received it, when a layer in
    /// between changed it.
    received: Option<String>,
    url: Option<String>,
    peer: Option<String>,
    host: Option<String>,
    forwarded: Option<String>,
    signature: Option<String>,
    message: &'static str,
}

impl Line {
    fn new(span: &Span, settings: &Settings, event: &Rejected<'_>) -> Self {
        let Rejected {
            refusal,
            request,
            peer,
            url,
            reported_only,
        } = *event;
        let rejection = refusal.rejection;
        let spanless = span.is_disabled();
        let origin = request
            .map(|request| origin_fields(settings, request, peer, shows_origin(rejection)))
            .unwrap_or_default();
        let clip = |text: String| clipped(text, FIELD_BYTES);
        Self {
            verdict: if reported_only {
                "rejected (report-only)"
            } else {
                "rejected"
            },
            reason: rejection.code(),
            detail: refusal.detail.clone().or(origin.problem).map(clip),
            method: request.filter(|_| spanless).map(|r| r.method.to_string()),
            target: request
                .filter(|_| spanless)
                .map(|r| clip(r.original_uri().to_string())),
            received: request.and_then(received_line).map(clip),
            url: url.map(|url| clip(url.to_owned())),
            peer: origin.peer,
            host: origin.host.map(clip),
            forwarded: origin.forwarded.map(clip),
            signature: request.map(|r| signature_headers_seen(r.headers)),
            message: if reported_only {
                "Plivo request rejected (report-only: let through)"
            } else {
                "Plivo request rejected"
            },
        }
    }
}

/// What a refusal's line says of how the origin came about: the origin report's problem, peer
/// (with its trust), `Host` and forwarding headers (the last three only for the reasons that
/// concern the origin).
#[derive(Default)]
struct OriginFields {
    problem: Option<String>,
    peer: Option<String>,
    host: Option<String>,
    forwarded: Option<String>,
}

#[cfg(feature = "diagnosis")]
fn origin_fields(
    settings: &Settings,
    request: &RequestHead<'_>,
    peer: Option<SocketAddr>,
    origin_related: bool,
) -> OriginFields {
    let report = OriginReport::new(
        &settings.url_policy,
        settings.proxies.as_ref(),
        settings.source_networks.is_some(),
        request.original_uri(),
        request.headers,
        peer,
    );
    let peer = Some(report.peer.to_string());
    if !origin_related {
        return OriginFields {
            peer,
            ..OriginFields::default()
        };
    }
    OriginFields {
        forwarded: report.forwarding_field(),
        problem: report.problem,
        peer,
        host: report.host,
    }
}

/// Without the `diagnosis` feature: the peer only, as the connection gave it.
#[cfg(not(feature = "diagnosis"))]
fn origin_fields(
    _: &Settings,
    _: &RequestHead<'_>,
    peer: Option<SocketAddr>,
    _: bool,
) -> OriginFields {
    OriginFields {
        peer: Some(peer.map_or_else(|| "unknown".to_owned(), |peer| peer.to_string())),
        ..OriginFields::default()
    }
}

/// The request line as the outermost capture layer received it, when a layer in between
/// changed it.
#[cfg(feature = "diagnosis")]
fn received_line(request: &RequestHead<'_>) -> Option<String> {
    request
        .extensions
        .get::<ReceivedRequestLine>()?
        .changed_from(request.method, request.original_uri())
}

#[cfg(not(feature = "diagnosis"))]
fn received_line(_: &RequestHead<'_>) -> Option<String> {
    None
}

/// Bytes of a field a refusal's line shows at most: a request cannot make its line huge (with
/// long headers, say); what is cut says how much.
const FIELD_BYTES: usize = 512;

/// `text`, cut to at most `limit` bytes (at a character boundary) with how much was cut.
pub(crate) fn clipped(mut text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("…(+{cut} bytes)"));
    text
}

/// The refusals whose line describes how the origin came about.
fn shows_origin(rejection: Rejection) -> bool {
    matches!(
        rejection,
        Rejection::SignatureMismatch
            | Rejection::UntrustedHost
            | Rejection::UnknownOrigin
            | Rejection::UnknownTenant
            | Rejection::SourceNotAllowed
            | Rejection::SignatureVersionNotAccepted
    )
}

/// The signature headers a request carries, by name (`none` when it has none).
fn signature_headers_seen(headers: &http::HeaderMap) -> String {
    let seen: Vec<&str> = SHOWN_NAMES
        .iter()
        .filter(|(name, _)| headers.contains_key(*name))
        .map(|(_, shown)| *shown)
        .collect();
    if seen.is_empty() {
        "none".to_owned()
    } else {
        seen.join(", ")
    }
}

/// Logs one refusal at `$level` (its fields computed only when the line is wanted).
macro_rules! refusal_line {
    ($level:expr, $span:expr, $settings:expr, $event:expr) => {
        if tracing::enabled!(target: "tower_plivo", $level) {
            let line = Line::new($span, $settings, $event);
            tracing::event!(
                target: "tower_plivo",
                $level,
                verdict = line.verdict,
                reason = line.reason,
                detail = line.detail,
                method = line.method,
                target = line.target,
                received = line.received,
                url = line.url,
                peer = line.peer,
                host = line.host,
                forwarded = line.forwarded,
                signature = line.signature,
                "{}",
                line.message
            );
        }
    };
}

/// A request was refused, or would have been in report-only mode: its line, then the span's
/// fields and the counters.
pub(crate) fn rejected(
    span: &Span,
    settings: &Settings,
    metrics: Option<&dyn Metrics>,
    event: Rejected<'_>,
) {
    let rejection = event.refusal.rejection;
    // In the span, wherever the refusal is made (a head refusal is logged before the future
    // first enters it).
    let _entered = span.enter();
    match rejection {
        // The operator must act (Plivo is being told to retry).
        Rejection::TenantStoreUnavailable | Rejection::ReplayStoreUnavailable => {
            refusal_line!(Level::ERROR, span, settings, &event)
        }
        Rejection::SignatureMismatch
        | Rejection::UnknownTenant
        | Rejection::UntrustedHost
        | Rejection::UnknownOrigin
        | Rejection::Replayed
        | Rejection::SignatureVersionNotAccepted
        | Rejection::SourceNotAllowed => refusal_line!(Level::WARN, span, settings, &event),
        _ => refusal_line!(Level::INFO, span, settings, &event),
    }
    let verdict = if event.reported_only {
        "rejected (report-only)"
    } else {
        "rejected"
    };
    if !span.is_disabled() {
        span.record("plivo.verdict", verdict);
        span.record("plivo.reason", rejection.code());
        if let Some(url) = event.url {
            span.record("url.full", url);
        }
    }
    if let Some(metrics) = metrics {
        metrics.rejected(rejection);
    }
    #[cfg(feature = "metrics")]
    super::facade::rejected(rejection, event.reported_only);
}

/// The nonce store could not answer, and the layer fails open: the request goes on unprotected.
/// (Failing closed, the refusal's own line says why.)
pub(crate) fn store_unavailable_fail_open(verified: &PlivoVerified, error: &StoreError) {
    tracing::error!(
        target: "tower_plivo",
        nonce = %verified.nonce(),
        url = %verified.url(),
        error = %error,
        "nonce store unavailable: letting the request through unprotected (fail-open)"
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
