//! The signature doctor: when a refusal could be a configuration mistake (a signature that
//! does not match, an untrusted host, an unknown origin, a V2 signature where only V3 is
//! accepted), try the URLs and readings a misconfiguration would have produced, and say which one
//! the signature matches, with the change that fixes it: exactly one finding per difference,
//! each with its own fix, and "wrong token or forged" only when nothing matches.
//!
//! The candidates feed the log line only, never a verdict, and never the response's timing: a
//! refusal is handed to the doctor's own thread (an owned copy of what it needs) and answered
//! at once, so a sender cannot tell from the time taken which refusals were examined. The
//! doctor's cost is bounded whatever the traffic (a flood of forgeries must not become a flood
//! of work or of log lines): per layer it examines at most [`RUNS_PER_MINUTE`] refusals a
//! minute, in bursts of at most [`BURST`], each with at most
//! [`MAX_CANDIDATES`](candidates::MAX_CANDIDATES) candidates, and logs one line for each; the
//! thread queues at most [`QUEUED`] refusals of all layers.

mod candidates;
mod explain;
mod finding;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Uri};

use crate::pipeline::settings::{Settings, Tokens};
use crate::pipeline::upgrade::RequestKind;
use crate::rejection::Rejection;
use crate::signature::claim_of;
use crate::signature::{Claim, SignedRequest, Verifier};
use crate::tenants::Tenant;
use crate::url_policy::{OriginReport, claimed_by_forwarding};
use candidates::{Reading, candidates};
use explain::{Context, findings};
pub(crate) use finding::Finding;

/// A refused request, owned, as the doctor examines it on its thread.
pub(crate) struct Case {
    pub(crate) settings: Arc<Settings>,
    /// Whose tokens the request was verified with (`None`: the layer's).
    pub(crate) tenant: Option<Arc<Tenant>>,
    pub(crate) rejection: Rejection,
    /// A webhook or a stream upgrade.
    pub(crate) kind: RequestKind,
    /// A POST (its body is a form), or a GET.
    pub(crate) post: bool,
    /// The request target as received (before any router rewrote it).
    pub(crate) target: Uri,
    /// The path the wrapped service sees.
    pub(crate) inner_path: String,
    /// The target as the outermost `CaptureReceivedLayer` received it, when a layer between
    /// them changed its path or query.
    pub(crate) received: Option<Uri>,
    pub(crate) headers: HeaderMap,
    /// The TCP peer, when known.
    pub(crate) peer: Option<SocketAddr>,
    /// The body the signature covers (empty when it covers none).
    pub(crate) body: Bytes,
}

/// Refusals examined per minute at most, on average.
pub(crate) const RUNS_PER_MINUTE: u64 = 10;
/// Refusals examined back to back at most.
pub(crate) const BURST: u64 = 5;
/// Refusals waiting for the doctor's thread at most, all layers together.
pub(crate) const QUEUED: usize = 16;

/// The doctor of one layer: its budget.
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
fn next_run_after(next: u64, now: u64) -> Option<u64> {
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
                next_run_after(next, now)
            })
            .is_ok()
    }

    /// Whether a subscriber would show the doctor's line (if not, nothing is examined).
    pub(crate) fn listened_to() -> bool {
        tracing::enabled!(target: "tower_plivo::doctor", tracing::Level::WARN)
    }

    /// A referral of a refusal to the doctor, when the budget allows (`case` is made only
    /// then); otherwise the refusal is counted as skipped. It is sent once the refusal's own
    /// line is logged, so the doctor's line comes after it.
    pub(crate) fn refer(self: &Arc<Self>, case: impl FnOnce() -> Case) -> Option<Referral> {
        if !Self::listened_to() {
            return None;
        }
        if !self.take_run() {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let job = Job {
            case: case(),
            skipped: self.skipped.swap(0, Ordering::Relaxed),
            dispatch: tracing::dispatcher::get_default(Clone::clone),
        };
        Some(Referral(Box::new(job), self.clone()))
    }
}

/// A refusal on its way to the doctor's thread.
pub(crate) struct Referral(Box<Job>, Arc<Doctor>);

impl std::fmt::Debug for Referral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Referral").finish_non_exhaustive()
    }
}

impl Referral {
    /// Queues it for the doctor's thread (a full queue counts it as skipped). Returns at once.
    pub(crate) fn send(self) {
        let Referral(job, doctor) = self;
        if !worker::send(job) {
            doctor.skipped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A case, with the subscriber its line goes to (the one of the refusal). The request's span
/// is not kept: holding it would delay its close until the doctor is done.
struct Job {
    case: Case,
    skipped: u64,
    dispatch: tracing::Dispatch,
}

/// The doctor's thread: one for the process, started on the first referral, examining one
/// case at a time from a bounded queue. A case that panics costs that case only; a thread that
/// is gone is started again on the next referral.
mod worker {
    use super::*;

    static QUEUE: OnceLock<Mutex<Option<SyncSender<Box<Job>>>>> = OnceLock::new();

    /// Queues a job; `false` when the queue is full or no thread can run.
    pub(super) fn send(job: Box<Job>) -> bool {
        let queue = QUEUE.get_or_init(|| Mutex::new(None));
        let mut queue = queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let job = match queue.as_ref() {
            Some(sender) => match sender.try_send(job) {
                Ok(()) => return true,
                Err(TrySendError::Full(_)) => return false,
                // The thread is gone: start another.
                Err(TrySendError::Disconnected(job)) => job,
            },
            None => job,
        };
        start(&mut queue).is_some_and(|sender| sender.try_send(job).is_ok())
    }

    fn start(queue: &mut Option<SyncSender<Box<Job>>>) -> Option<&SyncSender<Box<Job>>> {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Box<Job>>(QUEUED);
        std::thread::Builder::new()
            .name("tower-plivo-doctor".to_owned())
            .spawn(move || {
                for job in receiver {
                    let Job {
                        case,
                        skipped,
                        dispatch,
                    } = *job;
                    let examine = std::panic::AssertUnwindSafe(|| {
                        tracing::dispatcher::with_default(&dispatch, || {
                            if let Some(diagnosis) = diagnose(&case) {
                                log(&Examined {
                                    diagnosis,
                                    skipped,
                                    target: &case.target,
                                });
                            }
                        })
                    });
                    let _ = std::panic::catch_unwind(examine);
                }
            })
            .ok()?;
        *queue = Some(sender);
        queue.as_ref()
    }
}

/// What the doctor made of one refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Examined<'a> {
    pub(crate) diagnosis: Diagnosis,
    /// Refusals not examined before this one (the budget was spent).
    pub(crate) skipped: u64,
    /// The refused request's target (its line is logged outside the request's span).
    pub(crate) target: &'a Uri,
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
}

/// Tries every candidate and keeps the one that matches with the fewest findings (`None`: the
/// case cannot be examined: no tokens, no readable claim, or nothing to try).
fn diagnose(case: &Case) -> Option<Diagnosis> {
    let settings = &*case.settings;
    let verifier: &Verifier = match (&case.tenant, &settings.tokens) {
        (Some(tenant), _) => &tenant.verifier,
        (None, Tokens::Static(verifier)) => verifier,
        (None, Tokens::Tenants(_)) => return None,
    };
    let sent = claim_of(&case.headers)?;
    let report = OriginReport::new(
        &settings.url_policy,
        settings.proxies.as_ref(),
        settings.source_networks.is_some(),
        &case.target,
        &case.headers,
        case.peer,
    );
    let claimed = claimed_by_forwarding(&case.headers);
    let content_type = case.headers.get(CONTENT_TYPE).map(|v| v.as_bytes());
    let context = Context {
        rejection: case.rejection,
        report: &report,
        policy: &settings.url_policy,
        headers: &case.headers,
        version: sent.version,
        accepted_form: settings.extra_stream_url_form,
        target: &case.target,
        proxies: settings.proxies.as_ref(),
    };
    let tried = candidates(
        &report,
        &claimed,
        &case.target,
        &case.inner_path,
        case.received.as_ref(),
        case.kind,
        settings.url_policy.scheme(),
    );
    if tried.is_empty() {
        return None;
    }
    let mut best: Option<(Vec<Finding>, String)> = None;
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
            let signed = match case.post {
                false => SignedRequest::get(url),
                true => SignedRequest::post(url, content_type, &case.body),
            };
            verifier.verify_claim(&claim, &signed, false)
        });
        let Ok(matched) = matched else { continue };
        let found = findings(&context, candidate, matched.token);
        // An empty list: what was refused verifies as it is, nothing a configuration fixes.
        if !found.is_empty() && best.as_ref().is_none_or(|(b, _)| found.len() < b.len()) {
            best = Some((found, candidate.url()));
        }
    }
    Some(match best {
        Some((findings, matched_url)) => Diagnosis::Found {
            findings,
            matched_url,
        },
        None => Diagnosis::NoMatch {
            tried: tried.len(),
            main_account_unchecked: sent.main_account.is_some()
                && !verifier.has_main_account_token(),
        },
    })
}

/// Logs what the doctor concluded: one line.
fn log(examined: &Examined<'_>) {
    let skipped = (examined.skipped > 0).then_some(examined.skipped);
    let target = crate::observe::events::clipped(examined.target.to_string(), 200);
    match &examined.diagnosis {
        Diagnosis::Found {
            findings,
            matched_url,
        } => {
            let names: Vec<&str> = findings.iter().map(Finding::name).collect();
            let finding = names.join("+");
            let text = match findings.as_slice() {
                [one] => format!("{}; fix: {}", one.sentence(), one.fix(matched_url, true)),
                several => {
                    let each: Vec<String> = several
                        .iter()
                        .enumerate()
                        .map(|(i, f)| {
                            format!(
                                "({}) {}; fix: {}",
                                i + 1,
                                f.sentence(),
                                f.fix(matched_url, false)
                            )
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
                target = %target,
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
            target = %target,
            refusals_skipped = skipped,
            "signature doctor: no configuration mistake explains it: the signature matches none \
             of the {tried} variants tried (scheme, port, the hosts in Host and forwarding \
             headers, trailing slash, path prefixes, header families, signature version or \
             stream URL forms); the auth token is wrong (a sub-account's resource is signed \
             with the sub-account's token), or Plivo signed a host or path that appears nowhere \
             in the request, or it is forged{}",
            if *main_account_unchecked {
                "; an -Ma- header was sent and no main-account token is configured \
                 (.main_account_token)"
            } else {
                ""
            }
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
            if let Some(after) = next_run_after(next, 0) {
                next = after;
                runs += 1;
            }
        }
        assert_eq!(runs, BURST);
        // One interval later, exactly one more.
        let later = INTERVAL_NS;
        assert!(next_run_after(next, later).is_some());
        let next = next_run_after(next, later).unwrap();
        assert!(next_run_after(next, later).is_none());
    }

    #[test]
    fn over_an_hour_of_constant_flooding_at_most_the_rate_is_examined() {
        let (mut next, mut runs) = (0, 0u64);
        // One mismatch every millisecond for an hour.
        for ms in 0..3_600_000u64 {
            if let Some(after) = next_run_after(next, ms * 1_000_000) {
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
