//! The examples' serving limits (`examples/shared/serving.rs`) over real TCP, against the
//! compiled examples with short timeouts, each attack next to a genuine request that still gets
//! through:
//!
//! - a head not finished within the header read timeout (half sent, trickled, never begun, or
//!   the next one on an idle keep-alive connection): the connection is closed then;
//! - a head over 16 KiB: refused at once (431, or the connection closed), while Plivo's
//!   longest kind of GET callback, signed, gets 200;
//! - `PLIVO_MAX_CONNECTIONS`: past it, a connection waits to be accepted until a slot frees;
//! - an open audio stream is no head being read: it outlives the timeout, and holds its slot;
//! - every example that serves HTTP/1.1 has the timer, its peer address still reaching the
//!   layer; `tungstenite` times out the handshake only.
//!
//! ```text
//! cargo test --test it serving::
//! ```

use crate::support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tower_plivo::signature::Signer;

use support::examples::Running;
use support::websocket::{assert_echoes, connect, next_text, plivo_stream_url, upgrade_request};
use support::{FORM, Reply, V3_NONCE, V3_SIGNATURE, fresh_nonce, send};

const TOKEN: &str = "servingTESTtokenNOTaSECRET000000";
const CALL: &str = "CallUUID=5f0c2d7e-serving&From=14155550100&To=14155550199&Direction=inbound";
/// The examples' limit on a request head.
const MAX_HEAD: usize = 16 * 1024;

/// The example `name` with the test token, this header read timeout (ms) and `env`.
fn start(name: &str, timeout_ms: u64, env: &[(&str, &str)]) -> Running {
    let timeout = timeout_ms.to_string();
    let mut vars = vec![
        ("PLIVO_AUTH_TOKEN", TOKEN),
        ("PLIVO_HEADER_READ_TIMEOUT_MS", timeout.as_str()),
    ];
    vars.extend_from_slice(env);
    Running::example(name, &vars)
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Waits until the server closes `stream` (end of file or reset) and returns what it sent
/// before; panics after 10 s.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server closes the connection within 10 s");
    received
}

/// Asserts that the server closes `stream`, without answering, between `earliest` and `latest`
/// after `since`.
#[track_caller]
fn assert_closed_between(
    what: &str,
    received: &[u8],
    since: Instant,
    earliest: Duration,
    latest: Duration,
) {
    let after = since.elapsed();
    assert!(
        received.is_empty(),
        "{what}: answered {:?}",
        String::from_utf8_lossy(received)
    );
    assert!(
        (earliest..=latest).contains(&after),
        "{what}: closed after {after:?}, not between {earliest:?} and {latest:?}"
    );
}

/// A connection that has sent `bytes` and then nothing more.
async fn stalled(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream
}

/// A signed Plivo form POST to `path` of the example at `addr` (signed for
/// `http://{addr}{path}`, the origin every example here verifies).
async fn signed_post(addr: SocketAddr, path: &str) -> Reply {
    support::signed_form_post(addr, TOKEN, &format!("http://{addr}{path}"), path, CALL).await
}

/// The head of a signed GET to `target` (path and query), as Plivo sends a GET callback.
fn signed_get_head(addr: SocketAddr, target: &str) -> String {
    let nonce = fresh_nonce();
    let signature = Signer::new(TOKEN)
        .sign_v3_get(&format!("http://{addr}{target}"), &nonce)
        .unwrap();
    format!(
        "GET {target} HTTP/1.1\r\nhost: {addr}\r\nuser-agent: PlivoHTTP/1.0\r\n\
         {V3_SIGNATURE}: {signature}\r\n{V3_NONCE}: {nonce}\r\nconnection: close\r\n\r\n"
    )
}

/// Percent-encodes all but RFC 3986's unreserved characters, as a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// `/speak/?…` with a hangup callback's parameters, as Plivo sends it to a GET hangup URL: 40
/// of Plivo's parameters and `sip_headers` custom SIP headers (`X-PH-…`) at their longest: a
/// name of 24 characters and a value of 120, all `%` (allowed), so 360 once encoded.
fn hangup_callback(sip_headers: usize) -> String {
    let uuid = "8b1c1a42-7d3e-4f5a-9b6c-0d1e2f3a4b5c";
    let mut params: Vec<(String, String)> = [
        ("ALegRequestUUID", uuid),
        ("ALegUUID", uuid),
        ("AnswerTime", "2026-12-03 11:58:04"),
        ("BillDuration", "60"),
        ("BillRate", "0.00850"),
        ("CallStatus", "completed"),
        ("CallUUID", uuid),
        ("CallerName", "+14155550100"),
        ("Direction", "outbound"),
        ("Duration", "42"),
        ("EndTime", "2026-12-03 11:58:46"),
        ("Event", "Hangup"),
        ("From", "14155550100"),
        ("HangupCause", "NORMAL_CLEARING"),
        ("HangupCauseCode", "4000"),
        ("HangupCauseName", "Normal Hangup"),
        ("HangupSource", "Callee"),
        ("ParentAuthID", "MAXXXXXXXXXXXXXXXXXX"),
        ("RequestUUID", uuid),
        ("SessionStart", "2026-12-03 11:58:01.123456"),
        ("StartTime", "2026-12-03 11:58:01"),
        ("To", "14155550199"),
        ("TotalCost", "0.00850"),
        ("STIRAttestation", "Not Applicable"),
        ("STIRVerification", "Not Applicable"),
        ("Machine", "false"),
        ("CallerId", "+14155550100"),
        ("ForwardedFrom", "+14155550111"),
        ("DialBLegUUID", uuid),
        ("DialALegUUID", uuid),
        ("DialBLegStatus", "hangup"),
        ("DialBLegHangupCause", "NORMAL_CLEARING"),
        ("DialBLegDuration", "40"),
        ("DialBLegBillDuration", "60"),
        ("DialBLegFrom", "14155550199"),
        ("DialBLegTo", "sip:agent-desk-0042@phone.plivo.com"),
        ("DialRingStatus", "true"),
        ("DialAction", "hangup"),
        ("ConferenceUUID", uuid),
        (
            "CallBackURL",
            "https://hooks.example.com/plivo/hangup?tenant=acme",
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    assert_eq!(params.len(), 40);
    for i in 0..sip_headers {
        let name = format!("X-PH-Customfield{i:08}");
        assert_eq!(name.len(), 24);
        params.push((name, "%".repeat(120)));
    }
    let query: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect();
    format!("/speak/?{}", query.join("&"))
}

/// Sends `request` and checks that it is refused for its size at once (431, or the connection
/// closed with no answer, within 2 s): at the head-size limit, not at the header timeout.
async fn refused_for_its_size(addr: SocketAddr, request: &[u8], what: &str) {
    let (status, after) = outcome_of(addr, request).await;
    assert!(
        matches!(
            status.as_deref(),
            None | Some("HTTP/1.1 431 Request Header Fields Too Large")
        ),
        "{what}: {status:?}"
    );
    assert!(after < ms(2000), "{what}: refused after {after:?}");
}

/// What the server did with a request written whole: its status line, or `None` if it closed
/// the connection without one; and how long it took.
async fn outcome_of(addr: SocketAddr, request: &[u8]) -> (Option<String>, Duration) {
    let began = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may refuse and close before reading it all.
    let _ = stream.write_all(request).await;
    let received = until_closed(&mut stream).await;
    let status = String::from_utf8_lossy(&received)
        .lines()
        .next()
        .filter(|line| line.starts_with("HTTP/1.1 "))
        .map(str::to_owned);
    (status, began.elapsed())
}

#[tokio::test]
async fn a_half_sent_or_trickled_head_is_closed_at_the_timeout_while_a_signed_call_gets_200() {
    let example = start("server", 1000, &[]);
    let addr = example.addr;
    let began = Instant::now();
    let mut half = stalled(addr, b"POST /speak/ HTTP/1.1\r\nhost: x\r\n").await;
    // Then a byte every 100 ms: each read comes soon, the head never ends.
    let mut trickled = stalled(addr, b"POST /speak/ HTTP/1.1\r\nx-slow: ").await;
    let (mut trickle_read, mut trickle_write) = trickled.split();
    let trickling = async {
        loop {
            tokio::time::sleep(ms(100)).await;
            if trickle_write.write_all(b"a").await.is_err() {
                return;
            }
        }
    };
    let closed = async {
        let mut received = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match trickle_read.read(&mut buf).await {
                Ok(0) | Err(_) => return received,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    let genuine = async {
        let reply = signed_post(addr, "/speak/").await;
        (reply.status, began.elapsed())
    };
    let (trickle_received, (status, answered_after), half_received) = tokio::join!(
        async {
            // The trickle stops once a write fails, after the server closed.
            tokio::time::timeout(Duration::from_secs(10), async {
                tokio::join!(trickling, closed).1
            })
            .await
            .expect("the server closes the trickled connection within 10 s")
        },
        genuine,
        until_closed(&mut half),
    );
    // Answered while both were open, before their deadline.
    assert_eq!(status, 200, "a signed call meanwhile");
    assert!(
        answered_after < ms(1000),
        "answered after {answered_after:?}"
    );
    // Both at the deadline, counted from their start: reads do not push it back.
    assert_closed_between("half a head", &half_received, began, ms(900), ms(4000));
    assert_closed_between(
        "a trickled head",
        &trickle_received,
        began,
        ms(900),
        ms(4000),
    );
    drop(trickled);
    example.stop();
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_at_the_header_timeout() {
    let example = start("server", 500, &[]);
    let began = Instant::now();
    let mut silent = TcpStream::connect(example.addr).await.unwrap();
    let received = until_closed(&mut silent).await;
    assert_closed_between("a silent connection", &received, began, ms(400), ms(3000));
    assert_eq!(signed_post(example.addr, "/speak/").await.status, 200);
    example.stop();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_at_the_header_timeout_after_its_answer() {
    let example = start("server", 500, &[]);
    let addr = example.addr;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // Two signed requests on one connection, the second after a pause shorter than the timeout:
    // the deadline runs from the end of each answer, and kept alive the connection serves on.
    for pause in [ms(0), ms(300)] {
        tokio::time::sleep(pause).await;
        let keep_alive = signed_get_head(addr, "/speak/?CallUUID=1")
            .replace("connection: close", "connection: keep-alive");
        stream.write_all(keep_alive.as_bytes()).await.unwrap();
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        let reply = loop {
            if let Some((reply, _)) = support::raw::parse_response(&received, false, false) {
                break reply;
            }
            let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
                .await
                .expect("an answer within 5 s")
                .unwrap();
            assert!(n > 0, "closed before answering");
            received.extend_from_slice(&buf[..n]);
        };
        assert_eq!(reply.status, 200, "{}", reply.head);
    }
    let answered = Instant::now();
    let received = until_closed(&mut stream).await;
    assert_closed_between(
        "an idle keep-alive connection",
        &received,
        answered,
        ms(400),
        ms(3000),
    );
    example.stop();
}

#[tokio::test]
async fn a_head_over_16_kib_is_refused_at_once_while_a_long_signed_get_callback_gets_200() {
    // A long timeout: a refusal within a second is the size limit's, not the timer's.
    let example = start("server", 10_000, &[]);
    let addr = example.addr;

    // Plivo's longest kind of GET: a hangup callback, here with 30 SIP headers at their longest.
    let callback = hangup_callback(30);
    let head = signed_get_head(addr, &callback);
    assert!(
        (12 * 1024..MAX_HEAD).contains(&head.len()),
        "{} bytes",
        head.len()
    );
    let (status, _) = outcome_of(addr, head.as_bytes()).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 200 OK"));

    // The same, with more SIP headers than the head has room for: genuinely signed, so only
    // the size refuses it.
    let oversized = signed_get_head(addr, &hangup_callback(45));
    assert!(
        oversized.len() > MAX_HEAD + 1024,
        "{} bytes",
        oversized.len()
    );
    refused_for_its_size(addr, oversized.as_bytes(), "the oversized signed callback").await;

    // A head that never ends stops being read at the limit, not at the timeout: hyper's buffer
    // does not grow past it.
    let mut endless = b"GET /speak/?".to_vec();
    endless.extend(std::iter::repeat_n(b'a', MAX_HEAD + 1024));
    refused_for_its_size(addr, &endless, "the endless head").await;

    assert_eq!(signed_post(addr, "/speak/").await.status, 200);
    example.stop();
}

/// The bound makes the accept loop wait, not refuse: past it, a connection waits in the listen
/// backlog, then is served once a slot frees.
#[tokio::test]
async fn past_max_connections_a_connection_waits_for_a_slot_and_is_then_served() {
    let example = start("server", 1500, &[("PLIVO_MAX_CONNECTIONS", "4")]);
    let addr = example.addr;
    let began = Instant::now();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(stalled(addr, b"POST /speak/ HTTP/1.1\r\n").await);
    }
    let mut genuine = tokio::spawn(async move {
        let reply = signed_post(addr, "/speak/").await;
        (reply.status, began.elapsed())
    });
    assert!(
        tokio::time::timeout(ms(900), &mut genuine).await.is_err(),
        "answered while four stalled connections held every slot"
    );
    let (status, after) = tokio::time::timeout(Duration::from_secs(10), genuine)
        .await
        .expect("served once a slot frees")
        .unwrap();
    assert_eq!(status, 200);
    // Not before the stalled connections' deadline freed their slots.
    assert!(
        (ms(1400)..ms(6000)).contains(&after),
        "answered after {after:?}"
    );
    for mut stream in held {
        assert!(until_closed(&mut stream).await.is_empty());
    }
    example.stop();
}

/// The `stream` example at `addr`: an audio stream opened as Plivo opens it.
async fn open_stream(addr: SocketAddr) -> support::websocket::Client {
    let url = plivo_stream_url(&addr.to_string(), "/stream");
    connect(upgrade_request(
        addr,
        "/stream",
        &url,
        TOKEN,
        &fresh_nonce(),
    ))
    .await
    .expect("Plivo's signed upgrade gets 101")
}

/// Sends one `media` event and asserts that the example plays the same audio back.
async fn assert_media_echoed(client: &mut support::websocket::Client, chunk: u32) {
    let payload = format!("f39/f3{chunk:04}");
    let media = json!({
        "event": "media",
        "media": {"track": "inbound", "chunk": chunk, "payload": payload},
    });
    client.send(Message::text(media.to_string())).await.unwrap();
    let play: Value = serde_json::from_str(&next_text(client).await).unwrap();
    assert_eq!(play["event"], "playAudio");
    assert_eq!(play["media"]["payload"], payload.as_str());
}

#[tokio::test]
async fn an_audio_stream_keeps_exchanging_frames_past_the_header_timeout() {
    let example = start("stream", 300, &[]);
    let mut client = open_stream(example.addr).await;
    let opened = Instant::now();
    let start = json!({"event": "start", "start": {"callId": "c-1", "streamId": "s-1"}});
    client.send(Message::text(start.to_string())).await.unwrap();
    // Frames for four timeouts, then a silence of four, then frames again.
    for chunk in 0..12 {
        assert_media_echoed(&mut client, chunk).await;
        tokio::time::sleep(ms(100)).await;
    }
    tokio::time::sleep(ms(1200)).await;
    for chunk in 12..15 {
        assert_media_echoed(&mut client, chunk).await;
    }
    assert!(opened.elapsed() > ms(2000), "{:?}", opened.elapsed());
    client.close(None).await.unwrap();
    example.stop();
}

#[tokio::test]
async fn an_open_audio_stream_holds_its_connection_slot_until_it_closes() {
    let example = start("stream", 300, &[("PLIVO_MAX_CONNECTIONS", "1")]);
    let addr = example.addr;
    let mut client = open_stream(addr).await;
    let mut status_callback =
        tokio::spawn(async move { signed_post(addr, "/stream-status").await });
    // Well past the header timeout: the stream is still open, its slot still taken.
    assert!(
        tokio::time::timeout(ms(900), &mut status_callback)
            .await
            .is_err(),
        "answered while the only slot was the stream's"
    );
    assert_media_echoed(&mut client, 0).await;
    client.close(None).await.unwrap();
    drop(client);
    let reply = tokio::time::timeout(Duration::from_secs(5), status_callback)
        .await
        .expect("served once the stream closed")
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    example.stop();
}

/// Every example serving HTTP/1.1 closes a silent connection at its (short) timeout and still
/// answers, and the peer address still reaches the layer where one is checked: a request
/// signed for `https://`, whose `X-Forwarded-Proto: https` only a trusted peer's counts, gets
/// 200, and 403 without that header.
#[tokio::test]
async fn every_http1_example_has_the_timer_and_its_peer_still_reaches_the_layer() {
    let tenants = support::tenants_db::TenantsDb::new();
    tenants.put("acme", TOKEN, None);
    let tenants_db = tenants.path_str();
    let mut examples = vec![
        (
            "server",
            vec![("PLIVO_TRUSTED_PROXIES", "127.0.0.1")],
            "/speak/",
        ),
        ("server_unguarded", vec![], ""),
        (
            "multi_tenant",
            vec![("TENANTS_DB", tenants_db)],
            "/acme/answer",
        ),
        ("stream", vec![], "/stream-status"),
        // Its default trusted proxies are loopback's.
        ("hyper", vec![], "/answer"),
    ];
    if cfg!(feature = "metrics") {
        examples.push(("metrics", vec![], "/plivo/answer"));
    }
    for (name, env, guarded) in examples {
        let example = start(name, 300, &env);
        let addr = example.addr;
        let began = Instant::now();
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let received = until_closed(&mut silent).await;
        assert_closed_between(name, &received, began, ms(200), ms(3000));
        if guarded.is_empty() {
            let reply = send(addr, "POST", "/anything", &[FORM], CALL).await;
            assert_eq!(reply.status, 200, "{name}");
        } else if name == "server" || name == "hyper" {
            for (forwarded, status) in [(true, 200), (false, 403)] {
                let nonce = fresh_nonce();
                let signature = Signer::new(TOKEN)
                    .sign_v3_post(&format!("https://{addr}{guarded}"), CALL.as_bytes(), &nonce)
                    .unwrap();
                let mut headers =
                    vec![(V3_SIGNATURE, signature.as_str()), (V3_NONCE, &nonce), FORM];
                if forwarded {
                    headers.push(("x-forwarded-proto", "https"));
                }
                let reply = send(addr, "POST", guarded, &headers, CALL).await;
                assert_eq!(reply.status, status, "{name}, forwarded: {forwarded}");
            }
        } else {
            assert_eq!(signed_post(addr, guarded).await.status, 200, "{name}");
        }
        example.stop();
    }
}

#[tokio::test]
async fn the_tungstenite_example_times_out_the_handshake_but_not_an_open_socket() {
    let example = start(
        "tungstenite",
        400,
        &[("PLIVO_PUBLIC_URL", "https://hooks.example.com")],
    );
    let addr = example.addr;
    let began = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut half = stalled(addr, b"GET /stream HTTP/1.1\r\nhost: x\r\n").await;
    let (silent_received, half_received) =
        tokio::join!(until_closed(&mut silent), until_closed(&mut half));
    assert_closed_between(
        "a silent connection",
        &silent_received,
        began,
        ms(300),
        ms(3000),
    );
    assert_closed_between("half an upgrade", &half_received, began, ms(300), ms(3000));

    let signed_over = "http://hooks.example.com/stream";
    let mut client = connect(upgrade_request(
        addr,
        "/stream",
        signed_over,
        TOKEN,
        &fresh_nonce(),
    ))
    .await
    .expect("Plivo's signed upgrade gets 101");
    assert_echoes(&mut client).await;
    tokio::time::sleep(ms(1000)).await;
    assert_echoes(&mut client).await;
    client.close(None).await.unwrap();
    example.stop();
}
