//! Every verdict, reported through the [`metrics`] facade (the `metrics` cargo feature), so any
//! exporter (Prometheus, StatsD, OpenTelemetry, ...) shows it without code of the user's.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `plivo_webhook_requests_total` | counter | `verdict`: `accepted`, `rejected`, or `reported` (report-only mode: would have been rejected, let through); `reason`: the [`Rejection::code`] (`signature_mismatch`, `missing_signature`, ...), `none` when accepted |
//! | `plivo_webhook_verify_duration_seconds` | histogram | `version`: the signature version checked (`v3`, `v2`) |
//!
//! Every series of a metric has the same labels, and every label value is one of a fixed few
//! (never a URL, a nonce or a tenant), so the number of series is bounded. The histogram times
//! the computing and comparing of signatures only, not the reading of the body, and is
//! recorded for each request that got that far, whatever its verdict.
//!
//! The layer reports here whenever the feature is on, besides calling any
//! [`Metrics`](crate::Metrics) it was given; without an installed recorder the calls do
//! nothing. The descriptions (an exporter's `HELP` text) are sent to the recorder at the first
//! verdict, so install it before serving.

use std::sync::Once;
use std::time::Duration;

use metrics::{Key, Label, Level, Metadata, Unit};

use crate::rejection::Rejection;
use crate::signature::SignatureVersion;

const REQUESTS: &str = "plivo_webhook_requests_total";
const VERIFY_DURATION: &str = "plivo_webhook_verify_duration_seconds";

static METADATA: Metadata<'static> =
    Metadata::new("tower_plivo", Level::INFO, Some(module_path!()));

/// A request verified.
pub(crate) fn accepted() {
    static LABELS: [Label; 2] = [
        Label::from_static_parts("verdict", "accepted"),
        Label::from_static_parts("reason", "none"),
    ];
    count(&LABELS);
}

/// A request refused, or let through in report-only mode (`reported_only`).
pub(crate) fn rejected(rejection: Rejection, reported_only: bool) {
    count(rejection_labels(rejection, reported_only));
}

/// Time spent computing and comparing the signatures of a request of this version.
pub(crate) fn verify_time(version: SignatureVersion, elapsed: Duration) {
    static V3: [Label; 1] = [Label::from_static_parts("version", "v3")];
    static V2: [Label; 1] = [Label::from_static_parts("version", "v2")];
    let labels: &'static [Label] = match version {
        SignatureVersion::V3 => &V3,
        SignatureVersion::V2 => &V2,
    };
    let key = Key::from_static_parts(VERIFY_DURATION, labels);
    metrics::with_recorder(|recorder| recorder.register_histogram(&key, &METADATA))
        .record(elapsed.as_secs_f64());
}

/// Increments the requests counter of these labels. The keys are built from static labels,
/// so that counting allocates nothing (the `counter!` macro collects runtime label values
/// into a `Vec` on each call).
fn count(labels: &'static [Label]) {
    describe();
    let key = Key::from_static_parts(REQUESTS, labels);
    metrics::with_recorder(|recorder| recorder.register_counter(&key, &METADATA)).increment(1);
}

/// Sends the descriptions once.
fn describe() {
    static DESCRIBED: Once = Once::new();
    DESCRIBED.call_once(|| {
        metrics::describe_counter!(
            REQUESTS,
            Unit::Count,
            "Requests the Plivo signature layer judged, by verdict (accepted, rejected, reported \
             in report-only mode) and reason (the rejection code, none when accepted)."
        );
        metrics::describe_histogram!(
            VERIFY_DURATION,
            Unit::Seconds,
            "Time the Plivo signature layer spent computing and comparing signatures, by \
             signature version (the body read not included)."
        );
    });
}

/// Defines `rejection_labels` with one pair of static label sets per reason, from the list of
/// variants (each label the variant's own [`Rejection::code`], evaluated at compile time):
/// exhaustive over `Rejection`, so a new variant fails to compile until it is listed.
macro_rules! rejection_labels {
    ($($variant:ident,)*) => {
        fn rejection_labels(rejection: Rejection, reported_only: bool) -> &'static [Label] {
            match rejection {
                $(Rejection::$variant => {
                    static REJECTED: [Label; 2] = [
                        Label::from_static_parts("verdict", "rejected"),
                        Label::from_static_parts("reason", Rejection::$variant.code()),
                    ];
                    static REPORTED: [Label; 2] = [
                        Label::from_static_parts("verdict", "reported"),
                        Label::from_static_parts("reason", Rejection::$variant.code()),
                    ];
                    if reported_only { &REPORTED } else { &REJECTED }
                })*
            }
        }

        #[cfg(test)]
        const EVERY_REJECTION: &[Rejection] = &[$(Rejection::$variant),*];
    };
}

rejection_labels! {
    MethodNotAllowed,
    MissingSignature,
    MissingNonce,
    InvalidNonce,
    ConflictingHeaders,
    UnsupportedBody,
    UnsupportedUpgrade,
    SignatureMismatch,
    UnknownOrigin,
    UntrustedHost,
    BodyTooLarge,
    BodyReadFailed,
    BodyTimeout,
    Replayed,
    ReplayStoreUnavailable,
    SignatureVersionNotAccepted,
    SourceNotAllowed,
    UnknownTenant,
    TenantStoreUnavailable,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_label_is_its_code() {
        for &rejection in EVERY_REJECTION {
            for (reported_only, verdict) in [(false, "rejected"), (true, "reported")] {
                let labels: Vec<(&str, &str)> = rejection_labels(rejection, reported_only)
                    .iter()
                    .map(|label| (label.key(), label.value()))
                    .collect();
                assert_eq!(
                    labels,
                    [("verdict", verdict), ("reason", rejection.code())],
                    "{rejection:?}"
                );
            }
        }
    }
}
