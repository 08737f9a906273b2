//! Cost of the layer around the verification: a signed 1 KiB form POST through
//! `PlivoSignatureLayer` in front of a trivial inner `tower::service_fn`, against the same
//! request sent to the bare inner service, in process (`tower::ServiceExt::oneshot` on a Tokio
//! current-thread runtime with its time driver, as servers run it: the layer arms its body
//! timeout). The verification of the same request through the pure `Verifier` is measured in
//! the same run, so the layer's own overhead (head checks, URL policy, body collection, the
//! `PlivoVerified` extension, response mapping) can be read off. Target: <= 0.5 µs beyond the
//! verification; replay protection with the memory store <= 1.15x the same request without it.
//!
//! Four workloads take turns in blocks of 32 within one bench, `layer_1kib_post/alternating`:
//! the bare inner service, the layer without replay protection, the layer with the default
//! in-memory store (full after its first 100,000 requests, after which each reservation also
//! evicts the oldest), and the pure verification. The two layers get the same stream of
//! requests, each with a nonce of its own (signed outside the measured time): the second also
//! pays for the replay key's digest and its reservation, and nothing else differs.
//!
//! ```text
//! cargo bench --bench layer
//! LAYER_BENCH_TRACING=1 cargo bench --bench layer   # with the `server` example's subscriber
//! ```
//!
//! By default no `tracing` subscriber is installed (the layer's spans and events are then
//! disabled at their call sites). `LAYER_BENCH_TRACING=1` installs what the `server` example
//! runs with, a `fmt` subscriber filtered at `tower_plivo=info`, writing to a sink.

mod common;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::hint::black_box;

use bytes::Bytes;
use common::vectors::V3_TOKEN;
use common::*;
use criterion::{Criterion, criterion_group};
use http::{Request, Response};
use http_body_util::Full;
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;
use tower_plivo::service::RequestBody;
use tower_plivo::signature::{AuthTokens, Signer, Verifier};
use tower_plivo::{PlivoSignatureLayer, UrlPolicy};

const ORIGIN: &str = "https://hooks.example.com";
const PATH: &str = "/plivo/answer";
const NONCE: &str = "05429567804466091622";

/// The trivial inner service: answers at once, without reading the body.
fn respond<B>(_request: Request<B>) -> Ready<Result<Response<Full<Bytes>>, Infallible>> {
    ready(Ok(Response::new(Full::new(Bytes::from_static(
        b"<Response/>",
    )))))
}

struct Fixture {
    body: Bytes,
    signature: String,
}

impl Fixture {
    fn new() -> Self {
        let body = Bytes::from(form_body_of_size(1024));
        let signature = Signer::new(V3_TOKEN)
            .sign_v3_post(&format!("{ORIGIN}{PATH}"), &body, NONCE)
            .unwrap();
        Self { body, signature }
    }

    fn request(&self) -> Request<Full<Bytes>> {
        self.request_with(&self.signature, NONCE)
    }

    fn request_with(&self, signature: &str, nonce: &str) -> Request<Full<Bytes>> {
        Request::post(PATH)
            .header("host", "hooks.example.com")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("content-length", self.body.len())
            .header("x-plivo-signature-v3", signature)
            .header("x-plivo-signature-v3-nonce", nonce)
            .body(Full::new(self.body.clone()))
            .unwrap()
    }

    /// The same request with a nonce never used before, signed for it.
    fn fresh_request(&self) -> Request<Full<Bytes>> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nonce = format!("{:020}", NEXT.fetch_add(1, Ordering::Relaxed));
        let signature = Signer::new(V3_TOKEN)
            .sign_v3_post(&format!("{ORIGIN}{PATH}"), &self.body, &nonce)
            .unwrap();
        self.request_with(&signature, &nonce)
    }
}

fn benches(c: &mut Criterion) {
    let fixture = Fixture::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let builder = || {
        PlivoSignatureLayer::builder()
            .auth_token(V3_TOKEN)
            .url_policy(UrlPolicy::public_base(ORIGIN).unwrap())
    };
    let inner = || service_fn(respond::<RequestBody<Full<Bytes>>>);
    let guarded = builder()
        .without_replay_protection()
        .build()
        .unwrap()
        .layer(inner());
    let replay_guarded = builder().build().unwrap().layer(inner());
    let bare = service_fn(respond::<Full<Bytes>>);

    for _ in 0..2 {
        let status = runtime
            .block_on(guarded.clone().oneshot(fixture.request()))
            .unwrap()
            .status();
        assert_eq!(
            status, 200,
            "the 1 KiB request must verify, again and again"
        );
    }
    let status = runtime
        .block_on(replay_guarded.clone().oneshot(fixture.fresh_request()))
        .unwrap()
        .status();
    assert_eq!(status, 200, "a fresh request must verify and be reserved");

    let verifier = Verifier::new(AuthTokens::new([V3_TOKEN], None::<&str>).unwrap());
    let url = format!("{ORIGIN}{PATH}");
    let signed = Signed::new(true, &url, Some(&fixture.body), &fixture.signature, NONCE);
    assert!(signed.verifies(&verifier));

    // Four workloads timed in alternating blocks, so that the machine's drift falls on all of
    // them alike. The two layers get the same stream of requests (each its own nonce).
    let mut group = c.benchmark_group("layer_1kib_post");
    bench_alternating(
        &mut group,
        "alternating",
        "layer",
        vec![
            requests_through(&runtime, &bare, || fixture.request()),
            requests_through(&runtime, &guarded, || fixture.fresh_request()),
            requests_through(&runtime, &replay_guarded, || fixture.fresh_request()),
            timed(|| {
                black_box(black_box(&signed).verifies(black_box(&verifier)));
            }),
        ],
    );
    group.finish();
}

criterion_group!(group, benches);

fn main() {
    if std::env::var_os("LAYER_BENCH_TRACING").is_some() {
        tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .with_env_filter(tracing_subscriber::EnvFilter::new("tower_plivo=info"))
            .init();
    }
    group();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();

    let Some([bare, layered, replay, verify]) =
        alternating_ns("layer").and_then(|t| <[f64; 4]>::try_from(t).ok())
    else {
        return;
    };
    println!("timed in alternating blocks of 32 (`layer_1kib_post/alternating`):");
    let ratio = replay / layered;
    println!(
        "with the default replay protection (digest and memory reservation): {}, {ratio:.2}x \
         the same requests without it (target <= 1.15x: {})",
        ns(replay),
        if ratio <= 1.15 { "met" } else { "MISSED" },
    );
    let overhead = layered - bare;
    let beyond = overhead - verify;
    println!(
        "layer, 1 KiB form POST: bare inner {}, with layer {}; layer adds {}, of which \
         verification {}; overhead beyond verification {} (target <= 0.5 µs: {})",
        ns(bare),
        ns(layered),
        ns(overhead),
        ns(verify),
        ns(beyond),
        if beyond <= 500.0 { "met" } else { "MISSED" },
    );
}
