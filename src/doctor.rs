//! The signature doctor: when a signature does not match, try the URLs and tokens a
//! misconfiguration would have produced, and log which one Plivo actually signed, with the
//! configuration change that fixes it.
//!
//! The variants are used only for the log line, never to accept a request. The doctor runs only
//! on a [`SignatureMismatch`](crate::Rejection::SignatureMismatch), and its cost is bounded
//! whatever the traffic (a flood of forgeries must not become a flood of work or of log lines):
//! per layer it examines at most [`RUNS_PER_MINUTE`] mismatches a minute, in bursts of at most
//! [`BURST`], each with at most 18 variants, and logs at most [`LINES_PER_RUN`] lines for each.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use http::header::HOST;
use http::request::Parts;

use crate::check::HeadChecked;
use crate::peer::peer_addr;
use crate::signature::{Claim, SignedRequest, SignedUrl, Verifier, Version};
use crate::tokens::TokenId;
use crate::url_policy::Scheme;

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
    pub(crate) fn examine(
        &self,
        verifier: &Verifier,
        main_account_token: bool,
        head: &HeadChecked,
        parts: &Parts,
        body: &[u8],
        verified_url: &str,
    ) {
        if !self.take_run() {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let skipped = self.skipped.swap(0, Ordering::Relaxed);
        let findings = diagnose(verifier, head, parts, body);
        report(&findings, skipped, main_account_token, head, verified_url);
    }
}

/// One plausible variant that matches.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    /// A short name of the variant, e.g. `scheme`.
    pub(crate) variant: &'static str,
    /// The URL that the signature does match.
    pub(crate) matched_url: String,
    /// What to change in the configuration.
    pub(crate) fix: String,
}

/// A candidate: the URL pieces and how the claim is read.
struct Candidate {
    variant: &'static str,
    scheme: Scheme,
    authority: String,
    path: String,
    swap_families: bool,
    version: Option<Version>,
}

/// Tries the variants and returns those that match, at most one per variant and URL.
pub(crate) fn diagnose(
    verifier: &Verifier,
    head: &HeadChecked,
    parts: &Parts,
    body: &[u8],
) -> Vec<Finding> {
    let uri = crate::target::original_uri(parts);
    let (scheme, authority, path) = (
        head.origin().scheme,
        head.origin().authority.as_str(),
        uri.path(),
    );
    let query = uri.query();
    let mut candidates = Vec::new();
    let same = |variant, scheme, authority: &str, path: &str| Candidate {
        variant,
        scheme,
        authority: authority.to_owned(),
        path: path.to_owned(),
        swap_families: false,
        version: None,
    };

    // Scheme: TLS terminated in front of the app.
    let other_scheme = match scheme {
        Scheme::Http => Scheme::Https,
        Scheme::Https => Scheme::Http,
    };
    candidates.push(same("scheme", other_scheme, authority, path));
    // Port: the URL in Plivo names the default port, or the app sees one Plivo did not use.
    let (host, port) = split_port(authority);
    for candidate_scheme in [scheme, other_scheme] {
        match port {
            Some(_) => candidates.push(same("port", candidate_scheme, host, path)),
            None => {
                let with_port = format!("{host}:{}", default_port(candidate_scheme));
                candidates.push(same("port", candidate_scheme, &with_port, path));
            }
        }
    }
    // Trailing slash.
    let toggled = match path.strip_suffix('/') {
        Some(stripped) if !stripped.is_empty() => stripped.to_owned(),
        Some(_) => String::new(),
        None => format!("{path}/"),
    };
    candidates.push(same("trailing_slash", scheme, authority, &toggled));
    // Forwarded host vs Host: whichever the policy did not use, from any peer.
    for forwarded in forwarded_hosts(parts) {
        for candidate_scheme in [Scheme::Https, Scheme::Http] {
            if forwarded != authority || candidate_scheme != scheme {
                candidates.push(same("forwarded_host", candidate_scheme, &forwarded, path));
            }
        }
    }
    if let Some(host_header) = parts.headers.get(HOST).and_then(|h| h.to_str().ok())
        && host_header != authority
    {
        for candidate_scheme in [scheme, other_scheme] {
            candidates.push(same("host_header", candidate_scheme, host_header, path));
        }
    }
    // Path prefix: a router (axum `nest`) or a proxy strips or adds one.
    if parts.uri.path() != path {
        candidates.push(same("router_prefix", scheme, authority, parts.uri.path()));
    }
    if let Some(shorter) = drop_first_segment(path) {
        candidates.push(same("proxy_prefix", scheme, authority, shorter));
    }
    // Token family: the plain header signed with the main token, or the reverse.
    candidates.push(Candidate {
        swap_families: true,
        ..same("token_family", scheme, authority, path)
    });
    // Scheme version: a signature of the other scheme under these headers.
    let other_version = match head.version() {
        Version::V3 => Version::V2,
        _ => Version::V3,
    };
    candidates.push(Candidate {
        version: Some(other_version),
        ..same("signature_version", scheme, authority, path)
    });

    let mut findings = Vec::new();
    for candidate in &candidates {
        let claim = head.claim();
        let claim = Claim {
            version: candidate.version.unwrap_or(claim.version),
            account: if candidate.swap_families {
                claim.main_account
            } else {
                claim.account
            },
            main_account: if candidate.swap_families {
                claim.account
            } else {
                claim.main_account
            },
            nonce: claim.nonce,
        };
        let url = SignedUrl::from_parts(
            candidate.scheme.as_str(),
            &candidate.authority,
            &candidate.path,
            query,
        );
        let request = SignedRequest {
            method: head.method(),
            url,
            content_type: parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            body,
        };
        if let Ok(token) = verifier.verify(&claim, &request) {
            let matched_url = url.to_string();
            let fix = fix_for(candidate, token, head, parts, &matched_url);
            if !findings
                .iter()
                .any(|f: &Finding| f.matched_url == matched_url && f.variant == candidate.variant)
            {
                findings.push(Finding {
                    variant: candidate.variant,
                    matched_url,
                    fix,
                });
            }
        }
    }
    findings
}

/// Logs the findings (at most [`LINES_PER_RUN`] lines), or that nothing matched.
fn report(
    findings: &[Finding],
    skipped: u64,
    main_account_token: bool,
    head: &HeadChecked,
    verified_url: &str,
) {
    let main_header_without_token = head.claim().main_account.is_some() && !main_account_token;
    let shown = findings.len().min(LINES_PER_RUN);
    for finding in &findings[..shown] {
        tracing::warn!(
            target: "tower_plivo::doctor",
            variant = finding.variant,
            url_verified = %verified_url,
            matched_url = %finding.matched_url,
            fix = %finding.fix,
            more_findings = findings.len() - shown,
            mismatches_skipped = skipped,
            "signature doctor: the signature matches {} ({}); fix: {}",
            finding.matched_url,
            finding.variant,
            finding.fix
        );
    }
    if findings.is_empty() {
        tracing::info!(
            target: "tower_plivo::doctor",
            url_verified = %verified_url,
            main_account_header_unchecked = main_header_without_token,
            mismatches_skipped = skipped,
            "signature doctor: no plausible URL or token variant matches; the auth token is wrong (a sub-account's resource is signed with the sub-account's token) or the request is forged{}",
            if main_header_without_token {
                "; an -Ma- header was sent but no main-account token is configured (.main_account_token)"
            } else {
                ""
            }
        );
    }
}

fn fix_for(
    candidate: &Candidate,
    token: TokenId,
    head: &HeadChecked,
    parts: &Parts,
    matched_url: &str,
) -> String {
    let origin = format!("{}://{}", candidate.scheme.as_str(), candidate.authority);
    let peer =
        peer_addr(&parts.extensions).map_or_else(|| "unknown".to_owned(), |p| p.ip().to_string());
    match candidate.variant {
        "scheme" | "port" | "host_header" => format!(
            "Plivo called {origin}: configure UrlPolicy::public_base(\"{origin}\") (or PLIVO_PUBLIC_URL={origin})"
        ),
        "forwarded_host" => format!(
            "Plivo called {origin} through a proxy whose forwarding headers were not believed (TCP peer {peer}): \
             configure UrlPolicy::public_base(\"{origin}\"); or, if that proxy sets X-Forwarded-Host, add its address \
             to .trusted_proxies([...]), name the header with .proxy_headers([...]) and serve with ConnectInfo so the \
             peer is known"
        ),
        "trailing_slash" => format!(
            "Plivo's URL is {matched_url}: make the URL configured in Plivo and the route agree on the trailing slash"
        ),
        "router_prefix" => format!(
            "Plivo signed the path as the inner router sees it ({matched_url}): a rewrite in front of the layer changed the path; \
             apply the layer outside the rewrite, or configure Plivo with the URL the layer sees"
        ),
        "proxy_prefix" => format!(
            "Plivo called {matched_url}: a proxy adds a path prefix before the app; make it pass the path unchanged \
             or configure Plivo with the URL the app receives"
        ),
        "token_family" => match token {
            TokenId::MainAccount => format!(
                "the {} header is signed with the main account's token: this resource belongs to the main account; \
                 configure that token with .auth_token(..) too",
                plain_header(head.version())
            ),
            TokenId::Account(index) => format!(
                "the -Ma- header is signed with account token {index}, not with a main-account token: check which token \
                 .main_account_token(..) was given"
            ),
        },
        "signature_version" => format!(
            "the signature was computed as {} under {} headers: the sender signs with the wrong scheme",
            match head.version() {
                Version::V3 => "V2",
                _ => "V3",
            },
            head.version().as_str().to_uppercase()
        ),
        _ => String::new(),
    }
}

fn plain_header(version: Version) -> &'static str {
    match version {
        Version::V3 => "X-Plivo-Signature-V3",
        _ => "X-Plivo-Signature-V2",
    }
}

fn split_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(end) = authority.find(']') {
        let (host, rest) = authority.split_at(end + 1);
        return (host, rest.strip_prefix(':'));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

fn default_port(scheme: Scheme) -> u16 {
    match scheme {
        Scheme::Http => 80,
        Scheme::Https => 443,
    }
}

/// Host values the forwarding headers carry (rightmost `X-Forwarded-Host`, every `Forwarded`
/// `host=`), at most four.
fn forwarded_hosts(parts: &Parts) -> Vec<String> {
    let mut hosts = Vec::new();
    let headers = &parts.headers;
    if let Some(value) = headers
        .get_all("x-forwarded-host")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .next_back()
        && let Some(last) = value.split(',').map(str::trim).rfind(|h| !h.is_empty())
    {
        hosts.push(last.to_owned());
    }
    for value in headers
        .get_all(http::header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for pair in value.split([',', ';']) {
            if let Some((name, host)) = pair.trim().split_once('=')
                && name.trim().eq_ignore_ascii_case("host")
            {
                hosts.push(host.trim().trim_matches('"').to_owned());
            }
        }
    }
    hosts.dedup();
    hosts.truncate(4);
    hosts
}

fn drop_first_segment(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('/')?;
    let next = rest.find('/')?;
    Some(&rest[next..])
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
