//! Memory per in-flight request (at most 2 KiB beyond a handler that reads the body itself,
//! while a request is in flight), measured on real servers over TCP.
//!
//! Each variant is an axum server on 127.0.0.1 whose handler holds its request until told to
//! answer. `N` connections are opened first, then the bytes live in the process are read, then
//! `N` signed form POSTs are written and, once all `N` handlers hold theirs, the live bytes are
//! read again: the difference over `N` is what one in-flight request costs that server. The
//! same client, server and handler without the layer give the baseline, twice: a handler that
//! does not read the body (what the server holds without the layer), and one that reads the
//! whole body first (the body held, as the layer holds it).
//!
//! The whole process is counted (`it/support/counting_allocator.rs`), so the tests of this binary
//! take turns (`SERIAL`): nothing else runs beside a measurement.

#[path = "it/support/counting_allocator.rs"]
mod counting_allocator;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tower_plivo::signature::Signer;
use tower_plivo::{PlivoSignatureLayer, UrlPolicy};

use counting_allocator::live_bytes;

const TOKEN: &str = "MAINFLIGHTTOKENiiiiiiiiiiiiiiiiiiii";
const ORIGIN: &str = "https://hooks.example.com";
/// Requests in flight at once.
const N: usize = 64;

/// Held by each test for its whole run.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Clone, Copy, Debug, PartialEq)]
enum Server {
    /// No layer; the handler holds the request without reading its body.
    Bare,
    /// No layer; the handler reads the whole body, then holds it.
    BareReadingBody,
    /// `PlivoSignatureLayer` as built by default (replay protection on), before a handler that
    /// holds the request (whose body the layer has read).
    Layered,
}

/// A Plivo-like form body of about `size` bytes.
fn form_body(size: usize) -> String {
    let mut body = String::with_capacity(size + 64);
    let mut i = 0;
    while body.len() < size {
        body.push_str(&format!(
            "CallUUID{i}=e3a1b0f2-7c4d-4c1e-9f7a-{i:012}&From=%2B1555{i:07}&"
        ));
        i += 1;
    }
    body.truncate(size);
    body
}

/// Starts the server; returns its address, the handlers' arrival count and the gate they
/// wait at.
async fn start(server: Server) -> (SocketAddr, Arc<AtomicUsize>, Arc<Semaphore>) {
    let arrived = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let (count, wait) = (arrived.clone(), gate.clone());
    let handler = move |request: Request| {
        let (count, wait) = (count.clone(), wait.clone());
        async move {
            let held = if server == Server::BareReadingBody {
                let (head, body) = request.into_parts();
                let bytes = body.collect().await.unwrap().to_bytes();
                Request::from_parts(head, axum::body::Body::from(bytes))
            } else {
                request
            };
            count.fetch_add(1, Ordering::SeqCst);
            let _permit = wait.acquire().await.unwrap();
            drop(held);
            "ok"
        }
    };
    let mut app = Router::new().route("/answer", axum::routing::post(handler));
    if server == Server::Layered {
        let layer = PlivoSignatureLayer::builder()
            .auth_token(TOKEN)
            .url_policy(UrlPolicy::public_base(ORIGIN).unwrap())
            .build()
            .unwrap();
        app = app.layer(layer);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, arrived, gate)
}

/// The bytes of a signed POST with this body (its own nonce, so that replay protection lets
/// every one through).
fn signed_request(body: &str, nonce: usize) -> Vec<u8> {
    let nonce = format!("{:020}", 31_000_000_000_000_000_000u128 + nonce as u128);
    let signature = Signer::new(TOKEN)
        .sign_v3_post(&format!("{ORIGIN}/answer"), body.as_bytes(), &nonce)
        .unwrap();
    format!(
        "POST /answer HTTP/1.1\r\nhost: hooks.example.com\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\
         x-plivo-signature-v3: {signature}\r\nx-plivo-signature-v3-nonce: {nonce}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `count` fresh connections to `addr`.
async fn connect(addr: SocketAddr, count: usize) -> Vec<TcpStream> {
    let mut connections = Vec::with_capacity(count);
    for _ in 0..count {
        connections.push(TcpStream::connect(addr).await.unwrap());
    }
    connections
}

/// Writes one request on each connection and waits until every handler holds its request.
async fn send_until_held(
    server: Server,
    connections: &mut [TcpStream],
    requests: &[Vec<u8>],
    arrived: &AtomicUsize,
) {
    for (connection, request) in connections.iter_mut().zip(requests) {
        connection.write_all(request).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while arrived.load(Ordering::SeqCst) < requests.len() {
        assert!(
            Instant::now() < deadline,
            "{server:?}: {} of {} requests reached the handler",
            arrived.load(Ordering::SeqCst),
            requests.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Lets every held handler answer, reads each answer, then takes the permits back (each
/// handler returned its own) so that the next round waits at the gate again.
async fn release(
    server: Server,
    connections: &mut [TcpStream],
    arrived: &AtomicUsize,
    gate: &Semaphore,
) {
    gate.add_permits(connections.len());
    for connection in connections.iter_mut() {
        let mut head = [0u8; 12];
        connection.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200", "{server:?}: answered");
    }
    let count = u32::try_from(connections.len()).unwrap();
    gate.acquire_many(count).await.unwrap().forget();
    arrived.store(0, Ordering::SeqCst);
}

/// Live bytes per in-flight request on `server` with bodies of `size` bytes, in steady state:
/// a first round of `N` requests of that size is served before the measured one, so what a
/// server keeps per worker thread once it has served such requests (the layer's message
/// buffer, hyper's and Tokio's pools) is not counted per request. The layer's per-thread
/// buffer is bounded on its own (1 MiB of bytes and 1 MiB of pairs per thread).
async fn bytes_per_request(server: Server, size: usize) -> f64 {
    let (addr, arrived, gate) = start(server).await;
    let body = form_body(size);
    let warm_up: Vec<Vec<u8>> = (N..2 * N).map(|i| signed_request(&body, i)).collect();
    let mut connections = connect(addr, N).await;
    send_until_held(server, &mut connections, &warm_up, &arrived).await;
    release(server, &mut connections, &arrived, &gate).await;
    drop(connections);
    // Built before the first measurement: the client's buffers are not the server's cost.
    let requests: Vec<Vec<u8>> = (0..N).map(|i| signed_request(&body, i)).collect();
    let mut connections = connect(addr, N).await;
    // Let the server accept every connection and park its reader before counting.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = live_bytes();
    send_until_held(server, &mut connections, &requests, &arrived).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let held = live_bytes() - before;
    release(server, &mut connections, &arrived, &gate).await;
    held as f64 / N as f64
}

/// What is asserted: at most 2 KiB per in-flight request beyond the same server whose handler
/// reads the body itself (the body held, as the layer holds it), at 1, 16 and 64 KiB; and at
/// most the body plus 2 KiB beyond the bare server for a typical 1 KiB webhook. At 16 and 64
/// KiB most of what a request costs beyond the bare server is hyper's read buffer, which grows
/// while any handler reads a body, so the handler that reads the body itself pays it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_holds_the_body_and_little_else_per_request() {
    let _turn = SERIAL.lock().await;
    println!("memory per in-flight request ({N} in flight, bytes live in the process):");
    println!("body      bare   bare+body   layered   layered - bare   layered - (bare+body)");
    for size in [1024, 16 * 1024, 64 * 1024] {
        let bare = bytes_per_request(Server::Bare, size).await;
        let bare_reading = bytes_per_request(Server::BareReadingBody, size).await;
        let layered = bytes_per_request(Server::Layered, size).await;
        let (share, own) = (layered - bare, layered - bare_reading);
        println!(
            "{:>5} KiB {bare:>6.0} {bare_reading:>11.0} {layered:>9.0} {share:>16.0} {own:>23.0}",
            size / 1024
        );
        if size == 1024 {
            assert!(
                share <= (size + 2048) as f64,
                "1 KiB bodies: the layer costs {share:.0} bytes per request, over body + 2 KiB"
            );
        }
        assert!(
            own <= 2048.0,
            "{size}-byte bodies: the layer holds {own:.0} bytes per request beyond the body"
        );
    }
}

/// A sender's request: a genuinely signed head whose `Content-Length` is the body limit, then
/// two bytes in two writes (so that the layer gathers two pieces), then silence. Sizing the
/// buffer from the declared length alone would make every such connection cost the limit
/// (1 MiB here) for two bytes sent; the buffer grows with the bytes that arrive instead. The
/// requests are still being read when measured (nothing has been answered), and once the rest
/// of each body is sent every one is verified and answered 200: the measurement is of the
/// layer reading bodies, not of requests refused from their head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_length_is_not_allocated_ahead_of_the_bytes() {
    let _turn = SERIAL.lock().await;
    const LIMIT: usize = 1 << 20;
    let layer = PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .url_policy(UrlPolicy::public_base(ORIGIN).unwrap())
        .body_limit(LIMIT)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/answer", axum::routing::post(|| async { "ok" }))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let body = form_body(LIMIT);
    let requests: Vec<Vec<u8>> = (0..N).map(|i| signed_request(&body, 1_000 + i)).collect();
    let head_len = requests[0].len() - LIMIT;
    let mut connections = Vec::with_capacity(N);
    for _ in 0..N {
        connections.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = live_bytes();
    // The head and one byte, then another byte, then a third: the pieces arrive 200 ms apart,
    // so the layer has polled the body between them.
    for piece in [
        0..head_len + 1,
        head_len + 1..head_len + 2,
        head_len + 2..head_len + 3,
    ] {
        for (connection, request) in connections.iter_mut().zip(&requests) {
            connection.write_all(&request[piece.clone()]).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let per_connection = (live_bytes() - before) as f64 / N as f64;
    println!(
        "{N} connections declaring {LIMIT} bytes, 3 sent: {per_connection:.0} bytes live each"
    );
    for connection in &connections {
        let mut byte = [0u8; 1];
        let answer = connection.try_read(&mut byte);
        assert!(
            matches!(&answer, Err(error) if error.kind() == std::io::ErrorKind::WouldBlock),
            "the request was answered before its body arrived: {answer:?}"
        );
    }
    assert!(
        per_connection < (LIMIT / 16) as f64,
        "a declared length was allocated ahead of the bytes: {per_connection:.0} bytes each"
    );
    for (connection, request) in connections.iter_mut().zip(&requests) {
        connection
            .write_all(&request[head_len + 3..])
            .await
            .unwrap();
    }
    for connection in &mut connections {
        let mut head = [0u8; 12];
        connection.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200", "the whole signed body verifies");
    }
}
