//! Audio streams: Plivo's `<Stream>` WebSocket upgrades verified before the `101`, over real TCP
//! with a real WebSocket client (tokio-tungstenite), in front of axum's `WebSocketUpgrade`.
//!
//! Plivo dials `wss://hooks.example.com/stream?…` and signs the V3 GET message of that URL with
//! its scheme replaced by `http` (wire format §6). Every test server here has the public base
//! `https://hooks.example.com` unless it says otherwise.

use crate::support;

use std::net::SocketAddr;

use axum::Router;
use support::logs::Captured;
use support::raw::{Raw, send_raw};
use support::websocket::{
    Refused, assert_echoes, assert_refused, connect, next_text, plivo_stream_url, status_line_of,
    stream_routes, upgrade_request, with_headers,
};
use support::{V2_NONCE, V2_SIGNATURE, V3_NONCE, V3_SIGNATURE, fresh_nonce, serve};
use tower_plivo::signature::Signer;
use tower_plivo::{
    PlivoGuardBuilder, PlivoSignatureLayer, ProxyHeader, Scheme, StreamUrlForm, UrlPolicy,
};

const TOKEN: &str = "streamTESTtokenNOTaSECRET0000000";
const PUBLIC: &str = "hooks.example.com";

fn builder() -> PlivoGuardBuilder<PlivoSignatureLayer> {
    PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .url_policy(UrlPolicy::public_base(&format!("https://{PUBLIC}")).unwrap())
}

async fn server(builder: PlivoGuardBuilder<PlivoSignatureLayer>) -> SocketAddr {
    serve(stream_routes().layer(builder.build().unwrap())).await
}

/// Plivo's upgrade for `target`, signed over the URL Plivo signs.
fn plivo_upgrade(
    addr: SocketAddr,
    target: &str,
    nonce: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    upgrade_request(
        addr,
        target,
        &plivo_stream_url(PUBLIC, target),
        TOKEN,
        nonce,
    )
}

#[tokio::test]
async fn a_signed_upgrade_gets_101_and_frames_flow_both_ways() {
    let addr = server(builder()).await;
    let mut client = connect(plivo_upgrade(addr, "/stream?call=1", &fresh_nonce()))
        .await
        .expect("a verified upgrade is accepted");
    assert_eq!(
        next_text(&mut client).await,
        "verified http://hooks.example.com/stream?call=1 http_scheme"
    );
    assert_echoes(&mut client).await;
}

#[tokio::test]
async fn an_unsigned_upgrade_is_refused_before_the_101() {
    let addr = server(builder()).await;
    let request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{addr}/stream"),
    )
    .unwrap();
    assert_refused(connect(request).await, "missing_signature");
}

#[tokio::test]
async fn an_upgrade_signed_over_another_url_form_is_refused() {
    let addr = server(builder()).await;
    let target = "/stream?call=2";
    for signed_over in [
        format!("wss://{PUBLIC}{target}"),
        format!("https://{PUBLIC}{target}"),
        format!("http://{PUBLIC}/stream/websocket?call=2"),
        format!("http://{PUBLIC}{target}/websocket"),
        format!("ws://{PUBLIC}{target}"),
    ] {
        let request = upgrade_request(addr, target, &signed_over, TOKEN, &fresh_nonce());
        assert_refused(connect(request).await, "signature_mismatch");
    }
    // The form Plivo signs still opens.
    assert!(
        connect(plivo_upgrade(addr, target, &fresh_nonce()))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_tampered_query_or_path_is_refused() {
    let addr = server(builder()).await;
    let nonce = fresh_nonce();
    let signed = plivo_stream_url(PUBLIC, "/stream?call=1&agent=support");
    for sent in ["/stream?call=1&agent=billing", "/stream?call=1", "/stream"] {
        let request = upgrade_request(addr, sent, &signed, TOKEN, &nonce);
        assert_refused(connect(request).await, "signature_mismatch");
    }
    let wrong_token = upgrade_request(
        addr,
        "/stream",
        &plivo_stream_url(PUBLIC, "/stream"),
        "another-token",
        &nonce,
    );
    assert_refused(connect(wrong_token).await, "signature_mismatch");
}

#[tokio::test]
async fn a_replayed_upgrade_is_refused() {
    let addr = server(builder()).await;
    let nonce = fresh_nonce();
    let first = connect(plivo_upgrade(addr, "/stream?call=3", &nonce)).await;
    assert!(first.is_ok(), "the first upgrade is Plivo's");
    assert_refused(
        connect(plivo_upgrade(addr, "/stream?call=3", &nonce)).await,
        "replayed",
    );
}

/// An upgrade is verified from its head alone, so it may carry nothing else: no body, no other
/// method, no other HTTP version. Each is refused before any body is read.
#[tokio::test]
async fn upgrades_that_carry_more_than_a_head_are_refused() {
    let addr = server(builder()).await;
    let target = "/stream?call=4";
    let signed = |nonce: &str| {
        Signer::new(TOKEN)
            .sign_v3_get(&plivo_stream_url(PUBLIC, target), nonce)
            .unwrap()
    };
    let upgrade = |method: &str, nonce: &str| {
        Raw::new(method, target)
            .header("host", PUBLIC)
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header(V3_SIGNATURE, signed(nonce))
            .header(V3_NONCE, nonce)
    };
    let with_body = send_raw(addr, upgrade("GET", &fresh_nonce()).with_body(b"From=1")).await;
    assert_eq!(
        (with_body.status, with_body.reason().as_deref()),
        (403, Some("unsupported_upgrade"))
    );
    let chunked = upgrade("GET", &fresh_nonce())
        .header("transfer-encoding", "chunked")
        .head()
        .into_iter()
        .chain(b"6\r\nFrom=1\r\n0\r\n\r\n".iter().copied())
        .collect();
    let chunked = send_raw(addr, chunked).await;
    assert_eq!(
        (chunked.status, chunked.reason().as_deref()),
        (403, Some("unsupported_upgrade"))
    );
    let post = send_raw(addr, upgrade("POST", &fresh_nonce()).with_body(b"")).await;
    assert_eq!(
        (post.status, post.reason().as_deref()),
        (403, Some("unsupported_upgrade"))
    );
    let http10 = send_raw(
        addr,
        upgrade("GET", &fresh_nonce())
            .request_line(&format!("GET {target} HTTP/1.0"))
            .head(),
    )
    .await;
    assert_eq!(
        (http10.status, http10.reason().as_deref()),
        (403, Some("unsupported_upgrade"))
    );
    // The same head without a body is Plivo's, and is switched.
    let genuine = upgrade("GET", &fresh_nonce()).head();
    assert_eq!(
        status_line_of(addr, &genuine).await,
        "HTTP/1.1 101 Switching Protocols"
    );
}

/// Streams are signed with V3: a V2 upgrade is refused even where V2 webhooks are accepted
/// (V2 would bind neither the query nor the stream).
#[tokio::test]
async fn a_v2_signed_upgrade_is_refused_even_where_v2_is_accepted() {
    let addr = server(builder().accept_v2(true)).await;
    let nonce = fresh_nonce();
    let signature = Signer::new(TOKEN)
        .sign_v2(&plivo_stream_url(PUBLIC, "/stream"), &nonce)
        .unwrap();
    let request = with_headers(
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{addr}/stream"
        ))
        .unwrap(),
        &[(V2_SIGNATURE, &signature), (V2_NONCE, &nonce)],
    );
    assert_refused(connect(request).await, "signature_version_not_accepted");
}

/// Behind a TLS-terminating proxy that says `X-Forwarded-Proto: https`, the stream is still
/// signed over `http`: the proxy's header corrects the webhook scheme, never the stream rule.
#[tokio::test]
async fn behind_a_trusted_tls_proxy_the_stream_is_still_signed_over_http() {
    let addr = server(
        PlivoSignatureLayer::builder()
            .auth_token(TOKEN)
            .url_policy(
                UrlPolicy::from_request(Scheme::Http)
                    .allow_hosts([PUBLIC])
                    .unwrap(),
            )
            .trusted_proxies(["127.0.0.1/32", "::1/128"]),
    )
    .await;
    let proxied =
        |request| with_headers(request, &[("host", PUBLIC), ("x-forwarded-proto", "https")]);
    let target = "/stream?call=5";
    let mut client = connect(proxied(plivo_upgrade(addr, target, &fresh_nonce())))
        .await
        .expect("the http:// form verifies behind the proxy");
    assert_eq!(
        next_text(&mut client).await,
        "verified http://hooks.example.com/stream?call=5 http_scheme"
    );
    for signed_over in [
        format!("https://{PUBLIC}{target}"),
        format!("wss://{PUBLIC}{target}"),
    ] {
        let request = upgrade_request(addr, target, &signed_over, TOKEN, &fresh_nonce());
        assert_refused(connect(proxied(request)).await, "signature_mismatch");
    }
}

/// Issue 26, item 3: Traefik (k3s's default ingress) reports a WebSocket upgrade's scheme as
/// `X-Forwarded-Proto: wss` (or `ws`), and RFC 7239 allows `Forwarded: proto=wss`. They mean
/// `https`/`http`: every genuine stream behind such a proxy gets its 101. A scheme the layer
/// cannot read still refuses the upgrade, and an untrusted peer's header is still not believed.
#[tokio::test]
async fn behind_traefik_a_websocket_scheme_in_the_forwarding_headers_is_read() {
    let layer = |trusted: &str, named: ProxyHeader| {
        PlivoSignatureLayer::builder()
            .auth_token(TOKEN)
            .url_policy(
                UrlPolicy::from_request(Scheme::Http)
                    .allow_hosts([PUBLIC])
                    .unwrap(),
            )
            .trusted_proxies([trusted])
            .proxy_headers([named])
    };
    let target = "/stream?call=6";
    let cases = [
        (
            ProxyHeader::XForwardedProto,
            [("x-forwarded-proto", "wss"), ("x-forwarded-proto", "ws")],
            [("x-forwarded-proto", "wss2"), ("x-forwarded-proto", "ftp")],
        ),
        (
            ProxyHeader::Forwarded,
            [
                ("forwarded", "proto=wss"),
                ("forwarded", "for=203.0.113.9;proto=ws"),
            ],
            [("forwarded", "proto=gopher"), ("forwarded", "proto=wss2")],
        ),
    ];
    for (named, readable, unreadable) in cases {
        let addr = server(layer("127.0.0.1/32", named)).await;
        for forwarded in readable {
            let request = with_headers(
                plivo_upgrade(addr, target, &fresh_nonce()),
                &[("host", PUBLIC), forwarded],
            );
            let mut client = connect(request)
                .await
                .unwrap_or_else(|refused| panic!("{forwarded:?}: {refused:?}"));
            assert_eq!(
                next_text(&mut client).await,
                "verified http://hooks.example.com/stream?call=6 http_scheme",
                "{forwarded:?}"
            );
        }
        for forwarded in unreadable {
            let request = with_headers(
                plivo_upgrade(addr, target, &fresh_nonce()),
                &[("host", PUBLIC), forwarded],
            );
            assert_refused(connect(request).await, "unknown_origin");
        }
    }
    // The same header from a peer that is not a trusted proxy is not read at all: the stream
    // verifies from its own `Host`, and a scheme that could not be read refuses nothing.
    let untrusted = server(layer("10.0.0.0/8", ProxyHeader::XForwardedProto)).await;
    let request = with_headers(
        plivo_upgrade(untrusted, target, &fresh_nonce()),
        &[("host", PUBLIC), ("x-forwarded-proto", "gopher")],
    );
    assert!(connect(request).await.is_ok());
}

/// The escape hatch accepts the one other form named, says so in `PlivoVerified`, and still
/// accepts the form Plivo signs; the forms not named stay refused.
#[tokio::test]
async fn an_opted_in_stream_url_form_is_accepted_and_named() {
    let addr = server(builder().also_accept_stream_url_form(StreamUrlForm::WebSocketScheme)).await;
    let target = "/stream?call=6";
    let wss = upgrade_request(
        addr,
        target,
        &format!("wss://{PUBLIC}{target}"),
        TOKEN,
        &fresh_nonce(),
    );
    let mut client = connect(wss).await.expect("the opted-in form verifies");
    assert_eq!(
        next_text(&mut client).await,
        "verified wss://hooks.example.com/stream?call=6 websocket_scheme"
    );
    let mut plivo = connect(plivo_upgrade(addr, target, &fresh_nonce()))
        .await
        .unwrap();
    assert_eq!(
        next_text(&mut plivo).await,
        "verified http://hooks.example.com/stream?call=6 http_scheme"
    );
    let https = upgrade_request(
        addr,
        target,
        &format!("https://{PUBLIC}{target}"),
        TOKEN,
        &fresh_nonce(),
    );
    assert_refused(connect(https).await, "signature_mismatch");
}

#[test]
fn the_escape_hatch_takes_one_other_form_only() {
    assert!(
        builder()
            .also_accept_stream_url_form(StreamUrlForm::HttpScheme)
            .build()
            .is_err()
    );
    assert!(
        builder()
            .also_accept_stream_url_form(StreamUrlForm::WebSocketScheme)
            .also_accept_stream_url_form(StreamUrlForm::WebSocketSuffix)
            .build()
            .is_err()
    );
}

/// A stream signed over one of the SDKs' forms: the doctor says which form matched, and the
/// upgrade is still refused.
#[tokio::test]
async fn the_doctor_names_the_stream_url_form_that_matched() {
    let captured = Captured::default();
    let _guard = captured.install();
    let addr = server(builder().diagnose(true)).await;
    let target = "/stream?call=7";
    for (signed_over, form) in [
        (format!("wss://{PUBLIC}{target}"), "websocket_scheme"),
        (format!("https://{PUBLIC}{target}"), "https_scheme"),
        (
            format!("http://{PUBLIC}{target}/websocket"),
            "websocket_suffix",
        ),
    ] {
        let request = upgrade_request(addr, target, &signed_over, TOKEN, &fresh_nonce());
        assert_refused(connect(request).await, "signature_mismatch");
        let matched = format!("the signature matches {signed_over}: ");
        captured.wait_for(&matched).await;
        let logs = captured.text();
        assert!(
            logs.contains(&matched)
                && logs.contains(&format!("signed over the {form} URL form"))
                && logs.contains("finding=\"stream_url_form\""),
            "{logs}"
        );
    }
}

/// The same layer guards webhooks and streams side by side: a webhook on the stream path is a
/// webhook (signed over `https`), and a stream signature is no webhook signature.
#[tokio::test]
async fn a_stream_signature_does_not_verify_a_webhook_and_back() {
    let app = Router::new()
        .route("/hook", axum::routing::get(|| async { "webhook" }))
        .merge(stream_routes())
        .layer(builder().build().unwrap());
    let addr = serve(app).await;
    let nonce = fresh_nonce();
    // Signed as a stream (http://), sent as a plain GET: the webhook rule checks https://.
    let stream_signature = Signer::new(TOKEN)
        .sign_v3_get(&plivo_stream_url(PUBLIC, "/hook"), &nonce)
        .unwrap();
    let reply = support::send(
        addr,
        "GET",
        "/hook",
        &[(V3_SIGNATURE, &stream_signature), (V3_NONCE, &nonce)],
        "",
    )
    .await;
    reply.assert_refused(403, "signature_mismatch");
    // Signed as a webhook (https://), sent as an upgrade: the stream rule checks http://.
    let webhook = upgrade_request(
        addr,
        "/stream",
        &format!("https://{PUBLIC}/stream"),
        TOKEN,
        &fresh_nonce(),
    );
    assert_eq!(
        connect(webhook).await.err(),
        Some(Refused {
            status: 403,
            reason: Some("signature_mismatch".into())
        })
    );
}

/// Report-only applies to streams as to webhooks: a refused upgrade is handed on with its
/// `Rejection` (so a rollout can watch what would be refused), and the metrics count it.
#[tokio::test]
async fn report_only_hands_a_refused_upgrade_on_with_its_rejection() {
    use axum::extract::ws::{Message, WebSocketUpgrade};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tower_plivo::{Metrics, PlivoVerified, Rejection};

    #[derive(Default)]
    struct Counts {
        accepted: AtomicU64,
        rejected: AtomicU64,
    }
    impl Metrics for Counts {
        fn accepted(&self, _: &PlivoVerified) {
            self.accepted.fetch_add(1, Ordering::Relaxed);
        }
        fn rejected(&self, _: Rejection) {
            self.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }
    let counts = Arc::new(Counts::default());
    let routes = Router::new().route(
        "/stream",
        axum::routing::get(
            |rejection: Option<axum::Extension<Rejection>>, upgrade: WebSocketUpgrade| async move {
                let verdict =
                    rejection.map_or("accepted".to_owned(), |r| format!("would refuse {}", r.0));
                upgrade.on_upgrade(move |mut socket| async move {
                    let _ = socket.send(Message::Text(verdict.into())).await;
                })
            },
        ),
    );
    let layer = builder()
        .report_only(true)
        .metrics(counts.clone())
        .build()
        .unwrap();
    let addr = serve(routes.layer(layer)).await;
    let wss = upgrade_request(
        addr,
        "/stream",
        &format!("wss://{PUBLIC}/stream"),
        TOKEN,
        &fresh_nonce(),
    );
    let mut client = connect(wss)
        .await
        .expect("report-only hands the upgrade on");
    assert_eq!(
        next_text(&mut client).await,
        "would refuse signature_mismatch"
    );
    let mut plivo = connect(plivo_upgrade(addr, "/stream", &fresh_nonce()))
        .await
        .unwrap();
    assert_eq!(next_text(&mut plivo).await, "accepted");
    assert_eq!(
        (
            counts.accepted.load(Ordering::Relaxed),
            counts.rejected.load(Ordering::Relaxed)
        ),
        (1, 1)
    );
}

/// The escape hatch is announced when the layer is built, naming the form.
#[test]
fn an_extra_stream_url_form_is_announced_at_warn() {
    let captured = Captured::default();
    let _guard = captured.install();
    builder()
        .also_accept_stream_url_form(StreamUrlForm::WebSocketSuffix)
        .build()
        .unwrap();
    let logs = captured.text();
    assert!(
        logs.contains("WARN") && logs.contains("stream_url_form=\"websocket_suffix\""),
        "{logs}"
    );
    let quiet = Captured::default();
    let _guard = quiet.install();
    builder().build().unwrap();
    assert!(
        !quiet.text().contains("stream_url_form"),
        "{}",
        quiet.text()
    );
}

/// A raw WebSocket handshake for `target` with this `Connection` value and these headers.
fn handshake(target: &str, connection: &str) -> Raw {
    Raw::new("GET", target)
        .header("host", PUBLIC)
        .header("connection", connection)
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
}

/// axum switches protocols when `upgrade` is a mere substring of `Connection` (and hyper makes
/// any request with an `Upgrade` header upgradable): such a request must not be taken for a
/// webhook and verified over `https://`, nor pass a V2 signature on a route that accepts V2.
/// Every request with an `Upgrade` header is a stream upgrade or refused.
#[tokio::test]
async fn an_upgrade_that_axum_would_switch_is_never_verified_as_a_webhook() {
    let addr = server(builder().accept_v2(true)).await;
    let target = "/stream?call=11";
    for connection in ["Upgraded", "keep-alive upgrade", "upgrade;x", "xupgrade"] {
        let nonce = fresh_nonce();
        let webhook_signature = Signer::new(TOKEN)
            .sign_v3_get(&format!("https://{PUBLIC}{target}"), &nonce)
            .unwrap();
        let head = handshake(target, connection)
            .header(V3_SIGNATURE, webhook_signature)
            .header(V3_NONCE, &nonce);
        let reply = send_raw(addr, head.head()).await;
        assert_eq!(
            (reply.status, reply.reason().as_deref()),
            (403, Some("unsupported_upgrade")),
            "Connection: {connection}"
        );
    }
    let nonce = fresh_nonce();
    let v2 = Signer::new(TOKEN)
        .sign_v2(&format!("https://{PUBLIC}/stream"), &nonce)
        .unwrap();
    let head = handshake("/stream?call=chosen-by-attacker", "Upgraded")
        .header(V2_SIGNATURE, v2)
        .header(V2_NONCE, &nonce);
    let reply = send_raw(addr, head.head()).await;
    assert_eq!(
        (reply.status, reply.reason().as_deref()),
        (403, Some("unsupported_upgrade"))
    );
    // Upgrade headers without a WebSocket key are no handshake either.
    let nonce = fresh_nonce();
    let stream_signature = Signer::new(TOKEN)
        .sign_v3_get(&plivo_stream_url(PUBLIC, "/stream"), &nonce)
        .unwrap();
    let keyless = Raw::new("GET", "/stream")
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header(V3_SIGNATURE, stream_signature)
        .header(V3_NONCE, &nonce);
    let reply = send_raw(addr, keyless.head()).await;
    assert_eq!(
        (reply.status, reply.reason().as_deref()),
        (403, Some("unsupported_upgrade"))
    );
}

/// A stream's signature presented with WebSocket headers to a route that is not a stream
/// endpoint is verified by the stream rule (the handshake is well formed), so the handler
/// runs: it can tell from `PlivoVerified::stream_url_form`, and the layer warns that a
/// stream-verified request was not switched.
#[tokio::test]
async fn a_stream_verified_request_that_a_webhook_handler_answers_is_flagged() {
    let captured = Captured::default();
    let _guard = captured.install();
    let app =
        Router::new()
            .route(
                "/hook",
                axum::routing::get(
                    |axum::Extension(verified): axum::Extension<
                        tower_plivo::PlivoVerified,
                    >| async move {
                        match verified.stream_url_form() {
                            Some(form) => format!("refused: verified as a stream ({form})"),
                            None => "webhook".to_owned(),
                        }
                    },
                ),
            )
            .layer(builder().build().unwrap());
    let addr = serve(app).await;
    let nonce = fresh_nonce();
    let stream_signature = Signer::new(TOKEN)
        .sign_v3_get(&plivo_stream_url(PUBLIC, "/hook"), &nonce)
        .unwrap();
    let head = handshake("/hook", "upgrade")
        .header(V3_SIGNATURE, stream_signature)
        .header(V3_NONCE, &nonce);
    let reply = send_raw(addr, head.head()).await;
    assert_eq!(reply.text(), "refused: verified as a stream (http_scheme)");
    let logs = captured.text();
    assert!(
        logs.contains("WARN")
            && logs.contains("not switched to a WebSocket")
            && logs.contains("status=200"),
        "{logs}"
    );
}
