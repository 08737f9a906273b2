//! Shared by the benches: the public vectors and the reference implementation (the tests'
//! own, one copy each: `tests/it/support/vectors.rs`, `tests/support/reference.rs`), request
//! generators, and reading criterion's estimates back to print ratios measured in the same run.

#![allow(dead_code)] // each bench uses a different part

use std::path::PathBuf;

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderValue, Method};
use sha2::Sha256;
use tower_plivo::signature::Verifier;

#[path = "../../tests/support/reference.rs"]
pub mod reference;
#[path = "../../tests/it/support/vectors.rs"]
pub mod vectors;

/// HMAC-SHA256 keyed from scratch, as a one-off computation does it: the floor.
pub fn raw_hmac(token: &str, message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The reference V3 message of a request to `url` (its query parsed as written) with this
/// form body (`None` for a GET) and nonce.
pub fn reference_v3_message(url: &str, form_body: Option<&str>, nonce: &str) -> Vec<u8> {
    let url = reference::parse_url(url).expect("an absolute URL");
    reference::v3_message(&url, form_body.map(str::as_bytes), nonce.as_bytes())
}

/// One signed request, as the pure verifier takes it.
pub struct Signed {
    pub method: Method,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Signed {
    /// A V3 (or V2) request to `url` carrying `signature` and `nonce`: a form POST of `body`
    /// (`Some`), or a GET.
    pub fn new(v3: bool, url: &str, body: Option<&[u8]>, signature: &str, nonce: &str) -> Self {
        let (signature_header, nonce_header) = if v3 {
            ("x-plivo-signature-v3", "x-plivo-signature-v3-nonce")
        } else {
            ("x-plivo-signature-v2", "x-plivo-signature-v2-nonce")
        };
        let mut headers = HeaderMap::new();
        headers.insert(signature_header, HeaderValue::from_str(signature).unwrap());
        headers.insert(nonce_header, HeaderValue::from_str(nonce).unwrap());
        let method = match body {
            Some(_) => {
                let form = HeaderValue::from_static("application/x-www-form-urlencoded");
                headers.insert(http::header::CONTENT_TYPE, form);
                Method::POST
            }
            None => Method::GET,
        };
        Self {
            method,
            url: url.to_owned(),
            headers,
            body: body.unwrap_or_default().to_vec(),
        }
    }

    /// Whether `verifier` accepts it.
    pub fn verifies(&self, verifier: &Verifier) -> bool {
        verifier
            .verify(&self.method, &self.url, &self.headers, &self.body)
            .is_ok()
    }
}

/// A Plivo-like form body of `params` parameters, in a scrambled (not sorted) order, with the
/// escapes Plivo's bodies carry (`+`, `%3A`, `%40`) and keys that share long prefixes.
pub fn form_body(params: usize) -> String {
    const KEYS: [&str; 13] = [
        "ALegRequestUUID",
        "ALegUUID",
        "BillRate",
        "CallStatus",
        "CallUUID",
        "Direction",
        "Event",
        "From",
        "ParentAuthID",
        "RequestUUID",
        "SIP-H-To",
        "SessionStart",
        "To",
    ];
    let mut order: Vec<usize> = (0..params).collect();
    // A fixed scramble (multiplicative step coprime with most sizes, then a xorshift swap pass).
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..order.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        order.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    let mut body = String::new();
    for (n, i) in order.into_iter().enumerate() {
        if n > 0 {
            body.push('&');
        }
        let key = KEYS[i % KEYS.len()];
        let round = i / KEYS.len();
        match i % 4 {
            0 => body.push_str(&format!("{key}{round}=3e82ae9d-2c78-4d85-b1a4-{i:012}")),
            1 => body.push_str(&format!("{key}{round}=sip%3Auser{i}%40phone.plivo.com")),
            2 => body.push_str(&format!("{key}{round}=2020-04-08+11%3A34%3A{i:02}.238707")),
            _ => body.push_str(&format!("{key}{round}=in-progress")),
        }
    }
    body
}

/// A form body of at most `bytes` bytes (and close to it) of [`form_body`] parameters.
pub fn form_body_of_size(bytes: usize) -> String {
    let mut params = bytes / 40 + 1;
    loop {
        let body = form_body(params);
        if body.len() >= bytes {
            let mut end = body.len();
            while end > bytes {
                end = body[..end].rfind('&').unwrap_or(0);
            }
            return body[..end].to_owned();
        }
        params = params * 5 / 4 + 1;
    }
}

/// Where criterion writes its results, found as criterion finds it: `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else the target directory `cargo metadata` reports.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    let metadata = std::env::var_os("CARGO").and_then(|cargo| {
        std::process::Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .ok()
    });
    metadata
        .and_then(|out| serde_json::from_slice::<serde_json::Value>(&out.stdout).ok())
        .and_then(|value| value["target_directory"].as_str().map(PathBuf::from))
        .map_or_else(
            || PathBuf::from("target/criterion"),
            |t| t.join("criterion"),
        )
}

/// The mean criterion measured for `id` in this run: read from `<criterion home>/<id>/new`,
/// and only if written after `since` (so a filtered-out bench never shows a stale number).
pub fn mean_ns(id: &str, since: std::time::SystemTime) -> Option<f64> {
    let path = criterion_home().join(id).join("new").join("estimates.json");
    let written = std::fs::metadata(&path).ok()?.modified().ok()?;
    if written < since {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["mean"]["point_estimate"].as_f64()
}

/// Formats nanoseconds for the summary lines.
pub fn ns(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.1} µs", value / 1000.0)
    } else {
        format!("{value:.0} ns")
    }
}

/// Times `verifier` on one request (its headers read, its URL split, its signature checked), as
/// `<group>/verify` (the name the printed ratios read back).
pub fn bench_verify(
    group: &mut BenchmarkGroup<'_, WallTime>,
    verifier: &Verifier,
    signed: &Signed,
) {
    group.bench_function("verify", |b| {
        b.iter(|| std::hint::black_box(signed).verifies(std::hint::black_box(verifier)))
    });
}

/// One workload of [`bench_alternating`]: runs `n` iterations and returns the time they took
/// (inputs can be built before the clock starts).
pub type Workload<'a> = Box<dyn FnMut(u64) -> std::time::Duration + 'a>;

/// A [`Workload`] that runs `run` once per iteration, all of it timed.
pub fn timed<'a>(mut run: impl FnMut() + 'a) -> Workload<'a> {
    Box::new(move |n| {
        let started = std::time::Instant::now();
        for _ in 0..n {
            run();
        }
        started.elapsed()
    })
}

thread_local! {
    /// The per-iteration totals of each alternating bench run so far: name, the time of each
    /// workload, iterations.
    static ALTERNATING: std::cell::RefCell<Vec<(String, Vec<std::time::Duration>, u64)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Times several workloads in alternating blocks of 32 iterations within one criterion
/// benchmark, `<group>/<name>` (its totals kept under `key`), so that the machine's drift (a shared VM's speed moves from
/// one minute to the next) falls on all of them alike: the ratios a bench is judged by are
/// read from these totals ([`alternating_ns`]), not from benchmarks run one after the other.
/// What criterion records for the benchmark is the last workload's time.
pub fn bench_alternating(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    key: &str,
    mut workloads: Vec<Workload<'_>>,
) {
    let label = key.to_owned();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut totals = vec![std::time::Duration::ZERO; workloads.len()];
            let mut done = 0;
            while done < iters {
                let block = (iters - done).min(32);
                for (total, workload) in totals.iter_mut().zip(workloads.iter_mut()) {
                    *total += workload(block);
                }
                done += block;
            }
            ALTERNATING.with(|all| {
                let mut all = all.borrow_mut();
                match all.iter_mut().find(|(n, _, _)| *n == label) {
                    Some((_, sums, count)) => {
                        for (sum, total) in sums.iter_mut().zip(&totals) {
                            *sum += *total;
                        }
                        *count += iters;
                    }
                    None => all.push((label.clone(), totals.clone(), iters)),
                }
            });
            *totals.last().expect("at least one workload")
        })
    });
}

/// The nanoseconds per iteration of each workload of the alternating bench kept under `key`,
/// over every sample it ran (warm-up included), or `None` if it did not run.
pub fn alternating_ns(key: &str) -> Option<Vec<f64>> {
    ALTERNATING.with(|all| {
        let all = all.borrow();
        let (_, sums, count) = all.iter().find(|(n, _, _)| n == key)?;
        Some(
            sums.iter()
                .map(|sum| sum.as_nanos() as f64 / *count as f64)
                .collect(),
        )
    })
}

/// A [`Workload`] that sends requests made by `make` through `service`, one at a time, on
/// `runtime`; each block's requests are made (and signed) before its clock starts.
pub fn requests_through<'a, S, B>(
    runtime: &'a tokio::runtime::Runtime,
    service: &'a S,
    make: impl Fn() -> http::Request<B> + 'a,
) -> Workload<'a>
where
    S: tower::Service<http::Request<B>> + Clone,
{
    Box::new(move |n| {
        let requests: Vec<_> = (0..n).map(|_| make()).collect();
        let started = std::time::Instant::now();
        for request in requests {
            let response = runtime.block_on(tower::ServiceExt::oneshot(service.clone(), request));
            std::hint::black_box(response.ok());
        }
        started.elapsed()
    })
}
