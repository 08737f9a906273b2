//! BENCHMARK BASELINE ONLY: the `server` example's app with **no** `PlivoSignatureLayer`, so
//! it accepts any request. `benches/load.sh` drives it and `server` with the same load to
//! measure what the layer costs end to end. Never expose it.
//!
//! ```text
//! BIND=127.0.0.1:3001 cargo run --release --example server_unguarded
//! ```
//!
//! Same routes and handlers as `server` (shared from `examples/shared/webhook_app.rs`), same
//! Tokio runtime, same serving (`examples/shared/serving.rs`: `ConnectInfo`, the header read
//! timeout, the head size and connection limits, read from the same `PLIVO_HEADER_READ_TIMEOUT_MS`
//! and `PLIVO_MAX_CONNECTIONS`), same `tracing` subscriber set-up.

#[path = "shared/logging.rs"]
mod logging;
#[path = "shared/serving.rs"]
mod serving;
#[path = "shared/webhook_app.rs"]
mod webhook_app;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    logging::init();
    let limits = serving::Limits::from_env()?;
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3001".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!(
        "listening on http://{} (UNGUARDED benchmark baseline: no signature check)",
        listener.local_addr()?
    );
    serving::serve_router(listener, limits, webhook_app::routes()).await;
    Ok(())
}
