//! `PlivoSignatureLayer` on a plain hyper 1 server, as in `examples/hyper.rs`: real TCP on
//! 127.0.0.1, the `PeerAddr` extension inserted per connection, requests sent with hyper's
//! legacy client. The last test runs the compiled `sign` example and executes the `curl`
//! command it prints against such a server.
//!
//! ```text
//! cargo test --test it hyper::
//! ```

use crate::support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use tower_plivo::{PlivoGuardBuilder, PlivoSignatureLayer, ProxyHeader, Scheme, UrlPolicy};

use support::hyper_app::serve;
use support::{FORM, Reply, send};

const TOKEN: &str = "MAhyperTESTtokenAAAAAAAAAAAAAAAAAAA";
const MAIN_TOKEN: &str = "MAhyperMAINtokenBBBBBBBBBBBBBBBBBBB";
const NONCE: &str = "12345678901234567890";

/// The layer as `examples/hyper.rs` configures it: the request's own host, over plain http.
fn direct() -> PlivoGuardBuilder<PlivoSignatureLayer> {
    PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .url_policy(UrlPolicy::from_request(Scheme::Http))
}

/// Behind TLS-terminating proxies at `networks` that set `X-Forwarded-Proto` and `-Host`.
fn behind(networks: &[&str]) -> PlivoGuardBuilder<PlivoSignatureLayer> {
    direct()
        .trusted_proxies(networks.iter().copied())
        .proxy_headers([ProxyHeader::XForwardedProto, ProxyHeader::XForwardedHost])
}

fn v3(token: &str, method: &str, url: &str, body: &str) -> String {
    support::sign_v3(token, method, url, body.as_bytes(), NONCE)
}

#[tokio::test]
async fn valid_v3_post_reaches_the_handler_byte_for_byte() {
    let layer = direct().build().unwrap();
    let server = serve(layer, true).await;
    // Escapes, `+`, an empty value, a repeated key out of order, non-ASCII: the handler must get
    // these bytes exactly, not a re-encoding of the parsed form.
    let body = "To=sip%3Aalice%40example.com&Text=caf%C3%A9+ol%C3%A9&Empty=&Digits=1%2B2&Repeat=b&Repeat=a";
    let target = "/answer/?CallUUID=c-1&a=%2F";
    let url = format!("http://{}{target}", server.addr);
    let signature = v3(TOKEN, "POST", &url, body);

    let reply = send(
        server.addr,
        "POST",
        target,
        &[
            ("X-Plivo-Signature-V3", &signature),
            ("X-Plivo-Signature-V3-Nonce", NONCE),
            FORM,
        ],
        body,
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, body.as_bytes());
    assert_eq!(reply.header("x-verified-version").as_deref(), Some("v3"));
    assert_eq!(
        reply.header("x-verified-token").as_deref(),
        Some("account:0")
    );
    assert_eq!(reply.header("x-verified-nonce").as_deref(), Some(NONCE));
    assert_eq!(
        reply.header("x-verified-url").as_deref(),
        Some(url.as_str())
    );
    assert_eq!(server.handled.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn tampered_or_unsigned_requests_are_refused_before_the_handler() {
    let layer = direct().build().unwrap();
    let server = serve(layer, true).await;
    let body = "CallUUID=c-2&From=14155550100&To=14155550199";
    let target = "/answer?x=1";
    let signature = v3(
        TOKEN,
        "POST",
        &format!("http://{}{target}", server.addr),
        body,
    );
    let signed = [
        ("X-Plivo-Signature-V3", signature.as_str()),
        ("X-Plivo-Signature-V3-Nonce", NONCE),
        FORM,
    ];

    // The untouched request passes, so each refusal below is due to its one change.
    assert_eq!(
        send(server.addr, "POST", target, &signed, body)
            .await
            .status,
        200
    );
    let tampered_body = body.replace("14155550100", "14155550666");
    let other_nonce = [signed[0], ("X-Plivo-Signature-V3-Nonce", "1"), FORM];
    let flipped = {
        let mut s = signature.clone().into_bytes();
        s[0] = if s[0] == b'A' { b'B' } else { b'A' };
        String::from_utf8(s).unwrap()
    };
    let bad_signature = [("X-Plivo-Signature-V3", flipped.as_str()), signed[1], FORM];
    let refused = async |what: &str, target: &str, headers: &[(&str, &str)], body: &str, code| {
        let reply = send(server.addr, "POST", target, headers, body.to_owned()).await;
        assert_eq!(reply.status, 403, "tampered {what}: {reply:?}");
        assert_eq!(
            reply.header("x-test-rejection").as_deref(),
            Some(code),
            "tampered {what}: {reply:?}"
        );
        assert_eq!(reply.body, "forbidden\n", "tampered {what}: {reply:?}");
        assert_eq!(reply.header("x-verified-version").as_deref(), None);
    };
    let mismatch = "signature_mismatch";
    refused("body", target, &signed, &tampered_body, mismatch).await;
    refused("query", "/answer?x=2", &signed, body, mismatch).await;
    refused("nonce", target, &other_nonce, body, mismatch).await;
    refused("signature", target, &bad_signature, body, mismatch).await;
    refused("unsigned", target, &[FORM], body, "missing_signature").await;
    assert_eq!(
        server.handled.load(Ordering::SeqCst),
        1,
        "only the untouched request reached the handler"
    );
}

/// The request a TLS-terminating proxy on 127.0.0.1 would forward for Plivo's call to
/// `https://hooks.example.com/plivo/answer`.
struct Forwarded {
    signature: String,
    body: &'static str,
}

impl Forwarded {
    fn new() -> Self {
        let body = "CallUUID=c-3&CallStatus=ringing";
        let signature = v3(
            TOKEN,
            "POST",
            "https://hooks.example.com/plivo/answer",
            body,
        );
        Self { signature, body }
    }

    async fn send_to(&self, addr: SocketAddr) -> Reply {
        let headers = [
            ("X-Plivo-Signature-V3", self.signature.as_str()),
            ("X-Plivo-Signature-V3-Nonce", NONCE),
            FORM,
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "hooks.example.com"),
        ];
        send(addr, "POST", "/plivo/answer", &headers, self.body).await
    }
}

#[tokio::test]
async fn trusted_proxy_on_127_0_0_1_is_believed() {
    let layer = behind(&["127.0.0.1"]).build().unwrap();
    let server = serve(layer, true).await;
    let reply = Forwarded::new().send_to(server.addr).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.header("x-verified-url").as_deref(),
        Some("https://hooks.example.com/plivo/answer")
    );
    assert_eq!(reply.body, Forwarded::new().body.as_bytes());
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let layer = behind(&["10.0.0.0/8", "::1"]).build().unwrap();
    let server = serve(layer, true).await;
    let reply = Forwarded::new().send_to(server.addr).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        reply.header("x-test-rejection").as_deref(),
        Some("signature_mismatch")
    );
    assert_eq!(reply.body, "forbidden\n");
    assert_eq!(server.handled.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn without_peer_addr_forwarded_headers_are_not_believed() {
    // 127.0.0.1 is trusted, but the server does not say who the peer is: the layer must not
    // guess, so the forwarded origin is ignored and the signature (made for it) fails.
    let layer = behind(&["127.0.0.1"]).build().unwrap();
    let server = serve(layer, false).await;
    let reply = Forwarded::new().send_to(server.addr).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(server.handled.load(Ordering::SeqCst), 0);
}

/// Runs the `sign` example with `args` (the token comes from the environment, as a user would
/// keep it out of shell history) and returns the one line it printed.
async fn sign(binary: &PathBuf, token: &str, args: &[&str]) -> String {
    let output = tokio::process::Command::new(binary)
        .args(args)
        .env("PLIVO_AUTH_TOKEN", token)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "sign {args:?}: {stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one command line: {stdout:?}");
    assert!(lines[0].starts_with("curl "), "{stdout:?}");
    assert!(!stdout.contains(token), "the token must not be printed");
    lines[0].to_owned()
}

/// What a client saw: status, the `x-verified-version` header, the body.
type Outcome = (u16, Option<String>, String);

/// One run of the `sign` example and what its command must get from the server.
struct SignCase<'a> {
    what: &'a str,
    token: &'a str,
    args: Vec<&'a str>,
    status: u16,
    version: Option<&'a str>,
    body: &'a str,
}

/// The status, the `x-verified-version` header and the body, as each client saw them.
async fn with_curl(line: &str) -> Outcome {
    let reply = support::curl::run(line).await;
    (reply.status, reply.header("x-verified-version"), reply.body)
}

async fn replayed(line: &str) -> Outcome {
    let reply = support::curl::replay(line).await;
    (
        reply.status,
        reply.header("x-verified-version"),
        reply.text(),
    )
}

#[tokio::test]
async fn sign_example_prints_a_curl_command_the_layer_accepts() {
    let binary = support::examples::example_binary("sign");
    // The cases sign V3 and V2 requests, so this route accepts both.
    let layer = direct()
        .main_account_token(MAIN_TOKEN)
        .accept_v2(true)
        .build()
        .unwrap();
    let server = serve(layer, true).await;
    let base = format!("http://{}", server.addr);
    let answer = format!("{base}/plivo/answer");
    let with_query = format!("{base}/plivo/answer?existing=1");
    // A single quote, `@` first, `&` and `%`: what breaks naive quoting or curl's `--data`.
    let tricky = "@Text=it's+5%25+o'clock&From=14155550100&Empty=";

    let mismatch = "forbidden\n";
    let cases = [
        SignCase {
            what: "V3 POST",
            token: TOKEN,
            args: vec!["--url", &answer, "--data", tricky],
            status: 200,
            version: Some("v3"),
            body: tricky,
        },
        SignCase {
            what: "V3 GET, data appended to the query",
            token: TOKEN,
            args: vec![
                "--method",
                "GET",
                "--url",
                &with_query,
                "--data",
                "CallUUID=c&To=1",
            ],
            status: 200,
            version: Some("v3"),
            body: "",
        },
        SignCase {
            what: "V3 POST without data",
            token: TOKEN,
            args: vec!["--url", &answer, "--nonce", "42"],
            status: 200,
            version: Some("v3"),
            body: "",
        },
        SignCase {
            what: "V3 main account",
            token: MAIN_TOKEN,
            args: vec!["--url", &answer, "--main-account", "--data", "a=1"],
            status: 200,
            version: Some("v3"),
            body: "a=1",
        },
        SignCase {
            what: "V2 POST",
            token: TOKEN,
            args: vec!["--v2", "--url", &with_query, "--data", "Text=hi"],
            status: 200,
            version: Some("v2"),
            body: "Text=hi",
        },
        SignCase {
            what: "V2 GET main account",
            token: MAIN_TOKEN,
            args: vec!["--v2", "--main-account", "--method=get", "--url", &answer],
            status: 200,
            version: Some("v2"),
            body: "",
        },
        SignCase {
            what: "wrong token",
            token: "MAsomeOTHERtokenCCCCCCCCCCCCCCCCCCC",
            args: vec!["--url", &answer, "--data", "a=1"],
            status: 403,
            version: None,
            body: mismatch,
        },
        SignCase {
            what: "main-account token in the account header",
            token: MAIN_TOKEN,
            args: vec!["--url", &answer, "--data", "a=1"],
            status: 403,
            version: None,
            body: mismatch,
        },
    ];

    let curl = support::curl::available();
    if !curl {
        eprintln!("curl is missing: replaying the printed commands with the hyper client only");
    }
    let mut expected_handled = 0;
    for case in &cases {
        let expected: Outcome = (
            case.status,
            case.version.map(str::to_owned),
            case.body.to_owned(),
        );
        let what = case.what;
        // Each client gets a command signed for it: the same signed request twice would be a
        // replay (a `--nonce` given is varied per client; the default nonce differs per run).
        let for_client = |client: &str| {
            let mut args = case.args.clone();
            if let Some(at) = args.iter().position(|a| *a == "--nonce") {
                args[at + 1] = if client == "curl" { "4201" } else { "4202" };
            }
            args
        };
        if curl {
            let line = sign(&binary, case.token, &for_client("curl")).await;
            assert_eq!(with_curl(&line).await, expected, "{what} with curl: {line}");
            expected_handled += usize::from(case.status == 200);
        }
        let line = sign(&binary, case.token, &for_client("hyper")).await;
        assert_eq!(replayed(&line).await, expected, "{what} replayed: {line}");
        expected_handled += usize::from(case.status == 200);
    }
    assert_eq!(server.handled.load(Ordering::SeqCst), expected_handled);
}
