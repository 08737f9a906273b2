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
//! | `PLIVO_AUTH_TOKEN` | the account/sub-account auth token; unset: a demo token |
//! | `PLIVO_TRUSTED_PROXIES` | comma-separated CIDRs whose `X-Forwarded-Proto` is believed (the origin is the request's `Host`); default `127.0.0.1,::1` (the peer address comes from tonic's `TcpConnectInfo`) |
//! | `BIND` | listen address, default `127.0.0.1:50051` |
//!
//! `GET|POST /plivo/answer` answers Plivo XML; any other verified `/plivo/...` request gets its
//! body echoed. Try it:
//!
//! ```text
//! grpcurl -plaintext 127.0.0.1:50051 grpc.health.v1.Health/Check       # no signature needed
//! cargo run --example sign -- --token MAdemoTOKENdoNOTuseINproduction0 \
//!     --url http://127.0.0.1:50051/plivo/answer --data 'CallUUID=1&From=14155550100'
//! ```

#[path = "shared/demo.rs"]
mod demo;
#[path = "shared/logging.rs"]
mod logging;

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

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
    println!("listening on http://{}", listener.local_addr()?);
    if demo_token {
        println!("demo token in use (set PLIVO_AUTH_TOKEN for real traffic)");
    }

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
