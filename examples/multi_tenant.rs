//! One endpoint for many Plivo accounts: each tenant's tokens from an SQLite database.
//!
//! ```text
//! TENANTS_DB=tenants.db cargo run --example multi_tenant
//! ```
//!
//! | variable | meaning |
//! |---|---|
//! | `TENANTS_DB` | path of the SQLite file (required), with table `tenants(name TEXT PRIMARY KEY, auth_tokens TEXT NOT NULL, main_auth_tokens TEXT)`; each tokens column a comma-separated list |
//! | `TENANT_CACHE_SECS` | how long a tenant's tokens are cached, so how soon a changed row takes effect (default 60) |
//! | `PLIVO_PUBLIC_URL` | `scheme://host[:port]` Plivo calls; unset: `http://` + the request's `Host` |
//! | `BIND` | listen address, default `127.0.0.1:3000` |
//!
//! `GET|POST /{tenant}/answer` (V3) and `GET|POST /{tenant}/sms` (V3 or V2, as Plivo signs
//! messaging callbacks) answer `tenant=<name>` once verified with that tenant's tokens; the
//! tenant is the first path segment as received. Other paths are 404. An unknown tenant gets
//! 403 like any forgery; a tenant the database cannot answer for (the file unreadable, or a row
//! without a usable token) gets 503 so Plivo retries, and an ERROR line. While the database is
//! down, a tenant already cached is served until its cache time runs out. Replay protection is
//! on (in memory).

#[path = "shared/demo.rs"]
mod demo;
#[path = "shared/logging.rs"]
mod logging;
#[path = "multi_tenant/store.rs"]
mod store;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Router};
use tower_plivo::tenants::TenantCache;
use tower_plivo::{PlivoSignatureLayer, PlivoVerified, Scheme, UrlPolicy};

use demo::env;
use store::SqliteTenants;

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    demo::exit_code(run().await)
}

async fn run() -> Result<(), String> {
    let db = env("TENANTS_DB").ok_or("TENANTS_DB: required (the SQLite file of tenants)")?;
    let secs = match env("TENANT_CACHE_SECS") {
        None => 60,
        Some(secs) => secs.trim().parse().map_err(|_| {
            format!("TENANT_CACHE_SECS: must be a whole number of seconds, not {secs:?}")
        })?,
    };
    let policy = match env("PLIVO_PUBLIC_URL") {
        Some(url) => UrlPolicy::public_base(&url).map_err(|e| format!("PLIVO_PUBLIC_URL: {e}"))?,
        None => UrlPolicy::from_request(Scheme::Http),
    };
    let cache_time = Duration::from_secs(secs);
    let tenants = TenantCache::builder(SqliteTenants { path: db.into() })
        .ttl(cache_time)
        .unknown_ttl(cache_time.min(Duration::from_secs(10)))
        .build()
        .map_err(|e| e.to_string())?;
    // One cache for both routes; V2 only where Plivo uses it (messaging).
    let layer = |accept_v2| {
        PlivoSignatureLayer::builder()
            .tenants(tenants.clone())
            .url_policy(policy.clone())
            .accept_v2(accept_v2)
            .build()
            .map_err(|e| e.to_string())
    };
    let app = Router::new()
        .route("/{tenant}/answer", get(answer).post(answer))
        .route_layer(layer(false)?)
        .merge(
            Router::new()
                .route("/{tenant}/sms", get(answer).post(answer))
                .route_layer(layer(true)?),
        );

    let bind = env("BIND").unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| format!("BIND: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("BIND: {e}"))?;
    println!("listening on http://{addr}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .map_err(|e| format!("server: {e}"))
}

/// The tenant the request verified as: from the layer, never parsed again from the path.
async fn answer(Extension(verified): Extension<PlivoVerified>) -> impl IntoResponse {
    let tenant = verified.tenant().unwrap_or_default().to_owned();
    ([(CONTENT_TYPE, "text/plain")], format!("tenant={tenant}"))
}
