//! A real Redis Cluster for one test: six `redis-server` processes in cluster mode (three
//! primaries, each with one replica) on free ports of 127.0.0.1, each in its own temporary
//! directory. Every process is killed and every directory removed on drop, also when the test
//! panics. Needs `redis-server` and `redis-cli` (Redis 7) on PATH: `apt-get install -y
//! redis-server`.
#![allow(dead_code)]

use std::net::TcpListener;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Every slot a cluster has.
pub const SLOTS: u16 = 16384;
/// `--cluster-node-timeout`: how long a silent node takes to be failed over. Short, so a failover
/// test stays short.
pub const NODE_TIMEOUT_MS: u64 = 1000;

const INSTALL: &str =
    "install Redis 7 (apt-get install -y redis-server), or run plain `cargo test`";

/// One node of the cluster as `CLUSTER NODES` describes it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub id: String,
    pub port: u16,
    pub primary: bool,
    /// For a replica, the id of its primary.
    pub primary_id: Option<String>,
    /// Flagged `fail` (or `fail?`) by the node asked.
    pub failed: bool,
    pub slots: Vec<RangeInclusive<u16>>,
}

impl NodeInfo {
    pub fn owns(&self, slot: u16) -> bool {
        self.slots.iter().any(|range| range.contains(&slot))
    }
}

struct Process {
    port: u16,
    child: Option<Child>,
}

/// Three primaries and three replicas, `cluster_state:ok` once [`RedisCluster::start`] returns.
pub struct RedisCluster {
    processes: Vec<Process>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts the six nodes, joins them with `redis-cli --cluster create … --cluster-replicas 1`,
    /// and waits until every node says `cluster_state:ok` with all 16384 slots served and every
    /// replica has finished its initial sync (so a failover has a replica to promote).
    pub fn start() -> RedisCluster {
        for binary in ["redis-server", "redis-cli"] {
            match Command::new(binary).arg("--version").output() {
                Ok(output) if output.status.success() => {}
                Ok(output) => panic!("{binary} --version failed ({:?}): {INSTALL}", output.status),
                Err(e) => panic!("cannot run {binary} ({e}): {INSTALL}"),
            }
        }
        let dir = unique_dir();
        let mut cluster = RedisCluster {
            processes: Vec::new(),
            dir,
        };
        for port in free_ports(6) {
            let node_dir = cluster.dir.join(port.to_string());
            std::fs::create_dir_all(&node_dir).unwrap();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes"])
                .arg("--cluster-config-file")
                .arg(node_dir.join(format!("nodes-{port}.conf")))
                .args(["--cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                // A replica's first sync starts at once instead of after the default 5 s wait
                // for more replicas to share it: the cluster is ready in about 1 s, not 6.
                .args(["--repl-diskless-sync-delay", "0"])
                .arg("--dir")
                .arg(&node_dir)
                .arg("--logfile")
                .arg(node_dir.join("redis.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start redis-server ({e}): {INSTALL}"));
            // Pushed at once, so a panic below still kills it.
            cluster.processes.push(Process {
                port,
                child: Some(child),
            });
        }
        for port in cluster.ports() {
            cluster.wait_until(
                Duration::from_secs(10),
                &format!("node {port} answers PING"),
                || cli_output(port, &["PING"]).is_some_and(|out| out.trim() == "PONG"),
            );
        }
        let mut create = Command::new("redis-cli");
        create.args(["--cluster", "create"]);
        for port in cluster.ports() {
            create.arg(format!("127.0.0.1:{port}"));
        }
        let output = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        cluster.wait_ok(Duration::from_secs(20));
        let primaries: Vec<u16> = cluster.primaries().iter().map(|node| node.port).collect();
        assert_eq!(primaries.len(), 3, "{:?}", cluster.topology());
        for port in primaries {
            cluster.wait_until(
                Duration::from_secs(20),
                &format!("the replica of {port} finishes its sync"),
                || {
                    cli_output(port, &["INFO", "replication"]).is_some_and(|info| {
                        info.contains("connected_slaves:1") && info.contains("state=online")
                    })
                },
            );
        }
        // [`RedisCluster::topology`] is one node's view, learnt by gossip: it shows the replicas
        // a moment after their primaries do, later still while other work keeps the CPUs busy
        // (the tests beside this one in the `it` binary). Wait for it too, so that a test asking
        // for a primary's replica finds it.
        cluster.wait_until(
            Duration::from_secs(20),
            "the first node to see every primary's replica",
            || {
                let topology = cluster.topology();
                let primaries: Vec<&NodeInfo> = topology
                    .iter()
                    .filter(|node| node.primary && !node.slots.is_empty())
                    .collect();
                primaries.len() == 3
                    && primaries.iter().all(|primary| {
                        topology
                            .iter()
                            .any(|node| node.primary_id.as_deref() == Some(primary.id.as_str()))
                    })
            },
        );
        cluster
    }

    /// Every node's port, the killed ones included.
    pub fn ports(&self) -> Vec<u16> {
        self.processes.iter().map(|process| process.port).collect()
    }

    /// The ports of the nodes still running.
    pub fn live_ports(&self) -> Vec<u16> {
        self.processes
            .iter()
            .filter(|process| process.child.is_some())
            .map(|process| process.port)
            .collect()
    }

    /// `redis://127.0.0.1:<port>` for every node: the seeds a cluster client starts from.
    pub fn seeds(&self) -> Vec<String> {
        self.ports()
            .into_iter()
            .map(|port| format!("redis://127.0.0.1:{port}"))
            .collect()
    }

    /// `redis-cli -p <port> <args…>`'s standard output; panics if it fails.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        cli_output(port, args).unwrap_or_else(|| panic!("redis-cli -p {port} {args:?} failed"))
    }

    /// `CLUSTER NODES` as seen by the first live node.
    pub fn topology(&self) -> Vec<NodeInfo> {
        let port = self.live_ports()[0];
        parse_nodes(&self.cli(port, &["CLUSTER", "NODES"]))
    }

    /// The primaries that serve slots and are not failed, as seen by the first live node.
    pub fn primaries(&self) -> Vec<NodeInfo> {
        self.topology()
            .into_iter()
            .filter(|node| node.primary && !node.failed && !node.slots.is_empty())
            .collect()
    }

    /// The replica of the primary `primary_port`.
    pub fn replica_of(&self, primary_port: u16) -> NodeInfo {
        let topology = self.topology();
        let primary = topology
            .iter()
            .find(|node| node.port == primary_port)
            .unwrap_or_else(|| panic!("no node {primary_port} in {topology:?}"));
        topology
            .iter()
            .find(|node| node.primary_id.as_deref() == Some(primary.id.as_str()))
            .unwrap_or_else(|| panic!("{primary_port} has no replica: {topology:?}"))
            .clone()
    }

    /// `DBSIZE` of the node at `port`: how many keys it holds.
    pub fn dbsize(&self, port: u16) -> u64 {
        self.cli(port, &["DBSIZE"]).trim().parse().unwrap()
    }

    /// `CLUSTER KEYSLOT <key>`, asked of the cluster (to check [`key_slot`]).
    pub fn keyslot(&self, key: &str) -> u16 {
        let port = self.live_ports()[0];
        self.cli(port, &["CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .unwrap()
    }

    /// Kills the node at `port` with SIGKILL (no goodbye to the cluster, as a crash).
    pub fn kill(&mut self, port: u16) {
        let process = self
            .processes
            .iter_mut()
            .find(|process| process.port == port)
            .unwrap_or_else(|| panic!("no node {port}"));
        let mut child = process.child.take().expect("already killed");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Whether every live node says `cluster_state:ok` with all 16384 slots assigned and ok.
    pub fn is_ok(&self) -> bool {
        self.live_ports().into_iter().all(|port| {
            cli_output(port, &["CLUSTER", "INFO"]).is_some_and(|info| {
                info.contains("cluster_state:ok")
                    && info.contains(&format!("cluster_slots_assigned:{SLOTS}"))
                    && info.contains(&format!("cluster_slots_ok:{SLOTS}"))
            })
        })
    }

    /// Waits (up to `limit`) until [`RedisCluster::is_ok`].
    pub fn wait_ok(&self, limit: Duration) {
        self.wait_until(limit, "cluster_state:ok on every node", || self.is_ok());
    }

    /// Waits (up to `limit`) until the replica at `port` has been promoted and the cluster is
    /// ok again. (Right after a kill the cluster still says ok: it has not noticed yet.)
    pub fn wait_promoted(&self, port: u16, limit: Duration) {
        self.wait_until(limit, &format!("{port} promoted, cluster_state:ok"), || {
            cli_output(port, &["ROLE"]).is_some_and(|role| role.starts_with("master"))
                && self.is_ok()
        });
    }

    fn wait_until(&self, limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "waited {limit:?} for {what}; logs in {}:\n{}",
                self.dir.display(),
                self.log_tails()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last lines of every node's log, for a panic message (the directory is removed on drop).
    fn log_tails(&self) -> String {
        let mut text = String::new();
        for port in self.ports() {
            let log = std::fs::read_to_string(self.dir.join(port.to_string()).join("redis.log"))
                .unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            text.push_str(&format!("--- {port}\n"));
            for line in &lines[lines.len().saturating_sub(8)..] {
                text.push_str(line);
                text.push('\n');
            }
        }
        text
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for process in &mut self.processes {
            if let Some(mut child) = process.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The hash slot of `key` (CRC16/XMODEM of the key, or of its `{hash tag}`, modulo 16384), as
/// Redis Cluster computes it.
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    let mut crc: u16 = 0;
    for &byte in hashed {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % SLOTS
}

/// `redis-cli -p <port> <args…>`'s standard output, `None` if the node did not answer.
pub fn cli_output(port: u16, args: &[&str]) -> Option<String> {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    // redis-cli exits 0 on a refused connection too, saying so on stdout.
    (output.status.success() && !text.starts_with("Could not connect")).then_some(text)
}

fn parse_nodes(text: &str) -> Vec<NodeInfo> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            // <id> <ip:port@cport> <flags> <primary> <ping> <pong> <epoch> <link> <slot>…
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port = fields[1]
                .split('@')
                .next()
                .and_then(|address| address.rsplit(':').next())
                .and_then(|port| port.parse().ok())
                .unwrap_or_else(|| panic!("unexpected CLUSTER NODES line {line:?}"));
            let flags: Vec<&str> = fields[2].split(',').collect();
            let slots = fields[8..]
                .iter()
                // `[slot->-node]` entries are slots being migrated: none here.
                .filter(|field| !field.starts_with('['))
                .map(|field| match field.split_once('-') {
                    Some((first, last)) => first.parse().unwrap()..=last.parse().unwrap(),
                    None => {
                        let slot = field.parse().unwrap();
                        slot..=slot
                    }
                })
                .collect();
            NodeInfo {
                id: fields[0].to_owned(),
                port,
                primary: flags.contains(&"master"),
                primary_id: (fields[3] != "-").then(|| fields[3].to_owned()),
                failed: flags.contains(&"fail") || flags.contains(&"fail?"),
                slots,
            }
        })
        .collect()
}

/// A fresh directory under the system's temporary directory.
fn unique_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "tower-plivo-redis-cluster-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `count` ports p that are free now, with p + 10000 free too (each node's cluster bus).
/// Chosen in 20000..55535 so the bus port stays valid, from a start that differs between
/// processes and clusters, so concurrent test runs rarely collide.
fn free_ports(count: usize) -> Vec<u16> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id() * 7919 + NEXT.fetch_add(1, Ordering::SeqCst) * 104_729;
    let mut ports = Vec::new();
    let mut held = Vec::new();
    let mut candidate = 20000 + (seed % 35000);
    while ports.len() < count {
        candidate = 20000 + (candidate - 20000 + 1) % 35535;
        let port = candidate as u16;
        if let (Ok(a), Ok(b)) = (bind(port), bind(port + 10000)) {
            // Held until all are chosen, so no port is picked twice.
            held.push((a, b));
            ports.push(port);
        }
    }
    ports
}

fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port))
}
