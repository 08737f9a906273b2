//! What the layer tells operators: one span per guarded request, one event per verdict, and
//! counters a user can export. Tokens never appear; nonces and URLs may.
//!
//! | event | level | target |
//! |---|---|---|
//! | request accepted | `DEBUG` | `tower_plivo` |
//! | rejected: `signature_mismatch`, `untrusted_host`, `unknown_origin`, `replayed`, `signature_version_not_accepted`, `source_not_allowed` | `WARN` | `tower_plivo` |
//! | rejected: any other reason | `INFO` | `tower_plivo` |
//! | nonce store unavailable | `ERROR` | `tower_plivo` |
//! | signature doctor finding | `WARN` | `tower_plivo::doctor` |
//! | report-only mode configured | `WARN` | `tower_plivo` (once, when the layer is built) |
//!
//! The per-request span `plivo_webhook` is at `DEBUG`.

use std::time::Duration;

use http::Method;
use tracing::Span;
use tracing::field::Empty;

use crate::rejection::Rejection;
use crate::verified::PlivoVerified;

/// Counters for verdicts, for export to Prometheus or any metrics system. Every method has an
/// empty default, so implement only what you count. Called once per guarded request (also in
/// report-only mode), on the request's task: keep them cheap (atomics, not I/O).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use tower_plivo::{Metrics, PlivoSignatureLayer, PlivoVerified, Rejection};
///
/// #[derive(Default)]
/// struct Counts { accepted: AtomicU64, rejected: AtomicU64 }
///
/// impl Metrics for Counts {
///     fn accepted(&self, _: &PlivoVerified) { self.accepted.fetch_add(1, Ordering::Relaxed); }
///     fn rejected(&self, _: Rejection) { self.rejected.fetch_add(1, Ordering::Relaxed); }
/// }
///
/// let counts = std::sync::Arc::new(Counts::default());
/// let layer = PlivoSignatureLayer::builder()
///     .auth_token("token")
///     .url_policy(tower_plivo::UrlPolicy::public_base("https://hooks.example.com")?)
///     .metrics(counts.clone())
///     .build()?;
/// # Ok::<(), tower_plivo::ConfigError>(())
/// ```
pub trait Metrics: Send + Sync + 'static {
    /// A request verified (and, with replay protection, was not a replay).
    fn accepted(&self, verified: &PlivoVerified) {
        let _ = verified;
    }

    /// A request was refused (or, in report-only mode, would have been).
    fn rejected(&self, rejection: Rejection) {
        let _ = rejection;
    }
}

impl<M: Metrics> Metrics for std::sync::Arc<M> {
    fn accepted(&self, verified: &PlivoVerified) {
        (**self).accepted(verified);
    }

    fn rejected(&self, rejection: Rejection) {
        (**self).rejected(rejection);
    }
}

/// The span of one guarded request. Its fields are filled in as they become known:
/// `method`, `target` (path and query as received), `url` (the URL verified, once known),
/// `version`, `header`,
/// `token` (`account:N` or `main`, never the token), `nonce`, `verdict`, `reason`, `body_bytes`
/// and `verify_ns` (time spent computing and comparing signatures).
pub(crate) fn request_span(method: &Method, target: &http::Uri) -> Span {
    // DEBUG: a subscriber at INFO does not pay for formatting ten fields per request.
    tracing::debug_span!(
        target: "tower_plivo",
        "plivo_webhook",
        method = %method,
        target = %target,
        url = Empty,
        version = Empty,
        header = Empty,
        token = Empty,
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

pub(crate) fn accepted(span: &Span, verified: &PlivoVerified, body_bytes: usize) {
    span.record("verdict", "accepted");
    span.record("version", verified.version.as_str());
    span.record("header", verified.header().as_str());
    span.record("token", tracing::field::display(verified.token));
    span.record("nonce", verified.nonce.as_str());
    span.record("url", verified.url.as_str());
    tracing::debug!(
        target: "tower_plivo",
        verdict = "accepted",
        version = verified.version.as_str(),
        header = verified.header().as_str(),
        token = %verified.token,
        nonce = %verified.nonce,
        url = %verified.url,
        body_bytes,
        "Plivo signature verified"
    );
}

pub(crate) fn rejected(
    span: &Span,
    rejection: Rejection,
    method: &Method,
    url: &str,
    detail: Option<&str>,
    report_only: bool,
) {
    span.record(
        "verdict",
        if report_only {
            "rejected (report-only)"
        } else {
            "rejected"
        },
    );
    span.record("reason", rejection.code());
    span.record("url", url);
    let verdict = if report_only {
        "would reject (report-only)"
    } else {
        "rejected"
    };
    match rejection {
        Rejection::SignatureMismatch
        | Rejection::UntrustedHost
        | Rejection::UnknownOrigin
        | Rejection::Replayed
        | Rejection::SignatureVersionNotAccepted
        | Rejection::SourceNotAllowed => {
            tracing::warn!(
                target: "tower_plivo",
                verdict,
                reason = rejection.code(),
                method = %method,
                url = %url,
                detail,
                "Plivo request rejected"
            )
        }
        _ => tracing::info!(
            target: "tower_plivo",
            verdict,
            reason = rejection.code(),
            method = %method,
            url = %url,
            detail,
            "Plivo request rejected"
        ),
    }
}
