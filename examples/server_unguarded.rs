//! BENCHMARK BASELINE ONLY: the `server` example's app with **no** `PlivoSignatureLayer`, so
//! it accepts any request. `benches/load.sh` drives it and `server` with the same load to
//! measure what the layer costs end to end. Never expose it.
//!
//! ```text
//! BIND=127.0.0.1:3001 cargo run --release --example server_unguarded
//! ```
//!
//! Same routes and handlers as `server` (shared from `examples/shared/webhook_app.rs`), same
//! Tokio runtime, same `into_make_service_with_connect_info`, same `tracing` subscriber set-up.

#[path = "shared/logging.rs"]
mod logging;
#[path = "shared/webhook_app.rs"]
mod webhook_app;

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    logging::init();
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3001".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!(
        "listening on http://{} (UNGUARDED benchmark baseline: no signature check)",
        listener.local_addr()?
    );
    axum::serve(
        listener,
        webhook_app::routes().into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
