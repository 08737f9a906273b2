//! Every refusal explains itself, over real TCP: for each misconfiguration a new user makes (the
//! matrix below, one row each), the refusal's line says what the layer saw, and the signature
//! doctor (on by default) names exactly one finding, with its fix, and nothing that does not
//! apply. A forgery, or a host that appears nowhere in the request, gets no guess.
//!
//! The troubleshooting guide's "Signature never matches?" table is these rows.

use crate::support;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::post;
use tower_plivo::signature::Signer;
use tower_plivo::{PlivoGuardBuilder, PlivoSignatureLayer, ProxyHeader, Scheme, UrlPolicy};

use support::logs::Captured;
use support::websocket::{connect, stream_routes, upgrade_request, with_headers};
use support::{
    FORM, V2_NONCE, V2_SIGNATURE, V3_MAIN_ACCOUNT_SIGNATURE, V3_NONCE, V3_SIGNATURE, echo,
    fresh_nonce, send, serve, serve_service, serve_without_peer,
};

const TOKEN: &str = "MADIAGNOSEtokenSECRETmmmmmmmmmmmmm";
const MAIN: &str = "MADIAGNOSEmainSECRETnnnnnnnnnnnnnnn";
const BODY: &str = "CallUUID=d1&From=14155550100";
const GUIDE: &str = include_str!("../../docs/guides/troubleshooting.md");

/// How the app is served.
#[derive(Clone, Copy, PartialEq)]
enum Serve {
    /// Behind `into_make_service_with_connect_info` (the peer is 127.0.0.1).
    WithPeer,
    /// Behind `into_make_service`: the peer is unknown.
    WithoutPeer,
    /// The layer inside `Router::nest("/plivo", ..)`.
    Nested,
    /// A stream route (the request is a WebSocket upgrade).
    Stream,
}

/// How the request is signed.
#[derive(Clone, Copy)]
enum Sign {
    /// V3, plain header, with this token.
    V3(&'static str),
    /// V3, `-Ma-` header, with this token.
    V3MainHeader(&'static str),
    /// V2 headers and algorithm.
    V2,
    /// The V2 algorithm under V3 headers.
    V2UnderV3,
}

/// One misconfiguration: the layer's settings, how Plivo's request arrives, what Plivo signed,
/// and what the operator must be told.
struct Row {
    name: &'static str,
    configure: fn(PlivoGuardBuilder<PlivoSignatureLayer>) -> PlivoGuardBuilder<PlivoSignatureLayer>,
    serve: Serve,
    method: &'static str,
    target: &'static str,
    headers: &'static [(&'static str, &'static str)],
    signed_url: &'static str,
    sign: Sign,
    reason: &'static str,
    finding: &'static str,
    fix: &'static str,
}

fn public() -> UrlPolicy {
    UrlPolicy::public_base("https://hooks.example.com").unwrap()
}

const HOST: (&str, &str) = ("host", "hooks.example.com");

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "scheme: TLS ends in front, the policy says http",
            configure: |b| b.url_policy(UrlPolicy::from_request(Scheme::Http)),
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[HOST],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "scheme",
            fix: "UrlPolicy::from_request(Scheme::Https)",
        },
        Row {
            name: "default port added in Plivo's URL",
            configure: |b| b.url_policy(public()),
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[],
            signed_url: "https://hooks.example.com:443/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "port",
            fix: "UrlPolicy::public_base(\"https://hooks.example.com:443\")",
        },
        Row {
            name: "default port removed from Plivo's URL",
            configure: |b| {
                b.url_policy(UrlPolicy::public_base("https://hooks.example.com:443").unwrap())
            },
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "port",
            fix: "UrlPolicy::public_base(\"https://hooks.example.com\")",
        },
        Row {
            name: "explicit port in Plivo's URL, not in public_base",
            configure: |b| b.url_policy(public()),
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[("host", "hooks.example.com:8443")],
            signed_url: "https://hooks.example.com:8443/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "port",
            fix: "UrlPolicy::public_base(\"https://hooks.example.com:8443\")",
        },
        Row {
            name: "public_base names another host than Plivo calls",
            configure: |b| {
                b.url_policy(UrlPolicy::public_base("https://internal.example").unwrap())
            },
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[HOST],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "host",
            fix: "UrlPolicy::public_base(\"https://hooks.example.com\")",
        },
        Row {
            name: "trailing slash",
            configure: |b| b.url_policy(public()),
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[],
            signed_url: "https://hooks.example.com/answer/",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "trailing_slash",
            fix: "Plivo's is https://hooks.example.com/answer/",
        },
        Row {
            name: "a proxy that does not strip the prefix in the public base",
            configure: |b| {
                b.url_policy(UrlPolicy::public_base("https://hooks.example.com/plivo").unwrap())
            },
            serve: Serve::WithPeer,
            method: "POST",
            target: "/plivo/answer",
            headers: &[],
            signed_url: "https://hooks.example.com/plivo/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "prefix_not_stripped",
            fix: "UrlPolicy::public_base(\"https://hooks.example.com\") (without /plivo)",
        },
        Row {
            name: "prefix stripped by a trusted proxy whose X-Forwarded-Prefix is not named",
            configure: |b| {
                b.url_policy(UrlPolicy::from_request(Scheme::Https))
                    .trusted_proxies(["127.0.0.1"])
            },
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[HOST, ("x-forwarded-prefix", "/plivo")],
            signed_url: "https://hooks.example.com/plivo/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "header_not_named",
            fix: ".proxy_headers([ProxyHeader::XForwardedProto, ProxyHeader::XForwardedPrefix])",
        },
        Row {
            name: "host behind an untrusted proxy (allow_hosts refuses the internal Host)",
            configure: |b| {
                b.url_policy(
                    UrlPolicy::from_request(Scheme::Https)
                        .allow_hosts(["hooks.example.com"])
                        .unwrap(),
                )
                .trusted_proxies(["10.0.0.0/8"])
                .proxy_headers([ProxyHeader::XForwardedProto, ProxyHeader::XForwardedHost])
            },
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[
                ("host", "10.0.0.5:8080"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "hooks.example.com"),
            ],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(TOKEN),
            reason: "untrusted_host",
            finding: "untrusted_proxy",
            fix: "if 127.0.0.1 is your proxy, add it to .trusted_proxies([..])",
        },
        Row {
            name: "host behind a trusted proxy whose header is not named",
            configure: |b| {
                b.url_policy(UrlPolicy::from_request(Scheme::Http))
                    .trusted_proxies(["127.0.0.1"])
            },
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[
                ("host", "internal:8080"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "hooks.example.com"),
            ],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "header_not_named",
            fix: ".proxy_headers([ProxyHeader::XForwardedProto, ProxyHeader::XForwardedHost])",
        },
        Row {
            name: "a trusted proxy's X-Forwarded-Proto says http, Plivo called https",
            configure: |b| {
                b.url_policy(UrlPolicy::from_request(Scheme::Http))
                    .trusted_proxies(["127.0.0.1"])
            },
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[HOST, ("x-forwarded-proto", "http")],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "proxy_disagrees",
            fix: "UrlPolicy::public_base(\"https://hooks.example.com\")",
        },
        Row {
            name: "missing ConnectInfo: the peer is unknown, X-Forwarded-Proto is ignored",
            configure: |b| {
                b.url_policy(UrlPolicy::from_request(Scheme::Http))
                    .trusted_proxies(["127.0.0.1"])
            },
            serve: Serve::WithoutPeer,
            method: "POST",
            target: "/answer",
            headers: &[HOST, ("x-forwarded-proto", "https")],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "no_peer_address",
            fix: "into_make_service_with_connect_info::<SocketAddr>()",
        },
        Row {
            name: "a forwarding header of the trusted proxy cannot be read",
            configure: |b| {
                b.url_policy(UrlPolicy::from_request(Scheme::Https))
                    .trusted_proxies(["127.0.0.1"])
                    .proxy_headers([ProxyHeader::XForwardedHost])
            },
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[HOST, ("x-forwarded-host", "hooks example")],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(TOKEN),
            reason: "unknown_origin",
            finding: "unknown_origin",
            fix: "UrlPolicy::public_base(\"https://hooks.example.com\")",
        },
        Row {
            name: "a host allow_hosts does not list (a GET)",
            configure: |b| {
                b.url_policy(
                    UrlPolicy::from_request(Scheme::Https)
                        .allow_hosts(["hooks.example.com"])
                        .unwrap(),
                )
            },
            serve: Serve::WithPeer,
            method: "GET",
            target: "/answer?CallUUID=d1",
            headers: &[("host", "staging.example.com")],
            signed_url: "https://staging.example.com/answer?CallUUID=d1",
            sign: Sign::V3(TOKEN),
            reason: "untrusted_host",
            finding: "host_not_allowed",
            fix: "add \"staging.example.com\" to allow_hosts",
        },
        Row {
            name: "nested router: the app receives a prefix Plivo did not sign",
            configure: |b| b.url_policy(public()),
            serve: Serve::Nested,
            method: "POST",
            target: "/plivo/answer",
            headers: &[],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "proxy_prefix",
            fix: "configure Plivo with the URL the app receives",
        },
        Row {
            name: "a proxy adds a path prefix",
            configure: |b| b.url_policy(public()),
            serve: Serve::WithPeer,
            method: "POST",
            target: "/api/answer",
            headers: &[],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "proxy_prefix",
            fix: "make the proxy pass the path unchanged",
        },
        Row {
            name: "the plain header signed with the main account's token",
            configure: |b| b.url_policy(public()),
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(MAIN),
            reason: "signature_mismatch",
            finding: "token_family",
            fix: "give that token to .auth_token(..) too",
        },
        Row {
            name: "the -Ma- header signed with the account token",
            configure: |b| b.url_policy(public()),
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3MainHeader(TOKEN),
            reason: "signature_mismatch",
            finding: "token_family",
            fix: "give .main_account_token(..) the main account's token",
        },
        Row {
            name: "V2 signed into V3 headers",
            configure: |b| b.url_policy(public()),
            serve: Serve::WithPeer,
            method: "POST",
            target: "/sms",
            headers: &[],
            signed_url: "https://hooks.example.com/sms",
            sign: Sign::V2UnderV3,
            reason: "signature_mismatch",
            finding: "signature_version",
            fix: "fix the sender",
        },
        Row {
            name: "V2 (messaging) on a route where V2 is not enabled",
            configure: |b| b.url_policy(public()),
            serve: Serve::WithPeer,
            method: "POST",
            target: "/sms",
            headers: &[],
            signed_url: "https://hooks.example.com/sms",
            sign: Sign::V2,
            reason: "signature_version_not_accepted",
            finding: "v2_not_enabled",
            fix: ".accept_v2(true) on this route only",
        },
        Row {
            name: "a stream signed over the wss:// form",
            configure: |b| b.url_policy(public()),
            serve: Serve::Stream,
            method: "GET",
            target: "/stream?call=7",
            headers: &[],
            signed_url: "wss://hooks.example.com/stream?call=7",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "stream_url_form",
            fix: ".also_accept_stream_url_form(StreamUrlForm::WebSocketScheme)",
        },
        Row {
            name: "two at once: the scheme and the trailing slash",
            configure: |b| b.url_policy(UrlPolicy::from_request(Scheme::Http)),
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[HOST],
            signed_url: "https://hooks.example.com/answer/",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "scheme+trailing_slash",
            fix: "2 things differ, and every fix is needed",
        },
        Row {
            name: "two at once: an untrusted proxy and its host header not named",
            configure: |b| {
                b.url_policy(UrlPolicy::from_request(Scheme::Http))
                    .trusted_proxies(["10.0.0.0/8"])
            },
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[
                ("host", "internal:8080"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "hooks.example.com"),
            ],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "untrusted_proxy",
            fix: "add it to .trusted_proxies([..]) and .proxy_headers([ProxyHeader::XForwardedProto, ProxyHeader::XForwardedHost])",
        },
        Row {
            name: "a trusted proxy that writes Forwarded, not named",
            configure: |b| {
                b.url_policy(UrlPolicy::from_request(Scheme::Http))
                    .trusted_proxies(["127.0.0.1"])
            },
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[
                ("host", "internal:8080"),
                (
                    "forwarded",
                    "for=203.0.113.1;proto=https;host=hooks.example.com",
                ),
            ],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "header_not_named",
            // Forwarded cannot be named with the X-Forwarded-* headers: it replaces them.
            fix: ".proxy_headers([ProxyHeader::Forwarded])",
        },
        Row {
            name: "naming X-Forwarded-Host would not do: a believed X-Forwarded-Port overrides its port",
            configure: |b| {
                b.url_policy(UrlPolicy::from_request(Scheme::Https))
                    .trusted_proxies(["127.0.0.1"])
                    .proxy_headers([ProxyHeader::XForwardedProto, ProxyHeader::XForwardedPort])
            },
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[
                ("host", "internal:8080"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "hooks.example.com:8443"),
                ("x-forwarded-port", "443"),
            ],
            signed_url: "https://hooks.example.com:8443/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "host",
            fix: "UrlPolicy::public_base(\"https://hooks.example.com:8443\")",
        },
        Row {
            name: "a stream whose form is opted into, on another port",
            configure: |b| {
                b.url_policy(public())
                    .also_accept_stream_url_form(tower_plivo::StreamUrlForm::WebSocketScheme)
            },
            serve: Serve::Stream,
            method: "GET",
            target: "/stream?call=7",
            headers: &[("host", "hooks.example.com:8443")],
            signed_url: "wss://hooks.example.com:8443/stream?call=7",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "port",
            fix: "UrlPolicy::public_base(\"https://hooks.example.com:8443\")",
        },
        Row {
            name: "an allow-listed policy, and Plivo's host is neither listed nor in Host as sent",
            configure: |b| {
                b.url_policy(
                    UrlPolicy::from_request(Scheme::Https)
                        .allow_hosts(["other.example.com"])
                        .unwrap(),
                )
            },
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[("host", "hooks.example.com:443")],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(TOKEN),
            reason: "untrusted_host",
            // public_base alone fixes it (it has no allow-list): no second, contradicting fix.
            finding: "port",
            fix: "UrlPolicy::public_base(\"https://hooks.example.com\")",
        },
        Row {
            name: "an untrusted proxy ends TLS and the app listens on another port",
            configure: |b| {
                b.url_policy(UrlPolicy::from_request(Scheme::Http))
                    .trusted_proxies(["10.0.0.0/8"])
            },
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[
                ("host", "hooks.example.com:8080"),
                ("x-forwarded-proto", "https"),
            ],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            // Trusting the proxy would not fix the port: public_base alone fixes both.
            finding: "port",
            fix: "UrlPolicy::public_base(\"https://hooks.example.com\")",
        },
        Row {
            name: "a wrong token (or a forgery): no guess",
            configure: |b| b.url_policy(public()),
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3("MAsomeOTHERaccountTOKENxxxxxxxxxxxx"),
            reason: "signature_mismatch",
            finding: "none",
            fix: "the auth token is wrong",
        },
        Row {
            name: "Plivo's host appears nowhere in the request: no guess",
            configure: |b| {
                b.url_policy(UrlPolicy::public_base("https://internal.example").unwrap())
            },
            serve: Serve::WithPeer,
            method: "POST",
            target: "/answer",
            headers: &[("host", "internal.example")],
            signed_url: "https://hooks.example.com/answer",
            sign: Sign::V3(TOKEN),
            reason: "signature_mismatch",
            finding: "none",
            fix: "a host or path that appears nowhere in the request",
        },
    ]
}

fn tokens() -> PlivoGuardBuilder<PlivoSignatureLayer> {
    PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .main_account_token(MAIN)
}

async fn start(row: &Row) -> SocketAddr {
    let layer = (row.configure)(tokens()).build().unwrap();
    serve_as(row.serve, layer).await
}

async fn serve_as(how: Serve, layer: PlivoSignatureLayer) -> SocketAddr {
    match how {
        Serve::WithPeer => serve(Router::new().fallback(echo).layer(layer)).await,
        Serve::WithoutPeer => serve_without_peer(Router::new().fallback(echo).layer(layer)).await,
        Serve::Nested => {
            let inner = Router::new().route("/answer", post(echo)).layer(layer);
            serve(Router::new().nest("/plivo", inner)).await
        }
        Serve::Stream => serve(stream_routes().layer(layer)).await,
    }
}

/// Sends the row's request; returns the status and the layer's reason.
async fn send_row(row: &Row, addr: SocketAddr) -> (u16, Option<String>) {
    let nonce = fresh_nonce();
    let body = if row.method == "POST" { BODY } else { "" };
    let (name, signature) = match row.sign {
        Sign::V3(token) => (
            V3_SIGNATURE,
            support::sign_v3(token, row.method, row.signed_url, body.as_bytes(), &nonce),
        ),
        Sign::V3MainHeader(token) => (
            V3_MAIN_ACCOUNT_SIGNATURE,
            support::sign_v3(token, row.method, row.signed_url, body.as_bytes(), &nonce),
        ),
        Sign::V2 | Sign::V2UnderV3 => {
            let signature = Signer::new(TOKEN).sign_v2(row.signed_url, &nonce).unwrap();
            match row.sign {
                Sign::V2 => (V2_SIGNATURE, signature),
                _ => (V3_SIGNATURE, signature),
            }
        }
    };
    let nonce_header = match row.sign {
        Sign::V2 => V2_NONCE,
        _ => V3_NONCE,
    };
    let mut headers: Vec<(&str, &str)> = vec![(name, &signature), (nonce_header, &nonce)];
    headers.extend_from_slice(row.headers);
    if row.serve == Serve::Stream {
        let request = with_headers(
            upgrade_request(addr, row.target, row.signed_url, TOKEN, &nonce),
            row.headers,
        );
        return match connect(request).await {
            Ok(_) => (101, None),
            Err(refused) => (refused.status, refused.reason),
        };
    }
    let mut all = vec![FORM];
    all.extend(headers);
    let reply = send(addr, row.method, row.target, &all, body.to_owned()).await;
    (reply.status, reply.reason())
}

/// The lines a request left in the log: its refusal line and its doctor lines. The doctor
/// examines on its own thread, after the answer: its line is waited for (`doctor`: how many
/// are expected; with none, a moment passes to let a stray one show).
async fn lines_after(
    captured: &Captured,
    before: usize,
    doctor: usize,
) -> (Vec<String>, Vec<String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (refusals, lines) = lines_of(captured, before);
        if (doctor > 0 && lines.len() >= doctor) || std::time::Instant::now() > deadline {
            return (refusals, lines);
        }
        if doctor == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            return lines_of(captured, before);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

fn lines_of(captured: &Captured, before: usize) -> (Vec<String>, Vec<String>) {
    let text = captured.text()[before..].to_owned();
    let refusals = text
        .lines()
        .filter(|l| l.contains("Plivo request rejected"))
        .map(str::to_owned)
        .collect();
    let doctor = text
        .lines()
        .filter(|l| l.contains("tower_plivo::doctor"))
        .map(str::to_owned)
        .collect();
    (refusals, doctor)
}

#[tokio::test]
async fn each_misconfiguration_gets_its_one_finding_and_fix() {
    let captured = Captured::default();
    let _guard = captured.install_with("tower_plivo=info");
    let rows = rows();
    assert!(rows.len() >= 15);
    let mut stale_guide_rows = Vec::new();
    for row in &rows {
        let addr = start(row).await;
        let before = captured.text().len();
        let (status, reason) = send_row(row, addr).await;
        assert_eq!(
            (status, reason.as_deref()),
            (403, Some(row.reason)),
            "{}: the doctor never changes the answer",
            row.name
        );
        let (refusals, doctor) = lines_after(&captured, before, 1).await;
        assert_eq!(refusals.len(), 1, "{}: {refusals:#?}", row.name);
        assert_eq!(
            doctor.len(),
            1,
            "{}: one doctor line: {doctor:#?}",
            row.name
        );
        let (refusal, doctor) = (&refusals[0], &doctor[0]);
        let text = captured.text();
        assert!(
            text.find(refusal.as_str()) < text.find(doctor.as_str()),
            "{}: the doctor's line comes after the refusal's",
            row.name
        );
        assert!(
            refusal.contains(&format!("reason=\"{}\"", row.reason)),
            "{}: {refusal}",
            row.name
        );
        assert!(
            doctor.contains(&format!("finding=\"{}\"", row.finding)),
            "{}: expected finding {}: {doctor}",
            row.name,
            row.finding
        );
        assert!(
            doctor.contains(row.fix),
            "{}: expected the fix {:?}: {doctor}",
            row.name,
            row.fix
        );
        // A finding states its fix once.
        if row.finding != "none" && !row.finding.contains('+') {
            assert_eq!(doctor.matches("fix:").count(), 1, "{}: {doctor}", row.name);
        }
        // The troubleshooting guide's table shows exactly this line (without its timestamp).
        let shown = doctor.split_once("Z ").unwrap().1.trim_start();
        if !GUIDE.contains(&format!("| {} | `{shown}` |", row.name)) {
            stale_guide_rows.push(format!("{}: {shown}", row.name));
        }
        println!("{}\n  {refusal}\n  {doctor}", row.name);
    }
    assert!(
        stale_guide_rows.is_empty(),
        "the troubleshooting guide's rows are not the lines logged:\n{stale_guide_rows:#?}"
    );
    captured.assert_none_of(&[TOKEN, MAIN, "SECRET"]);
}

/// The first user story of the issue, at the level the troubleshooting guide suggests: the refusal line alone
/// names the peer and whether it is trusted, the Host, and each forwarding header and why it was
/// ignored; each field appears once.
#[tokio::test]
async fn a_refusal_line_says_what_the_layer_saw() {
    let captured = Captured::default();
    let _guard = captured.install_with("tower_plivo=info");
    let rows = rows();
    let row = rows
        .iter()
        .find(|r| r.name.starts_with("host behind an untrusted proxy"))
        .unwrap();
    let addr = start(row).await;
    send_row(row, addr).await;
    let (refusals, _) = lines_after(&captured, 0, 1).await;
    let line = &refusals[0];
    for expected in [
        "reason=\"untrusted_host\"",
        "detail=\"host \\\"10.0.0.5:8080\\\" is not in allow_hosts\"",
        "method=\"POST\"",
        "target=\"/answer\"",
        "peer=\"127.0.0.1:",
        "(not in trusted_proxies)",
        "host=\"10.0.0.5:8080\"",
        "x-forwarded-proto: \\\"https\\\" (ignored: peer not trusted)",
        "x-forwarded-host: \\\"hooks.example.com\\\" (ignored: peer not trusted)",
        "signature=\"X-Plivo-Signature-V3, X-Plivo-Signature-V3-Nonce\"",
    ] {
        assert!(line.contains(expected), "missing {expected} in {line}");
    }
    for field in [
        "reason=",
        "method=",
        "target=",
        "peer=",
        "host=",
        "forwarded=",
    ] {
        assert_eq!(
            line.matches(&format!(" {field}")).count(),
            1,
            "{field} twice: {line}"
        );
    }
}

/// At TRACE the span shows method and target: the event does not repeat them, and a field the
/// span gets from the verdict is recorded after the line.
#[tokio::test]
async fn with_the_span_shown_no_field_appears_twice() {
    let captured = Captured::default();
    let _guard = captured.install_with("tower_plivo=trace");
    let rows = rows();
    for row in rows.iter().filter(|r| r.serve == Serve::WithPeer) {
        let addr = start(row).await;
        let before = captured.text().len();
        send_row(row, addr).await;
        let (refusals, doctor) = lines_after(&captured, before, 1).await;
        for line in refusals.iter().chain(&doctor) {
            for field in [
                "method=", "target=", "url=", "reason=", "peer=", "host=", "verdict=",
            ] {
                assert!(
                    line.matches(&format!(" {field}")).count()
                        + line.matches(&format!("{{{field}")).count()
                        <= 1,
                    "{}: {field} twice: {line}",
                    row.name
                );
            }
        }
    }
}

/// With diagnosis off, no doctor line; the refusal line still explains.
#[tokio::test]
async fn diagnosis_can_be_turned_off() {
    let captured = Captured::default();
    let _guard = captured.install_with("tower_plivo=info");
    let layer = PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .url_policy(UrlPolicy::from_request(Scheme::Http))
        .diagnose(false)
        .build()
        .unwrap();
    let addr = serve(Router::new().fallback(echo).layer(layer)).await;
    let nonce = fresh_nonce();
    let signature = support::sign_v3(
        TOKEN,
        "POST",
        "https://hooks.example.com/answer",
        BODY.as_bytes(),
        &nonce,
    );
    let reply = send(
        addr,
        "POST",
        "/answer",
        &[FORM, HOST, (V3_SIGNATURE, &signature), (V3_NONCE, &nonce)],
        BODY,
    )
    .await;
    reply.assert_refused(403, "signature_mismatch");
    let (refusals, doctor) = lines_after(&captured, 0, 0).await;
    assert_eq!((refusals.len(), doctor.len()), (1, 0));
    assert!(refusals[0].contains("url=\"http://hooks.example.com/answer\""));
}

/// A POST refused from its head is read for the doctor, and still gets the answer it would
/// have had without it: a body over the limit or one that stalls past the timeout gets the same
/// 403 `untrusted_host` (not 413 or 408), and is not examined (its signature cannot be checked).
#[tokio::test]
async fn a_head_refusal_read_for_the_doctor_keeps_its_own_answer() {
    use std::time::{Duration, Instant};
    use support::raw::{Raw, Step, chunk, exchange};
    let captured = Captured::default();
    let _guard = captured.install_with("tower_plivo=info");
    let layer = |diagnose| {
        PlivoSignatureLayer::builder()
            .auth_token(TOKEN)
            .url_policy(
                UrlPolicy::from_request(Scheme::Https)
                    .allow_hosts(["hooks.example.com"])
                    .unwrap(),
            )
            .body_limit(1024)
            .body_timeout(Duration::from_millis(300))
            .diagnose(diagnose)
            .build()
            .unwrap()
    };
    let nonce = fresh_nonce();
    let signature = support::sign_v3(
        TOKEN,
        "POST",
        "https://staging.example.com/answer",
        BODY.as_bytes(),
        &nonce,
    );
    let head = Raw::new("POST", "/answer")
        .header("host", "staging.example.com")
        .header(FORM.0, FORM.1)
        .header(V3_SIGNATURE, &signature)
        .header(V3_NONCE, &nonce);
    for diagnose in [true, false] {
        let addr = serve(Router::new().fallback(echo).layer(layer(diagnose))).await;
        // Over the limit, chunked (so not refused from its declared length).
        let mut oversized = head.clone().header("transfer-encoding", "chunked").head();
        oversized.extend(chunk(&[b'a'; 2048]));
        oversized.extend_from_slice(b"0\r\n\r\n");
        let reply = exchange(addr, vec![Step::Write(oversized)]).await;
        assert_eq!(
            (reply.status, reply.reason().as_deref()),
            (403, Some("untrusted_host")),
            "diagnose={diagnose}"
        );
        // A body that stalls.
        let started = Instant::now();
        let stalled = head.clone().header("content-length", "100").head();
        let reply = exchange(
            addr,
            vec![
                Step::Write(stalled),
                Step::Write(b"CallUUID=".to_vec()),
                Step::Sleep(Duration::from_secs(2)),
            ],
        )
        .await;
        assert_eq!(
            (reply.status, reply.reason().as_deref()),
            (403, Some("untrusted_host")),
            "diagnose={diagnose}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "bounded by the body timeout"
        );
        // The genuine body: examined when diagnosis is on.
        let reply = send(
            addr,
            "POST",
            "/answer",
            &[
                FORM,
                ("host", "staging.example.com"),
                (V3_SIGNATURE, &signature),
                (V3_NONCE, &nonce),
            ],
            BODY,
        )
        .await;
        reply.assert_refused(403, "untrusted_host");
    }
    let (_, doctor) = lines_after(&captured, 0, 1).await;
    assert_eq!(
        doctor.len(),
        1,
        "only the genuine body is examined: {doctor:#?}"
    );
    assert!(
        doctor[0].contains("finding=\"host_not_allowed\""),
        "{doctor:#?}"
    );
}

/// The fix the doctor prints for a proxy whose `Forwarded` is not named, applied: Plivo's next
/// request verifies.
#[tokio::test]
async fn the_printed_proxy_headers_fix_builds_and_verifies() {
    let layer = |named: Option<Vec<ProxyHeader>>| {
        let builder = PlivoSignatureLayer::builder()
            .auth_token(TOKEN)
            .url_policy(UrlPolicy::from_request(Scheme::Http))
            .trusted_proxies(["127.0.0.1"]);
        match named {
            Some(named) => builder.proxy_headers(named),
            None => builder,
        }
        .build()
        .unwrap()
    };
    let rows = rows();
    let row = rows
        .iter()
        .find(|r| r.name.starts_with("a trusted proxy that writes Forwarded"))
        .unwrap();
    let addr = serve(Router::new().fallback(echo).layer(layer(None))).await;
    assert_eq!(send_row(row, addr).await.0, 403);
    let addr = serve(
        Router::new()
            .fallback(echo)
            .layer(layer(Some(vec![ProxyHeader::Forwarded]))),
    )
    .await;
    assert_eq!(send_row(row, addr).await.0, 200);
}

/// A refusal's line stays short whatever the request sends: long header values are cut, saying
/// how much.
#[tokio::test]
async fn a_refusal_line_is_bounded() {
    let captured = Captured::default();
    let _guard = captured.install_with("tower_plivo=info");
    let layer = PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .url_policy(UrlPolicy::from_request(Scheme::Https))
        .trusted_proxies(["10.0.0.0/8"])
        .diagnose(false)
        .build()
        .unwrap();
    let addr = serve(Router::new().fallback(echo).layer(layer)).await;
    let long = "a".repeat(4000);
    let forwarded = format!("host={long}");
    let target = format!("/answer?q={long}");
    let reply = send(
        addr,
        "POST",
        &target,
        &[
            FORM,
            ("x-forwarded-host", &long),
            ("forwarded", &forwarded),
            (V3_SIGNATURE, "AAAA"),
            (V3_NONCE, "1"),
        ],
        BODY,
    )
    .await;
    reply.assert_refused(403, "signature_mismatch");
    let (refusals, _) = lines_after(&captured, 0, 0).await;
    assert_eq!(refusals.len(), 1);
    assert!(refusals[0].len() < 4096, "{}", refusals[0].len());
    assert!(refusals[0].contains("bytes)"), "{}", refusals[0]);
}

/// The fix next to the refusal: for every row whose finding is about the origin, the
/// `UrlPolicy::public_base(..)` the doctor prints, applied alone, lets Plivo's genuine request
/// through (200, or 101 for a stream), while the same request was refused before.
#[tokio::test]
async fn the_printed_public_base_fix_alone_lets_the_genuine_request_through() {
    const ORIGIN_FINDINGS: [&str; 8] = [
        "scheme",
        "port",
        "host",
        "untrusted_proxy",
        "header_not_named",
        "proxy_disagrees",
        "no_peer_address",
        "unknown_origin",
    ];
    let captured = Captured::default();
    let _guard = captured.install_with("tower_plivo=info");
    let rows = rows();
    let mut checked = 0;
    for row in rows.iter().filter(|r| ORIGIN_FINDINGS.contains(&r.finding)) {
        let addr = start(row).await;
        let before = captured.text().len();
        assert_eq!(send_row(row, addr).await.0, 403, "{}", row.name);
        let (_, doctor) = lines_after(&captured, before, 1).await;
        let line = &doctor[0];
        let origin = line
            .split_once("UrlPolicy::public_base(\"")
            .and_then(|(_, rest)| rest.split_once("\")"))
            .map(|(origin, _)| origin.to_owned())
            .unwrap_or_else(|| panic!("{}: no public_base fix in {line}", row.name));
        let policy = || UrlPolicy::public_base(&origin).unwrap();
        // The row's other settings with the fixed origin; or, where they cannot go with a
        // fixed origin (trusted proxies nothing would read), the fixed origin alone.
        let layer = (row.configure)(tokens())
            .url_policy(policy())
            .build()
            .or_else(|_| tokens().url_policy(policy()).build())
            .unwrap();
        let addr = serve_as(row.serve, layer).await;
        let expected = if row.serve == Serve::Stream { 101 } else { 200 };
        assert_eq!(
            send_row(row, addr).await.0,
            expected,
            "{}: {origin} should let it through",
            row.name
        );
        checked += 1;
    }
    assert!(checked >= 10, "{checked}");
}

/// Sends a genuine V3 POST of [`BODY`] to `target`, signed for `signed_url`; returns the status
/// and the layer's reason.
async fn post_signed(addr: SocketAddr, target: &str, signed_url: &str) -> (u16, Option<String>) {
    let nonce = fresh_nonce();
    let signature = support::sign_v3(TOKEN, "POST", signed_url, BODY.as_bytes(), &nonce);
    let headers = [FORM, (V3_SIGNATURE, &signature[..]), (V3_NONCE, &nonce[..])];
    let reply = send(addr, "POST", target, &headers, BODY).await;
    (reply.status, reply.reason())
}

/// A layer in front of the signature layer that rewrites the path (tower-http's
/// `NormalizePathLayer` wrapping the Router trims the slash Plivo signed): with
/// `CaptureReceivedLayer` outermost, the refusal line shows the request line as received and
/// the doctor names the rewrite and its fix; the fix applied (the signature layer outside the
/// normaliser) lets the same request through. Without the capture the doctor can only guess
/// a trailing-slash mismatch, and its fix names the normaliser as a possible cause.
#[tokio::test]
async fn a_rewrite_in_front_of_the_layer_is_named_when_the_request_line_was_captured() {
    use tower::ServiceBuilder;
    use tower_http::normalize_path::NormalizePathLayer;
    use tower_plivo::capture::CaptureReceivedLayer;

    let captured = Captured::default();
    let _guard = captured.install_with("tower_plivo=info");
    let routes = || Router::new().route("/answer", post(echo));
    let layer = || tokens().url_policy(public()).build().unwrap();
    let plivo_url = "https://hooks.example.com/answer/";

    let rewritten = ServiceBuilder::new()
        .layer(CaptureReceivedLayer::new())
        .layer(NormalizePathLayer::trim_trailing_slash())
        .service(routes().layer(layer()));
    let addr = serve_service(rewritten).await;
    let answer = post_signed(addr, "/answer/", plivo_url).await;
    assert_eq!(answer, (403, Some("signature_mismatch".to_owned())));
    let (refusals, doctor) = lines_after(&captured, 0, 1).await;
    assert!(
        refusals[0].contains("received=\"POST /answer/\""),
        "{}",
        refusals[0]
    );
    let expected = "WARN tower_plivo::doctor: signature doctor: the signature matches \
        https://hooks.example.com/answer/: a layer in front of PlivoSignatureLayer rewrote the \
        request target from /answer/ to /answer (Plivo signed /answer/); fix: put \
        PlivoSignatureLayer outside (in front of) the layer that rewrites the path (such as \
        tower-http's NormalizePathLayer), so it verifies the request as Plivo sent it \
        finding=\"rewritten_in_front\" target=/answer";
    assert_eq!(doctor.len(), 1, "{doctor:#?}");
    assert!(doctor[0].ends_with(expected), "{}", doctor[0]);
    assert!(
        GUIDE.contains(&format!("`{expected}`")),
        "the troubleshooting guide shows the line"
    );

    // The fix, applied: the signature layer in front of the normaliser.
    let fixed = ServiceBuilder::new()
        .layer(CaptureReceivedLayer::new())
        .layer(layer())
        .layer(NormalizePathLayer::trim_trailing_slash())
        .service(routes());
    let addr = serve_service(fixed).await;
    assert_eq!(post_signed(addr, "/answer/", plivo_url).await.0, 200);

    // No capture: a guess, whose fix names the normaliser.
    let uncaptured = ServiceBuilder::new()
        .layer(NormalizePathLayer::trim_trailing_slash())
        .service(routes().layer(layer()));
    let addr = serve_service(uncaptured).await;
    let before = captured.text().len();
    assert_eq!(post_signed(addr, "/answer/", plivo_url).await.0, 403);
    let (refusals, doctor) = lines_after(&captured, before, 1).await;
    assert!(!refusals[0].contains("received="), "{}", refusals[0]);
    assert!(
        doctor[0].contains("finding=\"trailing_slash\"")
            && doctor[0].contains("(NormalizePathLayer), put PlivoSignatureLayer outside it"),
        "{}",
        doctor[0]
    );
}
