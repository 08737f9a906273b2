//! How verification cost grows with the request: 1, 10, 100 and 1,000 form parameters, and
//! bodies of 1, 16 and 64 KiB (the layer's default limit), each against one raw HMAC-SHA256
//! over its own message. Parsing and copying are linear and sorting is n log n, so the cost must
//! grow no faster than n log n; the summary prints, for each step, the growth measured and the
//! n log n bound. The cost per byte must be flat: the slope between 16 and 64 KiB within 15% of
//! the slope between 1 and 16 KiB (no step where a buffer crosses the allocator's mmap
//! threshold, 128 KiB), the fixed cost per request (the intercept) printed apart.
//!
//! ```text
//! cargo bench --bench scaling
//! ```

mod common;

use std::hint::black_box;

use common::vectors::V3_TOKEN;
use common::*;
use criterion::{Criterion, Throughput, criterion_group};
use tower_plivo::signature::{AuthTokens, Signer, Verifier};

const URL: &str = "https://hooks.example.com/plivo/hangup";
const NONCE: &str = "05429567804466091622";

struct Size {
    id: String,
    params: usize,
    body: String,
    /// A body of a given size (the per-byte series), not a given number of parameters.
    by_bytes: bool,
}

fn sizes() -> Vec<Size> {
    let mut sizes: Vec<Size> = [1, 10, 100, 1000]
        .into_iter()
        .map(|params| Size {
            id: format!("params_{params}"),
            params,
            body: form_body(params),
            by_bytes: false,
        })
        .collect();
    for kib in [1, 16, 64] {
        let body = form_body_of_size(kib * 1024);
        sizes.push(Size {
            id: format!("body_{kib}kib"),
            params: body.split('&').count(),
            body,
            by_bytes: true,
        });
    }
    sizes
}

fn benches(c: &mut Criterion) {
    let verifier = Verifier::new(AuthTokens::new([V3_TOKEN], None::<&str>).unwrap());
    let signer = Signer::new(V3_TOKEN);
    for size in sizes() {
        let mut group = c.benchmark_group(format!("scaling_{}", size.id));
        let signature = signer
            .sign_v3_post(URL, size.body.as_bytes(), NONCE)
            .unwrap();
        let message = reference_v3_message(URL, Some(&size.body), NONCE);
        assert_eq!(reference::sign(V3_TOKEN, &message), signature);
        let signed = Signed::new(true, URL, Some(size.body.as_bytes()), &signature, NONCE);
        assert!(signed.verifies(&verifier));
        group.throughput(Throughput::Bytes(size.body.len() as u64));
        group.bench_function("raw_hmac", |b| {
            b.iter(|| raw_hmac(black_box(V3_TOKEN), black_box(&message)))
        });
        bench_verify(&mut group, &verifier, &signed);
        group.finish();
    }
    // The three bodies again, in alternating blocks: the slopes printed are these.
    let bodies: Vec<Signed> = sizes()
        .into_iter()
        .filter(|size| size.by_bytes)
        .map(|size| {
            let signature = signer
                .sign_v3_post(URL, size.body.as_bytes(), NONCE)
                .unwrap();
            Signed::new(true, URL, Some(size.body.as_bytes()), &signature, NONCE)
        })
        .collect();
    let mut group = c.benchmark_group("scaling_bodies");
    let workloads: Vec<Workload<'_>> = bodies
        .iter()
        .map(|signed| {
            let verifier = &verifier;
            timed(move || {
                black_box(black_box(signed).verifies(black_box(verifier)));
            })
        })
        .collect();
    bench_alternating(&mut group, "alternating", "bodies", workloads);
    group.finish();
}

criterion_group!(group, benches);

fn main() {
    let started = std::time::SystemTime::now();
    group();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();

    println!();
    println!(
        "{:>10} {:>7} {:>9} {:>10} {:>10} {:>6} {:>9} {:>10} {:>12}",
        "size",
        "params",
        "bytes",
        "verify",
        "raw HMAC",
        "ratio",
        "ns/param",
        "growth",
        "n log n bound"
    );
    let mut previous: Option<(usize, f64)> = None;
    let mut within = true;
    // The sizes in bytes of the bodies of 1, 16 and 64 KiB.
    let mut body_bytes: Vec<f64> = Vec::new();
    for size in sizes() {
        let read = |name: &str| mean_ns(&format!("scaling_{}/{name}", size.id), started);
        let (Some(verify), Some(raw)) = (read("verify"), read("raw_hmac")) else {
            continue;
        };
        let n_log_n = |n: usize| n as f64 * (n as f64).log2().max(1.0);
        if size.by_bytes {
            body_bytes.push(size.body.len() as f64);
        }
        let (growth, bound) = match previous {
            Some((n, t)) if !size.by_bytes => (verify / t, n_log_n(size.params) / n_log_n(n)),
            _ => (f64::NAN, f64::NAN),
        };
        if growth > bound {
            within = false;
        }
        // The first size has nothing to grow from.
        let times = |x: f64| {
            if x.is_nan() {
                "-".to_owned()
            } else {
                format!("{x:.2}x")
            }
        };
        println!(
            "{:>10} {:>7} {:>9} {:>10} {:>10} {:>5.2}x {:>9.1} {:>10} {:>12}",
            size.id,
            size.params,
            size.body.len(),
            ns(verify),
            ns(raw),
            verify / raw,
            verify / size.params as f64,
            times(growth),
            times(bound),
        );
        if !size.by_bytes {
            previous = Some((size.params, verify));
        }
    }
    println!(
        "growth {} n log n at every step",
        if within { "within" } else { "EXCEEDS" }
    );
    // The cost per byte as two slopes (what each added byte costs between two sizes), so the
    // fixed cost per request does not weigh on the smallest body; the fixed cost is the line's
    // intercept at zero bytes.
    let alternating = alternating_ns("bodies").unwrap_or_default();
    if let ([b1, b16, b64], [t1, t16, t64]) = (&body_bytes[..], &alternating[..]) {
        let (b1, b16, b64, t1, t16, t64) = (*b1, *b16, *b64, *t1, *t16, *t64);
        let low = (t16 - t1) / (b16 - b1);
        let high = (t64 - t16) / (b64 - b16);
        let fixed = t1 - low * b1;
        let spread = (high / low - 1.0).abs();
        println!(
            "cost per byte (alternating blocks, `scaling_bodies/alternating`): {low:.3} ns/B \
             between 1 and 16 KiB, {high:.3} ns/B between 16 and 64 KiB: {:.2}x (target within \
             15%: {}); fixed cost per request {}",
            high / low,
            if spread <= 0.15 { "met" } else { "MISSED" },
            ns(fixed),
        );
    }
}
