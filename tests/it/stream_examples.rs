//! The audio-stream examples as their users run them: compiled binaries in child processes,
//! driven over TCP by a real HTTP client and a real WebSocket client.
//!
//! - `stream`: one simulated call end to end, as Plivo makes it: the answer webhook, the
//!   `<Stream>` it returns, the audio WebSocket (`start`, `media` answered by `playAudio`,
//!   `dtmf`, `stop`), and the stream status callback;
//! - `tungstenite`: the tower-free check in front of a bare tungstenite server;
//! - `sign`: the stream command it prints opens a verified stream.

use crate::support;

use futures_util::SinkExt;
use serde_json::{Value, json};
use support::examples::Running;
use support::websocket::{
    assert_echoes, connect, next_text, request_from_websocat, upgrade_request,
};
use support::{FORM, V3_NONCE, V3_SIGNATURE, fresh_nonce, send};
use tokio_tungstenite::tungstenite::Message;
use tower_plivo::signature::Signer;

const TOKEN: &str = "exampleSTREAMtokenNOTaSECRET0000";
const PUBLIC: &str = "https://hooks.example.com";

/// A signed Plivo webhook (form POST) to the example at `addr`, for the public URL `path`.
async fn plivo_post(addr: std::net::SocketAddr, path: &str, body: &str) -> support::Reply {
    support::signed_form_post(addr, TOKEN, &format!("{PUBLIC}{path}"), path, body).await
}

/// The text between `start` and `end` in `text`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} in {text}"))
        + start.len();
    let to = text[from..].find(end).unwrap() + from;
    &text[from..to]
}

#[tokio::test]
async fn one_simulated_call_answer_stream_and_status_callback() {
    let example = Running::example(
        "stream",
        &[("PLIVO_AUTH_TOKEN", TOKEN), ("PLIVO_PUBLIC_URL", PUBLIC)],
    );
    let addr = example.addr;
    let call = "CallUUID=8b1c1a42-sim&From=14155550100&To=14155550199&Direction=inbound";

    // 1. Plivo fetches the answer URL; an unsigned fetch is refused.
    assert_eq!(
        send(addr, "POST", "/answer", &[FORM], call).await.status,
        403
    );
    let answer = plivo_post(addr, "/answer", call).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let xml = answer.text();
    let stream_url = between(&xml, "\">", "</Stream>").to_owned();
    assert_eq!(stream_url, "wss://hooks.example.com/stream");
    let status_callback = between(&xml, "statusCallbackUrl=\"", "\"").to_owned();
    assert_eq!(status_callback, "https://hooks.example.com/stream-status");
    let extra_headers = between(&xml, "extraHeaders=\"", "\"").to_owned();

    // 2. Plivo dials the stream URL, signed over its http:// form.
    let nonce = fresh_nonce();
    let signature = Signer::new(TOKEN).sign_stream(&stream_url, &nonce).unwrap();
    let upgrade = support::websocket::with_headers(
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{addr}/stream"
        ))
        .unwrap(),
        &[(V3_SIGNATURE, &signature), (V3_NONCE, &nonce)],
    );
    let mut plivo = connect(upgrade).await.expect("Plivo's upgrade opens");
    let stream_id = "6a1a8d0e-0000-4000-8000-00000000aa01";
    let start = json!({
        "event": "start",
        "sequenceNumber": 1,
        "start": {
            "callId": "8b1c1a42-0000-4000-8000-000000000001",
            "streamId": stream_id,
            "accountId": "MA000000000000000000",
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000},
        },
        "extra_headers": extra_headers,
    });
    plivo.send(Message::text(start.to_string())).await.unwrap();
    // The caller's audio comes back as playAudio, chunk by chunk.
    for (chunk, payload) in [(1, "f39/fn59"), (2, "AAECAwQF")] {
        let media = json!({
            "event": "media",
            "sequenceNumber": chunk + 1,
            "streamId": stream_id,
            "media": {"track": "inbound", "timestamp": "20", "chunk": chunk, "payload": payload},
            "extra_headers": extra_headers,
        });
        plivo.send(Message::text(media.to_string())).await.unwrap();
        let played: Value = serde_json::from_str(&next_text(&mut plivo).await).unwrap();
        assert_eq!(played["event"], "playAudio");
        assert_eq!(played["media"]["payload"], payload);
        assert_eq!(played["media"]["contentType"], "audio/x-mulaw");
    }
    let dtmf = json!({"event": "dtmf", "sequenceNumber": 4, "streamId": stream_id,
        "dtmf": {"track": "inbound", "digit": "5", "timestamp": "40"}, "extra_headers": extra_headers});
    plivo.send(Message::text(dtmf.to_string())).await.unwrap();
    let stop = json!({"event": "stop", "sequenceNumber": 5, "streamId": stream_id});
    plivo.send(Message::text(stop.to_string())).await.unwrap();
    drop(plivo);

    // 3. Plivo reports the stream's status to the callback URL (an ordinary V3 webhook).
    let status = format!("Event=StartStream&StreamID={stream_id}&CallUUID=8b1c1a42-sim");
    let path = status_callback.strip_prefix(PUBLIC).unwrap();
    let reported = plivo_post(addr, path, &status).await;
    assert_eq!((reported.status, reported.text().as_str()), (200, "OK"));

    // A copy of Plivo's upgrade, a forged stream and an unsigned one never open.
    let copy = support::websocket::with_headers(
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{addr}/stream"
        ))
        .unwrap(),
        &[(V3_SIGNATURE, &signature), (V3_NONCE, &nonce)],
    );
    // (The example answers every refusal alike; its log names the reason.)
    assert_eq!(connect(copy).await.err().map(|r| r.status), Some(403));
    let forged = upgrade_request(
        addr,
        "/stream",
        "http://hooks.example.com/stream",
        "not-the-token",
        &fresh_nonce(),
    );
    assert_eq!(connect(forged).await.err().map(|r| r.status), Some(403));

    let logs = example.stop();
    for expected in [
        "stream accepted",
        "stream started",
        "agent=echo",
        "caller pressed a key",
        "stream stopped",
        "stream status",
    ] {
        assert!(
            logs.contains(expected),
            "{expected:?} missing from:\n{logs}"
        );
    }
    assert!(!logs.contains(TOKEN), "the token leaked into the logs");
}

#[tokio::test]
async fn the_tungstenite_example_refuses_unsigned_streams_in_its_callback() {
    let example = Running::example(
        "tungstenite",
        &[("PLIVO_AUTH_TOKEN", TOKEN), ("PLIVO_PUBLIC_URL", PUBLIC)],
    );
    let addr = example.addr;
    let target = "/stream?call=9";
    let nonce = fresh_nonce();
    let signed_over = "http://hooks.example.com/stream?call=9";
    let mut client = connect(upgrade_request(addr, target, signed_over, TOKEN, &nonce))
        .await
        .expect("Plivo's upgrade opens");
    assert_echoes(&mut client).await;
    let replay = connect(upgrade_request(addr, target, signed_over, TOKEN, &nonce)).await;
    assert_eq!(replay.err().map(|r| r.status), Some(403));
    let wss = upgrade_request(
        addr,
        target,
        "wss://hooks.example.com/stream?call=9",
        TOKEN,
        &fresh_nonce(),
    );
    assert_eq!(connect(wss).await.err().map(|r| r.status), Some(403));
    let logs = example.stop();
    assert!(
        logs.contains("replayed") && logs.contains("signature_mismatch"),
        "{logs}"
    );
}

/// `sign` given a `ws://` URL prints a `websocat` command whose upgrade the `server` example
/// verifies (its origin is the request's own host over http, so Plivo would dial `ws://`).
#[tokio::test]
async fn the_sign_example_signs_a_stream_upgrade() {
    let server = Running::example("server", &[("PLIVO_AUTH_TOKEN", TOKEN)]);
    let url = format!("ws://{}/stream?call=10", server.addr);
    let output = std::process::Command::new(support::examples::example_binary("sign"))
        .args(["--token", TOKEN, "--url", &url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = String::from_utf8(output.stdout).unwrap();
    assert!(
        line.starts_with("websocat -H 'X-Plivo-Signature-V3: "),
        "{line}"
    );
    let mut client = connect(request_from_websocat(line.trim()))
        .await
        .expect("the signed stream opens");
    assert_echoes(&mut client).await;
    // A stream is a V3 GET without a body: asking for anything else is refused by `sign`.
    for bad in [
        &["--v2"][..],
        &["--data", "a=1"][..],
        &["--method", "POST"][..],
    ] {
        let refused = std::process::Command::new(support::examples::example_binary("sign"))
            .args(["--token", TOKEN, "--url", &url])
            .args(bad)
            .output()
            .unwrap();
        assert_eq!(refused.status.code(), Some(2), "{bad:?}");
    }
    server.stop();
}
