//! Replay protection with the in-memory store, over real TCP in front of axum.

mod support;

use std::time::Duration;

use tower_plivo::replay::{
    MemoryNonceStore, NonceStore, ReplayKey, Reservation, ReservationId, StoreError, StoreFuture,
};

use support::replay_app::{
    abandoned_request, concurrent_copies, post_signed, replay_server, replay_server_with, signed,
};

#[tokio::test]
async fn the_same_signed_request_twice_is_a_replay() {
    let (addr, calls) = replay_server(MemoryNonceStore::new(), false).await;
    let headers = signed("/answer", "10000000000000000001", "CallUUID=a");
    let first = post_signed(addr, "/answer", &headers, "CallUUID=a").await;
    assert_eq!(first.status, 200);
    post_signed(addr, "/answer", &headers, "CallUUID=a")
        .await
        .assert_refused(403, "replayed");
    assert_eq!(calls.get(), 1, "the replay never reached the handler");
}

#[tokio::test]
async fn a_hundred_concurrent_copies_let_exactly_one_through() {
    let (addr, calls) = replay_server(MemoryNonceStore::new(), false).await;
    let statuses = concurrent_copies(addr, "/answer", "10000000000000000002", 100).await;
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|&&s| s == 403).count(), 99);
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn unverified_requests_are_never_recorded() {
    let (addr, _) = replay_server(MemoryNonceStore::new(), false).await;
    let nonce = "10000000000000000003";
    let mut forged = signed("/answer", nonce, "CallUUID=a");
    forged[0].1 = signed("/other", nonce, "CallUUID=a")[0].1.clone();
    assert_eq!(
        post_signed(addr, "/answer", &forged, "CallUUID=a")
            .await
            .status,
        403
    );
    let genuine = signed("/answer", nonce, "CallUUID=a");
    assert_eq!(
        post_signed(addr, "/answer", &genuine, "CallUUID=a")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn an_inner_5xx_releases_the_nonce_for_the_retry() {
    let (addr, calls) = replay_server(MemoryNonceStore::new(), false).await;
    let headers = signed("/fail-once", "10000000000000000004", "");
    assert_eq!(
        post_signed(addr, "/fail-once", &headers, "").await.status,
        500
    );
    assert_eq!(
        post_signed(addr, "/fail-once", &headers, "").await.status,
        200,
        "Plivo's retry"
    );
    assert_eq!(
        post_signed(addr, "/fail-once", &headers, "").await.status,
        403,
        "kept after a success"
    );
    assert_eq!(calls.get(), 2);
}

#[tokio::test]
async fn a_request_dropped_after_its_handler_started_keeps_the_nonce() {
    let (addr, calls) = replay_server(MemoryNonceStore::new(), false).await;
    let nonce = "10000000000000000005";
    abandoned_request(addr, nonce).await;
    // The server notices the closed connection and drops the request future; the handler had
    // started, so it may have acted: the nonce stays taken.
    calls.until_dropped().await;
    let headers = signed("/slow-once", nonce, "");
    post_signed(addr, "/slow-once", &headers, "")
        .await
        .assert_refused(403, "replayed");
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn release_on_drop_is_an_explicit_opt_in() {
    let (addr, calls) = replay_server_with(MemoryNonceStore::new(), |builder| {
        builder.replay_release_on_drop(true)
    })
    .await;
    let nonce = "10000000000000000009";
    abandoned_request(addr, nonce).await;
    // The server notices the closed connection and drops the request future.
    let headers = signed("/slow-once", nonce, "");
    let mut status = 0;
    for _ in 0..50 {
        status = post_signed(addr, "/slow-once", &headers, "").await.status;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 200, "the retry after a dropped request is accepted");
    assert_eq!(calls.get(), 2);
}

#[tokio::test]
async fn nonces_are_forgotten_after_the_ttl() {
    let store = MemoryNonceStore::new().ttl(Duration::from_millis(200));
    let (addr, _) = replay_server(store, false).await;
    let headers = signed("/answer", "10000000000000000006", "");
    assert_eq!(post_signed(addr, "/answer", &headers, "").await.status, 200);
    assert_eq!(post_signed(addr, "/answer", &headers, "").await.status, 403);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(post_signed(addr, "/answer", &headers, "").await.status, 200);
}

/// "Remember forever" written the natural way: a TTL too long to count in milliseconds once
/// wrapped to an expiry in the past, and every replay was accepted. The genuine request, then
/// its replay, then the replay again much later in the store's life (other nonces in between).
#[tokio::test]
async fn a_ttl_of_duration_max_still_refuses_the_replay() {
    for ttl in [Duration::MAX, Duration::from_secs(u64::MAX / 1000 + 1)] {
        let (addr, calls) = replay_server(MemoryNonceStore::new().ttl(ttl), false).await;
        let headers = signed("/answer", "10000000000000000016", "CallUUID=f");
        let first = post_signed(addr, "/answer", &headers, "CallUUID=f").await;
        assert_eq!(first.status, 200, "{ttl:?}: the genuine request");
        post_signed(addr, "/answer", &headers, "CallUUID=f")
            .await
            .assert_refused(403, "replayed");
        for other in 0..20 {
            let nonce = format!("2000000000000000{other:04}");
            let headers = signed("/answer", &nonce, "CallUUID=g");
            let reply = post_signed(addr, "/answer", &headers, "CallUUID=g").await;
            assert_eq!(reply.status, 200, "{ttl:?}: another genuine request");
        }
        post_signed(addr, "/answer", &headers, "CallUUID=f")
            .await
            .assert_refused(403, "replayed");
        assert_eq!(calls.get(), 21, "{ttl:?}: no replay reached the handler");
    }
}

/// A user-supplied store that cannot answer (a database that is down).
struct Unavailable;

impl NonceStore for Unavailable {
    fn reserve(&self, _: &ReplayKey, _: ReservationId) -> StoreFuture<Reservation> {
        StoreFuture::pending(async { Err(StoreError::new("database is down")) })
    }

    fn release(&self, _: &ReplayKey, _: ReservationId) {}
}

#[tokio::test]
async fn an_unavailable_store_answers_503_or_fails_open() {
    let headers = signed("/answer", "10000000000000000007", "CallUUID=x");
    let (closed, calls) = replay_server(Unavailable, false).await;
    post_signed(closed, "/answer", &headers, "CallUUID=x")
        .await
        .assert_refused(503, "replay_store_unavailable");
    assert_eq!(calls.get(), 0);
    let (open, calls) = replay_server(Unavailable, true).await;
    let reply = post_signed(open, "/answer", &headers, "CallUUID=x").await;
    assert_eq!((reply.status, reply.text().as_str()), (200, "CallUUID=x"));
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn v2_keys_are_the_signed_message() {
    use tower_plivo::signature::Signer;
    let (addr, _) = replay_server(MemoryNonceStore::new(), false).await;
    let nonce = "10000000000000000008";
    let v2 = |path: &str| {
        let sig = Signer::new(support::replay_app::TOKEN)
            .sign_v2(&format!("{}{path}", support::replay_app::ORIGIN), nonce)
            .unwrap();
        vec![
            ("X-Plivo-Signature-V2".to_owned(), sig),
            ("X-Plivo-Signature-V2-Nonce".to_owned(), nonce.to_owned()),
        ]
    };
    assert_eq!(
        post_signed(addr, "/sms/a", &v2("/sms/a"), "").await.status,
        200
    );
    assert_eq!(
        post_signed(addr, "/sms/b", &v2("/sms/b"), "").await.status,
        200,
        "same nonce, other URL"
    );
    // Same URL with another query (V2 does not sign it) is the same signed request.
    post_signed(addr, "/sms/a?x=1", &v2("/sms/a"), "any body")
        .await
        .assert_refused(403, "replayed");
    // Characters moved between the end of the path and the nonce: the same message
    // (`…/sms/12` + `345` and `…/sms/1` + `2345`), so the same key.
    let shifted = |path: &str, nonce: &str| {
        let sig = Signer::new(support::replay_app::TOKEN)
            .sign_v2(&format!("{}{path}", support::replay_app::ORIGIN), nonce)
            .unwrap();
        vec![
            ("X-Plivo-Signature-V2".to_owned(), sig),
            ("X-Plivo-Signature-V2-Nonce".to_owned(), nonce.to_owned()),
        ]
    };
    assert_eq!(
        post_signed(addr, "/sms/12", &shifted("/sms/12", "345"), "")
            .await
            .status,
        200
    );
    let moved = shifted("/sms/1", "2345");
    assert_eq!(
        moved[0].1,
        shifted("/sms/12", "345")[0].1,
        "one signature covers both"
    );
    post_signed(addr, "/sms/1", &moved, "")
        .await
        .assert_refused(403, "replayed");
}
