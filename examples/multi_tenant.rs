//! One endpoint for many Plivo accounts: each tenant's tokens from an SQLite database.
//!
//! ```text
//! TENANTS_DB=tenants.db cargo run --example multi_tenant    # your tenants
//! cargo run --example multi_tenant -- --demo                # a demo database, one tenant
//! ```
//!
//! | variable | meaning |
//! |---|---|
//! | `TENANTS_DB` | path of the SQLite file, with table `tenants(name TEXT PRIMARY KEY, auth_tokens TEXT NOT NULL, main_auth_tokens TEXT)`; each tokens column a comma-separated list. Only read, never written. Required, unless the example runs with `--demo`: then a demo database is created in the temporary directory (removed on Ctrl-C) with one tenant, `demo`, whose token is the public demo token |
//! | `TENANT_CACHE_SECS` | how long a tenant's tokens are cached, so how soon a changed row takes effect (default 60) |
//! | `PLIVO_PUBLIC_URL` | `scheme://host[:port]` Plivo calls; unset: `http://` + the request's `Host` |
//! | `BIND` | listen address, default `127.0.0.1:3000` |
//! | `PLIVO_HEADER_READ_TIMEOUT_MS`, `PLIVO_MAX_CONNECTIONS` | the connection limits of `examples/shared/serving.rs` (defaults 30000 ms and 512), as in the `server` example |
//!
//! `GET|POST /{tenant}/answer` (V3) and `GET|POST /{tenant}/sms` (V3 or V2, as Plivo signs
//! messaging callbacks) answer `tenant=<name>` once verified with that tenant's tokens; the
//! tenant is the first path segment as received. `GET|POST /messages` (V3 only) names its tenant
//! in the message instead, as a platform that knows its customer by the number called does: the
//! signed parameter `To` (the form body of a POST, the query of a GET) is the tenant's row name,
//! read once the body is, and only that row's `auth_tokens` verify it (its `main_auth_tokens`,
//! which sub-accounts share, never do; see `TenantCacheBuilder::tenant_from_signed_parameter`).
//! Other paths are 404. An unknown tenant gets
//! 403 like any forgery; a tenant the database cannot answer for (the file unreadable, or a row
//! without a usable token) gets 503 so Plivo retries, and an ERROR line. While the database is
//! down, a tenant already cached is served until its cache time runs out. Replay protection is
//! on (in memory).
//!
//! At start it prints a `sign` command that gets 200 from a tenant's answer URL and one that
//! gets 403, aimed at its own address: with the demo database, for tenant `demo` with the demo
//! token; with yours, templates that read a tenant's name and token from `$TENANT` and `$TOKEN`
//! in your shell (a token from your database is never printed).

#[path = "shared/demo.rs"]
mod demo;
#[path = "shared/logging.rs"]
mod logging;
#[path = "shared/serving.rs"]
mod serving;
#[path = "multi_tenant/store.rs"]
mod store;
#[path = "shared/try_it.rs"]
mod try_it;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Router};
use tower_plivo::tenants::TenantCache;
use tower_plivo::{PlivoSignatureLayer, PlivoVerified, Scheme, UrlPolicy};

use demo::{DEMO_TOKEN, env};
use store::SqliteTenants;
use try_it::{DEMO_CALL, ShellWord, TryIt};

/// The one tenant of the demo database.
const DEMO_TENANT: &str = "demo";

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    demo::exit_code(run().await)
}

async fn run() -> Result<(), String> {
    let limits = serving::Limits::from_env()?;
    // The user's database is only read; the demo one is the example's own, so its token (the
    // public demo token) may be printed.
    let demo = std::env::args().skip(1).any(|arg| arg == "--demo");
    let (db, demo_db) = match (env("TENANTS_DB"), demo) {
        (Some(path), false) => (PathBuf::from(path), None),
        (Some(_), true) => {
            return Err("TENANTS_DB and --demo: choose one (your database, or the demo's)".into());
        }
        (None, false) => {
            return Err(
                "TENANTS_DB is required: the path of your tenants' SQLite file (see the \
                        example's header); to try the example with a demo database of one \
                        tenant, run it with --demo (cargo run --example multi_tenant -- --demo)"
                    .into(),
            );
        }
        (None, true) => {
            let path = std::env::temp_dir().join(format!(
                "tower-plivo-demo-tenants-{}.db",
                std::process::id()
            ));
            store::create_demo(&path, DEMO_TENANT, DEMO_TOKEN)
                .map_err(|e| format!("the demo database {}: {e}", path.display()))?;
            (path.clone(), Some(path))
        }
    };
    let secs = match env("TENANT_CACHE_SECS") {
        None => 60,
        Some(secs) => secs.trim().parse().map_err(|_| {
            format!("TENANT_CACHE_SECS: must be a whole number of seconds, not {secs:?}")
        })?,
    };
    let public_url = env("PLIVO_PUBLIC_URL");
    let policy = match &public_url {
        Some(url) => UrlPolicy::public_base(url).map_err(|e| format!("PLIVO_PUBLIC_URL: {e}"))?,
        None => UrlPolicy::from_request(Scheme::Http),
    };
    let cache_time = Duration::from_secs(secs);
    let tenants = TenantCache::builder(SqliteTenants { path: db.clone() })
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
    // Tenants named by the number called: a cache of their own over the same database.
    let by_number = TenantCache::builder(SqliteTenants { path: db.clone() })
        .ttl(cache_time)
        .unknown_ttl(cache_time.min(Duration::from_secs(10)))
        .tenant_from_signed_parameter("To")
        .build()
        .map_err(|e| e.to_string())?;
    let by_number = PlivoSignatureLayer::builder()
        .tenants(by_number)
        .url_policy(policy.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let app = Router::new()
        .route("/{tenant}/answer", get(answer).post(answer))
        .route_layer(layer(false)?)
        .merge(
            Router::new()
                .route("/{tenant}/sms", get(answer).post(answer))
                .route_layer(layer(true)?),
        )
        .merge(
            Router::new()
                .route("/messages", get(answer).post(answer))
                .route_layer(by_number),
        );

    let bind = env("BIND").unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| format!("BIND: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("BIND: {e}"))?;
    println!("listening on http://{addr}");
    let origin = public_url
        .as_deref()
        .map(|url| url.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("http://{addr}"));
    print_try_it(&origin, addr, demo_db.as_deref());
    // Until Ctrl-C, then stop so the demo database can be removed.
    tokio::select! {
        () = serving::serve_router(listener, limits, app) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    if let Some(path) = demo_db {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Prints a request to a tenant's answer URL that gets 200 and one that gets 403, sent to the
/// bound address and signed for `origin`. With the demo database (`demo_db`), for its tenant and
/// the demo token; with the user's, templates for a tenant and token the user exports.
fn print_try_it(origin: &str, addr: SocketAddr, demo_db: Option<&std::path::Path>) {
    let (mut try_it, answer) = match demo_db {
        Some(path) => {
            let mut try_it = TryIt::demo_token(DEMO_TOKEN, "TENANTS_DB", addr);
            try_it.note(&format!(
                "--demo: serving a demo database, {}, with one tenant, {DEMO_TENANT} \
                 (removed on Ctrl-C)",
                path.display()
            ));
            let answer = format!("{origin}/{DEMO_TENANT}/answer");
            (try_it, ShellWord::literal(&answer))
        }
        None => (
            TryIt::token_variable(
                "TOKEN",
                "tenants from TENANTS_DB, whose tokens are never printed: export TENANT (a \
                 tenant's name) and TOKEN (its auth token) in the shell you run these from",
                addr,
            ),
            ShellWord::with_variable(&format!("{origin}/"), "TENANT", "/answer"),
        ),
    };
    try_it
        .signed(
            "a tenant's answer URL gets 200 and tenant=<its name>:",
            answer.clone(),
            Some(DEMO_CALL),
        )
        .unknown_token(answer, Some(DEMO_CALL))
        .print();
}

/// The tenant the request verified as: from the layer, never parsed again from the path.
async fn answer(Extension(verified): Extension<PlivoVerified>) -> impl IntoResponse {
    let tenant = verified.tenant().unwrap_or_default().to_owned();
    ([(CONTENT_TYPE, "text/plain")], format!("tenant={tenant}"))
}
