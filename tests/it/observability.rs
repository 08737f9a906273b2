//! Operator experience over real TCP (the signature doctor's matrix is `tests/it/diagnosis.rs`):
//! report-only mode lets everything through with its verdict, every guarded request has a span
//! with its fields, counters see every verdict, and no token ever appears in any log output.
//!
//! Each test captures everything `tower_plivo` logs at TRACE level on a current-thread runtime
//! (server and client share the thread, so the thread's default subscriber sees all of it).

use crate::support;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::Request;
use tower_plivo::replay::MemoryNonceStore;
use tower_plivo::signature::Signer;
use tower_plivo::{PlivoSignatureLayer, PlivoVerified, Rejection, UrlPolicy};

use support::logs::Captured;
use support::{Counts, FORM, echo, send, serve};

const TOKEN: &str = "MAOBSERVEtokenSECRETjjjjjjjjjjjjjjj";
const MAIN: &str = "MAOBSERVEmainSECRETkkkkkkkkkkkkkkkk";
const NONCE: &str = "30000000000000000001";

fn v3(token: &str, url: &str, body: &str, nonce: &str) -> String {
    Signer::new(token)
        .sign_v3_post(url, body.as_bytes(), nonce)
        .unwrap()
}

async fn post_with(
    addr: std::net::SocketAddr,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> support::Reply {
    let mut all = vec![FORM];
    all.extend_from_slice(headers);
    send(addr, "POST", target, &all, body.to_owned()).await
}

#[tokio::test]
async fn report_only_lets_everything_through_with_its_verdict() {
    let captured = Captured::default();
    let _guard = captured.install();
    /// What the handler learns: the rejection the request would have had (if any), and
    /// whether it verified.
    async fn verdict(request: Request) -> String {
        let rejection = request.extensions().get::<Rejection>().copied();
        let verified = request.extensions().get::<PlivoVerified>().is_some();
        format!("{rejection:?} verified={verified}")
    }
    let layer = PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .url_policy(UrlPolicy::public_base("https://hooks.example.com").unwrap())
        .replay_store(MemoryNonceStore::new())
        .body_limit(1024)
        .report_only(true)
        .build()
        .unwrap();
    assert!(captured.text().contains("REPORT-ONLY"), "loud at start-up");
    let addr = serve(Router::new().fallback(verdict).layer(layer)).await;

    let good = v3(TOKEN, "https://hooks.example.com/a", "k=v", NONCE);
    let headers = [
        ("X-Plivo-Signature-V3", good.as_str()),
        ("X-Plivo-Signature-V3-Nonce", NONCE),
    ];
    let reply = post_with(addr, "/a", &headers, "k=v").await;
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (200, "None verified=true")
    );
    let reply = post_with(addr, "/a", &headers, "k=v").await;
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (200, "Some(Replayed) verified=true")
    );
    let reply = post_with(addr, "/a", &headers, "k=tampered").await;
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (200, "Some(SignatureMismatch) verified=false")
    );
    let reply = post_with(addr, "/a", &[], "").await;
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (200, "Some(MissingSignature) verified=false")
    );
    // Resource limits still apply.
    let reply = post_with(addr, "/a", &headers, &"x".repeat(2048)).await;
    assert_eq!(reply.status, 413);
    assert!(
        captured
            .text()
            .contains("verdict=\"rejected (report-only)\"")
    );
    captured.assert_none_of(&[TOKEN, MAIN, "SECRET"]);
}

#[tokio::test]
async fn spans_carry_the_fields_and_counters_see_every_verdict() {
    let captured = Captured::default();
    let _guard = captured.install();
    let counts = Arc::new(Counts::default());
    let layer = PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .main_account_token(MAIN)
        .url_policy(UrlPolicy::public_base("https://hooks.example.com").unwrap())
        .metrics(counts.clone())
        .build()
        .unwrap();
    // Debug output of the configuration never shows a token either.
    writeln!(Captured(captured.0.clone()), "{layer:?}").unwrap();
    let addr = serve(Router::new().fallback(echo).layer(layer)).await;
    let good = v3(MAIN, "https://hooks.example.com/a", "k=v", NONCE);
    let reply = post_with(
        addr,
        "/a",
        &[
            ("X-Plivo-Signature-Ma-V3", &good),
            ("X-Plivo-Signature-V3-Nonce", NONCE),
        ],
        "k=v",
    )
    .await;
    assert_eq!(reply.status, 200);
    post_with(
        addr,
        "/a",
        &[
            ("X-Plivo-Signature-V3", &good),
            ("X-Plivo-Signature-V3-Nonce", NONCE),
        ],
        "k=v",
    )
    .await;
    post_with(addr, "/a", &[], "").await;

    let text = captured.text();
    let closes: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("plivo_webhook") && l.contains("close"))
        .collect();
    assert_eq!(closes.len(), 3, "one span per guarded request:\n{text}");
    let accepted = closes
        .iter()
        .find(|l| l.contains("plivo.verdict=\"accepted\""))
        .expect("accepted span");
    for field in [
        // OpenTelemetry's HTTP semantic conventions, then the layer's own.
        "http.request.method=POST",
        "url.path=\"/a\"",
        "url.full=\"https://hooks.example.com/a\"",
        "network.peer.address=127.0.0.1",
        "network.peer.port=",
        "http.request.body.size=3",
        "http.response.status_code=200",
        "plivo.version=\"v3\"",
        "plivo.token=main:0",
        "plivo.nonce=\"30000000000000000001\"",
        "plivo.verdict=\"accepted\"",
        "plivo.verify_ns=",
    ] {
        assert!(accepted.contains(field), "missing {field} in {accepted}");
    }
    let mismatch = closes
        .iter()
        .find(|l| l.contains("plivo.reason=\"signature_mismatch\""))
        .expect("rejected span");
    assert!(
        mismatch.contains("plivo.verdict=\"rejected\""),
        "{mismatch}"
    );
    assert!(
        mismatch.contains("http.response.status_code=403"),
        "{mismatch}"
    );
    assert!(
        !mismatch.contains("url.query"),
        "no query, no field: {mismatch}"
    );
    assert_eq!(counts.accepted.load(Ordering::Relaxed), 1);
    assert_eq!(
        *counts.rejected.lock().unwrap(),
        [Rejection::SignatureMismatch, Rejection::MissingSignature]
    );
    captured.assert_none_of(&[TOKEN, MAIN, "SECRET"]);
}
