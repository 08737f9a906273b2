//! What a tenant cache hit costs: a signed 1 KiB form POST through `PlivoSignatureLayer` with
//! the static token list, against the same request through a layer whose tokens come from a
//! `TenantCache` already holding the tenant, in process (`tower::ServiceExt::oneshot` on a
//! Tokio current-thread runtime). Both run in the same process, and the difference is printed.
//! Target: a hit adds at most 100 ns (absolute, so it holds however fast verification gets).
//!
//! Run one after the other, two benches drift apart by more than 100 ns on a busy or
//! frequency-scaling machine, so every path is timed in one bench, `alternating`, which sends
//! blocks of 32 requests through each in turn in the same measurement window.
//!
//! Both layers run without replay protection, so one signed request can be sent again and
//! again; the tenant is the first path segment (`/acme/answer`), as in the `multi_tenant`
//! example.
//!
//! Two more workloads time refusals: a forgery on a known tenant's route, and a request for a
//! tenant the store does not know (cached as unknown). Their ratio is printed: an unknown
//! tenant's refusal must cost what a known tenant's forgery does (target >= 0.9x), or its
//! timing would tell which names are tenants.
//!
//! ```text
//! cargo bench --bench tenants
//! ```

mod common;

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::{Ready, ready};

use bytes::Bytes;
use common::vectors::V3_TOKEN;
use common::*;
use criterion::{Criterion, criterion_group};
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

    // Four workloads timed in alternating blocks, so that the machine's drift falls on all of
    // them alike: the figures printed are these.
    let mut group = c.benchmark_group("tenants_1kib_post");
    bench_alternating(
        &mut group,
        "alternating",
        "tenants",
        vec![
            requests_through(&runtime, &static_list, || request(&body, &signature, PATH)),
            requests_through(&runtime, &tenants, || request(&body, &signature, PATH)),
            requests_through(&runtime, &tenants, || request(&body, &forged, PATH)),
            requests_through(&runtime, &tenants, || {
                request(&body, &signature, "/nobody/answer")
            }),
        ],
    );
    group.finish();
}

criterion_group!(group, benches);

fn main() {
    group();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    let Some([fixed, hit, forged, unknown]) =
        alternating_ns("tenants").and_then(|t| <[f64; 4]>::try_from(t).ok())
    else {
        return;
    };
    println!();
    println!("timed in alternating blocks of 32 (`tenants_1kib_post/alternating`):");
    let added = hit - fixed;
    println!(
        "1 KiB form POST: static tokens {}, tenant cache hit {}; a hit adds {added:.0} ns \
         (target <= 100 ns: {})",
        ns(fixed),
        ns(hit),
        if added <= 100.0 { "met" } else { "MISSED" },
    );
    let ratio = unknown / forged;
    println!(
        "refused: a known tenant's forgery {}, an unknown tenant {}: {ratio:.2}x (target >= \
         0.9x, so timing does not tell tenants apart: {})",
        ns(forged),
        ns(unknown),
        if ratio >= 0.9 { "met" } else { "MISSED" },
    );
}
