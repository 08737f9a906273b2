//! `RedisNonceStore::cluster` on its own (feature `redis-cluster`): what construction refuses,
//! that it does not connect, that the first operation is bounded by the operation timeout, and,
//! on a real one-node Redis Cluster with an ACL user (a `redis-server --cluster-enabled yes`
//! owning all 16384 slots, started by the test on a free port), that the URL's user and password
//! reach the cluster client and reserve / keep / release behave as on one node. The multi-node
//! cluster (failover, slot moves) is tests/it/replay_redis_cluster.rs.

use crate::support;
use crate::support::redis_node;

use std::time::{Duration, Instant};

use tower_plivo::replay::{NonceStore, RedisNonceStore, ReplayKey, Reservation, ReservationId};

use redis_node::{ACL_PASSWORD, ACL_USER, RedisNode};
use support::free_port;
use support::replay_app::{concurrent_copies, post_signed, replay_server, signed};

fn key(name: &str) -> ReplayKey {
    ReplayKey::of_message(name.as_bytes())
}

#[tokio::test]
async fn an_empty_seed_list_is_an_error() {
    let error = RedisNonceStore::cluster(Vec::<String>::new()).unwrap_err();
    assert!(error.to_string().contains("empty"), "{error}");
}

#[tokio::test]
async fn a_malformed_seed_is_an_error() {
    for seeds in [
        vec!["not a url"],
        vec!["http://127.0.0.1:7000"],
        vec!["redis://127.0.0.1:notaport"],
        vec!["redis://127.0.0.1:7000", "redis://"],
        // Redis Cluster announces TCP addresses only.
        vec!["redis+unix:///tmp/redis.sock"],
        // One user and one password for the whole cluster.
        vec!["redis://a:x@127.0.0.1:7000", "redis://b:x@127.0.0.1:7001"],
        vec!["redis://a:x@127.0.0.1:7000", "redis://a:y@127.0.0.1:7001"],
    ] {
        assert!(
            RedisNonceStore::cluster(&seeds).is_err(),
            "{seeds:?} was accepted"
        );
    }
}

#[cfg(feature = "redis-tls")]
#[tokio::test]
async fn tls_seeds_are_accepted_and_must_agree() {
    RedisNonceStore::cluster(["rediss://plivo:secret@redis.example.com:6379"]).unwrap();
    RedisNonceStore::new("rediss://plivo:secret@redis.example.com:6379").unwrap();
    assert!(
        RedisNonceStore::cluster(["rediss://127.0.0.1:7000", "redis://127.0.0.1:7001"]).is_err(),
        "a mix of TLS and plain seeds was accepted"
    );
}

#[cfg(not(feature = "redis-tls"))]
#[tokio::test]
async fn tls_seeds_need_the_redis_tls_feature() {
    assert!(RedisNonceStore::cluster(["rediss://127.0.0.1:7000"]).is_err());
    assert!(RedisNonceStore::new("rediss://127.0.0.1:7000").is_err());
}

#[tokio::test]
async fn debug_never_shows_a_seed_or_its_password() {
    let store = RedisNonceStore::cluster([
        "redis://plivo:hunter2@10.0.0.1:7000",
        "redis://plivo:hunter2@10.0.0.2:7000",
    ])
    .unwrap();
    let debug = format!("{store:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(!debug.contains("10.0.0.1"), "{debug}");
    assert!(debug.contains("cluster"), "{debug}");
}

#[tokio::test]
async fn unreachable_seeds_construct_and_each_operation_fails_within_its_timeout() {
    // A refused port (answers at once) and a black hole (may never answer): both bounded.
    for seed in [
        format!("redis://127.0.0.1:{}", free_port()),
        "redis://10.255.255.1:7000".to_owned(),
    ] {
        let timeout = Duration::from_millis(300);
        let store = RedisNonceStore::cluster([&seed])
            .unwrap()
            .operation_timeout(timeout);
        for attempt in 0..2 {
            let started = Instant::now();
            let answer = store
                .reserve(&key("unreachable"), ReservationId::new())
                .await;
            let took = started.elapsed();
            assert!(answer.is_err(), "{seed}, attempt {attempt}: {answer:?}");
            assert!(
                took < timeout + Duration::from_millis(200),
                "{seed}, attempt {attempt}: failed after {took:?}"
            );
        }
    }
}

#[tokio::test]
async fn the_url_user_and_password_reach_the_cluster_and_reserve_keep_release_work() {
    let node = RedisNode::start_acl_cluster();
    let store = RedisNonceStore::cluster([node.url(Some((ACL_USER, ACL_PASSWORD)))]).unwrap();
    let nonce = key("acl");

    let first = ReservationId::new();
    assert_eq!(
        store.reserve(&nonce, first).await.unwrap(),
        Reservation::Reserved
    );
    assert_eq!(
        store.reserve(&nonce, ReservationId::new()).await.unwrap(),
        Reservation::AlreadySeen
    );

    // The key is on the node, with the reservation id and the default TTL.
    let mut admin = node.admin(Some((ACL_USER, ACL_PASSWORD)));
    let redis_key = format!("{}{nonce}", RedisNonceStore::DEFAULT_KEY_PREFIX);
    let stored: Option<String> = redis::cmd("GET").arg(&redis_key).query(&mut admin).unwrap();
    assert_eq!(stored, Some(first.as_u128().to_string()));
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&redis_key)
        .query(&mut admin)
        .unwrap();
    assert!(ttl > 3_500_000 && ttl <= 3_600_000, "{ttl}");

    // Another id's release leaves it (compare-and-delete), the owner's removes it: the script
    // runs on the node owning the key (EVALSHA, loaded on NOSCRIPT).
    store.release(&nonce, ReservationId::new());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        store.reserve(&nonce, ReservationId::new()).await.unwrap(),
        Reservation::AlreadySeen
    );
    store.release(&nonce, first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let exists: bool = redis::cmd("EXISTS")
            .arg(&redis_key)
            .query(&mut admin)
            .unwrap();
        if !exists {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the owner's release did not remove the key"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        store.reserve(&nonce, ReservationId::new()).await.unwrap(),
        Reservation::Reserved
    );
}

#[tokio::test]
async fn a_wrong_password_or_no_user_is_a_store_error() {
    let node = RedisNode::start_acl_cluster();
    for url in [
        node.url(Some((ACL_USER, "wrong"))),
        node.url(Some(("nobody", ACL_PASSWORD))),
        // The `default` user is off.
        node.url(None),
    ] {
        let store = RedisNonceStore::cluster([&url])
            .unwrap()
            .operation_timeout(Duration::from_secs(1));
        let started = Instant::now();
        let answer = store.reserve(&key("denied"), ReservationId::new()).await;
        assert!(answer.is_err(), "{url}: {answer:?}");
        assert!(started.elapsed() < Duration::from_millis(1_500), "{url}");
    }
}

#[tokio::test]
async fn a_cluster_down_at_construction_is_reached_once_it_is_up() {
    let port = free_port();
    let store = RedisNonceStore::cluster([format!(
        "redis://{ACL_USER}:{ACL_PASSWORD}@127.0.0.1:{port}"
    )])
    .unwrap()
    .operation_timeout(Duration::from_millis(500));
    assert!(
        store
            .reserve(&key("later"), ReservationId::new())
            .await
            .is_err()
    );

    let _node = RedisNode::start_acl_cluster_on(port);
    assert_eq!(
        store
            .reserve(&key("later"), ReservationId::new())
            .await
            .unwrap(),
        Reservation::Reserved
    );
}

#[tokio::test]
async fn ttl_and_key_prefix_apply_to_a_cluster_store() {
    let node = RedisNode::start_acl_cluster();
    let store = RedisNonceStore::cluster([node.url(Some((ACL_USER, ACL_PASSWORD)))])
        .unwrap()
        .ttl(Duration::from_millis(300))
        .key_prefix("myapp:{plivo}:");
    let nonce = key("ttl");
    assert_eq!(
        store.reserve(&nonce, ReservationId::new()).await.unwrap(),
        Reservation::Reserved
    );
    let mut admin = node.admin(Some((ACL_USER, ACL_PASSWORD)));
    let exists: bool = redis::cmd("EXISTS")
        .arg(format!("myapp:{{plivo}}:{nonce}"))
        .query(&mut admin)
        .unwrap();
    assert!(exists);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        store.reserve(&nonce, ReservationId::new()).await.unwrap(),
        Reservation::Reserved
    );
}

#[tokio::test]
async fn an_acl_user_reaches_a_single_node_store_too() {
    let password = format!(">{ACL_PASSWORD}");
    let node = RedisNode::start(&[
        "--user", ACL_USER, "on", &password, "~*", "&*", "+@all", "--user", "default", "off",
    ]);
    let store = RedisNonceStore::new(&node.url(Some((ACL_USER, ACL_PASSWORD)))).unwrap();
    assert_eq!(
        store
            .reserve(&key("single"), ReservationId::new())
            .await
            .unwrap(),
        Reservation::Reserved
    );
    let denied = RedisNonceStore::new(&node.url(None))
        .unwrap()
        .operation_timeout(Duration::from_secs(1));
    assert!(
        denied
            .reserve(&key("single-denied"), ReservationId::new())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn through_the_layer_a_copy_is_a_replay_and_one_of_a_hundred_gets_through() {
    let node = RedisNode::start_acl_cluster();
    let url = node.url(Some((ACL_USER, ACL_PASSWORD)));
    let (addr, calls) = replay_server(RedisNonceStore::cluster([&url]).unwrap(), false).await;
    let headers = signed("/answer", "30000000000000000001", "CallUUID=a");
    assert_eq!(
        post_signed(addr, "/answer", &headers, "CallUUID=a")
            .await
            .status,
        200
    );
    post_signed(addr, "/answer", &headers, "CallUUID=a")
        .await
        .assert_refused(403, "replayed");
    assert_eq!(calls.get(), 1);

    // A second replica on the same cluster.
    let (other, other_calls) =
        replay_server(RedisNonceStore::cluster([&url]).unwrap(), false).await;
    post_signed(other, "/answer", &headers, "CallUUID=a")
        .await
        .assert_refused(403, "replayed");
    let statuses = concurrent_copies(other, "/answer", "30000000000000000002", 100).await;
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 403).count(),
        99,
        "{statuses:?}"
    );
    assert_eq!(other_calls.get(), 1);
}

#[tokio::test]
async fn through_the_layer_an_unreachable_cluster_is_a_503_or_fails_open() {
    let seed = format!("redis://127.0.0.1:{}", free_port());
    let store = || {
        RedisNonceStore::cluster([&seed])
            .unwrap()
            .operation_timeout(Duration::from_millis(300))
    };
    let headers = signed("/answer", "30000000000000000003", "CallUUID=b");
    let (closed, closed_calls) = replay_server(store(), false).await;
    assert_eq!(
        post_signed(closed, "/answer", &headers, "CallUUID=b")
            .await
            .status,
        503
    );
    assert_eq!(closed_calls.get(), 0);
    let (open, open_calls) = replay_server(store(), true).await;
    assert_eq!(
        post_signed(open, "/answer", &headers, "CallUUID=b")
            .await
            .status,
        200
    );
    assert_eq!(open_calls.get(), 1);
}
