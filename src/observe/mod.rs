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

pub(crate) mod doctor;
pub(crate) mod events;
#[cfg(feature = "metrics")]
pub(crate) mod facade;
mod metrics;
pub(crate) mod span;

pub use metrics::Metrics;
