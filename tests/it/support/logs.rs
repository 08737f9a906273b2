//! Capturing what the crate logs, for tests that assert on log lines (and that no token leaks).
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::format::FmtSpan;

/// Everything logged while the guard [`Captured::install`] returns lives. Install it on a
/// current-thread runtime, so the server and the client share the thread's default subscriber.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Captures everything `tower_plivo` logs at TRACE, span closes included.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        self.install_as("tower_plivo=trace", FmtSpan::CLOSE)
    }

    /// Captures what a user's subscriber with this filter prints (no span events), as the
    /// README suggests setting it up.
    pub fn install_with(&self, filter: &str) -> tracing::subscriber::DefaultGuard {
        self.install_as(filter, FmtSpan::NONE)
    }

    fn install_as(&self, filter: &str, spans: FmtSpan) -> tracing::subscriber::DefaultGuard {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_span_events(spans)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        // A callsite first hit on another test's thread, with no subscriber there, may have
        // cached "never enabled"; recompute every callsite's interest with this one in place.
        tracing::callsite::rebuild_interest_cache();
        guard
    }

    /// Waits (up to 5 s) until `needle` appears in what was captured: the signature doctor logs
    /// from its own thread, after the answer. Returns whether it appeared.
    pub async fn wait_for(&self, needle: &str) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !self.text().contains(needle) {
            if std::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        true
    }

    /// Asserts that none of these secrets appears in anything captured.
    #[track_caller]
    pub fn assert_none_of(&self, secrets: &[&str]) {
        let text = self.text();
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "a token leaked into the logs:\n{text}"
            );
        }
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
