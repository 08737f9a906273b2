//! A Plivo webhook server guarded on every path by `PlivoSignatureLayer`.
//!
//! ```text
//! cargo run --example server
//! ```
//!
//! | variable | meaning |
//! |---|---|
//! | `PLIVO_AUTH_TOKEN` | comma-separated account/sub-account tokens; unset: a demo token, and ready-to-paste `curl` commands are printed |
//! | `PLIVO_MAIN_AUTH_TOKEN` | main-account token (checks the `-Ma-` headers) |
//! | `PLIVO_PUBLIC_URL` | `scheme://host[:port]` Plivo calls; when set, always the origin verified |
//! | `PLIVO_TRUSTED_PROXIES` | comma-separated CIDRs whose forwarding headers are believed |
//! | `BIND` | listen address, default `127.0.0.1:3000` |
//! | `PLIVO_REPLAY_STORE` | `memory` (default), `off`, or `redis://…` (needs `--features redis`) |
//! | `PLIVO_REPLAY_TTL_SECS` | how long a nonce is remembered (default 3600) |
//! | `PLIVO_DIAGNOSE` | `1`: on a signature mismatch, log which URL/token variant would have matched and the fix |
//! | `PLIVO_REPORT_ONLY` | `1`: verify and log, but let every request through (rollout) |
//!
//! `GET|POST /speak/` answers Plivo XML; any other verified request gets its body echoed back
//! as `text/plain`. Each request logs one line on stderr (never a token).

#[path = "shared/webhook_app.rs"]
mod webhook_app;

use std::net::SocketAddr;

use tower_plivo::replay::MemoryNonceStore;
use tower_plivo::signature::{Method, Signer};
use tower_plivo::{PlivoSignatureLayer, PlivoSignatureLayerBuilder, Scheme, UrlPolicy};

const DEMO_TOKEN: &str = "MAdemoTOKENdoNOTuseINproduction0";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "tower_plivo=debug".into()),
        )
        .init();

    let tokens = env("PLIVO_AUTH_TOKEN");
    let demo = tokens.is_none();
    let tokens: Vec<String> = match &tokens {
        Some(list) => list.split(',').map(|t| t.trim().to_owned()).collect(),
        None => vec![DEMO_TOKEN.to_owned()],
    };
    let public_url = env("PLIVO_PUBLIC_URL");
    let policy = match (&public_url, env("PLIVO_TRUSTED_PROXIES")) {
        (Some(url), _) => UrlPolicy::public_base(url)?,
        (None, Some(cidrs)) => UrlPolicy::trusted_proxies(cidrs.split(','))?,
        (None, None) => UrlPolicy::from_request(Scheme::Http),
    };
    let mut builder = PlivoSignatureLayer::builder()
        .auth_tokens(tokens.iter().cloned())
        .url_policy(policy);
    if let Some(main) = env("PLIVO_MAIN_AUTH_TOKEN") {
        builder = builder.main_account_token(main);
    }
    builder = builder
        .diagnose(env("PLIVO_DIAGNOSE").is_some_and(|v| v == "1"))
        .report_only(env("PLIVO_REPORT_ONLY").is_some_and(|v| v == "1"));
    let plivo = with_replay_store(builder)?.build()?;

    let app = webhook_app::routes().layer(plivo);

    let bind = env("BIND").unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    if demo {
        let origin = public_url
            .as_deref()
            .map(|url| url.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{addr}"));
        print_demo_curls(&origin, addr, &tokens[0]);
    }
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

/// `PLIVO_REPLAY_STORE`: `memory` (default), `off`, or a `redis://` URL.
fn with_replay_store(
    builder: PlivoSignatureLayerBuilder,
) -> Result<PlivoSignatureLayerBuilder, Box<dyn std::error::Error>> {
    let ttl = match env("PLIVO_REPLAY_TTL_SECS") {
        Some(secs) => std::time::Duration::from_secs(
            secs.parse()
                .map_err(|_| "PLIVO_REPLAY_TTL_SECS must be a number of seconds")?,
        ),
        None => tower_plivo::replay::DEFAULT_TTL,
    };
    let store = env("PLIVO_REPLAY_STORE").unwrap_or_else(|| "memory".to_owned());
    match store.as_str() {
        "off" => {
            eprintln!("replay protection is OFF: a captured request can be replayed");
            Ok(builder)
        }
        "memory" => Ok(builder.replay_store(MemoryNonceStore::new().ttl(ttl))),
        url if url.starts_with("redis://") || url.starts_with("rediss://") => {
            redis_store(builder, url, ttl)
        }
        other => Err(format!(
            "PLIVO_REPLAY_STORE must be memory, off or redis://..., not {other:?}"
        )
        .into()),
    }
}

#[cfg(feature = "redis")]
fn redis_store(
    builder: PlivoSignatureLayerBuilder,
    url: &str,
    ttl: std::time::Duration,
) -> Result<PlivoSignatureLayerBuilder, Box<dyn std::error::Error>> {
    Ok(builder.replay_store(tower_plivo::replay::RedisNonceStore::new(url)?.ttl(ttl)))
}

#[cfg(not(feature = "redis"))]
fn redis_store(
    _: PlivoSignatureLayerBuilder,
    _: &str,
    _: std::time::Duration,
) -> Result<PlivoSignatureLayerBuilder, Box<dyn std::error::Error>> {
    Err("a redis:// replay store needs the example built with --features redis".into())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Prints one request that verifies and one that does not, both aimed at the bound address.
fn print_demo_curls(origin: &str, addr: SocketAddr, token: &str) {
    let body = "CallUUID=4c8e3f2a-demo&From=14155550100&To=14155550199&Direction=inbound";
    let nonce = "12345678901234567890";
    let signature = Signer::new(token)
        .sign_v3(
            Method::Post,
            &format!("{origin}/speak/"),
            body.as_bytes(),
            nonce,
        )
        .expect("the origin is a URL");
    let curl = |body: &str| {
        format!(
            "curl -i http://{addr}/speak/ -H 'X-Plivo-Signature-V3: {signature}' \
             -H 'X-Plivo-Signature-V3-Nonce: {nonce}' --data '{body}'"
        )
    };
    println!("demo token in use (set PLIVO_AUTH_TOKEN for real traffic)");
    println!(
        "this request is signed and gets 200 (once: replay protection refuses its nonce after that):\n  {}",
        curl(body)
    );
    println!(
        "this one has a tampered body and gets 403:\n  {}",
        curl(&body.replace("14155550100", "14155550666"))
    );
}
