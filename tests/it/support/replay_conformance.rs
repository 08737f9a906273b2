//! The replay-store conformance suite: what every nonce store must do behind the layer, sent
//! over TCP. Each backend's test module runs every scenario with a store of its kind through
//! [`replay_store_conformance!`] (memory in `tests/it/replay.rs`, one Redis node in
//! `tests/it/replay_redis.rs`, a three-shard Redis Cluster in
//! `tests/it/replay_redis_cluster.rs`), so the three are held to one contract, written once.
//!
//! A scenario gets a fresh server for each store it asks for (the `/fail-once` and `/slow-once`
//! routes count their own calls) and fresh nonces, so scenarios can share a backend. Where a
//! store releases in the background (Redis), a scenario waits for the release the way Plivo's
//! retry delay would.
#![allow(dead_code)]

use std::time::Duration;

use tower_plivo::replay::NonceStore;

use super::fresh_nonce;
use super::replay_app::{
    abandoned_request, concurrent_copies, post_signed, replay_server, replay_server_with, signed,
    v2_half_copies_after_the_delivery, v2_half_copies_racing_the_delivery,
};

/// The backend under test: each store it makes shares it (for Redis, a client of its own on
/// the same server), and it keeps running while the backend lives.
pub trait Backend {
    type Store: NonceStore;

    fn store(&self) -> Self::Store;
}

/// A closure is a backend (the memory store: clones of one `Arc`).
impl<S: NonceStore, F: Fn() -> S> Backend for F {
    type Store = S;

    fn store(&self) -> S {
        self()
    }
}

/// The same signed request twice: the second is a replay.
pub async fn the_same_signed_request_twice_is_a_replay(backend: impl Backend) {
    let (addr, calls) = replay_server(backend.store(), false).await;
    let headers = signed("/answer", &fresh_nonce(), "CallUUID=a");
    let first = post_signed(addr, "/answer", &headers, "CallUUID=a").await;
    assert_eq!(first.status, 200);
    post_signed(addr, "/answer", &headers, "CallUUID=a")
        .await
        .assert_refused(403, "replayed");
    assert_eq!(calls.get(), 1, "the replay never reached the handler");
}

/// 100 copies of one signed request at once: exactly one is accepted.
pub async fn a_hundred_concurrent_copies_let_exactly_one_through(backend: impl Backend) {
    let (addr, calls) = replay_server(backend.store(), false).await;
    let statuses = concurrent_copies(addr, "/answer", &fresh_nonce(), 100).await;
    let count = |status| statuses.iter().filter(|&&s| s == status).count();
    assert_eq!(count(200), 1, "{statuses:?}");
    assert_eq!(count(403), 99, "{statuses:?}");
    assert_eq!(calls.get(), 1);
}

/// Two servers sharing the backend (two replicas, each with its own store on it): a request one
/// accepted is a replay for the other.
pub async fn two_servers_sharing_the_store_accept_a_request_once(backend: impl Backend) {
    let (first, first_calls) = replay_server(backend.store(), false).await;
    let (second, second_calls) = replay_server(backend.store(), false).await;
    let headers = signed("/answer", &fresh_nonce(), "CallUUID=b");
    let (a, b) = tokio::join!(
        post_signed(first, "/answer", &headers, "CallUUID=b"),
        post_signed(second, "/answer", &headers, "CallUUID=b"),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 403], "one of the two at the same moment");
    for server in [first, second] {
        post_signed(server, "/answer", &headers, "CallUUID=b")
            .await
            .assert_refused(403, "replayed");
    }
    assert_eq!(first_calls.get() + second_calls.get(), 1);
}

/// An inner 5xx releases the reservation: Plivo's retry is accepted, and kept after that.
pub async fn an_inner_5xx_releases_the_nonce_for_the_retry(backend: impl Backend) {
    let (addr, calls) = replay_server(backend.store(), false).await;
    let headers = signed("/fail-once", &fresh_nonce(), "");
    assert_eq!(
        post_signed(addr, "/fail-once", &headers, "").await.status,
        500
    );
    // A store may release in the background: give it a moment, as Plivo's retry delay would.
    let status = retried_until(200, || post_signed(addr, "/fail-once", &headers, "")).await;
    assert_eq!(status, 200, "Plivo's retry is accepted");
    assert_eq!(
        post_signed(addr, "/fail-once", &headers, "").await.status,
        403,
        "kept after a success"
    );
    assert_eq!(calls.get(), 2);
}

/// A request dropped after its handler started keeps its reservation (the handler may have
/// acted): disconnecting cannot free a nonce for another copy.
pub async fn a_request_dropped_after_its_handler_started_keeps_the_nonce(backend: impl Backend) {
    let (addr, calls) = replay_server(backend.store(), false).await;
    let nonce = fresh_nonce();
    abandoned_request(addr, &nonce).await;
    // The server notices the closed connection and drops the request future.
    calls.until_dropped().await;
    // Give a (wrongly) spawned release the time it would need to reach the store.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let headers = signed("/slow-once", &nonce, "");
    post_signed(addr, "/slow-once", &headers, "")
        .await
        .assert_refused(403, "replayed");
    assert_eq!(calls.get(), 1);
}

/// With the explicit opt-in, a request dropped after its handler started releases it.
pub async fn release_on_drop_is_an_explicit_opt_in(backend: impl Backend) {
    let (addr, calls) = replay_server_with(backend.store(), |builder| {
        builder.replay_release_on_drop(true)
    })
    .await;
    let nonce = fresh_nonce();
    abandoned_request(addr, &nonce).await;
    let headers = signed("/slow-once", &nonce, "");
    let status = retried_until(200, || post_signed(addr, "/slow-once", &headers, "")).await;
    assert_eq!(status, 200, "the retry after a dropped request is accepted");
    assert_eq!(calls.get(), 2);
}

/// Issue 26, item 1: after a delivery signed with both families, 100 copies of its V2 half
/// with a forged body, sent at once, are all replays.
pub async fn the_v2_half_of_a_dual_signed_delivery_replays_as_nothing(backend: impl Backend) {
    let (addr, calls) = replay_server(backend.store(), false).await;
    let nonces = [fresh_nonce(), fresh_nonce()];
    let nonces = [nonces[0].as_str(), nonces[1].as_str()];
    v2_half_copies_after_the_delivery(addr, &calls, "/sms", nonces, 100).await;
}

/// The delivery and 100 copies of its V2 half at the same moment: exactly one is accepted.
pub async fn the_delivery_racing_its_v2_half_lets_exactly_one_through(backend: impl Backend) {
    let (addr, calls) = replay_server(backend.store(), false).await;
    let nonces = [fresh_nonce(), fresh_nonce()];
    let nonces = [nonces[0].as_str(), nonces[1].as_str()];
    let delivery_won = v2_half_copies_racing_the_delivery(addr, &calls, "/sms", nonces, 100).await;
    eprintln!("the genuine delivery won the race: {delivery_won}");
}

/// Sends `send()` until it answers `wanted` (up to 50 times, 20 ms apart); the last status.
async fn retried_until<F: std::future::Future<Output = super::Reply>>(
    wanted: u16,
    send: impl Fn() -> F,
) -> u16 {
    let mut status = 0;
    for _ in 0..50 {
        status = send().await.status;
        if status == wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    status
}

/// One `#[tokio::test]` per scenario of this suite, each with the backend `$backend` makes
/// (an expression evaluated once per test, inside it).
#[allow(unused_macros)] // only the replay test files run the suite
macro_rules! replay_store_conformance {
    ($backend:expr) => {
        mod conformance {
            use super::*;

            $crate::support::replay_conformance::replay_store_conformance!(
                @each $backend;
                the_same_signed_request_twice_is_a_replay,
                a_hundred_concurrent_copies_let_exactly_one_through,
                two_servers_sharing_the_store_accept_a_request_once,
                an_inner_5xx_releases_the_nonce_for_the_retry,
                a_request_dropped_after_its_handler_started_keeps_the_nonce,
                release_on_drop_is_an_explicit_opt_in,
                the_v2_half_of_a_dual_signed_delivery_replays_as_nothing,
                the_delivery_racing_its_v2_half_lets_exactly_one_through
            );
        }
    };
    (@each $backend:expr; $($scenario:ident),*) => {
        $(
            #[tokio::test]
            async fn $scenario() {
                $crate::support::replay_conformance::$scenario($backend).await;
            }
        )*
    };
}
#[allow(unused_imports)]
pub(crate) use replay_store_conformance;
