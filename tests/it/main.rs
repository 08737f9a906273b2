//! The integration tests, one test binary: each module was a binary of its own (`tests/X.rs`
//! is now `tests/it/X.rs`, its tests named `X::…`), and `support` is their shared helpers. One
//! binary links once, where 29 linked the crate and its dependencies each.
//!
//! ```text
//! cargo test --all-features --test it              # all of them
//! cargo test --all-features --test it hostile::    # one module (a filter on the path)
//! ```
//!
//! Kept apart, each its own binary in `tests/`, because one process could not hold them with
//! the rest: `allocations.rs` and `in_flight_memory.rs` install a counting `#[global_allocator]`
//! (and `in_flight_memory` counts every byte the process holds), and `metrics.rs` installs the
//! process's `metrics` recorder and asserts exact counts of series every layer in the process
//! reports to.
//!
//! What the modules share lives in this process once, so none may assume it is alone: a test
//! that logs or measures installs its tracing subscriber or metrics recorder for its own thread
//! (`tracing::subscriber::set_default`, `metrics::set_default_local_recorder`), never for the
//! process.
//!
//! proptest keeps the failures it found in `properties` in
//! `tests/proptest-regressions/properties.txt` (its place for a module of a crate whose root is
//! `main.rs`) and replays them first.

mod support;

mod actix;
mod attacks;
mod composition;
mod composition_attacks;
#[cfg(feature = "tonic")]
mod composition_tonic;
mod demo_loop;
mod deploy_files;
mod diagnosis;
mod fixtures;
mod hostile;
mod hyper;
#[cfg(feature = "lambda")]
mod lambda;
mod layer;
mod multi_tenant;
mod observability;
mod opentelemetry;
mod path_prefix;
mod properties;
#[cfg(feature = "real-proxies")]
mod real_proxies;
#[cfg(feature = "redis-cluster")]
mod redis_cluster_store;
#[cfg(feature = "redis-tls")]
mod redis_tls;
mod replay;
#[cfg(feature = "redis")]
mod replay_redis;
#[cfg(feature = "redis-cluster")]
mod replay_redis_cluster;
mod resources;
mod server_example;
mod serving;
mod stream_examples;
mod streams;
mod tenant_parameter;
mod tenants;
#[cfg(feature = "tonic")]
mod tonic;
mod upgrade_check;
mod url_policy;
mod vectors;
