//! Configuring a [`PlivoSignatureLayer`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;

use crate::config::{Config, ReplayGuardConfig};
use crate::config_error::ConfigError;
use crate::layer::PlivoSignatureLayer;
use crate::observe::Metrics;
use crate::rejection::Rejection;
use crate::replay::NonceStore;
use crate::signature::Verifier;
use crate::tokens::AuthTokens;
use crate::url_policy::{Scheme, UrlPolicy};

/// The default body limit: 64 KiB. Plivo's callbacks are a few hundred bytes to a few KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// The default time allowed to receive a whole body: 10 s. Plivo sends a few KiB at once; a
/// sender slower than this is holding a task hostage.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds a [`PlivoSignatureLayer`]. Made by [`PlivoSignatureLayer::builder`].
///
/// | setting | default |
/// |---|---|
/// | [`auth_tokens`](Self::auth_tokens) / [`auth_token`](Self::auth_token) | none (at least one token, or a main-account token, is required) |
/// | [`main_account_token`](Self::main_account_token) | none: `-Ma-` headers never match |
/// | [`url_policy`](Self::url_policy) | [`UrlPolicy::from_request`]`(`[`Scheme::Http`]`)` |
/// | [`body_limit`](Self::body_limit) | [`DEFAULT_BODY_LIMIT`] (64 KiB) |
/// | [`body_timeout`](Self::body_timeout) | [`DEFAULT_BODY_TIMEOUT`] (10 s) |
/// | [`only_paths_under`](Self::only_paths_under) | every path is guarded |
/// | [`on_rejection`](Self::on_rejection) | [`Rejection::default_response`] |
/// | [`replay_store`](Self::replay_store) | none: replays are not detected |
/// | [`replay_fail_open`](Self::replay_fail_open) | `false`: 503 when the store cannot answer |
/// | [`report_only`](Self::report_only) | `false`: rejections are enforced |
/// | [`diagnose`](Self::diagnose) | `false`: no signature doctor |
/// | [`metrics`](Self::metrics) | none |
///
/// ```
/// use tower_plivo::{PlivoSignatureLayer, UrlPolicy};
///
/// let layer = PlivoSignatureLayer::builder()
///     .auth_tokens(["current-token", "previous-token"])
///     .main_account_token("main-token")
///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
///     .body_limit(32 * 1024)
///     .build()?;
/// # Ok::<(), tower_plivo::ConfigError>(())
/// ```
#[must_use]
pub struct PlivoSignatureLayerBuilder {
    account_tokens: Vec<String>,
    main_account_token: Option<String>,
    url_policy: UrlPolicy,
    body_limit: usize,
    body_timeout: Option<Duration>,
    guarded_prefixes: Option<Vec<String>>,
    responder: Option<crate::config::Responder>,
    replay_store: Option<Arc<dyn NonceStore>>,
    replay_fail_open: bool,
    report_only: bool,
    diagnose: bool,
    metrics: Option<Arc<dyn Metrics>>,
}

impl Default for PlivoSignatureLayerBuilder {
    fn default() -> Self {
        Self {
            account_tokens: Vec::new(),
            main_account_token: None,
            url_policy: UrlPolicy::from_request(Scheme::Http),
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: Some(DEFAULT_BODY_TIMEOUT),
            guarded_prefixes: None,
            responder: None,
            replay_store: None,
            replay_fail_open: false,
            report_only: false,
            diagnose: false,
            metrics: None,
        }
    }
}

impl PlivoSignatureLayerBuilder {
    /// Adds one account or sub-account auth token (checked against `X-Plivo-Signature-V3` /
    /// `-V2`). Call again, or use [`auth_tokens`](Self::auth_tokens), to accept several during a
    /// rotation.
    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.account_tokens.push(token.into());
        self
    }

    /// Adds several account or sub-account auth tokens, tried in order.
    pub fn auth_tokens<I, T>(mut self, tokens: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.account_tokens
            .extend(tokens.into_iter().map(Into::into));
        self
    }

    /// The main account's auth token, checked against the `-Ma-` headers.
    pub fn main_account_token(mut self, token: impl Into<String>) -> Self {
        self.main_account_token = Some(token.into());
        self
    }

    /// How the public URL Plivo called is determined (see [`UrlPolicy`]).
    pub fn url_policy(mut self, policy: UrlPolicy) -> Self {
        self.url_policy = policy;
        self
    }

    /// The largest body accepted, in bytes. A larger `Content-Length` is refused with 413 before
    /// reading; a streamed body is refused as soon as it crosses the limit.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The time allowed to receive the whole body, from when the layer starts reading it; a body
    /// still incomplete then is refused with 408. Needs a Tokio runtime with its time driver (as
    /// axum, hyper-util and tonic servers have).
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = Some(timeout);
        self
    }

    /// Reads bodies without a deadline (for runtimes other than Tokio).
    pub fn without_body_timeout(mut self) -> Self {
        self.body_timeout = None;
        self
    }

    /// Guard only requests whose path is `prefix` or below it (`/plivo` covers `/plivo/answer`
    /// but not `/plivox`); others pass through unread and unverified. Call again to add prefixes.
    /// Useful on a tonic server, where the same port also carries gRPC.
    pub fn only_paths_under(mut self, prefix: impl Into<String>) -> Self {
        self.guarded_prefixes
            .get_or_insert_with(Vec::new)
            .push(prefix.into());
        self
    }

    /// Replaces the default rejection response. The [`Rejection`] is also put in the response's
    /// extensions whatever this returns.
    ///
    /// ```
    /// use tower_plivo::PlivoSignatureLayer;
    ///
    /// let layer = PlivoSignatureLayer::builder()
    ///     .auth_token("token")
    ///     .on_rejection(|rejection| {
    ///         let mut response = http::Response::new(format!("{{\"error\":\"{}\"}}", rejection.code()).into());
    ///         *response.status_mut() = rejection.status();
    ///         response
    ///     })
    ///     .build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn on_rejection<F>(mut self, responder: F) -> Self
    where
        F: Fn(Rejection) -> Response<Full<Bytes>> + Send + Sync + 'static,
    {
        self.responder = Some(Arc::new(responder));
        self
    }

    /// Turns on replay protection with this store (see [`crate::replay`]): a verified request
    /// whose nonce was already accepted is refused with 403 `replayed`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_plivo::{PlivoSignatureLayer, replay::MemoryNonceStore};
    ///
    /// let layer = PlivoSignatureLayer::builder()
    ///     .auth_token("token")
    ///     .replay_store(MemoryNonceStore::new().ttl(Duration::from_secs(6 * 60 * 60)))
    ///     .build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn replay_store(mut self, store: impl NonceStore) -> Self {
        self.replay_store = Some(Arc::new(store));
        self
    }

    /// When the nonce store cannot answer: `false` (the default) refuses with 503 so Plivo
    /// retries later; `true` lets the request through unprotected. Both are logged.
    pub fn replay_fail_open(mut self, fail_open: bool) -> Self {
        self.replay_fail_open = fail_open;
        self
    }

    /// Report-only rollout: verify and log every request, but let all of them through, with the
    /// verdict in a [`PlivoVerdict`](crate::PlivoVerdict) extension. Body limits and timeouts
    /// still apply. A warning is logged when the layer is built.
    ///
    /// ```
    /// let layer = tower_plivo::PlivoSignatureLayer::builder().auth_token("t").report_only(true).build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn report_only(mut self, report_only: bool) -> Self {
        self.report_only = report_only;
        self
    }

    /// The signature doctor: when a signature does not match, also try the URL and token
    /// variants a misconfiguration produces (other scheme, default port, trailing slash,
    /// forwarded host vs `Host`, a path prefix, main vs account token, V2 vs V3) and log which
    /// one matches with the change that fixes it (target `tower_plivo::doctor`). Variants never
    /// accept a request. The cost (at most about 20 signature checks) is paid only on failures.
    ///
    /// ```
    /// let layer = tower_plivo::PlivoSignatureLayer::builder().auth_token("t").diagnose(true).build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn diagnose(mut self, diagnose: bool) -> Self {
        self.diagnose = diagnose;
        self
    }

    /// Counters called with every verdict (see [`Metrics`]).
    pub fn metrics(mut self, metrics: impl Metrics) -> Self {
        self.metrics = Some(Arc::new(metrics));
        self
    }

    /// Checks the configuration and builds the layer.
    pub fn build(self) -> Result<PlivoSignatureLayer, ConfigError> {
        let tokens = AuthTokens::new(&self.account_tokens, self.main_account_token.as_deref())?;
        let prefixes = self.guarded_prefixes.iter().flatten();
        if let Some(bad) = prefixes.into_iter().find(|p| !p.starts_with('/')) {
            return Err(ConfigError::InvalidValue {
                setting: "guarded path prefix (must start with '/')",
                value: bad.clone(),
            });
        }
        if self.report_only {
            tracing::warn!(
                target: "tower_plivo",
                "Plivo signature layer in REPORT-ONLY mode: requests that fail verification are logged and let through"
            );
        }
        let main_account_token = self.main_account_token.is_some();
        Ok(PlivoSignatureLayer::from_config(Config {
            verifier: Verifier::new(tokens),
            url_policy: self.url_policy,
            body_limit: self.body_limit,
            body_timeout: self.body_timeout,
            guarded_prefixes: self.guarded_prefixes,
            responder: self.responder,
            replay: self.replay_store.map(|store| ReplayGuardConfig {
                store,
                fail_open: self.replay_fail_open,
            }),
            report_only: self.report_only,
            diagnose: self.diagnose,
            main_account_token,
            metrics: self.metrics,
        }))
    }
}

impl fmt::Debug for PlivoSignatureLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlivoSignatureLayerBuilder")
            .field("account_tokens", &self.account_tokens.len())
            .field("main_account_token", &self.main_account_token.is_some())
            .field("url_policy", &self.url_policy)
            .field("body_limit", &self.body_limit)
            .field("body_timeout", &self.body_timeout)
            .field("guarded_prefixes", &self.guarded_prefixes)
            .field("custom_responder", &self.responder.is_some())
            .field("replay_protection", &self.replay_store.is_some())
            .field("replay_fail_open", &self.replay_fail_open)
            .field("report_only", &self.report_only)
            .field("diagnose", &self.diagnose)
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_token() {
        let builder = PlivoSignatureLayer::builder()
            .auth_token("s3cr3t-a")
            .main_account_token("s3cr3t-m");
        let shown = format!("{builder:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        let layer = builder.build().unwrap();
        let shown = format!("{layer:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn construction_errors() {
        assert_eq!(
            PlivoSignatureLayer::builder().build().unwrap_err(),
            ConfigError::NoAuthToken
        );
        assert!(
            PlivoSignatureLayer::builder()
                .auth_token(" t")
                .build()
                .is_err()
        );
        assert!(
            PlivoSignatureLayer::builder()
                .auth_token("t")
                .only_paths_under("plivo")
                .build()
                .is_err()
        );
    }
}
