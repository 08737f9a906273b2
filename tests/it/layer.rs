//! The layer over real TCP in front of axum: conformance rules that need a request, body
//! handling (cap, early 413, chunked, broken streams), extractors downstream, and composition
//! with `Router::layer`, `route_layer`, `nest` and `ServiceBuilder`.

use crate::support;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Form;
use axum::routing::post;
use axum::{Extension, Router};
use tower_plivo::signature::Signer;
use tower_plivo::{PlivoSignatureLayer, PlivoVerified, Rejection, UrlPolicy};

use support::raw::{self, RawReply, Step};
use support::{FORM, echo, send, serve};

const TOKEN: &str = "MAODUMMYTOKENaaaaaaaaaaaaaaaaaaaa";
const OLD_TOKEN: &str = "MAOLDTOKENbbbbbbbbbbbbbbbbbbbbbbb";
const MAIN: &str = "MAMAINTOKENcccccccccccccccccccccccc";
const ORIGIN: &str = "https://hooks.example.com";
const NONCE: &str = "05429567804466091622";

fn layer() -> tower_plivo::PlivoGuardBuilder<tower_plivo::PlivoSignatureLayer> {
    PlivoSignatureLayer::builder()
        .auth_tokens([TOKEN, OLD_TOKEN])
        .main_account_token(MAIN)
        .url_policy(UrlPolicy::public_base(ORIGIN).unwrap())
}

async fn echo_server() -> SocketAddr {
    serve(Router::new().fallback(echo).layer(layer().build().unwrap())).await
}

fn v3(token: &str, method: &str, target: &str, body: &str) -> String {
    support::sign_v3(
        token,
        method,
        &format!("{ORIGIN}{target}"),
        body.as_bytes(),
        NONCE,
    )
}

fn v2(token: &str, target: &str) -> String {
    Signer::new(token)
        .sign_v2(&format!("{ORIGIN}{target}"), NONCE)
        .unwrap()
}

/// Sends a signed POST of `body` to `target` with these signature headers and [`NONCE`].
async fn post_signed(
    addr: SocketAddr,
    target: &str,
    signatures: &[(&str, &str)],
    body: &str,
) -> support::Reply {
    let mut headers = signatures.to_vec();
    headers.extend([("X-Plivo-Signature-V3-Nonce", NONCE), FORM]);
    send(addr, "POST", target, &headers, body.to_owned()).await
}

#[tokio::test]
async fn rotation_main_account_and_comma_lists() {
    let addr = echo_server().await;
    let body = "CallUUID=abc&From=1555";
    // Each accepted request below goes to a URL of its own (the replay key is the URL and the
    // nonce, and all of them share [`NONCE`]): the same signed message twice is a replay.
    let old = v3(OLD_TOKEN, "POST", "/answer/1", body);
    let reply = post_signed(addr, "/answer/1", &[("x-plivo-signature-v3", &old)], body).await;
    assert_eq!(
        (reply.status, reply.header("x-verified-token").as_deref()),
        (200, Some("account:1"))
    );

    let main = v3(MAIN, "POST", "/answer/2", body);
    let reply = post_signed(
        addr,
        "/answer/2",
        &[("X-Plivo-Signature-Ma-V3", &main)],
        body,
    )
    .await;
    assert_eq!(
        (reply.status, reply.header("x-verified-token").as_deref()),
        (200, Some("main:0"))
    );

    // The main token in the plain header, or an account token in the -Ma- header: wrong family.
    let main = v3(MAIN, "POST", "/answer/3", body);
    post_signed(addr, "/answer/3", &[("X-Plivo-Signature-V3", &main)], body)
        .await
        .assert_refused(403, "signature_mismatch");
    let good = v3(TOKEN, "POST", "/answer/3", body);
    post_signed(
        addr,
        "/answer/3",
        &[("X-Plivo-Signature-Ma-V3", &good)],
        body,
    )
    .await
    .assert_refused(403, "signature_mismatch");

    // Both headers, as Plivo sends them; then the same request with one header stripped
    // verifies through the other token, and is still the same signed message: a replay.
    let both = [
        ("X-Plivo-Signature-V3", good.as_str()),
        ("X-Plivo-Signature-Ma-V3", main.as_str()),
    ];
    let reply = post_signed(addr, "/answer/3", &both, body).await;
    assert_eq!(
        (reply.status, reply.header("x-verified-token").as_deref()),
        (200, Some("account:0"))
    );
    post_signed(addr, "/answer/3", &[both[1]], body)
        .await
        .assert_refused(403, "replayed");

    let good = v3(TOKEN, "POST", "/answer/4", body);
    let list = format!(" garbage , {}=,{good} ,", &good[..43]);
    let reply = post_signed(addr, "/answer/4", &[("X-Plivo-Signature-V3", &list)], body).await;
    assert_eq!(
        reply.status, 200,
        "one valid piece in a comma list is enough"
    );
}

#[tokio::test]
async fn v2_is_refused_unless_accepted_and_never_a_fallback() {
    let voice = echo_server().await;
    let sms = serve(
        Router::new()
            .fallback(echo)
            .layer(layer().accept_v2(true).build().unwrap()),
    )
    .await;
    let target = "/sms";
    let good_v2 = v2(TOKEN, target);
    let v2_only = [
        ("X-Plivo-Signature-V2", good_v2.as_str()),
        ("X-Plivo-Signature-V2-Nonce", NONCE),
    ];
    // A voice route (the default) accepts V3 only.
    send(voice, "POST", target, &v2_only, "")
        .await
        .assert_refused(403, "signature_version_not_accepted");
    assert_eq!(send(sms, "POST", target, &v2_only, "").await.status, 200);
    let with_bad_v3 = [
        (
            "X-Plivo-Signature-V3",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
        ("X-Plivo-Signature-V3-Nonce", NONCE),
        v2_only[0],
        v2_only[1],
    ];
    send(sms, "POST", target, &with_bad_v3, "")
        .await
        .assert_refused(403, "signature_mismatch");
    // Even a lone V3 nonce header makes V3 decide.
    send(
        sms,
        "POST",
        target,
        &[
            v2_only[0],
            v2_only[1],
            ("X-Plivo-Signature-V3-Nonce", NONCE),
        ],
        "",
    )
    .await
    .assert_refused(403, "missing_signature");
}

#[tokio::test]
async fn v3_refuses_bodies_it_cannot_cover_and_other_methods() {
    let addr = echo_server().await;
    let target = "/answer";
    let empty = v3(TOKEN, "POST", target, "");
    let headers = |ct: &'static str| {
        [
            ("X-Plivo-Signature-V3", empty.clone()),
            ("X-Plivo-Signature-V3-Nonce", NONCE.to_owned()),
            ("content-type", ct.to_owned()),
        ]
    };
    let send_with = |ct: &'static str, method: &'static str, body: &'static str| {
        let headers = headers(ct);
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            send(addr, method, target, &headers, body).await
        }
    };
    let reply = send_with("application/json", "POST", r#"{"CallUUID":"x"}"#).await;
    reply.assert_refused(403, "unsupported_body");
    let reply = send_with("multipart/form-data; boundary=x", "POST", "--x--").await;
    assert_eq!(reply.status, 403);
    let reply = send_with("application/json", "POST", "").await;
    assert_eq!(
        reply.status, 200,
        "an empty non-form POST is the no-body case"
    );
    let get = v3(TOKEN, "GET", target, "");
    let reply = send(
        addr,
        "GET",
        target,
        &[
            ("X-Plivo-Signature-V3", &get),
            ("X-Plivo-Signature-V3-Nonce", NONCE),
            FORM,
        ],
        "a=1",
    )
    .await;
    reply.assert_refused(403, "unsupported_body");
    for method in ["PUT", "DELETE", "PATCH", "OPTIONS"] {
        let reply = send_with("application/x-www-form-urlencoded", method, "").await;
        reply.assert_refused(403, "method_not_allowed");
    }
}

#[tokio::test]
async fn header_problems_have_typed_reasons() {
    let addr = echo_server().await;
    let sig = v3(TOKEN, "GET", "/a", "");
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "missing_signature"),
        (vec![("X-Plivo-Signature-V3", &sig)], "missing_nonce"),
        (
            vec![
                ("X-Plivo-Signature-V3", &sig),
                ("X-Plivo-Signature-V3-Nonce", ""),
            ],
            "invalid_nonce",
        ),
        (
            vec![
                ("X-Plivo-Signature-V3", ""),
                ("X-Plivo-Signature-V3-Nonce", NONCE),
            ],
            "missing_signature",
        ),
        (
            vec![
                ("X-Plivo-Signature-V3", &sig),
                ("X-Plivo-Signature-V3-Nonce", NONCE),
                ("X-Plivo-Signature-V3-Nonce", "1"),
            ],
            "conflicting_headers",
        ),
        (
            vec![
                ("X-Plivo-Signature-V3", &sig),
                ("X-Plivo-Signature-V3", "other"),
                ("X-Plivo-Signature-V3-Nonce", NONCE),
            ],
            "conflicting_headers",
        ),
    ];
    for (headers, code) in cases {
        send(addr, "GET", "/a", &headers, "")
            .await
            .assert_refused(403, code);
    }
    let same_twice = [
        ("X-Plivo-Signature-V3", sig.as_str()),
        ("X-Plivo-Signature-V3", sig.as_str()),
        ("X-Plivo-Signature-V3-Nonce", NONCE),
    ];
    assert_eq!(send(addr, "GET", "/a", &same_twice, "").await.status, 200);
}

#[tokio::test]
async fn custom_responder_replaces_the_body_and_keeps_the_status_choice() {
    let plivo = layer()
        .on_rejection(|rejection: Rejection| {
            // A String body: no http_body_util type to name.
            let mut response =
                http::Response::new(format!("{{\"error\":\"{}\"}}", rejection.code()));
            *response.status_mut() = http::StatusCode::UNAUTHORIZED;
            response
        })
        .build()
        .unwrap();
    let addr = serve(Router::new().fallback(echo).layer(plivo)).await;
    let reply = send(addr, "POST", "/x", &[], "").await;
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (401, r#"{"error":"missing_signature"}"#)
    );
}

#[tokio::test]
async fn extractors_work_after_the_layer() {
    async fn form(
        Extension(v): Extension<PlivoVerified>,
        Form(call): Form<std::collections::HashMap<String, String>>,
    ) -> String {
        format!("{} {}", v.nonce(), call["CallUUID"])
    }
    async fn string(body: String) -> String {
        body
    }
    async fn bytes(body: axum::body::Bytes) -> axum::body::Bytes {
        body
    }
    let app = Router::new()
        .route("/form", post(form))
        .route("/string", post(string))
        .route("/bytes", post(bytes))
        .layer(layer().build().unwrap());
    let addr = serve(app).await;
    let body = "CallUUID=c-1&Text=h%C3%A9llo+w%2Brld";
    for (path, expected) in [
        ("/form", format!("{NONCE} c-1")),
        ("/string", body.to_owned()),
        ("/bytes", body.to_owned()),
    ] {
        let sig = v3(TOKEN, "POST", path, body);
        let reply = send(
            addr,
            "POST",
            path,
            &[
                ("X-Plivo-Signature-V3", &sig),
                ("X-Plivo-Signature-V3-Nonce", NONCE),
                FORM,
            ],
            body,
        )
        .await;
        assert_eq!((reply.status, reply.text()), (200, expected), "{path}");
    }
}

#[tokio::test]
async fn route_layer_guards_only_matched_routes() {
    let app = Router::new()
        .route("/answer", post(echo))
        .route_layer(layer().build().unwrap());
    let addr = serve(app).await;
    assert_eq!(send(addr, "POST", "/answer", &[], "").await.status, 403);
    assert_eq!(
        send(addr, "POST", "/nope", &[], "").await.status,
        404,
        "route_layer leaves 404s alone"
    );
    let sig = v3(TOKEN, "POST", "/answer", "");
    let reply = send(
        addr,
        "POST",
        "/answer",
        &[
            ("X-Plivo-Signature-V3", &sig),
            ("X-Plivo-Signature-V3-Nonce", NONCE),
        ],
        "",
    )
    .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn nest_verifies_the_original_path() {
    let inner = Router::new()
        .route("/answer", post(echo))
        .layer(layer().build().unwrap());
    let addr = serve(Router::new().nest("/plivo", inner)).await;
    let body = "From=1";
    let sig = v3(TOKEN, "POST", "/plivo/answer?k=v", body);
    let reply = send(
        addr,
        "POST",
        "/plivo/answer?k=v",
        &[
            ("X-Plivo-Signature-V3", &sig),
            ("X-Plivo-Signature-V3-Nonce", NONCE),
            FORM,
        ],
        body,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("x-verified-url").as_deref(),
        Some("https://hooks.example.com/plivo/answer?k=v")
    );
    // A signature over the stripped path is not what Plivo sent.
    let stripped = v3(TOKEN, "POST", "/answer?k=v", body);
    let reply = send(
        addr,
        "POST",
        "/plivo/answer?k=v",
        &[
            ("X-Plivo-Signature-V3", &stripped),
            ("X-Plivo-Signature-V3-Nonce", NONCE),
            FORM,
        ],
        body,
    )
    .await;
    assert_eq!(reply.status, 403);
}

#[tokio::test]
async fn service_builder_and_skip_paths_under() {
    use tower::ServiceBuilder;
    let plivo = layer().skip_paths_under("/health").build().unwrap();
    let app = Router::new()
        .fallback(echo)
        .layer(ServiceBuilder::new().layer(plivo));
    let addr = serve(app).await;
    let reply = send(addr, "POST", "/health", &[], "open").await;
    assert_eq!((reply.status, reply.text().as_str()), (200, "open"));
    let reply = send(addr, "POST", "/health/live", &[], "open").await;
    assert_eq!((reply.status, reply.text().as_str()), (200, "open"));
    assert_eq!(
        send(addr, "POST", "/plivo/answer", &[], "").await.status,
        403
    );
    assert_eq!(send(addr, "POST", "/healthz", &[], "x").await.status, 403);
    // A path that only looks like it is under the prefix is guarded.
    for tricky in [
        "/health/../answer",
        "/health/%2e%2e/answer",
        "/health//answer",
        "/%68ealth",
    ] {
        send(addr, "POST", tricky, &[], "")
            .await
            .assert_refused(403, "missing_signature");
    }
}

// ---- body handling over raw TCP ----

/// Writes `head` and `body_parts` (then closes the write side if `close_write`) and reads the
/// answer, which must come without the server waiting for the rest of the body.
async fn raw_exchange(
    addr: SocketAddr,
    head: &str,
    body_parts: &[&[u8]],
    close_write: bool,
) -> RawReply {
    let mut steps = vec![Step::Write(head.as_bytes().to_vec())];
    steps.extend(body_parts.iter().map(|part| Step::Write(part.to_vec())));
    if close_write {
        steps.push(Step::ShutdownWrite);
    }
    let started = std::time::Instant::now();
    let reply = raw::exchange(addr, steps).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the server must answer without waiting for the body"
    );
    reply
}

fn signed_head(method: &str, path: &str, extra: &str) -> String {
    let sig = v3(TOKEN, "POST", path, "");
    format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\nx-plivo-signature-v3: {sig}\r\nx-plivo-signature-v3-nonce: {NONCE}\r\n\
         content-type: application/x-www-form-urlencoded\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn unsigned_requests_are_refused_before_the_body_is_read() {
    let addr = echo_server().await;
    // 1 MB announced, nothing sent: the answer must come at once.
    let response = raw_exchange(
        addr,
        "POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\n",
        &[],
        false,
    )
    .await;
    assert_eq!(
        (response.status, response.reason().as_deref()),
        (403, Some("missing_signature"))
    );
}

#[tokio::test]
async fn declared_length_over_the_limit_is_413_at_once() {
    let addr = serve(
        Router::new()
            .fallback(echo)
            .layer(layer().body_limit(1024).build().unwrap()),
    )
    .await;
    let response = raw_exchange(
        addr,
        &signed_head("POST", "/a", "content-length: 10000000\r\n"),
        &[],
        false,
    )
    .await;
    assert_eq!(
        (response.status, response.reason().as_deref()),
        (413, Some("body_too_large"))
    );
}

#[tokio::test]
async fn chunked_body_crossing_the_limit_is_413_as_soon_as_it_crosses() {
    let addr = serve(
        Router::new()
            .fallback(echo)
            .layer(layer().body_limit(1024).build().unwrap()),
    )
    .await;
    let chunk = format!("400\r\n{}\r\n", "a".repeat(1024));
    // The first chunk fills the limit exactly; one more byte crosses it. The stream stays open:
    // the answer must not wait for its end.
    let response = raw_exchange(
        addr,
        &signed_head("POST", "/a", "transfer-encoding: chunked\r\n"),
        &[chunk.as_bytes(), b"1\r\nb\r\n"],
        false,
    )
    .await;
    assert_eq!(response.status, 413, "{}", response.head);
}

#[tokio::test]
async fn chunked_body_within_the_limit_verifies() {
    let addr = echo_server().await;
    let body = "CallUUID=chunked&From=1&To=2";
    let sig = v3(TOKEN, "POST", "/a", body);
    let head = format!(
        "POST /a HTTP/1.1\r\nhost: x\r\nx-plivo-signature-v3: {sig}\r\nx-plivo-signature-v3-nonce: {NONCE}\r\n\
         content-type: application/x-www-form-urlencoded\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    let (a, b) = body.split_at(10);
    let parts = [
        format!("{:x}\r\n{a}\r\n", a.len()),
        format!("{:x}\r\n{b}\r\n", b.len()),
        "0\r\n\r\n".to_owned(),
    ];
    let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
    let response = raw_exchange(addr, &head, &parts, false).await;
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(response.text(), body, "body handed on intact");
}

#[tokio::test]
async fn broken_body_stream_is_400() {
    let addr = echo_server().await;
    // Chunked body cut off mid-chunk by the client closing its side.
    let response = raw_exchange(
        addr,
        &signed_head("POST", "/a", "transfer-encoding: chunked\r\n"),
        &[b"10\r\nonly-some"],
        true,
    )
    .await;
    assert_eq!(
        (response.status, response.reason().as_deref()),
        (400, Some("body_read_failed"))
    );
}

#[tokio::test]
async fn body_exactly_at_the_limit_is_accepted() {
    let addr = serve(
        Router::new()
            .fallback(echo)
            .layer(layer().body_limit(64).build().unwrap()),
    )
    .await;
    let body = format!("k={}", "v".repeat(62));
    assert_eq!(body.len(), 64);
    let sig = v3(TOKEN, "POST", "/a", &body);
    let reply = send(
        addr,
        "POST",
        "/a",
        &[
            ("X-Plivo-Signature-V3", &sig),
            ("X-Plivo-Signature-V3-Nonce", NONCE),
            FORM,
        ],
        body.clone(),
    )
    .await;
    assert_eq!(reply.status, 200);
    let longer = format!("{body}v");
    let reply = send(
        addr,
        "POST",
        "/a",
        &[
            ("X-Plivo-Signature-V3", &sig),
            ("X-Plivo-Signature-V3-Nonce", NONCE),
            FORM,
        ],
        longer,
    )
    .await;
    assert_eq!(reply.status, 413);
}

#[tokio::test]
async fn a_body_slower_than_the_timeout_is_408() {
    let plivo = layer()
        .body_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let addr = serve(Router::new().fallback(echo).layer(plivo)).await;
    let started = std::time::Instant::now();
    // 100 bytes announced, 10 sent, then silence (the connection stays open).
    let response = raw_exchange(
        addr,
        &signed_head("POST", "/a", "content-length: 100\r\n"),
        &[b"CallUUID=1"],
        false,
    )
    .await;
    assert_eq!(
        (response.status, response.reason().as_deref()),
        (408, Some("body_timeout"))
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}
