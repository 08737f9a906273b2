//! One port, two kinds of traffic: a real gRPC service (the standard health service from
//! `tonic-health`) and Plivo webhooks under `/plivo`, served by one `tonic` server. The
//! `PlivoSignatureLayer` is composed onto the webhook routes only (an axum router with
//! `route_layer`, merged into tonic's `Routes`), so gRPC calls never meet it and a new gRPC
//! service needs no configuration, while every webhook route is guarded.
//!
//! ```text
//! cargo run --example tonic --features tonic
//! ```
//!
//! | variable | meaning |
//! |---|---|
//! | `PLIVO_AUTH_TOKEN` | the account/sub-account auth token (never printed); unset: the public demo token, printed |
//! | `PLIVO_TRUSTED_PROXIES` | comma-separated CIDRs whose `X-Forwarded-Proto` is believed (the origin is the request's `Host`); default `127.0.0.1,::1` (the peer address comes from tonic's `TcpConnectInfo`) |
//! | `BIND` | listen address, default `127.0.0.1:50051` |
//!
//! `GET|POST /plivo/answer` answers Plivo XML; any other verified `/plivo/...` request gets its
//! body echoed. At start it prints a `sign` command that gets 200 from `/plivo/answer` (over
//! HTTP/1.1, as Plivo calls) and one that gets 403, aimed at its own address. gRPC needs no
//! signature:
//!
//! ```text
//! grpcurl -plaintext 127.0.0.1:50051 grpc.health.v1.Health/Check
//! ```

#[path = "shared/demo.rs"]
mod demo;
#[path = "shared/logging.rs"]
mod logging;
#[path = "shared/try_it.rs"]
mod try_it;

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use try_it::{DEMO_CALL, ShellWord, TryIt};

const ANSWER_XML: &str = r#"<Response><Speak>Hello, from Plivo</Speak></Response>"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    logging::init();

    let (plivo, demo_token) = demo::tunnel_layer()?;

    let (health, health_service) = tonic_health::server::health_reporter();
    // The empty service name is the server as a whole, what `grpc_health_probe` asks about.
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;

    let bind = demo::env("BIND").unwrap_or_else(|| "127.0.0.1:50051".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    let answer = ShellWord::literal(&format!("http://{addr}/plivo/answer"));
    TryIt::demo_or_user_token(demo_token.then_some(demo::DEMO_TOKEN), addr)
        .signed(
            "a signed call to the webhook route gets 200 and Plivo XML:",
            answer.clone(),
            Some(DEMO_CALL),
        )
        .unknown_token(answer, Some(DEMO_CALL))
        .print();

    // The gRPC service and the webhooks in one router. Starting from tonic's own `Routes`
    // keeps its fallback, so an unknown gRPC method still gets a proper `UNIMPLEMENTED`. The
    // layer is on the webhook routes only (`route_layer`): nothing can route a request past
    // it into a webhook, and gRPC never meets it.
    let routes: Routes = Routes::new(health_service)
        .into_axum_router()
        .merge(webhooks().route_layer(plivo))
        .into();

    Server::builder()
        // Plivo calls webhooks over HTTP/1.1; gRPC keeps using HTTP/2 on the same port.
        .accept_http1(true)
        // What tonic offers against slow or idle clients (the HTTP/1 examples' limits are in
        // examples/shared/serving.rs). A handler's answer within 30 s (a client's shorter
        // `grpc-timeout` wins); a streaming response's body may then last as long as it needs.
        .timeout(Duration::from_secs(30))
        // Ping each HTTP/2 client every 30 s and close the connection of one that does not
        // answer within 10 s: a vanished client frees its connection and streams.
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        // Per connection: at most 100 streams open and 32 requests being handled at once.
        .max_concurrent_streams(100)
        .concurrency_limit_per_connection(32)
        // An HTTP/2 header block within 16 KiB, as the other examples' HTTP/1 heads.
        .http2_max_header_list_size(16 * 1024)
        // Left uncovered, as tonic 0.14 offers no setting for them:
        // - a connection that sends nothing stays open: tonic serves with hyper-util's `auto`
        //   builder, which first reads the opening bytes to tell HTTP/1 from HTTP/2, with no
        //   timer;
        // - an HTTP/1 request head has hyper's default 30 s (tonic gives hyper a timer, so it
        //   applies; `PLIVO_HEADER_READ_TIMEOUT_MS` does not reach it) and may buffer hyper's
        //   default ~400 KiB, not 16 KiB;
        // - no bound on connections: wrap the incoming stream in a semaphore to add one (as
        //   `Gate` does in serving.rs, the stream type implementing tonic's `Connected`);
        // - an HTTP/2 connection whose client answers pings stays open while idle.
        .add_routes(routes)
        // `TcpIncoming` (rather than a bare listener stream) gives each request tonic's
        // `TcpConnectInfo`, which is where the layer finds the peer address.
        .serve_with_incoming(TcpIncoming::from(listener))
        .await?;
    Ok(())
}

/// The webhook routes, each guarded by the layer.
fn webhooks() -> Router {
    Router::new()
        .route("/plivo/answer", get(answer).post(answer))
        .route("/plivo/{*rest}", any(echo))
}

async fn answer() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/xml")], ANSWER_XML)
}

async fn echo(body: Bytes) -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/plain")], body)
}
