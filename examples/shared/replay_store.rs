//! The replay store the examples that serve webhooks configure from their environment:
//! `PLIVO_REPLAY_STORE` (`memory`, the default; `off`; a `redis://` or `rediss://` URL; a
//! `redis-cluster://` or `rediss-cluster://` list of seed nodes) and `PLIVO_REPLAY_TTL_SECS`.
//!
//! Shared with `#[path]` by the `server` and `lambda` examples (not an example of its own); the
//! including example also includes `shared/demo.rs` as `demo`, whose `env` this reads with.

use tower_plivo::replay::MemoryNonceStore;
use tower_plivo::{PlivoGuardBuilder, PlivoSignatureLayer};

use crate::demo::env;

/// A start-up failure, naming the variable at fault.
type StartError = String;

/// `"{variable}: {error}"`.
fn named(variable: &str, error: impl std::fmt::Display) -> StartError {
    format!("{variable}: {error}")
}

/// `PLIVO_REPLAY_STORE`: `memory` (default), `off`, a `redis://` or `rediss://` URL, or a
/// `redis-cluster://` or `rediss-cluster://` list of seed nodes.
pub fn with_replay_store(
    builder: PlivoGuardBuilder<PlivoSignatureLayer>,
) -> Result<PlivoGuardBuilder<PlivoSignatureLayer>, StartError> {
    let ttl = match env("PLIVO_REPLAY_TTL_SECS") {
        Some(secs) => match secs.parse::<u64>() {
            // A nonce forgotten at once protects nothing.
            Ok(secs) if secs > 0 => std::time::Duration::from_secs(secs),
            _ => {
                return Err(named(
                    "PLIVO_REPLAY_TTL_SECS",
                    "must be a whole number of seconds, at least 1",
                ));
            }
        },
        None => tower_plivo::replay::MemoryNonceStore::DEFAULT_TTL,
    };
    let store = env("PLIVO_REPLAY_STORE").unwrap_or_else(|| "memory".to_owned());
    match store.as_str() {
        "off" => {
            eprintln!("replay protection is OFF: a captured request can be replayed");
            Ok(builder.without_replay_protection())
        }
        "memory" => Ok(builder.replay_store(MemoryNonceStore::new().ttl(ttl))),
        url if url.starts_with("redis://") || url.starts_with("rediss://") => {
            redis_store(builder, url, ttl)
        }
        url if url.starts_with("redis-cluster://") || url.starts_with("rediss-cluster://") => {
            redis_cluster_store(builder, url, ttl)
        }
        other => Err(named(
            "PLIVO_REPLAY_STORE",
            format!(
                "must be memory, off, redis://..., rediss://..., redis-cluster://... or \
                 rediss-cluster://..., not {:?}",
                without_password(other)
            ),
        )),
    }
}

/// `value` with any `user:password@` shown as `***@`, for messages.
fn without_password(value: &str) -> String {
    match (value.find("://"), value.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***{}", &value[..scheme_end + 3], &value[at..])
        }
        _ => value.to_owned(),
    }
}

/// `redis-cluster://[user:password@]h1:p1[,h2:p2…]` (`rediss-cluster://` for TLS) as one
/// `redis://[user:password@]host:port` (or `rediss://`) URL per seed node.
fn cluster_seeds(value: &str) -> Result<Vec<String>, String> {
    let (scheme, rest) = if let Some(rest) = value.strip_prefix("redis-cluster://") {
        ("redis", rest)
    } else if let Some(rest) = value.strip_prefix("rediss-cluster://") {
        ("rediss", rest)
    } else {
        return Err("must start with redis-cluster:// or rediss-cluster://".to_owned());
    };
    // The credentials come once, before the first seed; a cluster has database 0 only.
    let (login, hosts) = match rest.rsplit_once('@') {
        Some((login, hosts)) => (format!("{login}@"), hosts),
        None => (String::new(), rest),
    };
    if login.contains(',') {
        return Err("write user:password@ once, before the first seed node".to_owned());
    }
    let seeds: Vec<&str> = hosts.split(',').map(str::trim).collect();
    if seeds.iter().any(|seed| seed.is_empty()) {
        return Err("needs one or more comma-separated host:port seed nodes".to_owned());
    }
    if let Some(seed) = seeds.iter().find(|seed| seed.contains(['/', '?', '#'])) {
        return Err(format!(
            "a seed node is host:port (a cluster has database 0 only), not {seed:?}"
        ));
    }
    Ok(seeds
        .into_iter()
        .map(|seed| format!("{scheme}://{login}{seed}"))
        .collect())
}

/// A TLS URL in a build without TLS: said plainly rather than as the client's error.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
fn needs_tls(url: &str) -> Result<(), StartError> {
    if url.starts_with("rediss") && !cfg!(feature = "redis-tls") {
        return Err(named(
            "PLIVO_REPLAY_STORE",
            "a rediss:// or rediss-cluster:// replay store needs the example built with \
             --features redis-tls",
        ));
    }
    Ok(())
}

#[cfg(feature = "redis-cluster")]
fn redis_cluster_store(
    builder: PlivoGuardBuilder<PlivoSignatureLayer>,
    value: &str,
    ttl: std::time::Duration,
) -> Result<PlivoGuardBuilder<PlivoSignatureLayer>, StartError> {
    needs_tls(value)?;
    let seeds = cluster_seeds(value).map_err(|e| named("PLIVO_REPLAY_STORE", e))?;
    let store = tower_plivo::replay::RedisNonceStore::cluster(&seeds)
        .map_err(|e| named("PLIVO_REPLAY_STORE", e))?;
    Ok(builder.replay_store(store.ttl(ttl)))
}

#[cfg(not(feature = "redis-cluster"))]
fn redis_cluster_store(
    _: PlivoGuardBuilder<PlivoSignatureLayer>,
    value: &str,
    _: std::time::Duration,
) -> Result<PlivoGuardBuilder<PlivoSignatureLayer>, StartError> {
    // Still checked, so a malformed value is named as such in any build.
    cluster_seeds(value).map_err(|e| named("PLIVO_REPLAY_STORE", e))?;
    Err(named(
        "PLIVO_REPLAY_STORE",
        "a redis-cluster:// replay store needs the example built with --features redis-cluster",
    ))
}

#[cfg(feature = "redis")]
fn redis_store(
    builder: PlivoGuardBuilder<PlivoSignatureLayer>,
    url: &str,
    ttl: std::time::Duration,
) -> Result<PlivoGuardBuilder<PlivoSignatureLayer>, StartError> {
    needs_tls(url)?;
    let store = tower_plivo::replay::RedisNonceStore::new(url)
        .map_err(|e| named("PLIVO_REPLAY_STORE", e))?;
    Ok(builder.replay_store(store.ttl(ttl)))
}

#[cfg(not(feature = "redis"))]
fn redis_store(
    _: PlivoGuardBuilder<PlivoSignatureLayer>,
    _: &str,
    _: std::time::Duration,
) -> Result<PlivoGuardBuilder<PlivoSignatureLayer>, StartError> {
    Err(named(
        "PLIVO_REPLAY_STORE",
        "a redis:// replay store needs the example built with --features redis",
    ))
}
