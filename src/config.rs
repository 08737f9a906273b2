//! The settings one layer shares with every service and future it makes.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;

use crate::doctor::Doctor;
use crate::observe::{self, Metrics};
use crate::rejection::Rejection;
use crate::replay::NonceStore;
use crate::signature::Verifier;
use crate::url_policy::{Cidr, TrustedProxies, UrlPolicy};
use crate::verified::PlivoVerified;

/// Turns a [`Rejection`] into the response sent to the caller.
pub(crate) type Responder = Arc<dyn Fn(Rejection) -> Response<Full<Bytes>> + Send + Sync>;

pub(crate) struct Config {
    pub(crate) verifier: Verifier,
    pub(crate) url_policy: UrlPolicy,
    /// The user's proxies, when configured.
    pub(crate) proxies: Option<TrustedProxies>,
    /// Allowed client networks, when configured.
    pub(crate) source_networks: Option<Vec<Cidr>>,
    /// Whether V2 signatures are accepted (V3 always is).
    pub(crate) accept_v2: bool,
    pub(crate) body_limit: usize,
    pub(crate) body_timeout: Option<std::time::Duration>,
    /// Paths at or below these (as the wrapped service sees them) pass through unverified.
    pub(crate) skipped_prefixes: Vec<String>,
    pub(crate) responder: Option<Responder>,
    pub(crate) replay: Option<ReplayGuardConfig>,
    /// Verify and record, but let every request through (resource limits still apply).
    pub(crate) report_only: bool,
    /// The signature doctor, when on.
    pub(crate) doctor: Option<Doctor>,
    /// Whether a main-account token is configured (for the doctor's hints).
    pub(crate) main_account_token: bool,
    pub(crate) metrics: Option<Arc<dyn Metrics>>,
}

/// Replay protection settings.
#[derive(Clone)]
pub(crate) struct ReplayGuardConfig {
    pub(crate) store: Arc<dyn NonceStore>,
    /// Let requests through when the store cannot answer (instead of 503).
    pub(crate) fail_open: bool,
    /// Release a reservation when the request is dropped even after its handler started.
    pub(crate) release_on_drop: bool,
}

impl Config {
    /// Whether a request to `path` (as the wrapped service sees it) passes through unverified.
    pub(crate) fn skips(&self, path: &str) -> bool {
        !self.skipped_prefixes.is_empty()
            && is_plain_path(path)
            && self
                .skipped_prefixes
                .iter()
                .any(|prefix| is_under(path, prefix))
    }

    /// Whether this rejection is answered (rather than only recorded, in report-only mode).
    /// Body limits, timeouts and broken bodies are enforced in every mode: they protect the
    /// server, and a body not read whole cannot be handed on.
    pub(crate) fn enforces(&self, rejection: Rejection) -> bool {
        !self.report_only
            || matches!(
                rejection,
                Rejection::BodyTooLarge | Rejection::BodyReadFailed | Rejection::BodyTimeout
            )
    }

    pub(crate) fn on_accepted(
        &self,
        span: &tracing::Span,
        verified: &PlivoVerified,
        body_bytes: usize,
    ) {
        observe::accepted(span, verified, body_bytes);
        if let Some(metrics) = &self.metrics {
            metrics.accepted(verified);
        }
    }

    pub(crate) fn on_rejected(
        &self,
        span: &tracing::Span,
        rejection: Rejection,
        method: &http::Method,
        url: &str,
        detail: Option<&str>,
    ) {
        observe::rejected(
            span,
            rejection,
            method,
            url,
            detail,
            !self.enforces(rejection),
        );
        if let Some(metrics) = &self.metrics {
            metrics.rejected(rejection);
        }
    }

    /// The rejection response: the configured responder's, else a gRPC status for gRPC
    /// requests (a plain HTTP error confuses gRPC clients), else the default.
    pub(crate) fn respond(
        &self,
        rejection: Rejection,
        request_headers: &http::HeaderMap,
    ) -> Response<Full<Bytes>> {
        let grpc = request_headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|ct| ct.as_bytes().starts_with(b"application/grpc"));
        let mut response = match &self.responder {
            Some(responder) => responder(rejection),
            None if grpc => rejection.grpc_response(),
            None => rejection.default_response(),
        };
        response.extensions_mut().insert(rejection);
        response
    }
}

/// `/plivo` covers `/plivo`, `/plivo/` and `/plivo/answer`, not `/plivoX`.
fn is_under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Whether `path` means what it says to every router and proxy: no percent-escapes, no `.` or
/// `..` segment, no empty segment inside it, no backslash. Only such a path may be skipped, so
/// `/health/../answer` or `/%68ealth` is verified whatever a router later makes of it.
pub(crate) fn is_plain_path(path: &str) -> bool {
    if path.contains(['%', '\\']) {
        return false;
    }
    let inner = path.strip_prefix('/').unwrap_or(path);
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    inner.is_empty()
        || inner
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | ".."))
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("verifier", &self.verifier)
            .field("url_policy", &self.url_policy)
            .field("body_limit", &self.body_limit)
            .field("body_timeout", &self.body_timeout)
            .field("proxies", &self.proxies)
            .field("source_networks", &self.source_networks)
            .field("accept_v2", &self.accept_v2)
            .field("skipped_prefixes", &self.skipped_prefixes)
            .field("custom_responder", &self.responder.is_some())
            .field(
                "replay_protection",
                &self.replay.as_ref().map(|r| {
                    if r.fail_open {
                        "fail-open"
                    } else {
                        "fail-closed"
                    }
                }),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::{is_plain_path, is_under};

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(is_under("/plivo", "/plivo"));
        assert!(is_under("/plivo/answer", "/plivo"));
        assert!(is_under("/plivo/answer", "/plivo/"));
        assert!(!is_under("/plivox", "/plivo"));
        assert!(is_under("/anything", "/"));
    }

    #[test]
    fn only_plain_paths_can_be_skipped() {
        for plain in [
            "/",
            "/health",
            "/health/",
            "/grpc.health.v1.Health/Check",
            "/a/b.c",
        ] {
            assert!(is_plain_path(plain), "{plain}");
        }
        for tricky in [
            "/health/../answer",
            "/health/./x",
            "/health/..",
            "/health//answer",
            "/%68ealth",
            "/health%2F..%2Fanswer",
            "/health\\..\\answer",
            "//health",
        ] {
            assert!(!is_plain_path(tricky), "{tricky}");
        }
    }
}
