//! A Plivo webhook server guarded on every path by `PlivoSignatureLayer`.
//!
//! ```text
//! cargo run --example server
//! ```
//!
//! | variable | meaning |
//! |---|---|
//! | `PLIVO_AUTH_TOKEN` | comma-separated account/sub-account tokens; unset: the demo token, printed with ready-to-run `sign`, `curl` and `websocat` commands aimed at this server |
//! | `PLIVO_MAIN_AUTH_TOKEN` | main-account token (checks the `-Ma-` headers) |
//! | `PLIVO_PUBLIC_URL` | `scheme://host[:port]` Plivo calls, optionally with the path prefix a proxy in front strips (`https://hooks.example.com/plivo`: a request for `/answer` is verified as `https://hooks.example.com/plivo/answer`); when set, always the origin verified |
//! | `PLIVO_TRUSTED_PROXIES` | comma-separated CIDRs of your proxies; without `PLIVO_PUBLIC_URL` their `PLIVO_PROXY_HEADERS` correct the request's origin, with it they serve only to find the client for `PLIVO_SOURCE_NETWORKS` |
//! | `PLIVO_PROXY_HEADERS` | comma list of the headers those proxies set: `x-forwarded-proto`, `x-forwarded-host`, `x-forwarded-port`, `forwarded`, `x-forwarded-for`, `x-forwarded-prefix` (the path prefix the proxy stripped) (default `x-forwarded-proto`; a list replaces the default; needs `PLIVO_TRUSTED_PROXIES`) |
//! | `PLIVO_SOURCE_NETWORKS` | comma-separated CIDRs the client must be in (in addition to the signature) |
//! | `PLIVO_SIGNATURE_VERSIONS` | `v3` (default) or `v3,v2` (messaging and Verify callbacks; V2 signs neither body nor query) |
//! | `BIND` | listen address, default `127.0.0.1:3000` |
//! | `PLIVO_REPLAY_STORE` | `memory` (default), `off`, `redis://[user:password@]host:port[/db]` (one Redis node; needs `--features redis`), or `redis-cluster://[user:password@]host:port[,host:port…]` (a Redis Cluster through these seed nodes, the rest discovered; needs `--features redis-cluster`); `rediss://…` and `rediss-cluster://…` are the same over TLS (also need `--features redis-tls`). The user and password, written once, log in as an ACL user (`:password@` alone: the `default` user) on every node |
//! | `PLIVO_REPLAY_TTL_SECS` | how long a nonce is remembered (default 3600) |
//! | `PLIVO_DIAGNOSE` | `1` (default): the signature doctor logs what Plivo signed and the fix, for refusals a configuration could explain; `0`: off |
//! | `PLIVO_REPORT_ONLY` | `1`: verify and log, but let every request through (rollout) |
//! | `PLIVO_HEADER_READ_TIMEOUT_MS` | how long a connection has to send a whole request head, from its start and again after each response, before it is closed (default 30000): a silent, half-sent or idle keep-alive connection is closed then, never an open audio stream. Heads over 16 KiB get 431 |
//! | `PLIVO_MAX_CONNECTIONS` | connections open at once, audio streams included (default 512); past it, new ones wait to be accepted until one closes |
//!
//! Without `PLIVO_PUBLIC_URL` the origin is the request's `Host` over `http`
//! (`UrlPolicy::from_request(Scheme::Http)`, chosen explicitly). Any invalid value stops the
//! server at start with a non-zero status and a message naming the variable.
//!
//! `GET|POST /speak/` answers Plivo XML; `/stream` takes a verified audio-stream WebSocket
//! upgrade (Plivo's `<Stream>`) and echoes every text and binary message back unchanged; any
//! other verified request gets its body echoed back as `text/plain`. Each request logs one line on stderr (never a token).
//!
//! Served over HTTP/1.1 with the connection limits of `examples/shared/serving.rs`.

#[path = "shared/demo.rs"]
mod demo;
#[path = "shared/logging.rs"]
mod logging;
#[path = "shared/replay_store.rs"]
mod replay_store;
#[path = "shared/serving.rs"]
mod serving;
#[path = "shared/try_it.rs"]
mod try_it;
#[path = "shared/webhook_app.rs"]
mod webhook_app;

use std::net::SocketAddr;
use std::process::ExitCode;

use tower_plivo::signature::Signer;
use tower_plivo::{ConfigError, PlivoSignatureLayer, ProxyHeader, Scheme, TokenId, UrlPolicy};

use demo::{DEMO_TOKEN, env};
use replay_store::with_replay_store;
use try_it::{DEMO_CALL, ShellWord, TryIt};

/// A start-up failure, naming the variable at fault.
type StartError = String;

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    demo::exit_code(run().await)
}

async fn run() -> Result<(), StartError> {
    let tokens = env("PLIVO_AUTH_TOKEN");
    let demo = tokens.is_none();
    let tokens: Vec<String> = match &tokens {
        Some(list) => list.split(',').map(|t| t.trim().to_owned()).collect(),
        None => vec![DEMO_TOKEN.to_owned()],
    };
    let public_url = env("PLIVO_PUBLIC_URL");
    let policy = match &public_url {
        Some(url) => UrlPolicy::public_base(url).map_err(|e| named("PLIVO_PUBLIC_URL", e))?,
        None => UrlPolicy::from_request(Scheme::Http),
    };
    let accept_v2 = accepts_v2()?;
    if accept_v2 {
        // This example puts one layer on every route; an app puts V2 on its messaging routes.
        eprintln!(
            "V2 signatures are accepted on every route of this server, /speak/ included: V2 signs \
             neither body nor query, so in an app accept it on messaging and Verify routes only"
        );
    }
    let mut builder = PlivoSignatureLayer::builder()
        .auth_tokens(tokens.iter().cloned())
        .url_policy(policy)
        .accept_v2(accept_v2)
        .diagnose(flag("PLIVO_DIAGNOSE", true)?)
        .report_only(flag("PLIVO_REPORT_ONLY", false)?);
    if let Some(main) = env("PLIVO_MAIN_AUTH_TOKEN") {
        builder = builder.main_account_token(main);
    }
    if let Some(cidrs) = env("PLIVO_TRUSTED_PROXIES") {
        builder = builder.trusted_proxies(list(&cidrs));
    }
    if let Some(headers) = env("PLIVO_PROXY_HEADERS") {
        let headers = list(&headers)
            .map(str::parse::<ProxyHeader>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| named("PLIVO_PROXY_HEADERS", e))?;
        builder = builder.proxy_headers(headers);
    }
    if let Some(cidrs) = env("PLIVO_SOURCE_NETWORKS") {
        builder = builder.source_networks(list(&cidrs));
    }
    let plivo = with_replay_store(builder)?
        .build()
        .map_err(|e| named(variable_of(&e), e))?;

    let app = webhook_app::routes().layer(plivo);
    let limits = serving::Limits::from_env()?;

    let bind = env("BIND").unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| named("BIND", e))?;
    let addr = listener.local_addr().map_err(|e| named("BIND", e))?;
    println!("listening on http://{addr}");
    if demo {
        let origin = public_url
            .as_deref()
            .map(|url| url.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{addr}"));
        print_demo_commands(&origin, addr, &tokens[0]);
    }
    serving::serve_router(listener, limits, app).await;
    Ok(())
}

/// `"{variable}: {error}"`.
fn named(variable: &str, error: impl std::fmt::Display) -> StartError {
    format!("{variable}: {error}")
}

/// The variable a configuration error comes from.
fn variable_of(error: &ConfigError) -> &'static str {
    match error {
        ConfigError::NoAuthToken | ConfigError::InvalidAuthToken(TokenId::Account(_)) => {
            "PLIVO_AUTH_TOKEN"
        }
        ConfigError::InvalidAuthToken(_) => "PLIVO_MAIN_AUTH_TOKEN",
        ConfigError::InvalidPublicBase { .. } => "PLIVO_PUBLIC_URL",
        ConfigError::InvalidCidr {
            setting: "source_networks",
            ..
        } => "PLIVO_SOURCE_NETWORKS",
        ConfigError::InvalidCidr { .. }
        | ConfigError::Ineffective {
            setting: "trusted_proxies",
            ..
        } => "PLIVO_TRUSTED_PROXIES",
        ConfigError::Ineffective {
            setting: "replay_fail_open / replay_release_on_drop",
            ..
        } => "PLIVO_REPLAY_STORE",
        ConfigError::Ineffective { .. } | ConfigError::InvalidValue { .. } => "PLIVO_PROXY_HEADERS",
        _ => "configuration",
    }
}

/// `PLIVO_SIGNATURE_VERSIONS`: `v3` (default) or `v3,v2`, in any order and case.
fn accepts_v2() -> Result<bool, StartError> {
    let Some(value) = env("PLIVO_SIGNATURE_VERSIONS") else {
        return Ok(false);
    };
    let mut versions: Vec<String> = list(&value).map(str::to_ascii_lowercase).collect();
    versions.sort();
    versions.dedup();
    match versions.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["v3"] => Ok(false),
        ["v2", "v3"] => Ok(true),
        _ => Err(named(
            "PLIVO_SIGNATURE_VERSIONS",
            format!("must be v3 or v3,v2 (V3 is always accepted), not {value:?}"),
        )),
    }
}

/// A `0`/`1` switch, off when unset.
fn flag(variable: &str, default: bool) -> Result<bool, StartError> {
    match env(variable).as_deref() {
        None => Ok(default),
        Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => Err(named(variable, format!("must be 0 or 1, not {other:?}"))),
    }
}

/// The non-empty pieces of a comma list.
fn list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
}

/// Prints the demo token and requests to try, all aimed at the bound address and signed for
/// `origin` (the public URL when set, where Plivo calls): with `sign`, which needs nothing
/// installed and signs afresh on each run, then as `curl` and `websocat` lines.
fn print_demo_commands(origin: &str, addr: SocketAddr, token: &str) {
    let speak = format!("{origin}/speak/");
    let mut try_it = TryIt::demo_token(token, "PLIVO_AUTH_TOKEN", addr);
    try_it
        .signed(
            "a signed call to /speak/ gets 200 (run it again: each run signs with a new nonce):",
            ShellWord::literal(&speak),
            Some(DEMO_CALL),
        )
        .unknown_token(ShellWord::literal(&speak), Some(DEMO_CALL));

    let nonce = "12345678901234567890";
    let signature = Signer::new(token)
        .sign_v3_post(&speak, DEMO_CALL.as_bytes(), nonce)
        .expect("the origin is a URL");
    let curl = |body: &str| {
        format!(
            "curl -i http://{addr}/speak/ -H 'X-Plivo-Signature-V3: {signature}' \
             -H 'X-Plivo-Signature-V3-Nonce: {nonce}' --data '{body}'"
        )
    };
    try_it
        .command(
            "with curl, this request is signed and gets 200 (once: replay protection refuses \
             its nonce after that):",
            &curl(DEMO_CALL),
        )
        .command(
            "this one has a tampered body and gets 403:",
            &curl(&DEMO_CALL.replace("14155550100", "14155550666")),
        );
    // Plivo dials the stream at the public origin over wss:// (ws:// for http://).
    let dialled = format!("{}/stream", origin.replacen("http", "ws", 1));
    let stream_signature = Signer::new(token)
        .sign_stream(&dialled, nonce)
        .expect("the origin is a URL");
    try_it.command(
        &format!(
            "an audio stream (a WebSocket upgrade, signed as Plivo signs {dialled}) gets 101 \
             and echoes what you type:"
        ),
        &format!(
            "websocat -H 'X-Plivo-Signature-V3: {stream_signature}' \
             -H 'X-Plivo-Signature-V3-Nonce: {nonce}' ws://{addr}/stream"
        ),
    );
    try_it.print();
}
