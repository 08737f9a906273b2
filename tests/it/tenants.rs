//! The tenant cache and the tokens stage in process, over real TCP, with a token source that
//! counts its lookups and can be slowed down or taken down: shared lookups, what is remembered
//! and for how long, invalidation, a full cache, abandoned lookups, audio streams, and the
//! configurations that cannot work.

use crate::support;

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Extension, Router};
use tower_plivo::signature::AuthTokens;
use tower_plivo::tenants::{
    StoreError, StoreFuture, TenantCache, TenantCacheBuilder, TenantRequest, TokenSource,
};
use tower_plivo::{ConfigError, PlivoSignatureLayer, PlivoVerified, Scheme, TokenId, UrlPolicy};

use support::websocket::{assert_refused, connect, plivo_stream_url, upgrade_request};
use support::{FORM, Reply, fresh_nonce, send, serve, sign_v3};

const ACME: &str = "acme-in-process-token-000000001";
const GLOBEX: &str = "globex-in-process-token-0000001";
const BODY: &[u8] = b"CallUUID=c0ffee&From=15550001111";

/// Tenants by the first path segment, tokens from a map the test changes; counts lookups.
#[derive(Default)]
struct Store {
    tenants: Mutex<HashMap<String, Vec<String>>>,
    lookups: AtomicUsize,
    down: AtomicBool,
    delay_ms: AtomicUsize,
}

impl Store {
    fn with(tenants: &[(&str, &str)]) -> Arc<Store> {
        let store = Arc::new(Store::default());
        for (name, token) in tenants {
            store.set(name, &[token]);
        }
        store
    }

    fn set(&self, name: &str, tokens: &[&str]) {
        self.tenants.lock().unwrap().insert(
            name.to_owned(),
            tokens.iter().map(|token| token.to_string()).collect(),
        );
    }

    fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

struct Source(Arc<Store>);

impl TokenSource for Source {
    fn tenant<'a>(&self, request: &TenantRequest<'a>) -> Option<Cow<'a, str>> {
        request.path_segment(0).map(Cow::Borrowed)
    }

    fn tokens(&self, tenant: &str) -> StoreFuture<Option<AuthTokens>> {
        let store = self.0.clone();
        let tenant = tenant.to_owned();
        StoreFuture::pending(async move {
            store.lookups.fetch_add(1, Ordering::SeqCst);
            let delay = store.delay_ms.load(Ordering::SeqCst) as u64;
            tokio::time::sleep(Duration::from_millis(delay)).await;
            if store.down.load(Ordering::SeqCst) {
                return Err(StoreError::new("the store is down"));
            }
            let tokens = store.tenants.lock().unwrap().get(&tenant).cloned();
            tokens
                .map(|tokens| AuthTokens::new(tokens, None::<&str>).map_err(StoreError::new))
                .transpose()
        })
    }
}

fn cache(store: &Arc<Store>) -> TenantCacheBuilder {
    TenantCache::builder(Source(store.clone()))
}

async fn answer(Extension(verified): Extension<PlivoVerified>) -> String {
    format!(
        "tenant={} token={}",
        verified.tenant().unwrap_or("none"),
        verified.token()
    )
}

/// `POST /{tenant}/answer` behind a layer over `cache`, the origin from the request's Host.
async fn server(cache: TenantCache) -> SocketAddr {
    let layer = PlivoSignatureLayer::builder()
        .tenants(cache)
        .url_policy(UrlPolicy::from_request(Scheme::Http))
        .build()
        .unwrap();
    serve(
        Router::new()
            .route("/{tenant}/answer", post(answer))
            .route_layer(layer),
    )
    .await
}

async fn post_as(addr: SocketAddr, tenant: &str, token: &str) -> Reply {
    let path = format!("/{tenant}/answer");
    let nonce = fresh_nonce();
    let signature = sign_v3(token, "POST", &format!("http://{addr}{path}"), BODY, &nonce);
    send_signed(addr, &path, &signature, &nonce).await
}

/// A POST to `path` carrying this signature and nonce (a captured one, sent again).
async fn send_signed(addr: SocketAddr, path: &str, signature: &str, nonce: &str) -> Reply {
    send(
        addr,
        "POST",
        path,
        &[
            ("x-plivo-signature-v3", signature),
            ("x-plivo-signature-v3-nonce", nonce),
            FORM,
        ],
        BODY,
    )
    .await
}

#[tokio::test]
async fn a_captured_tenant_request_sent_again_is_a_replay_on_every_route() {
    let store = Store::with(&[("acme", ACME), ("globex", GLOBEX)]);
    let addr = server(cache(&store).build().unwrap()).await;
    let nonce = fresh_nonce();
    let url = format!("http://{addr}/acme/answer");
    let captured = sign_v3(ACME, "POST", &url, BODY, &nonce);
    let genuine = send_signed(addr, "/acme/answer", &captured, &nonce).await;
    assert_answered(&genuine, "acme", TokenId::Account(0));
    send_signed(addr, "/acme/answer", &captured, &nonce)
        .await
        .assert_refused(403, "replayed");
    // The same capture on another tenant's route verifies with nobody's tokens there.
    send_signed(addr, "/globex/answer", &captured, &nonce)
        .await
        .assert_refused(403, "signature_mismatch");
}

#[track_caller]
fn assert_answered(reply: &Reply, tenant: &str, token: TokenId) {
    assert_eq!(
        (reply.status, reply.text()),
        (200, format!("tenant={tenant} token={token}"))
    );
}

#[tokio::test]
async fn concurrent_first_requests_share_one_slow_lookup() {
    let store = Store::with(&[("acme", ACME)]);
    store.delay_ms.store(200, Ordering::SeqCst);
    let addr = server(cache(&store).build().unwrap()).await;
    let requests = (0..100).map(|_| tokio::spawn(async move { post_as(addr, "acme", ACME).await }));
    for reply in futures_util::future::join_all(requests).await {
        assert_answered(&reply.unwrap(), "acme", TokenId::Account(0));
    }
    assert_eq!(store.lookups(), 1);
}

#[tokio::test]
async fn the_tenant_and_the_token_that_matched_are_named() {
    let store = Store::with(&[("globex", GLOBEX)]);
    store.set("acme", &["acme-new-token-000000000000001", ACME]);
    let addr = server(cache(&store).build().unwrap()).await;
    assert_answered(
        &post_as(addr, "acme", ACME).await,
        "acme",
        TokenId::Account(1),
    );
    assert_answered(
        &post_as(addr, "globex", GLOBEX).await,
        "globex",
        TokenId::Account(0),
    );
    post_as(addr, "globex", ACME)
        .await
        .assert_refused(403, "signature_mismatch");
}

#[tokio::test]
async fn an_unknown_tenant_is_remembered_for_the_unknown_ttl_only() {
    let store = Store::with(&[]);
    let cache = cache(&store)
        .unknown_ttl(Duration::from_millis(300))
        .build()
        .unwrap();
    let addr = server(cache).await;
    post_as(addr, "acme", ACME)
        .await
        .assert_refused(403, "unknown_tenant");
    post_as(addr, "acme", ACME)
        .await
        .assert_refused(403, "unknown_tenant");
    assert_eq!(store.lookups(), 1);
    // Created meanwhile: verifies once "unknown" has expired.
    store.set("acme", &[ACME]);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_answered(
        &post_as(addr, "acme", ACME).await,
        "acme",
        TokenId::Account(0),
    );
    assert_eq!(store.lookups(), 2);
}

#[tokio::test]
async fn a_store_error_is_503_and_never_remembered() {
    let store = Store::with(&[("acme", ACME)]);
    store.down.store(true, Ordering::SeqCst);
    let addr = server(cache(&store).build().unwrap()).await;
    let logs = support::logs::Captured::default();
    let _guard = logs.install();
    post_as(addr, "acme", ACME)
        .await
        .assert_refused(503, "tenant_store_unavailable");
    post_as(addr, "acme", ACME)
        .await
        .assert_refused(503, "tenant_store_unavailable");
    assert_eq!(store.lookups(), 2);
    store.down.store(false, Ordering::SeqCst);
    assert_answered(
        &post_as(addr, "acme", ACME).await,
        "acme",
        TokenId::Account(0),
    );
    let text = logs.text();
    assert_eq!(
        text.lines()
            .filter(|line| line.contains("ERROR") && line.contains("the store is down"))
            .count(),
        2,
        "{text}"
    );
    logs.assert_none_of(&[ACME]);
}

#[tokio::test]
async fn invalidate_applies_a_rotation_at_once() {
    let store = Store::with(&[("acme", ACME)]);
    let cache = cache(&store)
        .ttl(Duration::from_secs(3600))
        .build()
        .unwrap();
    let addr = server(cache.clone()).await;
    assert_answered(
        &post_as(addr, "acme", ACME).await,
        "acme",
        TokenId::Account(0),
    );
    let next = "acme-rotated-token-00000000001";
    store.set("acme", &[next]);
    // Cached for an hour: the old token still verifies until the cache is told.
    assert_answered(
        &post_as(addr, "acme", ACME).await,
        "acme",
        TokenId::Account(0),
    );
    cache.invalidate("acme");
    post_as(addr, "acme", ACME)
        .await
        .assert_refused(403, "signature_mismatch");
    assert_answered(
        &post_as(addr, "acme", next).await,
        "acme",
        TokenId::Account(0),
    );
    cache.invalidate_all();
    assert_answered(
        &post_as(addr, "acme", next).await,
        "acme",
        TokenId::Account(0),
    );
    assert_eq!(store.lookups(), 3);
}

#[tokio::test]
async fn a_full_cache_still_verifies_each_tenant_with_its_own_tokens() {
    let tokens: Vec<String> = (0..5)
        .map(|i| format!("tenant-{i}-token-000000000000"))
        .collect();
    let store = Store::with(&[]);
    for (i, token) in tokens.iter().enumerate() {
        store.set(&format!("t{i}"), &[token]);
    }
    let addr = server(cache(&store).max_tenants(2).build().unwrap()).await;
    for round in 0..2 {
        for (i, token) in tokens.iter().enumerate() {
            let tenant = format!("t{i}");
            assert_answered(
                &post_as(addr, &tenant, token).await,
                &tenant,
                TokenId::Account(0),
            );
            let other = &tokens[(i + 1 + round) % tokens.len()];
            post_as(addr, &tenant, other)
                .await
                .assert_refused(403, "signature_mismatch");
        }
    }
}

#[tokio::test]
async fn a_lookup_abandoned_by_its_request_does_not_wedge_the_next() {
    let store = Store::with(&[("acme", ACME)]);
    store.delay_ms.store(300, Ordering::SeqCst);
    let addr = server(cache(&store).build().unwrap()).await;
    let abandoned = tokio::time::timeout(Duration::from_millis(50), post_as(addr, "acme", ACME));
    assert!(
        abandoned.await.is_err(),
        "the first request was meant to be dropped mid-lookup"
    );
    store.delay_ms.store(0, Ordering::SeqCst);
    let reply = tokio::time::timeout(Duration::from_secs(5), post_as(addr, "acme", ACME))
        .await
        .expect("answered");
    assert_answered(&reply, "acme", TokenId::Account(0));
}

/// A request with made-up signature headers for `/{tenant}/answer` and this chunked body (no
/// declared length, so only reading it shows its size).
fn made_up(addr: SocketAddr, tenant: &str, body: &[u8]) -> Vec<u8> {
    use support::raw::{Raw, chunk};
    let mut bytes = Raw::new("POST", &format!("/{tenant}/answer"))
        .header("host", addr.to_string())
        .header(FORM.0, FORM.1)
        .header("transfer-encoding", "chunked")
        .header(
            "x-plivo-signature-v3",
            "bm90IGEgc2lnbmF0dXJlIGF0IGFsbCwgbm90IG9uZQ==",
        )
        .header("x-plivo-signature-v3-nonce", "12345678901234567890")
        .head();
    bytes.extend(chunk(body));
    bytes.extend_from_slice(b"0\r\n\r\n");
    bytes
}

#[tokio::test]
async fn a_sender_cannot_tell_a_known_tenant_from_an_unknown_one() {
    use support::raw::send_raw;
    let store = Store::with(&[("acme", ACME)]);
    let addr = server(cache(&store).build().unwrap()).await;
    assert_answered(
        &post_as(addr, "acme", ACME).await,
        "acme",
        TokenId::Account(0),
    );
    // The oracle a refusal before the body would give: 413 for a known tenant, 403 else.
    let oversized = vec![b'a'; tower_plivo::PlivoGuardBuilder::DEFAULT_BODY_LIMIT + 1];
    for body in [&oversized[..], b"CallUUID=1"] {
        let known = send_raw(addr, made_up(addr, "acme", body)).await;
        let unknown = send_raw(addr, made_up(addr, "initech", body)).await;
        assert_eq!(
            (known.status, known.text()),
            (unknown.status, unknown.text())
        );
        let expected = if body.len() > 100 {
            "body_too_large"
        } else {
            "signature_mismatch"
        };
        assert_eq!(known.reason().as_deref(), Some(expected));
    }
    let unknown = send_raw(addr, made_up(addr, "initech", b"CallUUID=1")).await;
    assert_eq!(unknown.reason().as_deref(), Some("unknown_tenant"));
}

#[tokio::test]
async fn a_tenant_name_over_the_limit_is_refused_without_a_lookup() {
    let long = "a".repeat(tower_plivo::tenants::TenantCache::MAX_TENANT_NAME_LEN + 1);
    let store = Store::with(&[(&long, ACME)]);
    let addr = server(cache(&store).build().unwrap()).await;
    post_as(addr, &long, ACME)
        .await
        .assert_refused(403, "unknown_tenant");
    assert_eq!(store.lookups(), 0);
}

async fn stream(
    Extension(verified): Extension<PlivoVerified>,
    upgrade: WebSocketUpgrade,
) -> Response {
    assert_eq!(verified.tenant(), Some("acme"));
    upgrade.on_upgrade(|_socket| async {}).into_response()
}

#[tokio::test]
async fn an_audio_stream_is_verified_with_its_tenants_tokens_before_the_101() {
    let store = Store::with(&[("acme", ACME), ("globex", GLOBEX)]);
    let layer = PlivoSignatureLayer::builder()
        .tenants(cache(&store).build().unwrap())
        .url_policy(UrlPolicy::from_request(Scheme::Http))
        .build()
        .unwrap();
    let addr = serve(
        Router::new()
            .route("/{tenant}/stream", any(stream))
            .layer(layer),
    )
    .await;
    let url = |path: &str| plivo_stream_url(&addr.to_string(), path);
    let acme = upgrade_request(
        addr,
        "/acme/stream",
        &url("/acme/stream"),
        ACME,
        &fresh_nonce(),
    );
    assert!(connect(acme).await.is_ok());
    let cross = upgrade_request(
        addr,
        "/acme/stream",
        &url("/acme/stream"),
        GLOBEX,
        &fresh_nonce(),
    );
    assert_refused(connect(cross).await, "signature_mismatch");
    let unknown = upgrade_request(
        addr,
        "/initech/stream",
        &url("/initech/stream"),
        ACME,
        &fresh_nonce(),
    );
    assert_refused(connect(unknown).await, "unknown_tenant");
}

#[tokio::test]
async fn the_async_upgrade_check_looks_the_tenant_up() {
    let store = Store::with(&[("acme", ACME)]);
    store.delay_ms.store(20, Ordering::SeqCst);
    let check = tower_plivo::PlivoGuard::builder()
        .tenants(cache(&store).build().unwrap())
        .url_policy(UrlPolicy::public_base("https://hooks.example.com").unwrap())
        .build()
        .unwrap();

    let request = |token: &str, path: &str| {
        let nonce = fresh_nonce();
        let signature = tower_plivo::signature::Signer::new(token)
            .sign_stream(&format!("wss://hooks.example.com{path}"), &nonce)
            .unwrap();
        http::Request::get(path)
            .header("host", "hooks.example.com")
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
            .header("x-plivo-signature-v3", signature)
            .header("x-plivo-signature-v3-nonce", nonce)
            .body(())
            .unwrap()
    };
    let [acme, globex, initech] = [
        request(ACME, "/acme/stream"),
        request(GLOBEX, "/acme/stream"),
        request(ACME, "/initech/stream"),
    ];
    let upgrade = |request| check.check_upgrade(tower_plivo::RequestHead::from(request));
    let verified = upgrade(&acme).await.unwrap();
    assert_eq!(verified.tenant(), Some("acme"));
    assert_eq!(
        upgrade(&globex)
            .await
            .err()
            .map(|refused| refused.rejection()),
        Some(tower_plivo::Rejection::SignatureMismatch)
    );
    assert_eq!(
        upgrade(&initech)
            .await
            .err()
            .map(|refused| refused.rejection()),
        Some(tower_plivo::Rejection::UnknownTenant)
    );
    assert_eq!(store.lookups(), 2);
}

#[test]
fn configurations_that_cannot_work_are_build_errors() {
    let store = Store::with(&[]);
    let policy = || UrlPolicy::public_base("https://hooks.example.com").unwrap();
    let both = PlivoSignatureLayer::builder()
        .tenants(cache(&store).build().unwrap())
        .auth_token(ACME)
        .url_policy(policy())
        .build();
    assert!(
        matches!(both, Err(ConfigError::Ineffective { .. })),
        "{both:?}"
    );
    let neither = PlivoSignatureLayer::builder().url_policy(policy()).build();
    assert_eq!(neither.unwrap_err(), ConfigError::NoAuthToken);
    let layer = PlivoSignatureLayer::builder()
        .tenants(cache(&store).build().unwrap())
        .url_policy(policy())
        .build()
        .unwrap();
    assert!(matches!(
        layer.guard().synchronous(),
        Err(ConfigError::Ineffective {
            setting: "synchronous",
            ..
        })
    ));
    assert!(cache(&store).max_tenants(0).build().is_err());
}

#[tokio::test]
async fn debug_shows_no_token_anywhere() {
    let store = Store::with(&[("acme", ACME)]);
    let cache = cache(&store).build().unwrap();
    let addr = server(cache.clone()).await;
    assert_answered(
        &post_as(addr, "acme", ACME).await,
        "acme",
        TokenId::Account(0),
    );
    let layer = PlivoSignatureLayer::builder()
        .tenants(cache.clone())
        .url_policy(UrlPolicy::from_request(Scheme::Http));
    let builder = format!("{layer:?}");
    let shown = format!(
        "{cache:?} {cache:#?} {builder} {:?}",
        layer.build().unwrap()
    );
    assert!(shown.contains("cached_tenants: 1"), "{shown}");
    assert!(!shown.contains(ACME), "{shown}");
}
