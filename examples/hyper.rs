//! `PlivoSignatureLayer` on a plain hyper 1 server (no axum, no tonic): a `tower::service_fn`
//! echo handler behind the layer, served over HTTP/1.1 by hyper's `http1` connection builder
//! with the limits of `examples/shared/serving.rs`, and the TCP peer address put into each
//! request as a `tower_plivo::PeerAddr` so the layer can tell a trusted proxy from a stranger.
//!
//! ```text
//! cargo run --example hyper
//! ```
//!
//! | variable | meaning |
//! |---|---|
//! | `PLIVO_AUTH_TOKEN` | the account/sub-account auth token (never printed); unset: the public demo token, printed |
//! | `PLIVO_TRUSTED_PROXIES` | comma-separated CIDRs whose `X-Forwarded-Proto` is believed (the origin is the request's `Host`, over `http` unless that header says `https`); default `127.0.0.1,::1` (a local tunnel such as ngrok or cloudflared, which ends TLS) |
//! | `BIND` | listen address, default `127.0.0.1:3001` |
//! | `PLIVO_HEADER_READ_TIMEOUT_MS`, `PLIVO_MAX_CONNECTIONS` | the connection limits of `examples/shared/serving.rs` (defaults 30000 ms and 512), as in the `server` example |
//!
//! Every verified request gets its body echoed back as `text/plain`, with what the layer
//! verified in `x-plivo-verified-*` response headers. At start it prints a `sign` command that
//! gets 200 and one that gets 403, aimed at its own address (with the demo token, which it
//! prints; with your token, read from `$PLIVO_AUTH_TOKEN` in your shell, never printed):
//!
//! ```text
//! cargo run --example sign -- --token 'MAdemoTOKENdoNOTuseINproduction0' \
//!     --url 'http://127.0.0.1:3001/answer' --to 'http://127.0.0.1:3001' --data 'CallUUID=…'
//! ```

#[path = "shared/demo.rs"]
mod demo;
#[path = "shared/logging.rs"]
mod logging;
#[path = "shared/serving.rs"]
mod serving;
#[path = "shared/try_it.rs"]
mod try_it;

use std::convert::Infallible;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tower::ServiceBuilder;
use tower_plivo::service::RequestBody;
use tower_plivo::{PeerAddr, PlivoVerified};

use try_it::{DEMO_CALL, ShellWord, TryIt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    logging::init();

    let (plivo, demo_token) = demo::tunnel_layer()?;
    let limits = serving::Limits::from_env()?;

    let bind = demo::env("BIND").unwrap_or_else(|| "127.0.0.1:3001".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    let answer = ShellWord::literal(&format!("http://{addr}/answer"));
    TryIt::demo_or_user_token(demo_token.then_some(demo::DEMO_TOKEN), addr)
        .signed(
            "a signed call gets 200, its body echoed back:",
            answer.clone(),
            Some(DEMO_CALL),
        )
        .unknown_token(answer, Some(DEMO_CALL))
        .print();

    // One service per connection: the peer address is known here and nowhere later, so it
    // goes into every request of this connection before the layer looks for it.
    serving::serve(listener, limits, |peer| {
        ServiceBuilder::new()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(PeerAddr(peer));
                request
            })
            .layer(plivo.clone())
            .service_fn(echo)
    })
    .await;
    Ok(())
}

/// Echoes the verified body and reports what the layer verified. The layer only lets verified
/// requests through, so `PlivoVerified` is always present here.
async fn echo(
    request: Request<RequestBody<Incoming>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let verified = request.extensions().get::<PlivoVerified>().cloned();
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        // Verified bodies are already buffered, so this cannot fail on the guarded path; answer
        // 400 rather than panic if it ever does.
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
    };
    let mut response = Response::new(Full::new(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    if let Some(verified) = verified {
        let token = verified.token().to_string();
        let pairs = [
            ("x-plivo-verified-version", verified.version().as_str()),
            ("x-plivo-verified-token", token.as_str()),
            ("x-plivo-verified-nonce", verified.nonce()),
            ("x-plivo-verified-url", verified.url()),
        ];
        for (name, value) in pairs {
            // The nonce and URL came from the request's own headers and target, so they are
            // valid header values; skip rather than fail if one is not.
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
    }
    Ok(response)
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = code;
    response
}
