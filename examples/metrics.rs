//! Exporting verdict counters in the Prometheus text format.
//!
//! ```text
//! cargo run --example metrics
//! curl -s http://127.0.0.1:3002/plivo/answer -X POST        # 403, counted as missing_signature
//! curl -s http://127.0.0.1:3002/metrics                      # the counters (not guarded)
//! ```
//!
//! Env: `PLIVO_AUTH_TOKEN` (a demo token when unset), `BIND` (default `127.0.0.1:3002`). With the
//! `prometheus` or `metrics` crates, do the same from the [`Metrics`] callbacks.

#[path = "shared/demo.rs"]
mod demo;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use tower_plivo::{
    Metrics, PlivoSignatureLayer, PlivoVerified, Rejection, Scheme, SignatureVersion, UrlPolicy,
};

/// Counters by verdict, signature version and reason.
#[derive(Default)]
struct Counters {
    accepted_v3: AtomicU64,
    accepted_v2: AtomicU64,
    // Few distinct reasons, rarely contended: a mutex is simpler than one atomic per reason.
    rejected: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics for Counters {
    fn accepted(&self, verified: &PlivoVerified) {
        let counter = match verified.version() {
            SignatureVersion::V2 => &self.accepted_v2,
            // V3, and any version a later Plivo adds.
            _ => &self.accepted_v3,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn rejected(&self, rejection: Rejection) {
        *self
            .rejected
            .lock()
            .unwrap()
            .entry(rejection.code())
            .or_default() += 1;
    }
}

impl Counters {
    fn prometheus_text(&self) -> String {
        let mut out = String::from(
            "# HELP plivo_webhooks_accepted_total Plivo webhooks whose signature verified.\n\
             # TYPE plivo_webhooks_accepted_total counter\n",
        );
        for (version, counter) in [("v3", &self.accepted_v3), ("v2", &self.accepted_v2)] {
            let _ = writeln!(
                out,
                "plivo_webhooks_accepted_total{{version=\"{version}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP plivo_webhooks_rejected_total Requests refused by the Plivo signature layer.\n\
             # TYPE plivo_webhooks_rejected_total counter\n",
        );
        for (reason, count) in self.rejected.lock().unwrap().iter() {
            let _ = writeln!(
                out,
                "plivo_webhooks_rejected_total{{reason=\"{reason}\"}} {count}"
            );
        }
        out
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let token = demo::env("PLIVO_AUTH_TOKEN").unwrap_or_else(|| demo::DEMO_TOKEN.to_owned());
    let counters = Arc::new(Counters::default());
    let plivo = PlivoSignatureLayer::builder()
        .auth_token(token)
        // Any Host, over http: a demo. In production, `UrlPolicy::public_base(..)`.
        .url_policy(UrlPolicy::from_request(Scheme::Http))
        .metrics(counters.clone())
        .build()?;
    // The layer guards the webhook routes only (`route_layer`); `/metrics` is added after it.
    let app = Router::new()
        .route("/plivo/answer", post(|| async { "<Response/>" }))
        .route_layer(plivo)
        .route(
            "/metrics",
            get(|State(counters): State<Arc<Counters>>| async move { counters.prometheus_text() }),
        )
        .with_state(counters);
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3002".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
