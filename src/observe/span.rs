//! The span of one guarded request. Its fields are named after OpenTelemetry's HTTP semantic
//! conventions where one exists (so an OTel pipeline reads them without mapping), and under
//! `plivo.` for what only this layer knows.

use std::net::SocketAddr;
use std::time::Duration;

use http::{Method, StatusCode};
use tracing::Span;
use tracing::field::Empty;

/// The span of one guarded request, `plivo_webhook`. Its fields are filled in as they become
/// known:
///
/// | field | OpenTelemetry | what |
/// |---|---|---|
/// | `http.request.method` | yes | the method |
/// | `url.path`, `url.query` | yes | the path and query as received (`url.query` when there is one) |
/// | `url.full` | yes | the URL verified, once known |
/// | `network.peer.address`, `network.peer.port` | yes | the TCP peer, when known |
/// | `http.request.body.size` | yes | the body's bytes, once read |
/// | `http.response.status_code` | yes | the status answered (the layer's, or the service's) |
/// | `plivo.version` | | the signature version (`v3`, `v2`) |
/// | `plivo.token` | | `account:N` or `main:N`: which token verified (never the token) |
/// | `plivo.tenant` | | with tenants, whose |
/// | `plivo.nonce` | | the signature's nonce |
/// | `plivo.verdict`, `plivo.reason` | | the verdict and, refused, its reason code |
/// | `plivo.verify_ns` | | nanoseconds spent computing and comparing signatures |
pub(crate) fn request_span(method: &Method, target: &http::Uri, peer: Option<SocketAddr>) -> Span {
    // DEBUG: a subscriber at INFO does not pay for formatting fifteen fields per request.
    tracing::debug_span!(
        target: "tower_plivo",
        "plivo_webhook",
        http.request.method = %method,
        url.path = target.path(),
        url.query = target.query(),
        url.full = Empty,
        network.peer.address = peer.map(|peer| tracing::field::display(peer.ip())),
        network.peer.port = peer.map(|peer| peer.port()),
        http.request.body.size = Empty,
        http.response.status_code = Empty,
        plivo.version = Empty,
        plivo.token = Empty,
        plivo.tenant = Empty,
        plivo.nonce = Empty,
        plivo.verdict = Empty,
        plivo.reason = Empty,
        plivo.verify_ns = Empty,
    )
}

/// Whether anyone will read a verification's duration: the request's span, when a subscriber
/// enabled it, or the metrics recorder (with the `metrics` feature, which cannot tell whether a
/// recorder is installed). Otherwise the two clock reads are skipped: they measured as a few
/// percent of a layered request.
pub(crate) fn wants_verify_time(span: &Span) -> bool {
    cfg!(feature = "metrics") || !span.is_disabled()
}

pub(crate) fn record_verify_time(span: &Span, elapsed: Duration, body_bytes: usize) {
    if !span.is_disabled() {
        span.record("plivo.verify_ns", elapsed.as_nanos() as u64);
        span.record("http.request.body.size", body_bytes);
    }
}

/// The status of the response, whoever wrote it. (A disabled span is skipped: recording into
/// it would still look the field up by name.)
pub(crate) fn record_status(span: &Span, status: StatusCode) {
    if !span.is_disabled() {
        span.record("http.response.status_code", status.as_u16());
    }
}
