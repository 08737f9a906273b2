//! What the layer tells operators: one span per guarded request, one event per verdict, the
//! signature doctor, counters a user can export, and (feature `metrics`) reports to the `metrics`
//! facade. Tokens never appear; nonces and URLs may.
//!
//! | event | level | target |
//! |---|---|---|
//! | request accepted | `DEBUG` | `tower_plivo` |
//! | rejected: `signature_mismatch`, `untrusted_host`, `unknown_origin`, `replayed`, `signature_version_not_accepted`, `source_not_allowed`, `unknown_tenant` | `WARN` | `tower_plivo` |
//! | rejected: `replay_store_unavailable`, `tenant_store_unavailable` | `ERROR` | `tower_plivo` |
//! | rejected: any other reason | `INFO` | `tower_plivo` |
//! | nonce store unavailable, failing open | `ERROR` | `tower_plivo` |
//! | signature doctor: found (`WARN`), nothing matched (`INFO`) | `WARN` / `INFO` | `tower_plivo::doctor` |
//! | report-only mode configured | `WARN` | `tower_plivo` (once, when the layer is built) |
//!
//! The per-request span `plivo_webhook` is at `DEBUG`.

#[cfg(feature = "diagnosis")]
pub(crate) mod doctor;
pub(crate) mod events;
pub(crate) mod exits;
#[cfg(feature = "metrics")]
pub(crate) mod facade;
mod metrics;
pub(crate) mod span;

pub use metrics::Metrics;

use std::sync::Arc;

/// What reports on verdicts, apart from the policy: read at the exits only, never by a stage.
#[derive(Clone, Default)]
pub(crate) struct Observers {
    /// The signature doctor, when on.
    #[cfg(feature = "diagnosis")]
    pub(crate) doctor: Option<Arc<doctor::Doctor>>,
    /// The user's counters.
    pub(crate) metrics: Option<Arc<dyn Metrics>>,
}

impl std::fmt::Debug for Observers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observers")
            .field("doctor", &self.has_doctor())
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

impl Observers {
    /// Whether the signature doctor is on.
    fn has_doctor(&self) -> bool {
        #[cfg(feature = "diagnosis")]
        return self.doctor.is_some();
        #[cfg(not(feature = "diagnosis"))]
        return false;
    }
}
