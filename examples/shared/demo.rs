//! What several examples share: the demo token, environment lookups, and the layer the hyper
//! and tonic examples put in front of their handlers.
#![allow(dead_code)] // each example uses a different part

use tower_plivo::{ConfigError, PlivoSignatureLayer, Scheme, UrlPolicy};

/// The token the examples use when `PLIVO_AUTH_TOKEN` is unset. Public (it is here, in the
/// source), so the examples print it and sign the commands they print with it; a token of the
/// user's is never printed. Never a real token.
pub const DEMO_TOKEN: &str = "MAdemoTOKENdoNOTuseINproduction0";

/// The exit of an example's `main`: success, or the start-up error on stderr and status 2.
pub fn exit_code(result: Result<(), impl std::fmt::Display>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::from(2)
        }
    }
}

/// An environment variable, unless unset or blank.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The layer of the hyper and tonic examples, and whether it uses the demo token: the token from
/// `PLIVO_AUTH_TOKEN`, the origin from the request's `Host` over `http`, corrected by the
/// `X-Forwarded-Proto` of the proxies in `PLIVO_TRUSTED_PROXIES` (default: loopback, where a
/// local tunnel such as ngrok or cloudflared ends TLS).
pub fn tunnel_layer() -> Result<(PlivoSignatureLayer, bool), ConfigError> {
    let token = env("PLIVO_AUTH_TOKEN");
    let demo = token.is_none();
    let proxies = env("PLIVO_TRUSTED_PROXIES").unwrap_or_else(|| "127.0.0.1,::1".to_owned());
    let layer = PlivoSignatureLayer::builder()
        .auth_token(token.unwrap_or_else(|| DEMO_TOKEN.to_owned()))
        // Any Host: a demo. In production, list your hosts with `.allow_hosts([..])`, or fix
        // the origin with `UrlPolicy::public_base`.
        .url_policy(UrlPolicy::from_request(Scheme::Http))
        .trusted_proxies(proxies.split(',').map(str::trim))
        .build()?;
    Ok((layer, demo))
}
