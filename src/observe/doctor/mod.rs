//! The signature doctor: when a signature does not match, try the URLs and tokens a
//! misconfiguration would have produced, and log which one Plivo actually signed, with the
//! configuration change that fixes it.
//!
//! The variants are used only for the log line, never to accept a request. The doctor runs only
//! on a [`SignatureMismatch`](crate::Rejection::SignatureMismatch), and its cost is bounded
//! whatever the traffic (a flood of forgeries must not become a flood of work or of log lines):
//! per layer it examines at most [`RUNS_PER_MINUTE`] mismatches a minute, in bursts of at most
//! [`BURST`], each with at most 18 variants, and logs at most [`LINES_PER_RUN`] lines for each.

mod variant;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use http::header::CONTENT_TYPE;

use crate::pipeline::upgrade::RequestKind;
use crate::request_info::RequestHead;
use crate::signature::{Claim, SignedRequest, SignedUrl, Verifier};
use crate::url_policy::Origin;
use variant::{Reading, Variant, candidates};

/// A request whose signature did not match, as the doctor looks at it.
pub(crate) struct Mismatch<'a> {
    /// The origin it was verified against.
    pub(crate) origin: &'a Origin,
    /// A webhook or a stream upgrade.
    pub(crate) kind: RequestKind,
    /// What its signature headers claim.
    pub(crate) claim: Claim<'a>,
    /// A POST (its body is a form), or a GET.
    pub(crate) post: bool,
    pub(crate) request: &'a RequestHead<'a>,
    pub(crate) body: &'a [u8],
    /// The URL verified.
    pub(crate) url: &'a str,
}

/// Mismatches examined per minute at most, on average.
pub(crate) const RUNS_PER_MINUTE: u64 = 10;
/// Mismatches examined back to back at most.
pub(crate) const BURST: u64 = 5;
/// Log lines per mismatch examined at most.
pub(crate) const LINES_PER_RUN: usize = 3;

/// The doctor of one layer: the variants, and the budget that bounds them.
pub(crate) struct Doctor {
    epoch: Instant,
    /// The budget, as a generic cell rate: the theoretical time of the next run, in
    /// nanoseconds since `epoch`.
    next_run_ns: AtomicU64,
    /// Mismatches not examined since the last run.
    skipped: AtomicU64,
}

impl std::fmt::Debug for Doctor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doctor").finish_non_exhaustive()
    }
}

const INTERVAL_NS: u64 = 60_000_000_000 / RUNS_PER_MINUTE;

/// Whether a run is allowed at `now` when the budget's next theoretical run is at `next`; if
/// so, the new next run. A run is allowed while the budget is at most `BURST - 1` intervals
/// ahead of `now`.
fn admit(next: u64, now: u64) -> Option<u64> {
    let next = next.max(now);
    (next - now <= (BURST - 1) * INTERVAL_NS).then_some(next + INTERVAL_NS)
}

impl Doctor {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            next_run_ns: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
        }
    }

    /// Takes one run from the budget, if there is one left.
    fn take_run(&self) -> bool {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.next_run_ns
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |next| {
                admit(next, now)
            })
            .is_ok()
    }

    /// Examines a mismatch when the budget allows, and logs what it finds.
    pub(crate) fn examine(&self, verifier: &Verifier, mismatch: &Mismatch<'_>) {
        if !self.take_run() {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let skipped = self.skipped.swap(0, Ordering::Relaxed);
        let findings = diagnose(verifier, mismatch);
        let unchecked_main_account_header =
            mismatch.claim.main_account.is_some() && !verifier.has_main_account_token();
        report(
            &findings,
            skipped,
            unchecked_main_account_header,
            mismatch.url,
        );
    }
}

/// One plausible variant that matches.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) variant: Variant,
    /// The URL that the signature does match.
    pub(crate) matched_url: String,
}

/// Tries the variants and returns those that match, at most one per variant and URL.
pub(crate) fn diagnose(verifier: &Verifier, mismatch: &Mismatch<'_>) -> Vec<Finding> {
    let Mismatch {
        origin,
        kind,
        claim: sent,
        post,
        request,
        body,
        ..
    } = *mismatch;
    let content_type = request.headers.get(CONTENT_TYPE).map(|v| v.as_bytes());
    let peer = request.peer_addr().map(|p| p.ip());
    let mut findings: Vec<Finding> = Vec::new();
    for candidate in candidates(origin, request, kind) {
        let claim = match candidate.reading {
            Reading::AsSent => sent,
            Reading::SwappedFamilies => Claim {
                account: sent.main_account,
                main_account: sent.account,
                ..sent
            },
            Reading::OtherVersion => Claim {
                version: sent.version.other(),
                ..sent
            },
        };
        let url = SignedUrl::from_parts(
            candidate.signed_scheme,
            &candidate.authority,
            &candidate.path,
            candidate.query.as_deref(),
        );
        let request = match post {
            false => SignedRequest::get(url),
            true => SignedRequest::post(url, content_type, body),
        };
        let Ok(matched) = verifier.verify_claim(&claim, &request, false) else {
            continue;
        };
        let finding = Finding {
            variant: candidate.variant(matched.token, sent.version, peer),
            matched_url: url.to_string(),
        };
        if !findings.contains(&finding) {
            findings.push(finding);
        }
    }
    findings
}

/// Logs the findings (at most [`LINES_PER_RUN`] lines), or that nothing matched.
fn report(
    findings: &[Finding],
    skipped: u64,
    unchecked_main_account_header: bool,
    verified_url: &str,
) {
    let shown = findings.len().min(LINES_PER_RUN);
    for finding in &findings[..shown] {
        let fix = finding.variant.fix(&finding.matched_url);
        tracing::warn!(
            target: "tower_plivo::doctor",
            variant = finding.variant.name(),
            url_verified = %verified_url,
            matched_url = %finding.matched_url,
            more_findings = findings.len() - shown,
            mismatches_skipped = skipped,
            "signature doctor: the signature matches {} ({}); fix: {fix}",
            finding.matched_url,
            finding.variant.name(),
        );
    }
    if findings.is_empty() {
        tracing::info!(
            target: "tower_plivo::doctor",
            url_verified = %verified_url,
            main_account_header_unchecked = unchecked_main_account_header,
            mismatches_skipped = skipped,
            "signature doctor: no plausible URL or token variant matches; the auth token is wrong (a sub-account's resource is signed with the sub-account's token) or the request is forged{}",
            if unchecked_main_account_header {
                "; an -Ma- header was sent but no main-account token is configured (.main_account_token)"
            } else {
                ""
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_allows_a_burst_then_one_run_per_interval() {
        let mut next = 0;
        let mut runs = 0;
        // A thousand mismatches at the same instant: only the burst is examined.
        for _ in 0..1000 {
            if let Some(after) = admit(next, 0) {
                next = after;
                runs += 1;
            }
        }
        assert_eq!(runs, BURST);
        // One interval later, exactly one more.
        let later = INTERVAL_NS;
        assert!(admit(next, later).is_some());
        let next = admit(next, later).unwrap();
        assert!(admit(next, later).is_none());
    }

    #[test]
    fn over_an_hour_of_constant_flooding_at_most_the_rate_is_examined() {
        let (mut next, mut runs) = (0, 0u64);
        // One mismatch every millisecond for an hour.
        for ms in 0..3_600_000u64 {
            if let Some(after) = admit(next, ms * 1_000_000) {
                next = after;
                runs += 1;
            }
        }
        assert!(runs <= 60 * RUNS_PER_MINUTE + BURST, "{runs}");
        assert!(runs >= 60 * RUNS_PER_MINUTE, "{runs}");
    }

    #[test]
    fn a_shared_doctor_counts_one_budget() {
        let doctor = Doctor::new();
        let runs = (0..100).filter(|_| doctor.take_run()).count() as u64;
        assert_eq!(runs, BURST);
    }
}
