//! What a tenant cache hit costs: a signed 1 KiB form POST through `PlivoSignatureLayer` with
//! the static token list, against the same request through a layer whose tokens come from a
//! `TenantCache` already holding the tenant, in process (`tower::ServiceExt::oneshot` on a
//! Tokio current-thread runtime). Both run in the same process, and the difference is printed.
//! Target: a hit adds at most 100 ns (absolute, so it holds however fast verification gets).
//!
//! The two plain benches give each path's time; run one after the other they drift apart by
//! more than 100 ns on a busy or frequency-scaling machine, so the difference is read from a
//! third bench, `interleaved`, which alternates blocks of 32 requests through each layer in the
//! same measurement window (what it reports to criterion is the hit path's time; the static
//! path's, timed in the same loop, is kept on the side for the difference).
//!
//! Both layers run without replay protection, so one signed request can be sent again and
//! again; the tenant is the first path segment (`/acme/answer`), as in the `multi_tenant`
//! example.
//!
//! Two more benches time refusals: a forgery on a known tenant's route, and a request for a
//! tenant the store does not know (cached as unknown). Their ratio is printed: an unknown
//! tenant's refusal must cost what a known tenant's forgery does (target >= 0.9x), or its
//! timing would tell which names are tenants.
//!
//! ```text
//! cargo bench --bench tenants
//! ```

mod common;

use std::borrow::Cow;
use std::cell::Cell;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::vectors::V3_TOKEN;
use common::*;
use criterion::{BatchSize, Criterion, criterion_group};
use http::{Request, Response};
use http_body_util::Full;
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;
use tower_plivo::service::RequestBody;
use tower_plivo::signature::{AuthTokens, Signer};
use tower_plivo::tenants::{StoreFuture, TenantCache, TenantRequest, TokenSource};
use tower_plivo::{PlivoGuardBuilder, PlivoSignatureLayer, UrlPolicy};

const ORIGIN: &str = "https://hooks.example.com";
const PATH: &str = "/acme/answer";
const NONCE: &str = "05429567804466091622";

fn respond<B>(_request: Request<B>) -> Ready<Result<Response<Full<Bytes>>, Infallible>> {
    ready(Ok(Response::new(Full::new(Bytes::from_static(
        b"<Response/>",
    )))))
}

/// One tenant, `acme`, with the bench token; a thousand others exist in a real platform, and
/// the cache is filled with them so the hit is not a lookup in a one-entry map.
struct Tenants;

impl TokenSource for Tenants {
    fn tenant<'a>(&self, request: &TenantRequest<'a>) -> Option<Cow<'a, str>> {
        request.path_segment(0).map(Cow::Borrowed)
    }

    fn tokens(&self, tenant: &str) -> StoreFuture<Option<AuthTokens>> {
        let token = match tenant {
            "acme" => Some(V3_TOKEN.to_owned()),
            "nobody" => None,
            other => Some(format!("{other}-token")),
        };
        StoreFuture::pending(async move {
            Ok(token.map(|token| AuthTokens::new([token], None::<&str>).unwrap()))
        })
    }
}

fn request(body: &Bytes, signature: &str, path: &str) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("host", "hooks.example.com")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-length", body.len())
        .header("x-plivo-signature-v3", signature)
        .header("x-plivo-signature-v3-nonce", NONCE)
        .body(Full::new(body.clone()))
        .unwrap()
}

fn benches(c: &mut Criterion) {
    let body = Bytes::from(form_body_of_size(1024));
    let signature = Signer::new(V3_TOKEN)
        .sign_v3_post(&format!("{ORIGIN}{PATH}"), &body, NONCE)
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let builder = || -> PlivoGuardBuilder<PlivoSignatureLayer> {
        PlivoSignatureLayer::builder()
            .url_policy(UrlPolicy::public_base(ORIGIN).unwrap())
            .without_replay_protection()
    };
    let inner = || service_fn(respond::<RequestBody<Full<Bytes>>>);
    let static_list = builder()
        .auth_token(V3_TOKEN)
        .build()
        .unwrap()
        .layer(inner());
    let tenants = builder()
        .tenants(TenantCache::new(Tenants))
        .build()
        .unwrap()
        .layer(inner());

    // Warm the cache with acme and a thousand others (each first request is a lookup).
    for i in 0..1000 {
        let other = request(&body, &signature, &format!("/tenant{i}/answer"));
        let status = runtime
            .block_on(tenants.clone().oneshot(other))
            .unwrap()
            .status();
        assert_eq!(
            status, 403,
            "another tenant's token does not verify acme's signature"
        );
    }
    let forged = Signer::new("not-acme-token")
        .sign_v3_post(&format!("{ORIGIN}{PATH}"), &body, NONCE)
        .unwrap();
    for (path, signature) in [(PATH, &forged), ("/nobody/answer", &signature)] {
        let status = runtime
            .block_on(tenants.clone().oneshot(request(&body, signature, path)))
            .unwrap()
            .status();
        assert_eq!(status, 403, "{path}: a forgery, an unknown tenant");
    }
    for service in [&static_list, &tenants] {
        let status = runtime
            .block_on(service.clone().oneshot(request(&body, &signature, PATH)))
            .unwrap()
            .status();
        assert_eq!(status, 200, "the 1 KiB request must verify");
    }

    let mut group = c.benchmark_group("tenants_1kib_post");
    group.bench_function("static_tokens", |b| {
        b.iter_batched(
            || request(&body, &signature, PATH),
            |request| runtime.block_on(static_list.clone().oneshot(request)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("tenant_cache_hit", |b| {
        b.iter_batched(
            || request(&body, &signature, PATH),
            |request| runtime.block_on(tenants.clone().oneshot(request)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("forged_known_tenant", |b| {
        b.iter_batched(
            || request(&body, &forged, PATH),
            |request| runtime.block_on(tenants.clone().oneshot(request)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("unknown_tenant", |b| {
        b.iter_batched(
            || request(&body, &signature, "/nobody/answer"),
            |request| runtime.block_on(tenants.clone().oneshot(request)),
            BatchSize::SmallInput,
        )
    });
    // Per request, summed over every sample of `interleaved`: (static, hit, requests).
    let run = |service: &_, block: u64| {
        let requests: Vec<_> = (0..block)
            .map(|_| request(&body, &signature, PATH))
            .collect();
        let started = Instant::now();
        for request in requests {
            let _ = runtime.block_on(tower::ServiceExt::oneshot(Clone::clone(service), request));
        }
        started.elapsed()
    };
    group.bench_function("interleaved", |b| {
        b.iter_custom(|iters| {
            let (mut fixed, mut hit, mut done) = (Duration::ZERO, Duration::ZERO, 0);
            while done < iters {
                let block = (iters - done).min(32);
                fixed += run(&static_list, block);
                hit += run(&tenants, block);
                done += block;
            }
            let (f, h, n) = INTERLEAVED.get();
            INTERLEAVED.set((f + fixed, h + hit, n + iters));
            hit
        })
    });
    group.finish();
}

thread_local! {
    static INTERLEAVED: Cell<(Duration, Duration, u64)> = const { Cell::new((Duration::ZERO, Duration::ZERO, 0)) };
}

criterion_group!(group, benches);

fn main() {
    let started = std::time::SystemTime::now();
    group();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    let read = |name: &str| mean_ns(&format!("tenants_1kib_post/{name}"), started);
    println!();
    if let (Some(fixed), Some(hit)) = (read("static_tokens"), read("tenant_cache_hit")) {
        println!(
            "1 KiB form POST, measured one after the other: static tokens {}, tenant cache hit {} \
             (difference {:.0} ns, drift included)",
            ns(fixed),
            ns(hit),
            hit - fixed
        );
    }
    if let (Some(forged), Some(unknown)) = (read("forged_known_tenant"), read("unknown_tenant")) {
        let ratio = unknown / forged;
        println!(
            "refused: a known tenant's forgery {}, an unknown tenant {}: {ratio:.2}x (target >= \
             0.9x, so timing does not tell tenants apart: {})",
            ns(forged),
            ns(unknown),
            if ratio >= 0.9 { "met" } else { "MISSED" },
        );
    }
    let (fixed, hit, requests) = INTERLEAVED.get();
    if requests > 0 {
        let per = |total: Duration| total.as_nanos() as f64 / requests as f64;
        let added = per(hit) - per(fixed);
        println!(
            "interleaved over {requests} requests each: static tokens {}, tenant cache hit {}; \
             a hit adds {added:.0} ns (target <= 100 ns: {})",
            ns(per(fixed)),
            ns(per(hit)),
            if added <= 100.0 { "met" } else { "MISSED" },
        );
    }
}
