//! [`Metrics`]: counters a user exports.

use crate::rejection::Rejection;
use crate::verified::PlivoVerified;

/// Counters for verdicts, for export to Prometheus or any metrics system. Every method has an
/// empty default, so implement only what you count. Called once per guarded request (also in
/// report-only mode), on the request's task: keep them cheap (atomics, not I/O).
///
/// With the crate's `metrics` feature the layer also reports every verdict through the
/// [`metrics`](https://docs.rs/metrics) facade (`plivo_webhook_requests_total` by verdict and
/// reason, `plivo_webhook_verify_duration_seconds` by signature version), whether or not a
/// `Metrics` is set: for Prometheus or another `metrics` exporter, that needs no code.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use tower_plivo::{Metrics, PlivoSignatureLayer, PlivoVerified, Rejection, UrlPolicy};
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
///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
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
