//! Replay protection with the in-memory store, over real TCP in front of axum: the
//! replay-store conformance suite (`tests/it/support/replay_conformance.rs`), then what is the
//! memory store's own or the layer's.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower_plivo::replay::{
    MemoryNonceStore, NonceStore, ReplayKey, Reservation, ReservationId, StoreError, StoreFuture,
};

use support::replay_app::{
    FORGED_BODY, ORIGIN, dual_signed, post_signed, replay_server, replay_server_with, signed,
    v2_signed,
};

// Every scenario on one `Arc<MemoryNonceStore>` per test (each server holds a clone: two
// replicas in one process).
support::replay_conformance::replay_store_conformance!({
    let store = Arc::new(MemoryNonceStore::new());
    move || store.clone()
});

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

/// The key is read from the bytes of the message that verified, without its parameters: the
/// base URL and the nonce. A captured V3 request without parameters resent as V2 with bytes
/// moved from its nonce into its path (`…/a` + `.123` and `…/a.1` + `23`, one message under
/// both versions), and the same URL and nonce with other parameters (signed for them: Plivo
/// never does this, the safe side) are replays; the same nonce on another URL is not.
#[tokio::test]
async fn the_key_is_the_base_url_and_nonce_read_from_the_message() {
    use tower_plivo::signature::Signer;
    let (addr, calls) = replay_server(MemoryNonceStore::new(), false).await;
    let nonce = "10000000000000000040";
    let genuine = signed("/sms", nonce, "Text=a");
    assert_eq!(
        post_signed(addr, "/sms", &genuine, "Text=a").await.status,
        200
    );
    let other_body = signed("/sms", nonce, "Text=b");
    post_signed(addr, "/sms", &other_body, "Text=b")
        .await
        .assert_refused(403, "replayed");
    let other_query = signed("/sms?page=2", nonce, "");
    post_signed(addr, "/sms?page=2", &other_query, "")
        .await
        .assert_refused(403, "replayed");
    let other_url = signed("/sms/status", nonce, "Text=a");
    assert_eq!(
        post_signed(addr, "/sms/status", &other_url, "Text=a")
            .await
            .status,
        200,
        "same nonce, another URL"
    );

    // One message under both versions: V3 over `…/a` with nonce 123 signs `…/a.123`, which is
    // the V2 message of `…/a.1` with nonce 23.
    let v3 = signed("/a", "123", "");
    assert_eq!(post_signed(addr, "/a", &v3, "").await.status, 200);
    let v2_signature = Signer::new(support::replay_app::TOKEN)
        .sign_v2(&format!("{ORIGIN}/a.1"), "23")
        .unwrap();
    assert_eq!(v2_signature, v3[0].1, "one signature covers both");
    let as_v2 = vec![
        ("X-Plivo-Signature-V2".to_owned(), v2_signature),
        ("X-Plivo-Signature-V2-Nonce".to_owned(), "23".to_owned()),
    ];
    post_signed(addr, "/a.1", &as_v2, "Text=forged")
        .await
        .assert_refused(403, "replayed");
    assert_eq!(calls.get(), 3);
}

/// The genuine requests next to the rule: a V2-only delivery, a dual-signed one and a V3-only
/// one are each accepted once; a dual-signed delivery is a replay of its V3 half too, and its
/// V2 half with the genuine (empty) body is as much a replay as with a forged one.
#[tokio::test]
async fn genuine_v2_only_v3_only_and_dual_deliveries_are_accepted_once() {
    let (addr, calls) = replay_server(MemoryNonceStore::new(), false).await;
    let v2_only = v2_signed("/sms", "10000000000000000024");
    assert_eq!(
        post_signed(addr, "/sms", &v2_only, "Text=a").await.status,
        200
    );
    let v3_only = signed("/sms", "10000000000000000025", "Text=b");
    assert_eq!(
        post_signed(addr, "/sms", &v3_only, "Text=b").await.status,
        200
    );
    let body = "Text=c";
    let dual = dual_signed("/sms", "10000000000000000026", "10000000000000000027", body);
    let reply = post_signed(addr, "/sms", &dual, body).await;
    assert_eq!((reply.status, reply.text().as_str()), (200, body));
    assert_eq!(calls.get(), 3);
    // The V3 half alone (the V2 headers stripped), and the V2 half with the real body.
    let v3_half = signed("/sms", "10000000000000000026", body);
    post_signed(addr, "/sms", &v3_half, body)
        .await
        .assert_refused(403, "replayed");
    let v2_half = v2_signed("/sms", "10000000000000000027");
    post_signed(addr, "/sms", &v2_half, body)
        .await
        .assert_refused(403, "replayed");
    assert_eq!(calls.get(), 3);
}

/// A V2 half seen first (a V2-only request accepted with that nonce) makes the dual-signed
/// delivery that carries it a replay, and the delivery's V3 half stays recorded: the V3-only
/// copy of it is refused too.
#[tokio::test]
async fn a_delivery_whose_v2_half_was_accepted_is_a_replay_and_its_v3_half_is_kept() {
    let (addr, calls) = replay_server(MemoryNonceStore::new(), false).await;
    let (v3_nonce, v2_nonce) = ("10000000000000000028", "10000000000000000029");
    let half = v2_signed("/sms", v2_nonce);
    assert_eq!(
        post_signed(addr, "/sms", &half, FORGED_BODY).await.status,
        200
    );
    let body = "Text=c";
    let dual = dual_signed("/sms", v3_nonce, v2_nonce, body);
    post_signed(addr, "/sms", &dual, body)
        .await
        .assert_refused(403, "replayed");
    post_signed(addr, "/sms", &signed("/sms", v3_nonce, body), body)
        .await
        .assert_refused(403, "replayed");
    assert_eq!(calls.get(), 1);
}

/// A V2 half that does not verify (a signature for another URL) records nothing: the delivery
/// is accepted by V3, and that V2 half sent alone is refused as the forgery it is.
#[tokio::test]
async fn a_v2_half_that_does_not_verify_is_not_recorded_and_still_refused_alone() {
    let store = Arc::new(PartlyDown::default());
    let (addr, calls) = replay_server(store.clone(), false).await;
    let (v3_nonce, v2_nonce) = ("10000000000000000030", "10000000000000000031");
    let body = "Text=c";
    let mut dual = signed("/sms", v3_nonce, body);
    let mut wrong = v2_signed("/other", v2_nonce);
    wrong.truncate(2);
    dual.extend(wrong.clone());
    assert_eq!(post_signed(addr, "/sms", &dual, body).await.status, 200);
    // Recorded: the V3 message only; neither reading of the V2 half.
    let v3_key = ReplayKey::of_message(format!("{ORIGIN}/sms?Textc.{v3_nonce}").as_bytes());
    assert!(!is_free(&store, &v3_key), "the V3 message is recorded");
    for url in ["/sms", "/other"] {
        let v2_key = ReplayKey::of_message(format!("{ORIGIN}{url}{v2_nonce}").as_bytes());
        assert!(
            is_free(&store, &v2_key),
            "{url}: nothing recorded for the V2 half"
        );
    }
    post_signed(addr, "/sms", &wrong, FORGED_BODY)
        .await
        .assert_refused(403, "signature_mismatch");
    assert_eq!(calls.get(), 1);
}

/// Report-only mode reserves both halves as enforcing mode does: the V2 half sent after the
/// delivery is handed on marked `replayed`.
#[tokio::test]
async fn report_only_reserves_both_halves() {
    let (addr, calls) =
        replay_server_with(MemoryNonceStore::new(), |builder| builder.report_only(true)).await;
    let (v3_nonce, v2_nonce) = ("10000000000000000032", "10000000000000000033");
    let body = "Text=c";
    let dual = dual_signed("/sms", v3_nonce, v2_nonce, body);
    let reply = post_signed(addr, "/sms", &dual, body).await;
    assert_eq!((reply.status, reply.header(support::REPORTED)), (200, None));
    let half = v2_signed("/sms", v2_nonce);
    let reply = post_signed(addr, "/sms", &half, FORGED_BODY).await;
    assert_eq!(reply.status, 200, "handed on");
    assert_eq!(reply.header(support::REPORTED).as_deref(), Some("replayed"));
    assert_eq!(calls.get(), 2);
}

/// A memory store that cannot answer for the keys listed in `down` (one shard of a cluster
/// down, say) and answers for every other.
#[derive(Default)]
struct PartlyDown {
    memory: MemoryNonceStore,
    down: Mutex<Vec<ReplayKey>>,
}

impl NonceStore for PartlyDown {
    fn reserve(&self, key: &ReplayKey, id: ReservationId) -> StoreFuture<Reservation> {
        if self.down.lock().unwrap().contains(key) {
            return StoreFuture::ready(Err(StoreError::new("this shard is down")));
        }
        self.memory.reserve(key, id)
    }

    fn release(&self, key: &ReplayKey, id: ReservationId) {
        self.memory.release(key, id)
    }
}

/// Whether `key` is free in `store` (reserving it to find out, then releasing it).
fn is_free(store: &PartlyDown, key: &ReplayKey) -> bool {
    let id = ReservationId::new();
    let answer = futures_util::FutureExt::now_or_never(store.reserve(key, id));
    let free = matches!(answer, Some(Ok(Reservation::Reserved)));
    store.release(key, id);
    free
}

/// A half-taken pair: the V2 key reserved, the V3 key's store call failed. Failing closed, the
/// delivery gets 503 (never 200), the V2 key is undone so that Plivo's retry is accepted once
/// the store is back, and the retry makes its V2 half a replay. Failing open, the delivery is
/// let through and the half that could be reserved still refuses its V2 copy.
#[tokio::test]
async fn a_half_taken_pair_is_undone_and_answered_503() {
    let (v3_nonce, v2_nonce) = ("10000000000000000034", "10000000000000000035");
    let v3_key = ReplayKey::of_message(format!("{ORIGIN}/sms.{v3_nonce}").as_bytes());
    let v2_key = ReplayKey::of_message(format!("{ORIGIN}/sms{v2_nonce}").as_bytes());
    let dual = dual_signed("/sms", v3_nonce, v2_nonce, "");
    let half = v2_signed("/sms", v2_nonce);

    let store = Arc::new(PartlyDown::default());
    store.down.lock().unwrap().push(v3_key);
    let (closed, calls) = replay_server(store.clone(), false).await;
    post_signed(closed, "/sms", &dual, "")
        .await
        .assert_refused(503, "replay_store_unavailable");
    assert!(is_free(&store, &v2_key), "the V2 key was undone");
    store.down.lock().unwrap().clear();
    assert_eq!(
        post_signed(closed, "/sms", &dual, "").await.status,
        200,
        "the retry"
    );
    post_signed(closed, "/sms", &half, FORGED_BODY)
        .await
        .assert_refused(403, "replayed");
    assert_eq!(calls.get(), 1);

    let store = Arc::new(PartlyDown::default());
    store.down.lock().unwrap().push(v3_key);
    let (open, calls) = replay_server(store.clone(), true).await;
    assert_eq!(
        post_signed(open, "/sms", &dual, "").await.status,
        200,
        "fails open"
    );
    post_signed(open, "/sms", &half, FORGED_BODY)
        .await
        .assert_refused(403, "replayed");
    assert_eq!(calls.get(), 1);
}
