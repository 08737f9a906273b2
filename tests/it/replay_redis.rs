//! Replay protection shared through a real `redis-server`, started by the test on a free port
//! (needs `redis-server` on PATH: `apt-get install -y redis-server`; `.ci/run` installs it).

use crate::support;
use crate::support::redis_node;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tower_plivo::replay::RedisNonceStore;

use redis_node::RedisNode;
use support::replay_app::{
    FORGED_BODY, ORIGIN, TOKEN, dual_signed, post_signed, replay_server, signed, v2_signed,
};

/// A plain redis-server owned by one test (killed on drop), as the replay store sees it.
struct Redis(RedisNode);

impl Redis {
    fn start() -> Redis {
        Redis(RedisNode::start(&[]))
    }

    fn start_on(port: u16) -> Redis {
        Redis(RedisNode::start_on(port, &[]))
    }

    fn url(&self) -> String {
        format!("{}/", self.0.url(None))
    }

    fn store(&self) -> RedisNonceStore {
        RedisNonceStore::new(&self.url()).unwrap()
    }

    /// Kills it; returns its port.
    fn stop(self) -> u16 {
        self.0.stop()
    }
}

impl support::replay_conformance::Backend for Redis {
    type Store = RedisNonceStore;

    fn store(&self) -> RedisNonceStore {
        Redis::store(self)
    }
}

// Every scenario on a redis-server of its own; each server of a scenario has its own client.
support::replay_conformance::replay_store_conformance!(Redis::start());

#[tokio::test]
async fn two_server_processes_sharing_one_redis_accept_a_request_once() {
    // The `server` example, twice, as separate processes, configured only by its environment.
    let redis = Redis::start();
    let binary = support::examples::example_binary("server");
    let start = || {
        let mut child = Command::new(&binary)
            .env("BIND", "127.0.0.1:0")
            .env("PLIVO_AUTH_TOKEN", TOKEN)
            .env("PLIVO_PUBLIC_URL", ORIGIN)
            .env("PLIVO_REPLAY_STORE", redis.url())
            .env_remove("PLIVO_TRUSTED_PROXIES")
            .env_remove("PLIVO_MAIN_AUTH_TOKEN")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let addr: SocketAddr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap()
            .parse()
            .unwrap();
        (child, addr)
    };
    let (mut one, one_addr) = start();
    let (mut two, two_addr) = start();
    let headers = signed("/answer", "20000000000000000004", "CallUUID=p");
    let first = post_signed(one_addr, "/answer", &headers, "CallUUID=p").await;
    let second = post_signed(two_addr, "/answer", &headers, "CallUUID=p").await;
    one.kill().unwrap();
    two.kill().unwrap();
    one.wait().unwrap();
    two.wait().unwrap();
    let mut logged = String::new();
    std::io::Read::read_to_string(&mut two.stderr.take().unwrap(), &mut logged).unwrap();
    assert_eq!((first.status, first.text().as_str()), (200, "CallUUID=p"));
    assert_eq!(
        (second.status, second.text().as_str()),
        (403, "forbidden\n")
    );
    assert!(
        logged.contains("reason=\"replayed\""),
        "the second process logs why: {logged}"
    );
}

#[tokio::test]
async fn nonces_expire_with_the_ttl() {
    let redis = Redis::start();
    let store = redis.store().ttl(Duration::from_millis(300));
    let (addr, _) = replay_server(store, false).await;
    let headers = signed("/answer", "20000000000000000007", "");
    assert_eq!(post_signed(addr, "/answer", &headers, "").await.status, 200);
    assert_eq!(post_signed(addr, "/answer", &headers, "").await.status, 403);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(post_signed(addr, "/answer", &headers, "").await.status, 200);
}

#[tokio::test]
async fn keys_carry_the_configured_prefix() {
    let redis = Redis::start();
    let (addr, _) = replay_server(redis.store().key_prefix("custom:"), false).await;
    let headers = signed("/answer", "20000000000000000008", "");
    assert_eq!(post_signed(addr, "/answer", &headers, "").await.status, 200);
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut connection)
        .await
        .unwrap();
    // The key is the SHA-256 of the signed message (here `{ORIGIN}/answer` with no body, then
    // `.` and the nonce), computed here independently of the crate.
    use sha2::Digest as _;
    let message = format!("{ORIGIN}/answer.20000000000000000008");
    let digest: String = sha2::Sha256::digest(message.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(keys, [format!("custom:{digest}")]);
}

#[tokio::test]
async fn redis_stopped_mid_test_gives_503_then_recovers() {
    let redis = Redis::start();
    let (closed, _) = replay_server(redis.store(), false).await;
    let (open, _) = replay_server(redis.store(), true).await;
    let before = signed("/answer", "20000000000000000009", "");
    assert_eq!(
        post_signed(closed, "/answer", &before, "").await.status,
        200
    );

    let port = redis.stop();
    let during = signed("/answer", "20000000000000000010", "");
    let started = Instant::now();
    post_signed(closed, "/answer", &during, "")
        .await
        .assert_refused(503, "replay_store_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered within the operation timeout"
    );
    let reply = post_signed(
        open,
        "/answer",
        &signed("/answer", "20000000000000000011", ""),
        "",
    )
    .await;
    assert_eq!(reply.status, 200, "fail-open lets the request through");

    let _redis = Redis::start_on(port);
    // Redis is back (empty: nothing was persisted). The connection manager reconnects.
    let mut status = 0;
    for _ in 0..100 {
        status = post_signed(closed, "/answer", &during, "").await.status;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200, "recovered once Redis is back");
    assert_eq!(
        post_signed(closed, "/answer", &during, "").await.status,
        403,
        "and protecting again"
    );
}

/// Audio streams checked outside tower share the Redis store too: the async check reserves
/// through it (a copy is a replay on every replica), and the synchronous one, which cannot wait
/// for Redis, is refused when it is built.
#[tokio::test]
async fn the_async_upgrade_check_reserves_stream_nonces_in_redis() {
    use support::websocket::plivo_stream_url;
    use tower_plivo::{PlivoSignatureLayer, Rejection, RequestHead, UrlPolicy};

    let redis = Redis::start();
    let layer = || {
        PlivoSignatureLayer::builder()
            .auth_token(TOKEN)
            .url_policy(UrlPolicy::public_base("https://hooks.example.com").unwrap())
            .replay_store(redis.store())
            .build()
            .unwrap()
    };
    assert!(layer().guard().synchronous().is_err());
    let (replica_a, replica_b) = (layer(), layer());
    let nonce = support::fresh_nonce();
    let signature = tower_plivo::signature::Signer::new(TOKEN)
        .sign_v3_get(
            &plivo_stream_url("hooks.example.com", "/stream?call=1"),
            &nonce,
        )
        .unwrap();
    let upgrade = http::Request::get("/stream?call=1")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .header("x-plivo-signature-v3", signature)
        .header("x-plivo-signature-v3-nonce", &nonce)
        .body(())
        .unwrap();
    let verified = replica_a
        .guard()
        .check_upgrade(RequestHead::from(&upgrade))
        .await
        .expect("Plivo's upgrade");
    assert_eq!(verified.url(), "http://hooks.example.com/stream?call=1");
    let refused = replica_b.guard().check_upgrade(RequestHead::from(&upgrade));
    assert_eq!(refused.await.unwrap_err().rejection(), Rejection::Replayed);
}

/// The commands Redis ran since the last `CONFIG RESETSTAT`, as (command, calls), without the
/// ones this test sends itself to look (`INFO`, `CONFIG`); and the connections it accepted.
fn commands_since_reset(admin: &mut redis::Connection) -> (Vec<(String, u64)>, u64) {
    let info: String = redis::cmd("INFO").arg("everything").query(admin).unwrap();
    let mut commands = Vec::new();
    let mut connections = 0;
    for line in info.lines() {
        if let Some(rest) = line.strip_prefix("cmdstat_") {
            let (name, stats) = rest.split_once(':').unwrap();
            let calls = stats
                .split(',')
                .find_map(|field| field.strip_prefix("calls="))
                .unwrap()
                .parse()
                .unwrap();
            if !matches!(name, "info" | "config" | "config|resetstat") {
                commands.push((name.to_owned(), calls));
            }
        } else if let Some(count) = line.strip_prefix("total_connections_received:") {
            connections = count.trim().parse().unwrap();
        }
    }
    (commands, connections)
}

/// [`commands_since_reset`] after a quiet moment, so that a command the store sent after the
/// response (in the background) is counted too.
async fn commands_after_a_moment(admin: &mut redis::Connection) -> (Vec<(String, u64)>, u64) {
    tokio::time::sleep(Duration::from_millis(150)).await;
    commands_since_reset(admin)
}

fn reset_stats(admin: &mut redis::Connection) {
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(admin).unwrap();
}

/// Issue 16's item 5: with Redis, replay protection adds one round trip to a request, never
/// two. Counted by Redis itself (`INFO commandstats`): a genuine request runs exactly one `SET`
/// (NX PX) and nothing else; its replay runs exactly one `SET` too (refused by NX); neither
/// opens a connection (the store's connection is made once, then shared). An inner 5xx adds
/// one release script after the handler has answered, off the request's path.
#[tokio::test]
async fn a_request_costs_redis_exactly_one_command() {
    let redis = Redis::start();
    let mut admin = redis.0.admin(None);
    let store = redis.store();
    // The first request also makes the store's connection: not a per-request cost. It goes
    // through a server of its own (sharing the store, hence the connection), so that the
    // measured server's `/fail-once` still fails on its first call below.
    let (warm_addr, _) = replay_server(store.clone(), false).await;
    let warm = signed("/answer", "20000000000000000101", "CallUUID=w");
    assert_eq!(
        post_signed(warm_addr, "/answer", &warm, "CallUUID=w")
            .await
            .status,
        200
    );
    let (addr, _) = replay_server(store, false).await;

    reset_stats(&mut admin);
    let failing = signed("/fail-once", "20000000000000000103", "");
    assert_eq!(
        post_signed(addr, "/fail-once", &failing, "").await.status,
        500
    );
    // (First, while the handlers have had no call: `/fail-once` fails on the first call.) The
    // release runs in the background after the 500 has been sent.
    // The release is done when its script has deleted the key.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (commands, connections) = loop {
        let (commands, connections) = commands_since_reset(&mut admin);
        if commands.iter().any(|(name, _)| name == "del") || Instant::now() > deadline {
            break (commands, connections);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(connections, 0, "no new connection for a release");
    let calls = |name: &str| {
        commands
            .iter()
            .find(|(command, _)| command == name)
            .map_or(0, |(_, calls)| *calls)
    };
    assert_eq!(calls("set"), 1, "one reservation: {commands:?}");
    // The owner-checked release script (its GET and DEL count as commands too); the first
    // release on a fresh server also loads it (EVALSHA refused with NOSCRIPT, SCRIPT LOAD,
    // EVALSHA again). All of it after the 500 was sent.
    assert_eq!((calls("get"), calls("del")), (1, 1), "{commands:?}");
    assert!(calls("evalsha") >= 1, "{commands:?}");
    for (name, _) in &commands {
        assert!(
            ["set", "evalsha", "script|load", "get", "del"].contains(&name.as_str()),
            "unexpected {name}: {commands:?}"
        );
    }

    let headers = signed("/answer", "20000000000000000102", "CallUUID=a");
    reset_stats(&mut admin);
    assert_eq!(
        post_signed(addr, "/answer", &headers, "CallUUID=a")
            .await
            .status,
        200
    );
    let genuine = commands_after_a_moment(&mut admin).await;
    assert_eq!(
        genuine,
        (vec![("set".to_owned(), 1)], 0),
        "a genuine request"
    );

    reset_stats(&mut admin);
    post_signed(addr, "/answer", &headers, "CallUUID=a")
        .await
        .assert_refused(403, "replayed");
    let replayed = commands_after_a_moment(&mut admin).await;
    assert_eq!(replayed, (vec![("set".to_owned(), 1)], 0), "its replay");

    // Issue 26: a delivery signed with both families costs one more `SET` (its V2 message's
    // key), and only such a delivery; its V2 half alone, one.
    let (v3_nonce, v2_nonce) = ("20000000000000000104", "20000000000000000105");
    let dual = dual_signed("/sms", v3_nonce, v2_nonce, "Text=a");
    reset_stats(&mut admin);
    assert_eq!(post_signed(addr, "/sms", &dual, "Text=a").await.status, 200);
    let both = commands_after_a_moment(&mut admin).await;
    assert_eq!(
        both,
        (vec![("set".to_owned(), 2)], 0),
        "a dual-signed delivery"
    );
    reset_stats(&mut admin);
    post_signed(addr, "/sms", &v2_signed("/sms", v2_nonce), FORGED_BODY)
        .await
        .assert_refused(403, "replayed");
    let half = commands_after_a_moment(&mut admin).await;
    assert_eq!(half, (vec![("set".to_owned(), 1)], 0), "its V2 half");
}
