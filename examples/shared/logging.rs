//! The examples' one logging set-up: `tracing` to stderr, filtered by `RUST_LOG` (default
//! `info,tower_plivo=debug`: one line per request from the layer, and the example's own
//! events), colours only on a terminal.
//!
//! Shared with `#[path]` by the examples that log (not an example of its own).

/// Installs the subscriber; call once, first thing in `main`.
pub fn init() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_plivo=debug".into()),
        )
        .init();
}
