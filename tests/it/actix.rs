//! An actix-web handler verifying Plivo requests with the guard alone: no tower, replay
//! protection on and V3 only by default, over real TCP. actix-web 4 has its own `http` types,
//! so the glue converts the head; the glue is the one function between the two markers below
//! (conversion, both steps, the body read under the guard's limit), and a test counts its lines
//! (15 at most).

use crate::support;

use std::net::{SocketAddr, TcpListener};

use actix_web::web;
use actix_web::{App, HttpServer};
use support::{
    FORM, V2_NONCE, V2_SIGNATURE, V3_NONCE, V3_SIGNATURE, fresh_nonce, send, sign_v3,
    signed_form_post,
};
use tower_plivo::signature::Signer;
use tower_plivo::{PlivoGuard, UrlPolicy};

/// The example's glue and handler, one copy: `examples/actix.rs`.
#[path = "../../examples/actix.rs"]
mod example;

const TOKEN: &str = "actixTESTtokenNOTaSECRET00000000";
const PUBLIC: &str = "https://hooks.example.com";

/// An actix-web server on a free port, on its own thread and runtime, with the guard.
fn actix_server(guard: PlivoGuard) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let guard = web::Data::new(guard);
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                App::new()
                    .app_data(guard.clone())
                    .route("/{tail:.*}", web::to(example::answer))
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run()
            .await
        })
    });
    addr
}

fn guard() -> PlivoGuard {
    PlivoGuard::builder()
        .auth_token(TOKEN)
        .url_policy(UrlPolicy::public_base(PUBLIC).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_actix_handler_verifies_plivo_once_v3_only() {
    let addr = actix_server(guard());
    let body = "CallUUID=abc&From=%2B14155550100";
    let nonce = fresh_nonce();
    let signature = sign_v3(
        TOKEN,
        "POST",
        &format!("{PUBLIC}/answer"),
        body.as_bytes(),
        &nonce,
    );
    let headers = [
        (V3_SIGNATURE, signature.as_str()),
        (V3_NONCE, nonce.as_str()),
        FORM,
    ];
    // Plivo's request: verified, the handler told which version and nonce.
    let genuine = send(addr, "POST", "/answer", &headers, body).await;
    assert_eq!(genuine.status, 200);
    let said = format!("<Response><Speak>verified v3 {nonce}</Speak></Response>");
    assert_eq!(genuine.body, said);
    // The same request again: a replay.
    let replayed = send(addr, "POST", "/answer", &headers, body).await;
    assert_eq!(replayed.status, 403);
    // Another body under the captured signature; another path.
    let forged = send(addr, "POST", "/answer", &headers, "CallUUID=evil").await;
    assert_eq!(forged.status, 403);
    let elsewhere = send(addr, "POST", "/hangup", &headers, body).await;
    assert_eq!(elsewhere.status, 403);
    // Unsigned, and signed with V2 (not accepted unless asked for).
    let unsigned = send(addr, "POST", "/answer", &[FORM], body).await;
    assert_eq!(unsigned.status, 403);
    let v2_nonce = fresh_nonce();
    let v2 = Signer::new(TOKEN)
        .sign_v2(&format!("{PUBLIC}/answer"), &v2_nonce)
        .unwrap();
    let v2_headers = [
        (V2_SIGNATURE, v2.as_str()),
        (V2_NONCE, v2_nonce.as_str()),
        FORM,
    ];
    let v2_reply = send(addr, "POST", "/answer", &v2_headers, body).await;
    assert_eq!(v2_reply.status, 403);
    // A body over the limit, refused from its declared length before it is read.
    let huge = "a=".to_owned() + &"b".repeat(tower_plivo::PlivoGuardBuilder::DEFAULT_BODY_LIMIT);
    let url = format!("{PUBLIC}/answer");
    let oversized = signed_form_post(addr, TOKEN, &url, "/answer", &huge).await;
    assert_eq!(oversized.status, 413);
}

/// The glue between the markers of `examples/actix.rs`, without its doc comment.
fn glue() -> &'static str {
    let source = include_str!("../../examples/actix.rs");
    let begin = source.find("// glue: begin\n").unwrap() + "// glue: begin\n".len();
    let end = source.find("// glue: end").unwrap();
    &source[begin..end]
}

#[test]
fn the_glue_is_at_most_15_lines() {
    let lines = glue()
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with("//"))
        .count();
    assert!(lines <= 15, "the actix-web glue is {lines} lines");
}

#[test]
fn the_deployment_guide_shows_the_glue_as_the_example_has_it() {
    let guide = include_str!("../../docs/guides/deployments.md");
    assert!(
        guide.contains(glue()),
        "docs/guides/deployments.md drifted from examples/actix.rs"
    );
}
