//! Exporting the layer's verdicts to Prometheus with the `metrics` feature: the layer reports
//! through the `metrics` facade, and `metrics-exporter-prometheus` renders what it recorded.
//!
//! ```text
//! cargo run --example metrics --features metrics
//! curl -s http://127.0.0.1:3002/plivo/answer -X POST        # 403, counted as missing_signature
//! cargo run --example sign -- --token MAdemoTOKENdoNOTuseINproduction0 \
//!     --url http://127.0.0.1:3002/plivo/answer --to http://127.0.0.1:3002   # 200, accepted
//! curl -s http://127.0.0.1:3002/metrics                      # the metrics (not guarded)
//! ```
//!
//! `/metrics` then shows `plivo_webhook_requests_total{verdict="rejected",reason="missing_signature"} 1`,
//! `plivo_webhook_requests_total{verdict="accepted",reason="none"} 1` and the
//! `plivo_webhook_verify_duration_seconds` summary of the signed request's verification.
//!
//! Env: `PLIVO_AUTH_TOKEN` (a demo token when unset), `BIND` (default `127.0.0.1:3002`),
//! `PLIVO_HEADER_READ_TIMEOUT_MS` and `PLIVO_MAX_CONNECTIONS` (the connection limits of
//! `examples/shared/serving.rs`, defaults 30000 ms and 512, as in the `server` example). Any
//! other exporter of the `metrics` ecosystem works the same way: install its recorder before
//! serving. Here `/metrics` shares the webhooks' port, unguarded, to keep the demo to one
//! server; in production serve it on an internal port (or behind your own auth), since the
//! counters show who is probing your webhooks and how.

#[path = "shared/demo.rs"]
mod demo;
#[path = "shared/serving.rs"]
mod serving;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusBuilder;
use tower_plivo::{PlivoSignatureLayer, Scheme, UrlPolicy};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let limits = serving::Limits::from_env()?;
    let token = demo::env("PLIVO_AUTH_TOKEN").unwrap_or_else(|| demo::DEMO_TOKEN.to_owned());
    // Installed before the layer sees a request, so that the exporter gets every verdict and
    // the metrics' descriptions (sent with the first verdict).
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    // Without the exporter's own HTTP listener, its upkeep is ours: it folds recorded
    // histogram samples into their summaries, so memory stays bounded between scrapes.
    let upkeep = prometheus.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    let plivo = PlivoSignatureLayer::builder()
        .auth_token(token)
        // Any Host, over http: a demo. In production, `UrlPolicy::public_base(..)`.
        .url_policy(UrlPolicy::from_request(Scheme::Http))
        .build()?;
    // The layer guards the webhook routes only (`route_layer`); `/metrics` is added after it.
    let app = Router::new()
        .route("/plivo/answer", post(|| async { "<Response/>" }))
        .route_layer(plivo)
        .route("/metrics", get(move || async move { prometheus.render() }));
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3002".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on http://{}", listener.local_addr()?);
    serving::serve_router(listener, limits, app).await;
    Ok(())
}
