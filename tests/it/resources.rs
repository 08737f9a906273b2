//! Resource bounds and load without loss, against a server in a **child process** (this test
//! binary re-run as `resource_server`), so its memory is measured alone from
//! `/proc/<pid>/status` (`VmRSS` sampled every 20 ms, and `VmHWM`, the kernel's peak).
//!
//! - `oversized_bodies_keep_memory_bounded`: 200 concurrent connections, each streaming a
//!   signed, chunked body slowly (2 KiB every 20 ms) past the 64 KiB limit, reconnecting after
//!   each 413, for 6 s; meanwhile 4 clients send valid signed requests on fresh connections.
//!   Every attacker gets 413 `body_too_large`, every valid request 200, and the server's peak
//!   memory stays under a bound far below what it was sent.
//! - `sustained_load_without_loss`: 50 keep-alive connections sending valid signed requests
//!   (a Plivo-sized form body, a distinct nonce each, replay protection on) for 15 s
//!   (`TOWER_PLIVO_LOAD_SECS` to change, at most 30): 0 non-2xx, 0 errors, and the handler saw
//!   exactly as many requests as were answered 200.
//!
//! Both print their numbers (`cargo test --test it resources:: -- --nocapture`). They take the
//! same lock, so they never run at the same time.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tower_plivo::replay::MemoryNonceStore;
use tower_plivo::signature::Signer;
use tower_plivo::{PlivoSignatureLayer, UrlPolicy};

const TOKEN: &str = "MARESOURCEStestTOKENaaaaaaaaaaaaaaaa";
const ORIGIN: &str = "https://hooks.example.com";
const SERVER_ENV: &str = "TOWER_PLIVO_RESOURCE_SERVER";
const LIMIT: usize = 64 * 1024;

/// A Plivo voice callback body (about 600 bytes).
const CALLBACK: &str = "ALegRequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
    &ALegUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36&BillRate=0.002\
    &CallStatus=in-progress&CallUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36&Direction=outbound\
    &Event=StartApp&From=19792014278&ParentAuthID=MANWVLYTK4ZWU1YTY4QA\
    &RequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
    &SIP-H-To=%3Csip%3APlivoSignature382029104058171078704104%4052.9.11.55%3Btransport%3Dudp%3E%3Btag%3D1\
    &SessionStart=2020-04-08+11%3A34%3A33.238707\
    &To=sip%3APlivoSignature382029104058171078704104%40phone-qa.voice.plivodev.com";

/// One resource test at a time: they measure a process and share the two CPUs of a CI box.
static EXCLUSIVE: Mutex<()> = Mutex::const_new(());

// ---- the server process ----

/// The server, run in a child process by the tests below (inert unless `SERVER_ENV` is set,
/// so `cargo test -- --ignored` does not hang on it).
#[test]
#[ignore = "run as a child process by the resource tests"]
fn resource_server() {
    if std::env::var_os(SERVER_ENV).is_none() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let handled = Arc::new(AtomicU64::new(0));
        let counter = handled.clone();
        let plivo = PlivoSignatureLayer::builder()
            .auth_token(TOKEN)
            .url_policy(UrlPolicy::public_base(ORIGIN).unwrap())
            .body_limit(LIMIT)
            .skip_paths_under("/stats")
            .replay_store(MemoryNonceStore::new())
            .build()
            .unwrap();
        let app = Router::new()
            .route(
                "/plivo/answer",
                post(move |body: Bytes| {
                    let counter = counter.clone();
                    async move {
                        counter.fetch_add(1, Ordering::Relaxed);
                        format!("<Response>{}</Response>", body.len())
                    }
                }),
            )
            .route(
                "/stats",
                get(move || async move { handled.load(Ordering::Relaxed).to_string() }),
            )
            .layer(plivo);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("LISTENING {}", listener.local_addr().unwrap());
        let serve = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        );
        // Never outlive a parent that died without killing us.
        let _ = tokio::time::timeout(Duration::from_secs(180), serve).await;
    });
}

/// The name the test harness gives `function` of this module: its module path without the
/// crate's name (`resources::resource_server` in the `it` crate).
fn test_name(function: &str) -> String {
    match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::{function}"),
        None => function.to_owned(),
    }
}

/// The child server; killed when dropped.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start() -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                &test_name("resource_server"),
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(SERVER_ENV, "1")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the server process printed its address")
                .unwrap();
            // The harness prints `test resource_server ... ` first, on the same line.
            if let Some((_, addr)) = line.split_once("LISTENING ") {
                break addr.trim().parse().unwrap();
            }
        };
        Self { child, addr }
    }

    /// `VmRSS` and `VmHWM` (peak) in KiB.
    fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap()
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Samples the server's `VmRSS` every 20 ms until stopped; returns the largest sample (KiB).
fn sample_memory(server: &ServerProcess, stop: Arc<AtomicUsize>) -> std::thread::JoinHandle<u64> {
    let pid = server.child.id();
    std::thread::spawn(move || {
        let mut peak = 0;
        while stop.load(Ordering::Relaxed) == 0 {
            if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                let rss = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                    .unwrap_or(0);
                peak = peak.max(rss);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    })
}

fn sign(body: &str, nonce: &str) -> String {
    Signer::new(TOKEN)
        .sign_v3_post(&format!("{ORIGIN}/plivo/answer"), body.as_bytes(), nonce)
        .unwrap()
}

/// A valid signed request on a fresh connection; returns the status.
async fn valid_request(addr: SocketAddr, nonce: &str) -> u16 {
    let signature = sign(CALLBACK, nonce);
    let request = format!(
        "POST /plivo/answer HTTP/1.1\r\nhost: {addr}\r\nx-plivo-signature-v3: {signature}\r\n\
         x-plivo-signature-v3-nonce: {nonce}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{CALLBACK}",
        CALLBACK.len()
    );
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("a valid request answered within 10 s")
        .unwrap();
    String::from_utf8_lossy(&response)
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// One attacker connection: a signed head, then 2 KiB chunks every 20 ms until the server
/// answers. Returns the status it answered.
async fn oversized_upload(addr: SocketAddr, nonce: &str) -> u16 {
    // Signed over an empty body, so the head passes and the layer has to read the body.
    let signature = sign("", nonce);
    let head = format!(
        "POST /plivo/answer HTTP/1.1\r\nhost: {addr}\r\nx-plivo-signature-v3: {signature}\r\n\
         x-plivo-signature-v3-nonce: {nonce}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         transfer-encoding: chunked\r\n\r\n"
    );
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = [b"800\r\n".as_slice(), &[b'a'; 0x800], b"\r\n"].concat();
        // Up to 10 MB, far past the limit; the server stops it long before.
        for _ in 0..(10_000_000 / 0x800) {
            writer.write_all(&chunk).await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok::<_, std::io::Error>(())
    });
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        while !response.windows(4).any(|w| w == b"\r\n\r\n") {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => response.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    writing.abort();
    assert!(read.is_ok(), "the server must answer an oversized body");
    String::from_utf8_lossy(&response)
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_keep_memory_bounded() {
    let _exclusive = EXCLUSIVE.lock().await;
    let server = ServerProcess::start();
    let addr = server.addr;
    assert_eq!(valid_request(addr, "warmup").await, 200);
    let (baseline, _) = server.memory();

    let stop = Arc::new(AtomicUsize::new(0));
    let sampler = sample_memory(&server, stop.clone());
    let deadline = Instant::now() + Duration::from_secs(6);
    let nonces = Arc::new(AtomicU64::new(0));

    let attackers: Vec<_> = (0..200)
        .map(|_| {
            let nonces = nonces.clone();
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while Instant::now() < deadline {
                    let nonce = format!("attack{}", nonces.fetch_add(1, Ordering::Relaxed));
                    statuses.push(oversized_upload(addr, &nonce).await);
                }
                statuses
            })
        })
        .collect();
    let legit: Vec<_> = (0..4)
        .map(|_| {
            let nonces = nonces.clone();
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while Instant::now() < deadline {
                    let nonce = format!("valid{}", nonces.fetch_add(1, Ordering::Relaxed));
                    statuses.push(valid_request(addr, &nonce).await);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                statuses
            })
        })
        .collect();

    let mut attack_statuses = Vec::new();
    for attacker in attackers {
        attack_statuses.extend(attacker.await.unwrap());
    }
    let mut valid_statuses = Vec::new();
    for client in legit {
        valid_statuses.extend(client.await.unwrap());
    }
    stop.store(1, Ordering::Relaxed);
    let sampled_peak = sampler.join().unwrap();
    let (after, hwm) = server.memory();

    let refused = attack_statuses.iter().filter(|&&s| s == 413).count();
    let ok = valid_statuses.iter().filter(|&&s| s == 200).count();
    println!(
        "resource bounds: {} oversized uploads by 200 concurrent connections ({} answered 413; \
         {} MB offered, as each would send 10 MB if let), {} valid requests meanwhile ({} answered 200); server \
         VmRSS baseline {} KiB, sampled peak {} KiB, after {} KiB, VmHWM {} KiB",
        attack_statuses.len(),
        refused,
        attack_statuses.len() * 10,
        valid_statuses.len(),
        ok,
        baseline,
        sampled_peak,
        after,
        hwm
    );
    assert_eq!(
        refused,
        attack_statuses.len(),
        "every oversized body gets 413"
    );
    assert!(
        attack_statuses.len() >= 200,
        "every connection tried at least once"
    );
    assert_eq!(ok, valid_statuses.len(), "every valid request succeeds");
    assert!(valid_statuses.len() >= 40, "valid requests kept flowing");
    // Each connection may hold at most the limit plus one frame, plus hyper's buffers: 200 ×
    // (64 KiB + 64 KiB) is 25 MiB. The bound allows that plus allocator slack, and is a small
    // fraction of what the attackers offered (each would send 10 MB if let).
    let bound_kib = baseline + 64 * 1024;
    assert!(
        hwm < bound_kib,
        "peak memory {hwm} KiB over the bound {bound_kib} KiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_load_without_loss() {
    let _exclusive = EXCLUSIVE.lock().await;
    let seconds: u64 = std::env::var("TOWER_PLIVO_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15)
        .min(30);
    let server = ServerProcess::start();
    let addr = server.addr;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();

    let clients: Vec<_> = (0..50)
        .map(|client| {
            tokio::spawn(async move {
                let stream = TcpStream::connect(addr).await.unwrap();
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(connection);
                let (mut sent, mut ok, mut non_2xx, mut errors) = (0u64, 0u64, 0u64, 0u64);
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let nonce = format!("{client:02}{sent:018}");
                    let request = http::Request::post("/plivo/answer")
                        .header("host", addr.to_string())
                        .header("x-plivo-signature-v3", sign(CALLBACK, &nonce))
                        .header("x-plivo-signature-v3-nonce", &nonce)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(Full::new(Bytes::from_static(CALLBACK.as_bytes())))
                        .unwrap();
                    sent += 1;
                    let began = Instant::now();
                    let outcome = async {
                        sender.ready().await?;
                        let response = sender.send_request(request).await?;
                        let status = response.status();
                        response.into_body().collect().await?;
                        Ok::<_, hyper::Error>(status)
                    }
                    .await;
                    latencies.push(began.elapsed());
                    match outcome {
                        Ok(status) if status.is_success() => ok += 1,
                        Ok(_) => non_2xx += 1,
                        Err(_) => {
                            errors += 1;
                            break;
                        }
                    }
                }
                (sent, ok, non_2xx, errors, latencies)
            })
        })
        .collect();

    let (mut sent, mut ok, mut non_2xx, mut errors) = (0, 0, 0, 0);
    let mut latencies = Vec::new();
    for client in clients {
        let (s, o, n, e, l) = client.await.unwrap();
        sent += s;
        ok += o;
        non_2xx += n;
        errors += e;
        latencies.extend(l);
    }
    let elapsed = started.elapsed();
    let stats = get_body(addr, "/stats").await;
    let handled: u64 = stats.trim().parse().unwrap();
    let (_, hwm) = server.memory();
    latencies.sort();
    let percentile =
        |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "load: 50 connections for {:.1} s: {sent} sent, {ok} answered 2xx, {non_2xx} non-2xx, \
         {errors} errors, {handled} reached the handler; {:.0} requests/s; latency p50 {:?}, \
         p99 {:?}, max {:?}; server VmHWM {hwm} KiB",
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64(),
        percentile(0.5),
        percentile(0.99),
        latencies.last().unwrap(),
    );
    assert_eq!(non_2xx, 0, "no valid request refused");
    assert_eq!(errors, 0, "no request dropped");
    assert_eq!(ok, sent, "every request answered");
    assert_eq!(
        handled, ok,
        "every answered request reached the handler exactly once"
    );
    assert!(ok > 1000, "sustained load: {ok} requests");
}

/// A plain GET over a fresh connection; returns the body.
async fn get_body(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    text.split_once("\r\n\r\n").unwrap().1.to_owned()
}
