//! Replay protection shared through a real Redis Cluster (three primaries, each with a replica),
//! started by each test on free ports (needs `redis-server` and `redis-cli` on PATH: `apt-get
//! install -y redis-server`; `.ci/run` installs them). Each test starts its own cluster: the
//! failover test kills a node, and separate clusters keep the tests independent (about 2 s each
//! to start).

use crate::support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use tower_plivo::replay::RedisNonceStore;

use support::redis_cluster::{RedisCluster, cli_output, key_slot};
use support::replay_app::{
    FORGED_BODY, ORIGIN, TOKEN, dual_signed, post_signed, replay_server, signed, v2_signed,
};

fn store(cluster: &RedisCluster) -> RedisNonceStore {
    RedisNonceStore::cluster(cluster.seeds()).unwrap()
}

/// A cluster as the conformance suite's backend: each store is a client of its own on it.
struct Cluster(RedisCluster);

impl support::replay_conformance::Backend for Cluster {
    type Store = RedisNonceStore;

    fn store(&self) -> RedisNonceStore {
        store(&self.0)
    }
}

// Every scenario on a three-shard cluster of its own.
support::replay_conformance::replay_store_conformance!(Cluster(RedisCluster::start()));

/// The Redis key the store writes for a V3 POST to `/answer` with an empty body and this nonce:
/// the prefix, then the SHA-256 of the signed message (computed here independently of the crate,
/// as in tests/it/replay_redis.rs), so the test knows which shard holds it.
fn answer_key(prefix: &str, nonce: &str) -> String {
    use sha2::Digest as _;
    let digest: String = sha2::Sha256::digest(format!("{ORIGIN}/answer.{nonce}").as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{prefix}{digest}")
}

/// The Redis key of the V2 message of a request to `path` with this V2 nonce (the base URL,
/// then the nonce).
fn v2_key(prefix: &str, path: &str, nonce: &str) -> String {
    use sha2::Digest as _;
    let digest: String = sha2::Sha256::digest(format!("{ORIGIN}{path}{nonce}").as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{prefix}{digest}")
}

/// `calls` of `command` in a node's `INFO commandstats`.
fn command_calls(cluster: &RedisCluster, port: u16, command: &str) -> u64 {
    let stats = cluster.cli(port, &["INFO", "commandstats"]);
    stats
        .lines()
        .find_map(|line| line.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

/// A pair half taken on two shards: the delivery's V2 key lands on a live primary, its V3 key
/// on a primary just killed. The delivery gets 503 (never 200: its V2 half would be left
/// free), the V2 key is undone on the live primary (its owner-checked release ran there: one
/// `SET`, then one `DEL`, counted by that node), and once the replica has taken over, Plivo's
/// retry is accepted and makes the V2 half a replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_half_taken_on_two_shards_is_undone_and_answered_503() {
    let mut cluster = RedisCluster::start();
    let store = store(&cluster)
        .key_prefix(KEY_PREFIX)
        .operation_timeout(OPERATION_TIMEOUT);
    let (addr, calls) = replay_server(store, false).await;
    let primaries = cluster.primaries();
    let (victim, survivor) = (primaries[0].clone(), primaries[1].clone());
    let replica = cluster.replica_of(victim.port);
    let nonce_on = |start: u64, on: &dyn Fn(&str) -> bool| {
        (start..)
            .map(|i| format!("{i:020}"))
            .find(|nonce| on(nonce))
            .unwrap()
    };
    let v3_nonce = nonce_on(50_000_000, &|n| {
        victim.owns(key_slot(answer_key(KEY_PREFIX, n).as_bytes()))
    });
    let v2_nonce = nonce_on(60_000_000, &|n| {
        survivor.owns(key_slot(v2_key(KEY_PREFIX, "/answer", n).as_bytes()))
    });
    // The store connects and learns the topology first.
    let probe = signed("/answer", "40000000000000000300", "");
    assert_eq!(post_signed(addr, "/answer", &probe, "").await.status, 200);

    cluster.kill(victim.port);
    let _ = cluster.cli(survivor.port, &["CONFIG", "RESETSTAT"]);
    let dual = dual_signed("/answer", &v3_nonce, &v2_nonce, "");
    post_signed(addr, "/answer", &dual, "")
        .await
        .assert_refused(503, "replay_store_unavailable");
    let deadline = Instant::now() + Duration::from_secs(5);
    while command_calls(&cluster, survivor.port, "del") == 0 {
        assert!(Instant::now() < deadline, "the V2 key was never undone");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        command_calls(&cluster, survivor.port, "set"),
        1,
        "reserved there"
    );
    let key = v2_key(KEY_PREFIX, "/answer", &v2_nonce);
    assert_eq!(cluster.cli(survivor.port, &["EXISTS", &key]).trim(), "0");
    assert_eq!(calls.get(), 1, "only the probe reached the handler");

    tokio::task::block_in_place(|| cluster.wait_promoted(replica.port, Duration::from_secs(20)));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = post_signed(addr, "/answer", &dual, "").await;
        if reply.status == 200 {
            break;
        }
        reply.assert_refused(503, "replay_store_unavailable");
        assert!(Instant::now() < deadline, "the retry was never accepted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    post_signed(
        addr,
        "/answer",
        &v2_signed("/answer", &v2_nonce),
        FORGED_BODY,
    )
    .await
    .assert_refused(403, "replayed");
    assert_eq!(calls.get(), 2);
}

#[tokio::test]
async fn a_thousand_nonces_over_every_shard_are_accepted_once_then_refused() {
    let cluster = RedisCluster::start();
    let (addr, calls) = replay_server(store(&cluster), false).await;
    let nonces: Vec<String> = (0..1000)
        .map(|i| format!("{:020}", 40_000_000 + i))
        .collect();
    let send_all = || {
        futures_util::stream::iter(nonces.iter().map(|nonce| async move {
            let headers = signed("/answer", nonce, "");
            post_signed(addr, "/answer", &headers, "").await
        }))
        .buffer_unordered(32)
        .collect::<Vec<_>>()
    };
    for reply in send_all().await {
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    // Every primary holds some of the keys (they are spread by hash slot, not piled on one
    // node), and together exactly one per nonce.
    let per_primary: Vec<(u16, u64)> = cluster
        .primaries()
        .iter()
        .map(|node| (node.port, cluster.dbsize(node.port)))
        .collect();
    eprintln!("keys per primary: {per_primary:?}");
    assert_eq!(per_primary.len(), 3);
    assert!(
        per_primary.iter().all(|&(_, keys)| keys > 0),
        "{per_primary:?}"
    );
    assert_eq!(
        per_primary.iter().map(|&(_, keys)| keys).sum::<u64>(),
        1000,
        "{per_primary:?}"
    );
    for reply in send_all().await {
        reply.assert_refused(403, "replayed");
    }
    assert_eq!(calls.get(), 1000);
}

#[tokio::test]
async fn two_server_processes_sharing_the_cluster_accept_a_request_once() {
    use support::examples::Running;
    let cluster = RedisCluster::start();
    // Two seeds only: the client learns the other nodes from them.
    let url = format!(
        "redis-cluster://{}",
        cluster.ports()[..2]
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let env = [
        ("PLIVO_AUTH_TOKEN", TOKEN),
        ("PLIVO_PUBLIC_URL", ORIGIN),
        ("PLIVO_REPLAY_STORE", url.as_str()),
    ];
    let (one, two) = (
        Running::example("server", &env),
        Running::example("server", &env),
    );
    let headers = signed("/answer", "40000000000000000003", "CallUUID=p");
    let (first, second) = tokio::join!(
        post_signed(one.addr, "/answer", &headers, "CallUUID=p"),
        post_signed(two.addr, "/answer", &headers, "CallUUID=p"),
    );
    let again = post_signed(one.addr, "/answer", &headers, "CallUUID=p").await;
    let logs = [one.stop(), two.stop()];
    let mut answers = [(first.status, first.text()), (second.status, second.text())];
    answers.sort();
    assert_eq!(
        answers,
        [
            (200, "CallUUID=p".to_owned()),
            (403, "forbidden\n".to_owned())
        ],
        "{logs:?}"
    );
    assert_eq!(again.status, 403, "and refused again later");
    let refuser = if first.status == 403 { 0 } else { 1 };
    assert!(
        logs[refuser].contains("reason=\"replayed\""),
        "the refusing process logs why: {}",
        logs[refuser]
    );
}

/// How long one store operation may take in the failover test: the answers' bound.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(1);
/// What an answer may take beyond the operation timeout (the HTTP round trip, a busy machine).
const ANSWER_SLACK: Duration = Duration::from_millis(1500);
/// How long after the promotion the store may still answer 503: the cluster client learns the
/// new primary on its next topology refresh, and an operation already waiting on the dead
/// primary runs out its timeout.
const REFRESH_SLACK: Duration = Duration::from_millis(2000);
/// The failover test gives up on the cluster recovering after this.
const FAILOVER_BUDGET: Duration = Duration::from_secs(20);
const KEY_PREFIX: &str = "failover:";
/// When the failover test kills the primary, after the stream started.
const KILL_AFTER: Duration = Duration::from_millis(1000);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// A request never sent before.
    Fresh,
    /// A copy of a fresh request on the killed primary's slots sent before the kill and
    /// answered 200.
    Replay,
}

#[derive(Debug)]
struct Outcome {
    kind: Kind,
    nonce: String,
    /// The key lives in a slot of the killed primary.
    victim: bool,
    sent: Instant,
    answered: Instant,
    /// 0: no answer within the operation timeout and the slack.
    status: u16,
    reason: Option<String>,
}

/// `at` in ms relative to `kill` (negative: before).
fn ms(kill: Instant, at: Instant) -> i64 {
    if at >= kill {
        (at - kill).as_millis() as i64
    } else {
        -((kill - at).as_millis() as i64)
    }
}

/// Items 2 and 3 of issue 15: a primary killed under a stream of requests. Asserts what must
/// hold (only 200 / 403 `replayed` / 503 `replay_store_unavailable`, each answered in time, 503s
/// only for the killed primary's slots and only until shortly after its replica is promoted,
/// protection back after the promotion); measures and prints what a failover can lose (replays
/// of requests accepted before the kill, accepted a second time because the killed primary's
/// last writes never reached its replica).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_mid_stream_costs_503s_only_until_its_replica_takes_over() {
    failover(0).await;
}

/// The same, with a burst of 100 requests on the killed primary's slots sent 20 ms before the
/// kill: many reservations in flight when it dies, and some acknowledged in its last
/// milliseconds (the writes most likely lost with it, for the double-accept figure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_with_a_hundred_reservations_in_flight_recovers_after_the_promotion() {
    failover(100).await;
}

/// The failover scenario, with `burst` extra requests on the victim's slots just before the
/// kill.
async fn failover(burst: usize) {
    let test_started = Instant::now();
    let mut cluster = RedisCluster::start();
    let cluster_started = test_started.elapsed();
    let store = store(&cluster)
        .key_prefix(KEY_PREFIX)
        .operation_timeout(OPERATION_TIMEOUT);
    let (addr, _) = replay_server(store, false).await;

    let victim = cluster.primaries()[0].clone();
    let replica = cluster.replica_of(victim.port);
    let survivor = cluster
        .primaries()
        .into_iter()
        .find(|node| node.port != victim.port)
        .unwrap()
        .port;
    let (victim_port, victim_id, replica_id) = (victim.port, victim.id.clone(), replica.id);
    let on_victim =
        move |nonce: &str| victim.owns(key_slot(answer_key(KEY_PREFIX, nonce).as_bytes()));

    // The slot arithmetic and the key format agree with the cluster: a first request's key is
    // on the primary the test computed.
    let probe = "40000000000000000100";
    let headers = signed("/answer", probe, "");
    assert_eq!(post_signed(addr, "/answer", &headers, "").await.status, 200);
    let probe_key = answer_key(KEY_PREFIX, probe);
    assert_eq!(cluster.keyslot(&probe_key), key_slot(probe_key.as_bytes()));
    let owner = cluster
        .primaries()
        .into_iter()
        .find(|node| node.owns(key_slot(probe_key.as_bytes())))
        .unwrap();
    assert_eq!(
        cluster.cli(owner.port, &["EXISTS", &probe_key]).trim(),
        "1",
        "the store writes {probe_key} (prefix, then the message's SHA-256, no hash tag)"
    );

    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    // Fresh requests on the victim's slots answered 200 before the kill, in order of answer.
    let accepted_before: Arc<Mutex<Vec<String>>> = Arc::default();
    let killed_at: Arc<OnceLock<Instant>> = Arc::default();
    let stream_started = Instant::now();
    let mut monitor = None;
    let mut recovered = None;
    let mut stop_at: Option<Instant> = None;
    let mut tasks = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    let mut replays_sent = 0usize;
    let mut burst_sent = false;
    for i in 0.. {
        ticker.tick().await;
        let now = Instant::now();
        if killed_at.get().is_none() && now - stream_started >= KILL_AFTER {
            // SIGKILL: no goodbye, as a crash. Then watch, from another node, how long the
            // cluster takes to notice, promote the replica, and be ok again.
            cluster.kill(victim_port);
            let kill = Instant::now();
            killed_at.set(kill).unwrap();
            let (victim_id, replica_id, live) =
                (victim_id.clone(), replica_id.clone(), cluster.live_ports());
            monitor = Some(tokio::task::spawn_blocking(move || {
                watch_failover(kill, survivor, &victim_id, &replica_id, &live)
            }));
        }
        if monitor
            .as_ref()
            .is_some_and(|handle: &tokio::task::JoinHandle<_>| handle.is_finished())
        {
            recovered = Some(monitor.take().unwrap().await.unwrap());
            // Keep the stream going a while after the recovery: protection must be back.
            stop_at = Some(now + REFRESH_SLACK + Duration::from_millis(500));
        }
        if stop_at.is_some_and(|stop| now >= stop) {
            break;
        }
        if let Some(&kill) = killed_at.get() {
            assert!(
                now - kill < FAILOVER_BUDGET,
                "the cluster did not recover within {FAILOVER_BUDGET:?} of the kill"
            );
        }

        let mut send = |kind: Kind, nonce: String| {
            let (outcomes, accepted_before, killed_at) =
                (outcomes.clone(), accepted_before.clone(), killed_at.clone());
            let victim = on_victim(&nonce);
            tasks.push(tokio::spawn(async move {
                let headers = signed("/answer", &nonce, "");
                let sent = Instant::now();
                let reply = tokio::time::timeout(
                    OPERATION_TIMEOUT + ANSWER_SLACK,
                    post_signed(addr, "/answer", &headers, ""),
                )
                .await;
                let answered = Instant::now();
                let (status, reason) = match &reply {
                    Ok(reply) => (reply.status, reply.reason()),
                    Err(_) => (0, None),
                };
                // Sent before the kill and accepted: reserved on the victim before it died
                // (or, answered after the promotion, on its replica).
                let sent_before_kill = killed_at.get().is_none_or(|&kill| sent < kill);
                if kind == Kind::Fresh && victim && status == 200 && sent_before_kill {
                    accepted_before.lock().unwrap().push(nonce.clone());
                }
                outcomes.lock().unwrap().push(Outcome {
                    kind,
                    nonce,
                    victim,
                    sent,
                    answered,
                    status,
                    reason,
                });
            }));
        };
        send(Kind::Fresh, format!("{:020}", 41_000_000 + i));
        if burst > 0
            && !burst_sent
            && now - stream_started >= KILL_AFTER - Duration::from_millis(20)
        {
            // A burst on the victim's slots just before the kill, so that some reservations are
            // acknowledged in the last milliseconds of the primary's life: the writes most
            // likely not to have reached its replica.
            burst_sent = true;
            for nonce in (0..)
                .map(|j| format!("{:020}", 43_000_000 + j))
                .filter(|nonce| on_victim(nonce))
                .take(burst)
            {
                send(Kind::Fresh, nonce);
            }
        }
        if killed_at.get().is_some() {
            // A replay each tick of a request accepted before the kill, newest first (the
            // newest are the writes least likely to have reached the replica), round and round.
            let accepted = accepted_before.lock().unwrap().clone();
            if !accepted.is_empty() {
                let index = accepted.len() - 1 - replays_sent % accepted.len();
                replays_sent += 1;
                send(Kind::Replay, accepted[index].clone());
            }
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let kill = *killed_at.get().unwrap();
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    let (failed_after, promoted_after, ok_after) = recovered.unwrap();
    let promoted = kill + promoted_after;

    // Every answer is one the contract allows, and came in time (0 is a timeout: a hang).
    for outcome in &outcomes {
        let allowed = matches!(
            (outcome.kind, outcome.status, outcome.reason.as_deref()),
            (_, 200, _)
                | (Kind::Replay, 403, Some("replayed"))
                | (_, 503, Some("replay_store_unavailable"))
        );
        assert!(
            allowed,
            "{outcome:?} sent {} ms after the kill",
            ms(kill, outcome.sent)
        );
    }
    let unavailable: Vec<&Outcome> = outcomes.iter().filter(|o| o.status == 503).collect();
    let first_503 = unavailable.iter().map(|o| ms(kill, o.sent)).min();
    let last_503 = unavailable.iter().map(|o| ms(kill, o.sent)).max();
    let last_503_answered = unavailable.iter().map(|o| ms(kill, o.answered)).max();
    let off_victim: Vec<(i64, i64)> = unavailable
        .iter()
        .filter(|o| !o.victim)
        .map(|o| (ms(kill, o.sent), ms(kill, o.answered)))
        .collect();
    // The first few are enough to see when they came (a wedged store has hundreds).
    let off_victim_shown = &off_victim[..off_victim.len().min(12)];
    let off_victim_503 = off_victim.len();

    // What the failover lost: replays accepted a second time, per request replayed.
    let replays: Vec<&Outcome> = outcomes.iter().filter(|o| o.kind == Kind::Replay).collect();
    let in_window = replays.iter().filter(|o| o.sent < promoted).count();
    let after_promotion = replays.len() - in_window;
    let mut accepted_again: HashMap<&str, usize> = HashMap::new();
    for replay in replays.iter().filter(|o| o.status == 200) {
        *accepted_again.entry(replay.nonce.as_str()).or_default() += 1;
    }
    let replayed_requests: std::collections::HashSet<&str> =
        replays.iter().map(|o| o.nonce.as_str()).collect();
    let replayed_after_promotion: std::collections::HashSet<&str> = replays
        .iter()
        .filter(|o| o.sent >= promoted)
        .map(|o| o.nonce.as_str())
        .collect();
    let fresh_victim_after = outcomes
        .iter()
        .filter(|o| o.kind == Kind::Fresh && o.victim && o.status == 200 && o.sent > promoted)
        .count();
    let slowest = outcomes
        .iter()
        .map(|o| o.answered - o.sent)
        .max()
        .unwrap_or_default();
    eprintln!(
        "failover figures (burst {burst}): cluster started in {cluster_started:?}; {} requests ({} fresh, {} \
         replays); victim {victim_port} flagged fail after {} ms, replica promoted after {} ms, \
         cluster_state:ok after {} ms; 503s: {} (first sent at {first_503:?} ms, last sent at \
         {last_503:?} ms, last answered at {last_503_answered:?} ms; {off_victim_503} on other \
         shards, first (sent, answered) ms: {off_victim_shown:?}); replays: {} of {} requests accepted before the kill on the victim's slots, \
         {in_window} sent before the promotion, {after_promotion} after (covering {} of those \
         requests); requests accepted \
         twice: {} {:?}; fresh requests on the victim's slots accepted after the promotion: \
         {fresh_victim_after}; slowest answer {slowest:?}",
        outcomes.len(),
        outcomes.len() - replays.len(),
        replays.len(),
        failed_after.as_millis(),
        promoted_after.as_millis(),
        ok_after.as_millis(),
        unavailable.len(),
        replayed_requests.len(),
        accepted_before.lock().unwrap().len(),
        replayed_after_promotion.len(),
        accepted_again.len(),
        accepted_again,
    );

    assert!(
        accepted_again.values().all(|&times| times == 1),
        "a request lost in the failover is accepted twice at most, never three times: \
         {accepted_again:?}"
    );
    assert!(
        replays.len() > 10 && after_promotion > 0,
        "the stream sent replays in and after the window"
    );
    // 503s only while a slot has no primary. For the killed primary's slots: from the kill
    // until the client has learnt of the promotion. For the other shards: only while the cluster
    // itself refuses every command (CLUSTERDOWN): with Redis's default
    // `cluster-require-full-coverage yes` that is from the moment the dead primary is flagged
    // `fail` until its replica is promoted. The watcher sees the flag on one node a little after
    // the others may, hence the tolerance.
    let flagged = kill + failed_after;
    let recovered_at = kill + ok_after;
    let tolerance = Duration::from_millis(300);
    assert!(
        unavailable.iter().all(|o| o.answered >= kill),
        "no 503 before the kill"
    );
    let late: Vec<&&Outcome> = unavailable
        .iter()
        .filter(|o| o.sent > promoted + REFRESH_SLACK)
        .collect();
    assert!(
        late.is_empty(),
        "the store had not recovered {REFRESH_SLACK:?} after the promotion: {} requests sent \
         later still answered 503 ({} on the other shards), the last sent {last_503:?} ms after \
         the kill",
        late.len(),
        late.iter().filter(|o| !o.victim).count()
    );
    assert!(
        unavailable
            .iter()
            .filter(|o| o.victim)
            .all(|o| o.sent <= promoted + REFRESH_SLACK),
        "503s on the killed primary's slots end within {REFRESH_SLACK:?} of the promotion ({} ms \
         after the kill); last sent at {last_503:?} ms",
        promoted_after.as_millis()
    );
    // With many requests in flight at the kill, redis-rs's cluster connection can stall every
    // command, on every shard, until the store gives up on it: the requests sent in the first
    // operation timeout after the kill may be 503 on any shard; the store then discards that
    // connection and the next one reads the topology afresh.
    // The stall can outlast one operation timeout (a connection made while the failover is
    // still under way may stall too; seen once in CI): with a burst, 503s on any shard are
    // allowed until the cluster is back, and the check below still requires recovery then.
    let stalled_until = if burst > 0 {
        recovered_at + REFRESH_SLACK
    } else {
        kill
    };
    assert!(
        unavailable
            .iter()
            .filter(|o| !o.victim)
            .all(|o| o.sent <= stalled_until
                || (o.sent + tolerance >= flagged && o.sent <= recovered_at + REFRESH_SLACK)),
        "503s on the other shards only while the cluster is down ({} to {} ms after the kill), \
         or, with a burst in flight, within one operation timeout of the kill: \
         {off_victim_shown:?}…",
        failed_after.as_millis(),
        ok_after.as_millis()
    );
    assert!(
        fresh_victim_after > 0,
        "requests on the promoted replica's slots are accepted again"
    );

    // Protection resumed on the promoted replica: a fresh request on the victim's slots is
    // accepted once, then refused.
    let nonce = (0..)
        .map(|i| format!("{:020}", 42_000_000 + i))
        .find(|nonce| on_victim(nonce))
        .unwrap();
    let headers = signed("/answer", &nonce, "");
    assert_eq!(post_signed(addr, "/answer", &headers, "").await.status, 200);
    post_signed(addr, "/answer", &headers, "")
        .await
        .assert_refused(403, "replayed");
    eprintln!(
        "failover test (burst {burst}) took {:?}",
        test_started.elapsed()
    );
}

/// Polls `CLUSTER NODES` on `survivor` (a primary still up) until the victim is flagged failed
/// and its replica is a primary, then every live node until `cluster_state:ok`. Returns those
/// three instants relative to the kill.
fn watch_failover(
    kill: Instant,
    survivor: u16,
    victim_id: &str,
    replica_id: &str,
    live: &[u16],
) -> (Duration, Duration, Duration) {
    let (mut failed, mut promoted) = (None, None);
    loop {
        assert!(
            kill.elapsed() < FAILOVER_BUDGET,
            "no failover within {FAILOVER_BUDGET:?}"
        );
        if let Some(nodes) = cli_output(survivor, &["CLUSTER", "NODES"]) {
            for line in nodes.lines() {
                let fields: Vec<&str> = line.split_whitespace().collect();
                if fields.len() < 3 {
                    continue;
                }
                let flags: Vec<&str> = fields[2].split(',').collect();
                if failed.is_none() && fields[0] == victim_id && flags.contains(&"fail") {
                    failed = Some(kill.elapsed());
                }
                if promoted.is_none() && fields[0] == replica_id && flags.contains(&"master") {
                    promoted = Some(kill.elapsed());
                }
            }
        }
        if let (Some(failed), Some(promoted)) = (failed, promoted) {
            let all_ok = live.iter().all(|&port| {
                cli_output(port, &["CLUSTER", "INFO"]).is_some_and(|info| {
                    info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384")
                })
            });
            if all_ok {
                return (failed, promoted, kill.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Issue 15, item 3's experiment (not run in CI, prints only): what `WAIT 1 <ms>` after the
/// `SET NX` would buy and cost, measured with a plain client on the store's command (the store
/// itself is unchanged). Cost: the latency of one reserve, with and without the `WAIT`
/// (pipelined: one round trip). Buys: writers hammer one primary, it is killed, and after the
/// promotion every acknowledged key is looked up on the promoted replica; a missing one is a
/// reservation the failover lost (its request would be accepted twice).
/// `cargo test --features redis-cluster --test it replay_redis_cluster:: -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "an experiment: prints figures, asserts nothing about them"]
async fn experiment_wait_after_set_nx() {
    for wait in [None, Some(100u64)] {
        let mut cluster = RedisCluster::start();
        let victim = cluster.primaries()[0].clone();
        let replica = cluster.replica_of(victim.port);
        // One hash tag on the victim's slots: every key goes to the primary under test.
        let tag = (0..)
            .map(|i| format!("t{i}"))
            .find(|tag| victim.owns(key_slot(tag.as_bytes())))
            .unwrap();
        let connect = |port: u16| async move {
            redis::Client::open(format!("redis://127.0.0.1:{port}"))
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap()
        };
        let reserve = move |key: String| {
            let mut pipe = redis::pipe();
            pipe.cmd("SET")
                .arg(key)
                .arg("1")
                .arg("NX")
                .arg("PX")
                .arg(600_000);
            if let Some(ms) = wait {
                pipe.cmd("WAIT").arg(1).arg(ms);
            } else {
                // Same shape of reply either way: ECHO 1 stands in for WAIT's count.
                pipe.cmd("ECHO").arg(1);
            }
            pipe
        };

        // Cost: sequential reserves, one connection.
        let mut connection = connect(victim.port).await;
        let mut latencies = Vec::new();
        for i in 0..2000 {
            let started = Instant::now();
            let (set, _): (Option<String>, i64) = reserve(format!("{{{tag}}}:lat:{i}"))
                .query_async(&mut connection)
                .await
                .unwrap();
            latencies.push(started.elapsed());
            assert_eq!(set.as_deref(), Some("OK"));
        }
        latencies.sort();
        let percentile = |p: usize| latencies[latencies.len() * p / 100];

        // Buys: 8 writers, the primary killed under them.
        let acked: Arc<Mutex<Vec<String>>> = Arc::default();
        let unconfirmed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut writers = Vec::new();
        for writer in 0..8 {
            let (acked, unconfirmed, tag) = (acked.clone(), unconfirmed.clone(), tag.clone());
            let mut connection = connect(victim.port).await;
            writers.push(tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("{{{tag}}}:w{writer}:{i}");
                    let reply = tokio::time::timeout(
                        Duration::from_secs(1),
                        reserve(key.clone()).query_async::<(Option<String>, i64)>(&mut connection),
                    )
                    .await;
                    match reply {
                        Ok(Ok((Some(_), replicas))) if wait.is_none() || replicas >= 1 => {
                            acked.lock().unwrap().push(key)
                        }
                        // Acknowledged by the primary only: a store with WAIT would not count
                        // it as reserved (it would answer 503).
                        Ok(Ok((Some(_), _))) => {
                            unconfirmed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        _ => return,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        cluster.kill(victim.port);
        for writer in writers {
            writer.await.unwrap();
        }
        // Bound to a name: the remaining nodes live until the lookups below are done.
        let _cluster = tokio::task::spawn_blocking(move || {
            cluster.wait_promoted(replica.port, FAILOVER_BUDGET);
            cluster
        })
        .await
        .unwrap();
        let mut promoted = connect(replica.port).await;
        let acked = std::mem::take(&mut *acked.lock().unwrap());
        let mut lost = 0;
        for key in &acked {
            let exists: i64 = redis::cmd("EXISTS")
                .arg(key)
                .query_async(&mut promoted)
                .await
                .unwrap();
            if exists == 0 {
                lost += 1;
            }
        }
        eprintln!(
            "WAIT experiment, {}: reserve latency p50 {:?} p99 {:?} max {:?}; under load, \
             {} reserves acknowledged{}, {lost} of them lost in the failover",
            match wait {
                Some(ms) => format!("SET NX + WAIT 1 {ms}"),
                None => "SET NX alone".to_owned(),
            },
            percentile(50),
            percentile(99),
            latencies.last().unwrap(),
            acked.len(),
            match wait {
                Some(_) => format!(
                    " ({} more acknowledged by the primary only)",
                    unconfirmed.load(std::sync::atomic::Ordering::SeqCst)
                ),
                None => String::new(),
            },
        );
    }
}

/// Whether the wedge of `a_primary_killed_with_a_hundred_reservations_in_flight_…` is redis-rs's
/// (not run in CI, prints only): a bare `ClusterConnection`, configured as the store configures
/// it and then with redis-rs's defaults, 100 `SET`s in flight (each bounded by 1 s, as the
/// store bounds them) when a primary is killed, then one `SET` every 100 ms for 10 s after the
/// promotion: does any succeed?
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "an experiment: prints figures, asserts nothing about them"]
async fn experiment_bare_cluster_client_with_requests_in_flight_at_a_kill() {
    for store_like in [true, false] {
        let mut cluster = RedisCluster::start();
        let victim = cluster.primaries()[0].clone();
        let replica = cluster.replica_of(victim.port);
        let mut builder = redis::cluster::ClusterClientBuilder::new(cluster.seeds());
        if store_like {
            builder = builder
                .connection_timeout(Duration::from_secs(1))
                .response_timeout(Duration::from_secs(1))
                .overall_response_timeout(None)
                .retries(3)
                .min_retry_wait(50)
                .max_retry_wait(500)
                .retry_wait_formula(100, 2);
        }
        let connection = builder
            .build()
            .unwrap()
            .get_async_connection()
            .await
            .unwrap();
        let keys: Vec<String> = (0..)
            .map(|i| format!("k{i}"))
            .filter(|key| victim.owns(key_slot(key.as_bytes())))
            .take(100)
            .collect();
        let set = |key: String| {
            let mut connection = connection.clone();
            async move {
                tokio::time::timeout(
                    Duration::from_secs(1),
                    redis::cmd("SET")
                        .arg(key)
                        .arg(1)
                        .query_async::<Option<String>>(&mut connection),
                )
                .await
            }
        };
        let in_flight: Vec<_> = keys.into_iter().map(|key| tokio::spawn(set(key))).collect();
        cluster.kill(victim.port);
        for task in in_flight {
            let _ = task.await.unwrap();
        }
        let cluster = tokio::task::spawn_blocking(move || {
            cluster.wait_promoted(replica.port, FAILOVER_BUDGET);
            cluster
        })
        .await
        .unwrap();
        let promoted = Instant::now();
        let mut first_ok = None;
        for i in 0.. {
            if promoted.elapsed() > Duration::from_secs(10) {
                break;
            }
            if let Ok(Ok(_)) = set(format!("after{i}")).await {
                first_ok = Some(promoted.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!(
            "bare cluster client ({}): first SET answered after the promotion: {first_ok:?}",
            if store_like {
                "the store's settings"
            } else {
                "redis-rs defaults"
            }
        );
        drop(cluster);
    }
}
