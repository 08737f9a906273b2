//! The signature doctor: when a refusal could be a configuration mistake (a signature that
//! does not match, an untrusted host, an unknown origin, a V2 signature where only V3 is
//! accepted), try the URLs and readings a misconfiguration would have produced, and say which one
//! the signature matches, with the change that fixes it: exactly one finding per difference,
//! each with its own fix, and "wrong token or forged" only when nothing matches.
//!
//! The candidates feed the log line only, never a verdict. The doctor's cost is bounded
//! whatever the traffic (a flood of forgeries must not become a flood of work or of log lines):
//! per layer it examines at most [`RUNS_PER_MINUTE`] refusals a minute, in bursts of at most
//! [`BURST`], each with at most [`MAX_CANDIDATES`](candidates::MAX_CANDIDATES) candidates, and logs one line for each.

mod candidates;
mod explain;
mod finding;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use http::header::CONTENT_TYPE;

use crate::pipeline::settings::Settings;
use crate::pipeline::upgrade::RequestKind;
use crate::rejection::Rejection;
use crate::request_info::RequestHead;
use crate::signature::{Claim, SignedRequest, Verifier};
use crate::url_policy::{OriginReport, claimed_by_forwarding};
use candidates::{Reading, candidates};
use explain::{Context, findings};
pub(crate) use finding::Finding;

/// A refused request, as the doctor looks at it.
pub(crate) struct Suspect<'a> {
    pub(crate) rejection: Rejection,
    /// A webhook or a stream upgrade.
    pub(crate) kind: RequestKind,
    /// What its signature headers claim.
    pub(crate) claim: Claim<'a>,
    /// A POST (its body is a form), or a GET.
    pub(crate) post: bool,
    pub(crate) request: &'a RequestHead<'a>,
    /// The TCP peer, when known.
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) body: &'a [u8],
}

/// Refusals examined per minute at most, on average.
pub(crate) const RUNS_PER_MINUTE: u64 = 10;
/// Refusals examined back to back at most.
pub(crate) const BURST: u64 = 5;
/// The doctor of one layer: the variants, and the budget that bounds them.
pub(crate) struct Doctor {
    epoch: Instant,
    /// The budget, as a generic cell rate: the theoretical time of the next run, in
    /// nanoseconds since `epoch`.
    next_run_ns: AtomicU64,
    /// Refusals not examined since the last run.
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
}

/// A run taken from the budget: the refusal it is for will be examined.
#[derive(Debug)]
pub(crate) struct Ticket {
    /// Refusals not examined since the last run (the budget was spent).
    skipped: u64,
}

/// What the doctor made of one refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Examined {
    pub(crate) diagnosis: Diagnosis,
    /// Refusals not examined before this one (the budget was spent).
    pub(crate) skipped: u64,
}

/// The doctor's conclusion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Diagnosis {
    /// The signature matches this URL once these differences are undone.
    Found {
        findings: Vec<Finding>,
        matched_url: String,
    },
    /// No candidate matches.
    NoMatch {
        tried: usize,
        /// An `-Ma-` header was sent and no main-account token is configured.
        main_account_unchecked: bool,
    },
    /// The body could not be read, so the signature could not be checked.
    BodyUnread,
}

impl Doctor {
    /// Takes a run from the budget, if one is left (otherwise the refusal is counted as
    /// skipped). Nothing is examined (and no budget spent) when no subscriber would show the
    /// doctor's line.
    pub(crate) fn admit(&self) -> Option<Ticket> {
        if !tracing::enabled!(target: "tower_plivo::doctor", tracing::Level::WARN) {
            return None;
        }
        if !self.take_run() {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(Ticket {
            skipped: self.skipped.swap(0, Ordering::Relaxed),
        })
    }
}

impl Ticket {
    /// The run's conclusion when the body it needed could not be read.
    pub(crate) fn unread(self) -> Examined {
        Examined {
            diagnosis: Diagnosis::BodyUnread,
            skipped: self.skipped,
        }
    }

    /// Examines the refused request with the tokens that would verify it.
    pub(crate) fn examine(
        self,
        settings: &Settings,
        verifier: &Verifier,
        suspect: &Suspect<'_>,
    ) -> Examined {
        Examined {
            diagnosis: diagnose(settings, verifier, suspect),
            skipped: self.skipped,
        }
    }
}

/// Tries every candidate and keeps the one that matches with the fewest findings.
pub(crate) fn diagnose(
    settings: &Settings,
    verifier: &Verifier,
    suspect: &Suspect<'_>,
) -> Diagnosis {
    let request = suspect.request;
    let report = OriginReport::new(
        &settings.url_policy,
        settings.proxies.as_ref(),
        settings.source_networks.is_some(),
        request.original_uri(),
        request.headers,
        suspect.peer,
    );
    let claimed = claimed_by_forwarding(request.headers);
    let content_type = request.headers.get(CONTENT_TYPE).map(|v| v.as_bytes());
    let context = Context {
        rejection: suspect.rejection,
        report: &report,
        policy: &settings.url_policy,
        headers: request.headers,
        version: suspect.claim.version,
    };
    let sent = suspect.claim;
    let tried = candidates(
        &report,
        &claimed,
        request,
        suspect.kind,
        settings.url_policy.scheme(),
    );
    let mut best: Option<(Vec<Finding>, String)> = None;
    // Every candidate is tried, whatever matched before: the time taken does not depend on
    // what matched.
    for candidate in &tried {
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
        let matched = candidate.with_signed_url(|url| {
            let signed = match suspect.post {
                false => SignedRequest::get(url),
                true => SignedRequest::post(url, content_type, suspect.body),
            };
            verifier.verify_claim(&claim, &signed, false)
        });
        let Ok(matched) = matched else { continue };
        let found = findings(&context, candidate, matched.token);
        if found.is_empty() {
            // What was refused verifies as it is: nothing a configuration change would fix.
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| found.len() < b.len()) {
            best = Some((found, candidate.url()));
        }
    }
    match best {
        Some((findings, matched_url)) => Diagnosis::Found {
            findings,
            matched_url,
        },
        None => Diagnosis::NoMatch {
            tried: tried.len(),
            main_account_unchecked: sent.main_account.is_some()
                && !verifier.has_main_account_token(),
        },
    }
}

/// Logs what the doctor concluded: one line.
pub(crate) fn log(examined: &Examined) {
    let skipped = (examined.skipped > 0).then_some(examined.skipped);
    match &examined.diagnosis {
        Diagnosis::Found {
            findings,
            matched_url,
        } => {
            let names: Vec<&str> = findings.iter().map(Finding::name).collect();
            let finding = names.join("+");
            let text = match findings.as_slice() {
                [one] => format!("{}; fix: {}", one.sentence(), one.fix(matched_url)),
                several => {
                    let each: Vec<String> = several
                        .iter()
                        .enumerate()
                        .map(|(i, f)| {
                            format!("({}) {}; fix: {}", i + 1, f.sentence(), f.fix(matched_url))
                        })
                        .collect();
                    format!(
                        "{} things differ, and every fix is needed: {}",
                        several.len(),
                        each.join(". ")
                    )
                }
            };
            tracing::warn!(
                target: "tower_plivo::doctor",
                finding,
                refusals_skipped = skipped,
                "signature doctor: the signature matches {matched_url}: {text}"
            );
        }
        Diagnosis::NoMatch {
            tried,
            main_account_unchecked,
        } => tracing::info!(
            target: "tower_plivo::doctor",
            finding = "none",
            refusals_skipped = skipped,
            "signature doctor: no configuration mistake explains it: the signature matches none \
             of the {tried} variants tried (scheme, port, the hosts in Host and forwarding \
             headers, trailing slash, path prefixes, header families, signature version); the \
             auth token is wrong (a sub-account's resource is signed with the sub-account's \
             token), or Plivo signed a host or path that appears nowhere in the request, or it \
             is forged{}",
            if *main_account_unchecked {
                "; an -Ma- header was sent and no main-account token is configured \
                 (.main_account_token)"
            } else {
                ""
            }
        ),
        Diagnosis::BodyUnread => tracing::info!(
            target: "tower_plivo::doctor",
            finding = "none",
            refusals_skipped = skipped,
            "signature doctor: the body could not be read whole, so the refusal was not examined"
        ),
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
