//! The Redis store over TLS against a real TLS `redis-server` (feature `redis-tls`): a
//! certificate authority and a server certificate made by the test, the server on a free TLS
//! port. The store verifies the server's certificate: trusting the test's CA it works, with the
//! public roots alone it refuses to talk, and plain `redis://` to the TLS port fails too. The
//! same for a one-node cluster with TLS between client and nodes (feature `redis-cluster`).
//!
//! ```text
//! cargo test --all-features --test it redis_tls::
//! ```

use crate::support::redis_node;

use std::path::Path;
use std::time::Duration;

use crate::support::free_port;
use redis_node::RedisNode;
use tower_plivo::replay::{NonceStore, RedisNonceStore, ReplayKey, Reservation, ReservationId};

/// A CA, and a certificate for `127.0.0.1` and `localhost` it signed, written as PEM files in
/// `dir`; returns the CA's PEM.
fn certificates(dir: &Path) -> String {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let server = server_params.signed_by(&server_key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
    ca.pem()
}

/// A redis-server with a TLS port besides its plain one (for the test's own setup), serving the
/// certificates in `dir`; `extra` arguments after.
fn tls_node(dir: &Path, tls_port: u16, extra: &[&str]) -> RedisNode {
    let file = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let (cert, key, ca) = (file("server.pem"), file("server.key"), file("ca.pem"));
    let tls_port_arg = tls_port.to_string();
    let mut args = vec![
        "--tls-port",
        &tls_port_arg,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        "no",
    ];
    args.extend_from_slice(extra);
    let node = RedisNode::start(&args);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "no TLS port");
        std::thread::sleep(Duration::from_millis(20));
    }
    node
}

fn key(name: &str) -> ReplayKey {
    ReplayKey::of_message(name.as_bytes())
}

/// Reserves `name` twice: reserved, then already seen (a round trip each way over TLS).
async fn reserves_once(store: &RedisNonceStore, name: &str) {
    assert_eq!(
        store
            .reserve(&key(name), ReservationId::new())
            .await
            .unwrap(),
        Reservation::Reserved
    );
    assert_eq!(
        store
            .reserve(&key(name), ReservationId::new())
            .await
            .unwrap(),
        Reservation::AlreadySeen
    );
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tower-plivo-tls-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_tls_redis_is_used_only_when_its_certificate_verifies() {
    let dir = temp_dir("single");
    let ca = certificates(&dir);
    let tls_port = free_port();
    let _node = tls_node(&dir, tls_port, &[]);
    let url = format!("rediss://127.0.0.1:{tls_port}");

    let trusted = RedisNonceStore::new_with_ca(&url, ca.clone())
        .unwrap()
        .operation_timeout(Duration::from_secs(3));
    reserves_once(&trusted, "over TLS").await;

    // The public roots do not know the test's CA: the certificate is refused, the store
    // unavailable (503 or fail-open), never talking in the clear.
    let untrusted = RedisNonceStore::new(&url)
        .unwrap()
        .operation_timeout(Duration::from_secs(3));
    let refused = untrusted
        .reserve(&key("untrusted"), ReservationId::new())
        .await;
    assert!(refused.is_err(), "{refused:?}");

    // Plain text to the TLS port does not work either.
    let plain = RedisNonceStore::new(&format!("redis://127.0.0.1:{tls_port}"))
        .unwrap()
        .operation_timeout(Duration::from_millis(500));
    let refused = plain.reserve(&key("plain"), ReservationId::new()).await;
    assert!(refused.is_err(), "{refused:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A one-node cluster whose client connections are TLS (`tls-cluster yes` makes the node
/// announce its TLS port): the cluster store reaches it, discovers it and keeps its promise
/// over TLS when it trusts the CA, and refuses an unverified certificate.
#[cfg(feature = "redis-cluster")]
#[tokio::test]
async fn a_tls_cluster_is_used_only_when_its_certificates_verify() {
    let dir = temp_dir("cluster");
    let ca = certificates(&dir);
    let tls_port = free_port();
    let node = tls_node(
        &dir,
        tls_port,
        &[
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-announce-ip",
            "127.0.0.1",
            "--tls-cluster",
            "yes",
        ],
    );
    let mut admin = node.admin(None);
    redis::cmd("CLUSTER")
        .arg("ADDSLOTSRANGE")
        .arg(0)
        .arg(16383)
        .query::<()>(&mut admin)
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut admin).unwrap();
        if info.contains("cluster_state:ok") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{info}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let seed = format!("rediss://127.0.0.1:{tls_port}");

    let trusted = RedisNonceStore::cluster_with_ca([seed.as_str()], ca)
        .unwrap()
        .operation_timeout(Duration::from_secs(3));
    reserves_once(&trusted, "over TLS, clustered").await;

    let untrusted = RedisNonceStore::cluster([seed.as_str()])
        .unwrap()
        .operation_timeout(Duration::from_secs(3));
    let refused = untrusted
        .reserve(&key("untrusted cluster"), ReservationId::new())
        .await;
    assert!(refused.is_err(), "{refused:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
