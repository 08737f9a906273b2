//! Operator experience over real TCP: the signature doctor names each misconfiguration,
//! report-only mode lets everything through with its verdict, every guarded request has a span
//! with its fields, counters see every verdict, and no token ever appears in any log output.
//!
//! Each test captures everything `tower_plivo` logs at TRACE level on a current-thread runtime
//! (server and client share the thread, so the thread's default subscriber sees all of it).

mod support;

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::Request;
use axum::routing::post;
use tower_plivo::replay::MemoryNonceStore;
use tower_plivo::signature::Signer;
use tower_plivo::{Metrics, PlivoSignatureLayer, PlivoVerified, Rejection, Scheme, UrlPolicy};

use support::logs::Captured;
use support::{FORM, echo, send, serve};

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

/// One doctor scenario: the layer's policy, what Plivo signed, how the request arrives, and the
/// variant the doctor must name.
struct Case {
    variant: &'static str,
    policy: UrlPolicy,
    /// Trusted proxies (setting `X-Forwarded-Proto`, the default), if any.
    trusted_proxies: &'static [&'static str],
    signed_url: &'static str,
    target: &'static str,
    extra: Vec<(&'static str, &'static str)>,
    header: &'static str,
    token: &'static str,
    fix_mentions: &'static str,
}

#[tokio::test]
async fn the_doctor_names_each_misconfiguration() {
    let captured = Captured::default();
    let _guard = captured.install();
    let host = ("host", "hooks.example.com");
    let cases = vec![
        Case {
            variant: "scheme",
            trusted_proxies: &[],
            policy: UrlPolicy::from_request(Scheme::Http),
            signed_url: "https://hooks.example.com/answer",
            target: "/answer",
            extra: vec![host],
            header: "X-Plivo-Signature-V3",
            token: TOKEN,
            fix_mentions: "UrlPolicy::public_base(\"https://hooks.example.com\")",
        },
        Case {
            variant: "port",
            trusted_proxies: &[],
            policy: UrlPolicy::public_base("https://hooks.example.com").unwrap(),
            signed_url: "https://hooks.example.com:443/answer",
            target: "/answer",
            extra: vec![],
            header: "X-Plivo-Signature-V3",
            token: TOKEN,
            fix_mentions: "https://hooks.example.com:443",
        },
        Case {
            variant: "port",
            trusted_proxies: &[],
            policy: UrlPolicy::public_base("https://hooks.example.com:443").unwrap(),
            signed_url: "https://hooks.example.com/answer",
            target: "/answer",
            extra: vec![],
            header: "X-Plivo-Signature-V3",
            token: TOKEN,
            fix_mentions: "public_base(\"https://hooks.example.com\")",
        },
        Case {
            variant: "trailing_slash",
            trusted_proxies: &[],
            policy: UrlPolicy::public_base("https://hooks.example.com").unwrap(),
            signed_url: "https://hooks.example.com/answer/",
            target: "/answer",
            extra: vec![],
            header: "X-Plivo-Signature-V3",
            token: TOKEN,
            fix_mentions: "trailing slash",
        },
        Case {
            variant: "forwarded_host",
            // 127.0.0.1 is not a trusted proxy here, so its X-Forwarded-* are ignored.
            trusted_proxies: &["10.0.0.0/8"],
            policy: UrlPolicy::from_request(Scheme::Http),
            signed_url: "https://hooks.example.com/answer",
            target: "/answer",
            extra: vec![
                ("x-forwarded-host", "hooks.example.com"),
                ("x-forwarded-proto", "https"),
            ],
            header: "X-Plivo-Signature-V3",
            token: TOKEN,
            fix_mentions: "trusted_proxies",
        },
        Case {
            variant: "host_header",
            trusted_proxies: &[],
            policy: UrlPolicy::public_base("https://internal.example").unwrap(),
            signed_url: "https://hooks.example.com/answer",
            target: "/answer",
            extra: vec![host],
            header: "X-Plivo-Signature-V3",
            token: TOKEN,
            fix_mentions: "public_base(\"https://hooks.example.com\")",
        },
        Case {
            variant: "proxy_prefix",
            trusted_proxies: &[],
            policy: UrlPolicy::public_base("https://hooks.example.com").unwrap(),
            signed_url: "https://hooks.example.com/answer",
            target: "/api/answer",
            extra: vec![],
            header: "X-Plivo-Signature-V3",
            token: TOKEN,
            fix_mentions: "path prefix",
        },
        Case {
            variant: "token_family",
            trusted_proxies: &[],
            policy: UrlPolicy::public_base("https://hooks.example.com").unwrap(),
            signed_url: "https://hooks.example.com/answer",
            target: "/answer",
            extra: vec![],
            header: "X-Plivo-Signature-V3",
            token: MAIN,
            fix_mentions: "main account's token",
        },
        Case {
            variant: "token_family",
            trusted_proxies: &[],
            policy: UrlPolicy::public_base("https://hooks.example.com").unwrap(),
            signed_url: "https://hooks.example.com/answer",
            target: "/answer",
            extra: vec![],
            header: "X-Plivo-Signature-Ma-V3",
            token: TOKEN,
            fix_mentions: "account token 0",
        },
    ];
    for case in cases {
        let mut builder = PlivoSignatureLayer::builder()
            .auth_token(TOKEN)
            .main_account_token(MAIN)
            .url_policy(case.policy)
            .diagnose(true);
        if !case.trusted_proxies.is_empty() {
            builder = builder.trusted_proxies(case.trusted_proxies.iter().copied());
        }
        let layer = builder.build().unwrap();
        let addr = serve(Router::new().fallback(echo).layer(layer)).await;
        let before = captured.text().len();
        let signature = v3(case.token, case.signed_url, "CallUUID=d", NONCE);
        let mut headers = vec![
            (case.header, signature.as_str()),
            ("X-Plivo-Signature-V3-Nonce", NONCE),
        ];
        headers.extend(case.extra.iter().copied());
        let reply = post_with(addr, case.target, &headers, "CallUUID=d").await;
        assert_eq!(
            reply.status, 403,
            "variants never accept a request ({})",
            case.variant
        );
        let logged = captured.text()[before..].to_owned();
        let finding = logged
            .lines()
            .find(|l| {
                l.contains("signature doctor")
                    && l.contains(&format!("variant=\"{}\"", case.variant))
            })
            .unwrap_or_else(|| panic!("doctor did not report {}:\n{logged}", case.variant));
        assert!(
            finding.contains(case.fix_mentions),
            "{}: {finding}",
            case.variant
        );
        println!("{finding}");
    }
    captured.assert_none_of(&[TOKEN, MAIN, "SECRET"]);
}

#[tokio::test]
async fn the_doctor_reports_a_router_prefix_and_a_v2_signature_under_v3_headers() {
    let captured = Captured::default();
    let _guard = captured.install();
    let layer = || {
        PlivoSignatureLayer::builder()
            .auth_token(TOKEN)
            .url_policy(UrlPolicy::public_base("https://hooks.example.com").unwrap())
            .diagnose(true)
            .build()
            .unwrap()
    };
    // Signed for the path the nested router sees, but Plivo's request line carries the prefix.
    let nested = Router::new().route("/answer", post(echo)).layer(layer());
    let addr = serve(Router::new().nest("/plivo", nested)).await;
    let signature = v3(TOKEN, "https://hooks.example.com/answer", "", NONCE);
    let reply = post_with(
        addr,
        "/plivo/answer",
        &[
            ("X-Plivo-Signature-V3", &signature),
            ("X-Plivo-Signature-V3-Nonce", NONCE),
        ],
        "",
    )
    .await;
    assert_eq!(reply.status, 403);
    assert!(
        captured.text().contains("variant=\"router_prefix\""),
        "{}",
        captured.text()
    );

    let addr = serve(Router::new().fallback(echo).layer(layer())).await;
    let v2 = Signer::new(TOKEN)
        .sign_v2("https://hooks.example.com/sms", NONCE)
        .unwrap();
    let reply = post_with(
        addr,
        "/sms",
        &[
            ("X-Plivo-Signature-V3", &v2),
            ("X-Plivo-Signature-V3-Nonce", NONCE),
        ],
        "",
    )
    .await;
    assert_eq!(reply.status, 403);
    assert!(
        captured.text().contains("variant=\"signature_version\""),
        "{}",
        captured.text()
    );

    // A forgery matches nothing: the doctor says so instead of guessing.
    let forged = v3("MAsomeOTHERtoken", "https://hooks.example.com/x", "", NONCE);
    post_with(
        addr,
        "/x",
        &[
            ("X-Plivo-Signature-V3", &forged),
            ("X-Plivo-Signature-V3-Nonce", NONCE),
        ],
        "",
    )
    .await;
    assert!(
        captured
            .text()
            .contains("no plausible URL or token variant matches")
    );
    captured.assert_none_of(&[TOKEN, MAIN, "SECRET"]);
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

#[derive(Default)]
struct Counts {
    accepted: AtomicU64,
    rejected: Mutex<Vec<Rejection>>,
}

impl Metrics for Counts {
    fn accepted(&self, _: &PlivoVerified) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    fn rejected(&self, rejection: Rejection) {
        self.rejected.lock().unwrap().push(rejection);
    }
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
        .find(|l| l.contains("verdict=\"accepted\""))
        .expect("accepted span");
    for field in [
        "method=POST",
        "target=/a",
        "url=\"https://hooks.example.com/a\"",
        "version=\"v3\"",
        "token=main:0",
        "nonce=\"30000000000000000001\"",
        "body_bytes=3",
        "verify_ns=",
    ] {
        assert!(accepted.contains(field), "missing {field} in {accepted}");
    }
    let mismatch = closes
        .iter()
        .find(|l| l.contains("reason=\"signature_mismatch\""))
        .expect("rejected span");
    assert!(mismatch.contains("verdict=\"rejected\""), "{mismatch}");
    assert_eq!(counts.accepted.load(Ordering::Relaxed), 1);
    assert_eq!(
        *counts.rejected.lock().unwrap(),
        [Rejection::SignatureMismatch, Rejection::MissingSignature]
    );
    captured.assert_none_of(&[TOKEN, MAIN, "SECRET"]);
}
