//! Attacks with a valid signature: what someone holding one request captured from Plivo (a
//! proxy log, a leaked trace) could send, and what the handler would then have believed. Each
//! test sends the attack over real TCP (axum; plain hyper for the disconnect race) and asserts
//! its refusal, next to the genuine request, which still gets 200.
//!
//! | attack | test |
//! |---|---|
//! | the tail of a signed value moved into a nonce that contains `.` | `a_dotted_nonce_cannot_carry_the_tail_of_a_signed_value` |
//! | body pairs re-split (`ab=c` / `a=bc`) | `re_split_body_pairs_are_a_replay` |
//! | `%26`/`%3D` in a query value vs real separators | `escaped_separators_are_a_replay` |
//! | a signed GET resent as a POST with an empty body | `a_get_resent_as_a_post_is_a_replay` |
//! | V2: characters moved between the path and the nonce (another tenant's path) | `v2_path_and_nonce_shifts_are_a_replay` |
//! | a V3 message resent under V2 headers, the nonce holding the rest (on its own route, or on a route whose path is a prefix of it, behind another layer) | `a_v3_message_resent_as_v2_is_refused` |
//! | one header of two stripped, verifying through the other token | `stripping_one_signature_header_is_a_replay` |
//! | unlimited replays by disconnecting before the answer | `disconnecting_does_not_free_a_nonce` |
//! | a downgrade to V2 by stripping the V3 headers | `stripping_the_v3_headers_does_not_downgrade_a_voice_route` |
//! | a host of the client's choosing through a load balancer that passes headers through | `forwarding_headers_a_load_balancer_passes_through_are_not_believed` |
//! | a callback signed for another of the user's hosts (same token) | `a_callback_signed_for_another_host_is_refused` |
//! | a skip rule that misses its routes, or a path dressed up to match one | `path_exclusions_fail_closed` |
//! | the response telling a forger which variant verified | `every_refusal_looks_the_same` |
//! | the doctor turned into work and log volume by a flood | `the_doctor_is_bounded_under_a_flood` |
//! | a false 413 for a body read in three or more frames | `a_body_in_many_frames_is_not_a_false_413` |
//! | a forged client address in `X-Forwarded-For` | `source_networks_believe_only_trusted_proxies` |
//! | V2 digits moved between the paths of two layers | `a_shared_store_refuses_across_routers` |
//! | an absolute-form target or HTTP/2 `:authority` naming one host, `Host` another | `a_host_that_disagrees_with_the_targets_authority_is_refused` |
//! | a second `Content-Type`, for a stack that reads the last one | `a_second_content_type_is_refused` |
//! | a webhook verified under another scheme through a proxy's `ws`/`wss` | `a_websocket_scheme_from_a_trusted_proxy_reads_as_its_http_scheme` |

use crate::support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use tower_plivo::replay::MemoryNonceStore;
use tower_plivo::signature::Signer;
use tower_plivo::{PlivoGuardBuilder, PlivoSignatureLayer, ProxyHeader, Scheme, UrlPolicy};

use support::logs::Captured;
use support::vectors::{ORIGIN, P13, PATH_B, V3_NONCE, V3_TOKEN, V3_VECTORS};
use support::{FORM, Reply, echo, fresh_nonce, raw, send, serve};

const TOKEN: &str = "MAattacksTOKENaaaaaaaaaaaaaaaaaaaaa";
const MAIN: &str = "MAattacksMAINbbbbbbbbbbbbbbbbbbbbbb";
const HOOKS: &str = "https://hooks.example.com";

fn builder() -> PlivoGuardBuilder<PlivoSignatureLayer> {
    PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .main_account_token(MAIN)
        .url_policy(UrlPolicy::public_base(HOOKS).unwrap())
}

async fn server(builder: PlivoGuardBuilder<PlivoSignatureLayer>) -> SocketAddr {
    serve(Router::new().fallback(echo).layer(builder.build().unwrap())).await
}

fn v3(token: &str, method: &str, target: &str, body: &str, nonce: &str) -> String {
    support::sign_v3(
        token,
        method,
        &format!("{HOOKS}{target}"),
        body.as_bytes(),
        nonce,
    )
}

/// Sends a V3-signed request: `signature` in the plain header, `nonce`, and the form type.
async fn send_v3(
    addr: SocketAddr,
    method: &str,
    target: &str,
    signature: &str,
    nonce: &str,
    body: &str,
) -> Reply {
    let headers = [
        ("X-Plivo-Signature-V3", signature),
        ("X-Plivo-Signature-V3-Nonce", nonce),
        FORM,
    ];
    send(addr, method, target, &headers, body.to_owned()).await
}

#[tokio::test]
async fn a_dotted_nonce_cannot_carry_the_tail_of_a_signed_value() {
    // The public vector a real Plivo server signed: POST to URL B, nonce 31627761595286130198.
    let vector = V3_VECTORS
        .iter()
        .find(|v| v.method == "POST" && v.path == PATH_B)
        .unwrap();
    let addr = server(
        PlivoSignatureLayer::builder()
            .auth_token(V3_TOKEN)
            .url_policy(UrlPolicy::public_base(ORIGIN).unwrap()),
    )
    .await;
    // `To` sorts last, so the message ends `…plivodev.com.31627761595286130198`: cut `To` at
    // its last `.` and send `com.31627761595286130198` as the nonce.
    let cut = P13.replace("plivodev.com", "plivodev");
    let dotted = format!("com.{V3_NONCE}");
    assert_eq!(
        Signer::new(V3_TOKEN)
            .sign_v3_post(&format!("{ORIGIN}{PATH_B}"), cut.as_bytes(), &dotted)
            .unwrap(),
        vector.signature,
        "the forgery carries a valid signature: the message did not change"
    );

    let genuine = send_v3(addr, "POST", PATH_B, vector.signature, V3_NONCE, P13).await;
    assert_eq!((genuine.status, genuine.text().as_str()), (200, P13));
    send_v3(addr, "POST", PATH_B, vector.signature, V3_NONCE, P13)
        .await
        .assert_refused(403, "replayed");
    for _ in 0..2 {
        send_v3(addr, "POST", PATH_B, vector.signature, &dotted, &cut)
            .await
            .assert_refused(403, "invalid_nonce");
    }
}

/// Sends `genuine`, then `variant` (the same signed message written another way): the first
/// gets 200, the second is a replay. Both carry the same signature, which is asserted first.
async fn same_message_twice(
    addr: SocketAddr,
    genuine: (&str, &str, &str),
    variant: (&str, &str, &str),
    nonce: &str,
) {
    let signature =
        |(method, target, body): (&str, &str, &str)| v3(TOKEN, method, target, body, nonce);
    let sig = signature(genuine);
    assert_eq!(sig, signature(variant), "one signature covers both");
    let (method, target, body) = genuine;
    let first = send_v3(addr, method, target, &sig, nonce, body).await;
    assert_eq!((first.status, first.text().as_str()), (200, body));
    let (method, target, body) = variant;
    send_v3(addr, method, target, &sig, nonce, body)
        .await
        .assert_refused(403, "replayed");
}

#[tokio::test]
async fn re_split_body_pairs_are_a_replay() {
    let addr = server(builder()).await;
    same_message_twice(
        addr,
        ("POST", "/answer", "CallUUID=1&ab=c"),
        ("POST", "/answer", "CallUUID=1&a=bc"),
        &fresh_nonce(),
    )
    .await;
}

#[tokio::test]
async fn escaped_separators_are_a_replay() {
    let addr = server(builder()).await;
    same_message_twice(
        addr,
        ("GET", "/answer?a=1&b=2", ""),
        ("GET", "/answer?a=1%26b%3D2", ""),
        &fresh_nonce(),
    )
    .await;
}

#[tokio::test]
async fn a_get_resent_as_a_post_is_a_replay() {
    let addr = server(builder()).await;
    same_message_twice(
        addr,
        ("GET", "/answer?CallUUID=1&From=2", ""),
        ("POST", "/answer?CallUUID=1&From=2", ""),
        &fresh_nonce(),
    )
    .await;
}

#[tokio::test]
async fn v2_path_and_nonce_shifts_are_a_replay() {
    let addr = server(builder().accept_v2(true)).await;
    let v2 = |path: &str, nonce: &str| {
        Signer::new(TOKEN)
            .sign_v2(&format!("{HOOKS}{path}"), nonce)
            .unwrap()
    };
    // Tenant 12's callback, and the same bytes read as tenant 1's.
    let sig = v2("/sms/12", "345");
    assert_eq!(sig, v2("/sms/1", "2345"), "one signature covers both");
    let send_v2 = |path: &'static str, nonce: &'static str| {
        let sig = sig.clone();
        async move {
            let headers = [
                ("X-Plivo-Signature-V2", sig.as_str()),
                ("X-Plivo-Signature-V2-Nonce", nonce),
                FORM,
            ];
            send(addr, "POST", path, &headers, "Text=hi").await
        }
    };
    assert_eq!(send_v2("/sms/12", "345").await.status, 200);
    send_v2("/sms/1", "2345")
        .await
        .assert_refused(403, "replayed");
}

#[tokio::test]
async fn a_v3_message_resent_as_v2_is_refused() {
    // A V3 POST signs `{base}?{B}.{nonce}`; V2 signs `{base}{nonce}`. With the V2 nonce
    // `?{B}.{nonce}`, a V2 request to the same URL signs the very same bytes, and with
    // `/answer?{B}.{nonce}` so does one to a route whose path is a prefix of it (`/plivo` for
    // `/plivo/answer`), which may sit behind another layer with another replay store.
    let body = "CallUUID=7&From=1555";
    let nonce = fresh_nonce();
    let sig = v3(TOKEN, "POST", "/plivo/answer", body, &nonce);
    let same_route = format!("?CallUUID7From1555.{nonce}");
    let prefix_route = format!("/answer?CallUUID7From1555.{nonce}");
    for (path, v2_nonce) in [("/plivo/answer", &same_route), ("/plivo", &prefix_route)] {
        assert_eq!(
            Signer::new(TOKEN)
                .sign_v2(&format!("{HOOKS}{path}"), v2_nonce)
                .unwrap(),
            sig,
            "the V3 signature is a valid V2 signature for {path} with that nonce"
        );
    }
    // The quick start's layout: a voice router and a messaging router, each with its own default
    // store.
    let voice = builder().build().unwrap();
    let sms = builder().accept_v2(true).build().unwrap();
    let addr = serve(
        Router::new()
            .merge(
                Router::new()
                    .route("/plivo/answer", post(echo))
                    .route_layer(voice),
            )
            .merge(Router::new().route("/plivo", post(echo)).route_layer(sms)),
    )
    .await;
    let genuine = send_v3(addr, "POST", "/plivo/answer", &sig, &nonce, body).await;
    assert_eq!((genuine.status, genuine.text().as_str()), (200, body));
    for (path, v2_nonce) in [("/plivo/answer", &same_route), ("/plivo", &prefix_route)] {
        let headers = [
            ("X-Plivo-Signature-V2", sig.as_str()),
            ("X-Plivo-Signature-V2-Nonce", v2_nonce.as_str()),
            FORM,
        ];
        send(
            addr,
            "POST",
            path,
            &headers,
            "From=attacker&Text=transfer+all+funds",
        )
        .await
        .assert_refused(403, "invalid_nonce");
    }
    // Where V2 is not accepted (the voice route), the V2 request is refused before its nonce.
    let headers = [
        ("X-Plivo-Signature-V2", sig.as_str()),
        ("X-Plivo-Signature-V2-Nonce", "12345"),
        FORM,
    ];
    send(addr, "POST", "/plivo/answer", &headers, "From=attacker")
        .await
        .assert_refused(403, "signature_version_not_accepted");
}

#[tokio::test]
async fn stripping_one_signature_header_is_a_replay() {
    let addr = server(builder()).await;
    let (body, nonce) = ("CallUUID=8", fresh_nonce());
    let account = v3(TOKEN, "POST", "/answer", body, &nonce);
    let main = v3(MAIN, "POST", "/answer", body, &nonce);
    let both = [
        ("X-Plivo-Signature-V3", account.as_str()),
        ("X-Plivo-Signature-Ma-V3", main.as_str()),
        ("X-Plivo-Signature-V3-Nonce", nonce.as_str()),
        FORM,
    ];
    assert_eq!(send(addr, "POST", "/answer", &both, body).await.status, 200);
    // The same request verifying through the main-account token: the same message.
    send(addr, "POST", "/answer", &both[1..], body)
        .await
        .assert_refused(403, "replayed");
}

#[tokio::test]
async fn disconnecting_does_not_free_a_nonce() {
    // A handler that takes 300 ms; the attacker sends a captured request and hangs up after
    // 100 ms, five times, then sends a patient sixth copy.
    let layer = builder().build().unwrap();
    let server = support::hyper_app::serve_slow(layer, true, Duration::from_millis(300)).await;
    let (body, nonce) = ("CallUUID=9&From=1555", fresh_nonce());
    let sig = v3(TOKEN, "POST", "/answer", body, &nonce);
    let headers = [
        ("X-Plivo-Signature-V3", sig.as_str()),
        ("X-Plivo-Signature-V3-Nonce", nonce.as_str()),
        FORM,
    ];
    let request = headers
        .iter()
        .fold(
            raw::Raw::new("POST", "/answer").header("host", "hooks.example.com"),
            |raw, (name, value)| raw.header(name, value),
        )
        .with_body(body.as_bytes());
    for _ in 0..5 {
        raw::abandoned(server.addr, &request, Duration::from_millis(100)).await;
    }
    // Long enough for the first handler to have finished had it not been dropped.
    tokio::time::sleep(Duration::from_millis(400)).await;
    send(server.addr, "POST", "/answer", &headers, body)
        .await
        .assert_refused(403, "replayed");
    assert_eq!(
        server.handled.load(Ordering::SeqCst),
        1,
        "six copies, one run of the handler"
    );
    // A genuine request of its own still goes through.
    let nonce = fresh_nonce();
    let sig = v3(TOKEN, "POST", "/answer", body, &nonce);
    let reply = send_v3(server.addr, "POST", "/answer", &sig, &nonce, body).await;
    assert_eq!((reply.status, reply.text().as_str()), (200, body));
}

#[tokio::test]
async fn stripping_the_v3_headers_does_not_downgrade_a_voice_route() {
    let voice = server(builder()).await;
    // A V2 signature for the voice URL (V2 signs only the URL and the nonce), with a body of
    // the attacker's choosing: a forged recording URL.
    let nonce = fresh_nonce();
    let sig = Signer::new(TOKEN)
        .sign_v2(&format!("{HOOKS}/recording"), &nonce)
        .unwrap();
    let forged = "RecordUrl=https%3A%2F%2Fevil.example%2Fr.mp3&CallUUID=1";
    let headers = [
        ("X-Plivo-Signature-V2", sig.as_str()),
        ("X-Plivo-Signature-V2-Nonce", nonce.as_str()),
        FORM,
    ];
    send(voice, "POST", "/recording", &headers, forged)
        .await
        .assert_refused(403, "signature_version_not_accepted");
    let genuine = "RecordUrl=https%3A%2F%2Fmedia.plivo.com%2Fr.mp3&CallUUID=1";
    let nonce = fresh_nonce();
    let sig = v3(TOKEN, "POST", "/recording", genuine, &nonce);
    let reply = send_v3(voice, "POST", "/recording", &sig, &nonce, genuine).await;
    assert_eq!((reply.status, reply.text().as_str()), (200, genuine));
}

/// The test client plays an AWS ALB or a Cloudflare edge on 127.0.0.1: trusted, it sets
/// `X-Forwarded-Proto` and `X-Forwarded-For`, and passes `Host`, `X-Forwarded-Host` and
/// `Forwarded` through as the client sent them.
fn behind_a_load_balancer() -> PlivoGuardBuilder<PlivoSignatureLayer> {
    PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .url_policy(
            UrlPolicy::from_request(Scheme::Http)
                .allow_hosts(["hooks.example.com", "staging.example.com"])
                .unwrap(),
        )
        .trusted_proxies(["127.0.0.1"])
}

#[tokio::test]
async fn forwarding_headers_a_load_balancer_passes_through_are_not_believed() {
    let addr = server(behind_a_load_balancer()).await;
    // A callback Plivo signed for staging, sent to production with the client's own forwarding
    // headers naming staging.
    let (body, nonce) = ("CallUUID=10", fresh_nonce());
    let staging = Signer::new(TOKEN)
        .sign_v3_post(
            "https://staging.example.com/answer",
            body.as_bytes(),
            &nonce,
        )
        .unwrap();
    let headers = [
        ("X-Plivo-Signature-V3", staging.as_str()),
        ("X-Plivo-Signature-V3-Nonce", nonce.as_str()),
        FORM,
        ("host", "hooks.example.com"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "staging.example.com"),
        ("forwarded", "proto=https;host=staging.example.com"),
    ];
    send(addr, "POST", "/answer", &headers, body)
        .await
        .assert_refused(403, "signature_mismatch");
    // The genuine production callback, through the same balancer.
    let nonce = fresh_nonce();
    let genuine = Signer::new(TOKEN)
        .sign_v3_post("https://hooks.example.com/answer", body.as_bytes(), &nonce)
        .unwrap();
    let headers = [
        ("X-Plivo-Signature-V3", genuine.as_str()),
        ("X-Plivo-Signature-V3-Nonce", nonce.as_str()),
        FORM,
        ("host", "hooks.example.com"),
        ("x-forwarded-proto", "https"),
    ];
    let reply = send(addr, "POST", "/answer", &headers, body).await;
    assert_eq!(
        (reply.status, reply.header("x-verified-url").as_deref()),
        (200, Some("https://hooks.example.com/answer"))
    );
}

#[tokio::test]
async fn a_callback_signed_for_another_host_is_refused() {
    // One token serves production and a host that is not listed; and a listed host on a port
    // that is not.
    let addr = server(
        PlivoSignatureLayer::builder().auth_token(TOKEN).url_policy(
            UrlPolicy::from_request(Scheme::Https)
                .allow_hosts(["hooks.example.com"])
                .unwrap(),
        ),
    )
    .await;
    let body = "CallUUID=11";
    for authority in ["dev.example.com", "hooks.example.com:8443"] {
        let nonce = fresh_nonce();
        let sig = Signer::new(TOKEN)
            .sign_v3_post(
                &format!("https://{authority}/answer"),
                body.as_bytes(),
                &nonce,
            )
            .unwrap();
        let headers = [
            ("X-Plivo-Signature-V3", sig.as_str()),
            ("X-Plivo-Signature-V3-Nonce", nonce.as_str()),
            FORM,
            ("host", authority),
        ];
        send(addr, "POST", "/answer", &headers, body)
            .await
            .assert_refused(403, "untrusted_host");
    }
    let nonce = fresh_nonce();
    let sig = v3(TOKEN, "POST", "/answer", body, &nonce);
    let headers = [
        ("X-Plivo-Signature-V3", sig.as_str()),
        ("X-Plivo-Signature-V3-Nonce", nonce.as_str()),
        FORM,
        ("host", "hooks.example.com"),
    ];
    assert_eq!(
        send(addr, "POST", "/answer", &headers, body).await.status,
        200
    );
}

#[tokio::test]
async fn path_exclusions_fail_closed() {
    // The layer on a router nested under `/plivo`, with a skip rule written as the outer
    // router sees the path (`/plivo/health`) instead of as the nested one does (`/health`):
    // it matches nothing, so the health route is guarded, never the reverse.
    let wrong = builder().skip_paths_under("/plivo/health").build().unwrap();
    let right = builder().skip_paths_under("/health").build().unwrap();
    let routes = || {
        Router::new()
            .route("/health", post(|| async { "ok" }))
            .route("/health/{*rest}", post(|| async { "ok" }))
            .route("/answer", post(echo))
    };
    let addr = serve(
        Router::new()
            .nest("/plivo", routes().layer(wrong))
            .nest("/other", routes().layer(right)),
    )
    .await;
    send(addr, "POST", "/plivo/health", &[], "")
        .await
        .assert_refused(403, "missing_signature");
    send(addr, "POST", "/plivo/answer", &[], "")
        .await
        .assert_refused(403, "missing_signature");
    let reply = send(addr, "POST", "/other/health", &[], "").await;
    assert_eq!((reply.status, reply.text().as_str()), (200, "ok"));
    // A path dressed up to look like it is under the skipped prefix is guarded.
    for tricky in [
        "/other/health/../answer",
        "/other/health/%2e%2e/answer",
        "/other/health//x",
    ] {
        send(addr, "POST", tricky, &[], "")
            .await
            .assert_refused(403, "missing_signature");
    }
    send(addr, "POST", "/other/answer", &[], "")
        .await
        .assert_refused(403, "missing_signature");
}

#[tokio::test]
async fn every_refusal_looks_the_same() {
    let addr = server(builder().source_networks(["127.0.0.0/8"])).await;
    let outsider = server(builder().source_networks(["203.0.113.0/24"])).await;
    let (body, nonce) = ("CallUUID=12", fresh_nonce());
    let sig = v3(TOKEN, "POST", "/answer", body, &nonce);
    assert_eq!(
        send_v3(addr, "POST", "/answer", &sig, &nonce, body)
            .await
            .status,
        200
    );

    let v2 = Signer::new(TOKEN)
        .sign_v2(&format!("{HOOKS}/answer"), &nonce)
        .unwrap();
    let dotted = format!("x.{nonce}");
    let refusals = [
        (
            "missing_signature",
            send(addr, "POST", "/answer", &[FORM], body).await,
        ),
        (
            "conflicting_headers",
            send(
                addr,
                "POST",
                "/answer",
                &[
                    ("X-Plivo-Signature-V3", sig.as_str()),
                    ("X-Plivo-Signature-V3", "AAAA"),
                    ("X-Plivo-Signature-V3-Nonce", nonce.as_str()),
                    FORM,
                ],
                body,
            )
            .await,
        ),
        (
            "signature_mismatch",
            send_v3(addr, "POST", "/answer", &sig, &nonce, "CallUUID=13").await,
        ),
        (
            "replayed",
            send_v3(addr, "POST", "/answer", &sig, &nonce, body).await,
        ),
        (
            "invalid_nonce",
            send_v3(addr, "POST", "/answer", &sig, &dotted, body).await,
        ),
        (
            "signature_version_not_accepted",
            send(
                addr,
                "POST",
                "/answer",
                &[
                    ("X-Plivo-Signature-V2", v2.as_str()),
                    ("X-Plivo-Signature-V2-Nonce", nonce.as_str()),
                ],
                body,
            )
            .await,
        ),
        (
            "source_not_allowed",
            send_v3(outsider, "POST", "/answer", &sig, &nonce, body).await,
        ),
    ];
    // What travels on the wire: the status, the headers (but the date and the test's own
    // reason header), the body.
    let wire = |reply: &Reply| {
        let mut headers: Vec<String> = reply
            .headers
            .iter()
            .filter(|(name, _)| *name != "date" && *name != support::REASON)
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
            .collect();
        headers.sort();
        (reply.status, headers, reply.text())
    };
    let first = wire(&refusals[0].1);
    assert_eq!(first.2, "forbidden\n");
    for (reason, reply) in &refusals {
        assert_eq!(
            reply.reason().as_deref(),
            Some(*reason),
            "the reason is still known"
        );
        assert_eq!(
            wire(reply),
            first,
            "{reason} must look like every other refusal"
        );
    }

    // gRPC callers get one status and one message too.
    let grpc = |signature: &str, body: &str| {
        let headers = [
            ("X-Plivo-Signature-V3", signature.to_owned()),
            ("X-Plivo-Signature-V3-Nonce", nonce.clone()),
            ("content-type", "application/grpc".to_owned()),
        ];
        let body = body.to_owned();
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            send(addr, "POST", "/answer", &headers, body).await
        }
    };
    let forged = grpc("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", body).await;
    let replayed = grpc(&sig, "").await;
    for reply in [&forged, &replayed] {
        assert_eq!(
            (
                reply.header("grpc-status").as_deref(),
                reply.header("grpc-message").as_deref()
            ),
            (Some("7"), Some("permission denied"))
        );
    }
}

#[tokio::test]
async fn the_doctor_is_bounded_under_a_flood() {
    let captured = Captured::default();
    let _guard = captured.install();
    let addr = server(builder().diagnose(true)).await;
    // Two hundred forgeries that each carry a signature header, as fast as they go.
    for i in 0..200 {
        let nonce = format!("{i:020}");
        send_v3(
            addr,
            "POST",
            "/answer",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            &nonce,
            "",
        )
        .await
        .assert_refused(403, "signature_mismatch");
    }
    // The doctor logs from its own thread, after the answers: let it finish.
    assert!(captured.wait_for("signature doctor").await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = captured.text();
    let doctor_lines = text
        .lines()
        .filter(|l| l.contains("signature doctor"))
        .count();
    // At most a burst of 5 examinations, one line each, whatever the number of requests.
    assert!(
        (1..=5).contains(&doctor_lines),
        "{doctor_lines} doctor lines for 200 forgeries:\n{text}"
    );
    // The genuine request is not slowed or refused.
    let (body, nonce) = ("CallUUID=14", fresh_nonce());
    let sig = v3(TOKEN, "POST", "/answer", body, &nonce);
    assert_eq!(
        send_v3(addr, "POST", "/answer", &sig, &nonce, body)
            .await
            .status,
        200
    );
    captured.assert_none_of(&[TOKEN, MAIN]);
}

#[tokio::test]
async fn a_body_in_many_frames_is_not_a_false_413() {
    // 55,000 bytes under the default 64 KiB limit, written at once or in 2, 3 and 6 pieces with
    // pauses between them, so the server reads the body in that many frames; with a length
    // and chunked.
    let addr = server(builder()).await;
    let body = format!("CallUUID=15&Pad={}", "a".repeat(55_000 - 16));
    assert_eq!(body.len(), 55_000);
    for chunked in [false, true] {
        for pieces in [1, 2, 3, 6] {
            let nonce = fresh_nonce();
            let sig = v3(TOKEN, "POST", "/answer", &body, &nonce);
            let headers = [
                ("x-plivo-signature-v3", sig.as_str()),
                ("x-plivo-signature-v3-nonce", nonce.as_str()),
                FORM,
            ];
            let length = (!chunked).then_some(body.len());
            let (status, echoed) = in_frames(addr, &headers, length, body.as_bytes(), pieces).await;
            assert_eq!(
                (status, echoed.len()),
                (200, body.len()),
                "{pieces} pieces, chunked: {chunked}"
            );
        }
    }
    // Over the limit is still 413 when the frames cross it, however many there are.
    let over = "a".repeat(64 * 1024 + 1);
    let headers = [
        (
            "x-plivo-signature-v3",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
        ("x-plivo-signature-v3-nonce", "1"),
        FORM,
    ];
    for pieces in [1, 3, 6] {
        let (status, _) = in_frames(addr, &headers, None, over.as_bytes(), pieces).await;
        assert_eq!(status, 413, "{pieces} chunks");
    }
}

/// POSTs `body` to `/answer` in `pieces` writes 30 ms apart (chunks of a chunked body when
/// `length` is `None`).
async fn in_frames(
    addr: SocketAddr,
    headers: &[(&str, &str)],
    length: Option<usize>,
    body: &[u8],
    pieces: usize,
) -> (u16, Vec<u8>) {
    let raw = headers.iter().fold(
        raw::Raw::new("POST", "/answer").header("host", "hooks.example.com"),
        |raw, (name, value)| raw.header(name, value),
    );
    let raw = match length {
        Some(length) => raw.header("content-length", length.to_string()),
        None => raw.header("transfer-encoding", "chunked"),
    };
    let size = body.len().div_ceil(pieces);
    let mut parts: Vec<Vec<u8>> = match length {
        Some(_) => body.chunks(size).map(<[u8]>::to_vec).collect(),
        None => body.chunks(size).map(raw::chunk).collect(),
    };
    if length.is_none() {
        parts.push(b"0\r\n\r\n".to_vec());
    }
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let reply = raw::in_pieces(addr, raw.head(), &parts, Duration::from_millis(30)).await;
    (reply.status, reply.body)
}

#[tokio::test]
async fn source_networks_believe_only_trusted_proxies() {
    let plivo_networks = ["203.0.113.0/24"];
    // The test client (127.0.0.1) is not a proxy here: its X-Forwarded-For is the client's own
    // claim.
    let direct = server(
        builder()
            .source_networks(plivo_networks)
            .trusted_proxies(["10.0.0.0/8"])
            .proxy_headers([ProxyHeader::XForwardedFor]),
    )
    .await;
    // Here it is the load balancer, and sets X-Forwarded-For.
    let proxied = server(
        builder()
            .source_networks(plivo_networks)
            .trusted_proxies(["127.0.0.1"])
            .proxy_headers([ProxyHeader::XForwardedFor]),
    )
    .await;
    // Here it is a trusted proxy, but no client header is named: the proxy is the client.
    let unnamed = server(
        PlivoSignatureLayer::builder()
            .auth_token(TOKEN)
            .url_policy(UrlPolicy::from_request(Scheme::Https))
            .trusted_proxies(["127.0.0.1"])
            .source_networks(plivo_networks),
    )
    .await;
    let attempt = |addr: SocketAddr, xff: &'static str, host: bool| async move {
        let (body, nonce) = ("CallUUID=16", fresh_nonce());
        let sig = v3(TOKEN, "POST", "/answer", body, &nonce);
        let mut headers = vec![
            ("X-Plivo-Signature-V3", sig.clone()),
            ("X-Plivo-Signature-V3-Nonce", nonce.clone()),
            (FORM.0, FORM.1.to_owned()),
            ("x-forwarded-for", xff.to_owned()),
        ];
        if host {
            headers.push(("host", "hooks.example.com".to_owned()));
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        send(addr, "POST", "/answer", &headers, body).await
    };
    attempt(direct, "203.0.113.7", false)
        .await
        .assert_refused(403, "source_not_allowed");
    // A client that prepends Plivo's address gains nothing: the proxy appended the real one.
    attempt(proxied, "203.0.113.7, 198.51.100.9", false)
        .await
        .assert_refused(403, "source_not_allowed");
    assert_eq!(
        attempt(proxied, "198.51.100.9, 203.0.113.7", false)
            .await
            .status,
        200
    );
    attempt(unnamed, "203.0.113.7", true)
        .await
        .assert_refused(403, "source_not_allowed");
}

/// V2 digits can still move between a path and its nonce (`/sms/12` + `345` is `/sms/1` +
/// `2345`): on two routes behind two layers, only a store they share sees it. Shared through
/// an `Arc`, a request accepted on one route is a replay on the other.
#[tokio::test]
async fn a_shared_store_refuses_across_routers() {
    let store = Arc::new(MemoryNonceStore::new());
    let tenant_12 = builder()
        .accept_v2(true)
        .replay_store(store.clone())
        .build()
        .unwrap();
    let tenant_1 = builder()
        .accept_v2(true)
        .replay_store(store)
        .build()
        .unwrap();
    let addr = serve(
        Router::new()
            .merge(
                Router::new()
                    .route("/sms/12", post(echo))
                    .route_layer(tenant_12),
            )
            .merge(
                Router::new()
                    .route("/sms/1", post(echo))
                    .route_layer(tenant_1),
            ),
    )
    .await;
    let sig = Signer::new(TOKEN)
        .sign_v2(&format!("{HOOKS}/sms/12"), "345")
        .unwrap();
    let post_v2 = |path: &'static str, nonce: &'static str| {
        let sig = sig.clone();
        async move {
            let headers = [
                ("X-Plivo-Signature-V2", sig.as_str()),
                ("X-Plivo-Signature-V2-Nonce", nonce),
                FORM,
            ];
            send(addr, "POST", path, &headers, "Text=hi").await
        }
    };
    assert_eq!(post_v2("/sms/12", "345").await.status, 200);
    post_v2("/sms/1", "2345")
        .await
        .assert_refused(403, "replayed");
}

/// Issue 26, item 5: with `from_request`, the URL verified takes its host from the target's
/// authority when it has one (an absolute-form HTTP/1.1 target, HTTP/2's `:authority`), while a
/// handler or router reads `Host`. A callback Plivo signed for `a.example` sent with
/// `Host: b.example` would verify, and the handler would believe it came for `b.example`.
/// Refused unless the two agree (host without case, the default port the same as none).
#[tokio::test]
async fn a_host_that_disagrees_with_the_targets_authority_is_refused() {
    let policy = || {
        UrlPolicy::from_request(Scheme::Http)
            .allow_hosts(["a.example", "b.example"])
            .unwrap()
    };
    let addr = server(
        PlivoSignatureLayer::builder()
            .auth_token(TOKEN)
            .url_policy(policy()),
    )
    .await;
    let body = "CallUUID=12";
    let absolute = |host: &str| {
        let nonce = fresh_nonce();
        let signature = Signer::new(TOKEN)
            .sign_v3_post("http://a.example/answer", body.as_bytes(), &nonce)
            .unwrap();
        raw::Raw::new("POST", "http://a.example/answer")
            .header("host", host)
            .header("x-plivo-signature-v3", signature)
            .header("x-plivo-signature-v3-nonce", nonce)
            .header(FORM.0, FORM.1)
            .with_body(body.as_bytes())
    };
    for host in ["b.example", "a.example.evil", "a.example:8080"] {
        let reply = raw::send_raw(addr, absolute(host)).await;
        assert_eq!(
            (reply.status, reply.reason().as_deref()),
            (403, Some("unknown_origin")),
            "Host: {host}"
        );
    }
    for host in ["a.example", "A.EXAMPLE", "a.example:80"] {
        let reply = raw::send_raw(addr, absolute(host)).await;
        assert_eq!(reply.status, 200, "Host: {host}: {reply:?}");
    }

    // HTTP/2: `:authority` a.example, `host` b.example.
    let h2 = |host: Option<&'static str>| async move {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .unwrap();
        tokio::spawn(connection);
        let nonce = fresh_nonce();
        let signature = Signer::new(TOKEN)
            .sign_v3_post("http://a.example/answer", body.as_bytes(), &nonce)
            .unwrap();
        let mut request = axum::http::Request::post("http://a.example/answer")
            .header("x-plivo-signature-v3", signature)
            .header("x-plivo-signature-v3-nonce", nonce)
            .header(FORM.0, FORM.1);
        if let Some(host) = host {
            request = request.header("host", host);
        }
        let request = request
            .body(http_body_util::Full::new(axum::body::Bytes::from(body)))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let reason = response
            .headers()
            .get(support::REASON)
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status().as_u16(), reason)
    };
    assert_eq!(
        h2(Some("b.example")).await,
        (403, Some("unknown_origin".into()))
    );
    assert_eq!(h2(Some("a.example")).await, (200, None));
    assert_eq!(h2(None).await, (200, None), "no host: the :authority");

    // Report-only hands the disagreeing request on, marked, as every head refusal.
    let watched = server(
        PlivoSignatureLayer::builder()
            .auth_token(TOKEN)
            .url_policy(policy())
            .report_only(true),
    )
    .await;
    let reply = raw::send_raw(watched, absolute("b.example")).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .head
            .to_ascii_lowercase()
            .contains("x-reported-rejection: unknown_origin"),
        "{}",
        reply.head
    );
}

/// Issue 26, item 6: the layer reads the first `Content-Type` to decide the body is a signed
/// form; a framework or proxy reading another would parse a body other than the one verified.
/// A second `Content-Type` line (even an equal one) is refused.
#[tokio::test]
async fn a_second_content_type_is_refused() {
    let addr = server(builder()).await;
    let body = "CallUUID=13";
    let request = |types: &[&str]| {
        let nonce = fresh_nonce();
        let mut raw = raw::Raw::new("POST", "/answer")
            .header("host", "hooks.example.com")
            .header(
                "x-plivo-signature-v3",
                v3(TOKEN, "POST", "/answer", body, &nonce),
            )
            .header("x-plivo-signature-v3-nonce", nonce);
        for content_type in types {
            raw = raw.header("content-type", content_type);
        }
        raw.with_body(body.as_bytes())
    };
    for twice in [
        &[FORM.1, "application/json"][..],
        &["application/json", FORM.1],
        &[FORM.1, FORM.1],
    ] {
        let reply = raw::send_raw(addr, request(twice)).await;
        assert_eq!(
            (reply.status, reply.reason().as_deref()),
            (403, Some("conflicting_headers")),
            "{twice:?}"
        );
    }
    let reply = raw::send_raw(addr, request(&[FORM.1])).await;
    assert_eq!((reply.status, reply.text().as_str()), (200, body));
}

/// Issue 26, item 3, for a webhook: a trusted proxy's `X-Forwarded-Proto: wss` reads as
/// `https` (not `http`), `ws` as `http`; the callback Plivo signed over the other scheme is
/// still refused, and so is a scheme the layer cannot read.
#[tokio::test]
async fn a_websocket_scheme_from_a_trusted_proxy_reads_as_its_http_scheme() {
    let addr = server(behind_a_load_balancer()).await;
    let body = "CallUUID=14";
    let send_via = |proto: &'static str, signed_scheme: &'static str| async move {
        let nonce = fresh_nonce();
        let signature = Signer::new(TOKEN)
            .sign_v3_post(
                &format!("{signed_scheme}://hooks.example.com/answer"),
                body.as_bytes(),
                &nonce,
            )
            .unwrap();
        let headers = [
            ("X-Plivo-Signature-V3", signature.as_str()),
            ("X-Plivo-Signature-V3-Nonce", nonce.as_str()),
            FORM,
            ("host", "hooks.example.com"),
            ("x-forwarded-proto", proto),
        ];
        send(addr, "POST", "/answer", &headers, body).await
    };
    for (proto, scheme, other) in [("wss", "https", "http"), ("ws", "http", "https")] {
        let reply = send_via(proto, scheme).await;
        assert_eq!(
            (reply.status, reply.header("x-verified-url")),
            (200, Some(format!("{scheme}://hooks.example.com/answer"))),
            "{proto}"
        );
        send_via(proto, other)
            .await
            .assert_refused(403, "signature_mismatch");
    }
    send_via("wss2", "https")
        .await
        .assert_refused(403, "unknown_origin");
}
