//! The policy a [`PlivoGuard`](crate::PlivoGuard) holds: plain data, checked by the builder.
//! Behaviour lives in the stage that uses each setting. What reports on verdicts (the doctor,
//! the counters) is not here: it is `observe::Observers`, read at the exits only.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;

use crate::rejection::Rejection;
use crate::replay::NonceStore;
use crate::signature::{StreamUrlForm, Verifier};
use crate::tenants::TenantCache;
use crate::url_policy::{Cidr, TrustedProxies, UrlPolicy};

/// Turns a [`Rejection`] into the response sent to the caller.
pub(crate) type Responder = Arc<dyn Fn(Rejection) -> Response<Full<Bytes>> + Send + Sync>;

pub(crate) struct Settings {
    pub(crate) tokens: Tokens,
    pub(crate) url_policy: UrlPolicy,
    /// The user's proxies, when configured.
    pub(crate) proxies: Option<TrustedProxies>,
    /// Allowed client networks, when configured.
    pub(crate) source_networks: Option<Vec<Cidr>>,
    /// Whether V2 signatures are accepted on webhooks (V3 always is; streams are V3 only).
    pub(crate) accept_v2: bool,
    /// The one stream URL form accepted besides the default, when opted into.
    pub(crate) extra_stream_url_form: Option<StreamUrlForm>,
    pub(crate) body_limit: usize,
    pub(crate) body_timeout: Option<Duration>,
    /// Paths at or below these (as the wrapped service sees them) pass through unverified.
    pub(crate) skipped_prefixes: Vec<String>,
    pub(crate) responder: Option<Responder>,
    pub(crate) replay: Option<ReplaySettings>,
    /// Verify and record, but let every request through (a body the layer reads still meets its limit and timeout).
    pub(crate) report_only: bool,
    /// Whether refusals a configuration could explain are kept for the signature doctor (a
    /// head refusal whose signature covers a body then has that body read first).
    pub(crate) diagnose: bool,
}

/// Whose tokens verify a request.
#[derive(Debug)]
pub(crate) enum Tokens {
    /// The layer's own list, for every request.
    Static(Verifier),
    /// Each request's tenant's, resolved by the `tokens` stage.
    Tenants(TenantCache),
}

/// Replay protection settings.
pub(crate) struct ReplaySettings {
    pub(crate) store: Arc<dyn NonceStore>,
    /// Let requests through when the store cannot answer (instead of 503).
    pub(crate) fail_open: bool,
    /// Release a reservation when the request is dropped even after its handler started.
    pub(crate) release_on_drop: bool,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("tokens", &self.tokens)
            .field("url_policy", &self.url_policy)
            .field("proxies", &self.proxies)
            .field("source_networks", &self.source_networks)
            .field("accept_v2", &self.accept_v2)
            .field("extra_stream_url_form", &self.extra_stream_url_form)
            .field("body_limit", &self.body_limit)
            .field("body_timeout", &self.body_timeout)
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
            .field("report_only", &self.report_only)
            .field("diagnose", &self.diagnose)
            .finish()
    }
}
