//! The span of one guarded request.

use std::time::Duration;

use http::Method;
use tracing::Span;
use tracing::field::Empty;

/// The span of one guarded request. Its fields are filled in as they become known:
/// `method`, `target` (path and query as received), `url` (the URL verified, once known),
/// `version`, `token` (`account:N` or `main:N`, never the token), `tenant` (with tenants),
/// `nonce`, `verdict`,
/// `reason`, `body_bytes` and `verify_ns` (time spent computing and comparing signatures).
pub(crate) fn request_span(method: &Method, target: &http::Uri) -> Span {
    // DEBUG: a subscriber at INFO does not pay for formatting ten fields per request.
    tracing::debug_span!(
        target: "tower_plivo",
        "plivo_webhook",
        method = %method,
        target = %target,
        url = Empty,
        version = Empty,
        token = Empty,
        tenant = Empty,
        nonce = Empty,
        verdict = Empty,
        reason = Empty,
        body_bytes = Empty,
        verify_ns = Empty,
    )
}

pub(crate) fn record_verify_time(span: &Span, elapsed: Duration, body_bytes: usize) {
    span.record("verify_ns", elapsed.as_nanos() as u64);
    span.record("body_bytes", body_bytes);
}
