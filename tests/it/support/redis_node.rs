//! One `redis-server` process started by a test on a free port, killed on drop (its working
//! directory, where a cluster node keeps its `nodes.conf`, removed with it). Needs `redis-server`
//! on PATH (`scripts/test-all` installs it), or its path in `REDIS_SERVER`.
//!
//! Built with the `redis` feature only.
#![allow(dead_code)] // each test file uses a different subset

use std::path::PathBuf;

use super::free_port;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The ACL user of [`RedisNode::start_acl_cluster`] (the `default` user is off).
pub const ACL_USER: &str = "plivo";
/// Its password.
pub const ACL_PASSWORD: &str = "secret";

/// A `redis-server` owned by one test.
pub struct RedisNode {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl RedisNode {
    /// A plain node on a free port, with `extra` arguments (`["--requirepass", "x"]`).
    pub fn start(extra: &[&str]) -> RedisNode {
        Self::start_on(free_port(), extra)
    }

    /// A plain node on `port`.
    pub fn start_on(port: u16, extra: &[&str]) -> RedisNode {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tower-plivo-redis-{}-{}-{port}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
        let port_arg = port.to_string();
        let dir_arg = dir.to_str().unwrap().to_owned();
        let mut args = vec![
            "--port",
            &port_arg,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir_arg,
        ];
        args.extend_from_slice(extra);
        let child = Command::new(&binary)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {binary} ({e}): install it (apt-get install -y redis-server) or run plain `cargo test`")
            });
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisNode { child, port, dir }
    }

    /// A one-node Redis Cluster on `port` that owns all 16384 slots, whose only user is
    /// [`ACL_USER`] with [`ACL_PASSWORD`] (`default` is off): a cluster client that reaches it
    /// logged in with the URL's user and password. Returns once `cluster_state:ok`.
    pub fn start_acl_cluster_on(port: u16) -> RedisNode {
        let password = format!(">{ACL_PASSWORD}");
        let node = Self::start_on(
            port,
            &[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-announce-ip",
                "127.0.0.1",
                "--user",
                ACL_USER,
                "on",
                &password,
                "~*",
                "&*",
                "+@all",
                "--user",
                "default",
                "off",
            ],
        );
        let mut admin = node.admin(Some((ACL_USER, ACL_PASSWORD)));
        redis::cmd("CLUSTER")
            .arg("ADDSLOTSRANGE")
            .arg(0)
            .arg(16383)
            .query::<()>(&mut admin)
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut admin).unwrap();
            if info.contains("cluster_state:ok") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the one-node cluster is not ok: {info}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        node
    }

    /// [`RedisNode::start_acl_cluster_on`] a free port.
    pub fn start_acl_cluster() -> RedisNode {
        Self::start_acl_cluster_on(free_port())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://[user:password@]127.0.0.1:<port>`.
    pub fn url(&self, login: Option<(&str, &str)>) -> String {
        match login {
            Some((user, password)) => format!("redis://{user}:{password}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// A plain (not cluster-aware) synchronous connection, to look at the node directly.
    pub fn admin(&self, login: Option<(&str, &str)>) -> redis::Connection {
        redis::Client::open(self.url(login))
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap()
    }

    /// Kills the node; returns its port.
    pub fn stop(self) -> u16 {
        self.port
    }
}

impl Drop for RedisNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
