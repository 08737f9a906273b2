//! Configuring a [`PlivoGuard`] (or the [`PlivoSignatureLayer`] around one).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;

use crate::config_error::ConfigError;
use crate::guard::PlivoGuard;
use crate::layer::PlivoSignatureLayer;
#[cfg(feature = "diagnosis")]
use crate::observe::doctor::Doctor;
use crate::observe::{Metrics, Observers, events};
use crate::pipeline::route::is_skippable_prefix;
use crate::pipeline::settings::{ReplaySettings, Responder, Settings, Tokens};
use crate::rejection::Rejection;
use crate::replay::{MemoryNonceStore, NonceStore};
use crate::signature::{AuthTokens, StreamUrlForm, Verifier};
use crate::tenants::TenantCache;
use crate::url_policy::{ProxyHeader, ProxyHeaders, TrustedProxies, UrlPolicy, parse_networks};

impl PlivoGuard {
    /// Starts a configuration (see [`PlivoGuardBuilder`] for every setting and its default).
    pub fn builder() -> PlivoGuardBuilder {
        PlivoGuardBuilder::default()
    }
}

impl PlivoSignatureLayer {
    /// Starts a configuration of the guard this layer wraps: its
    /// [`build`](PlivoGuardBuilder::build) gives the layer ([`PlivoGuard::builder`] gives the
    /// guard itself).
    pub fn builder() -> PlivoGuardBuilder<PlivoSignatureLayer> {
        PlivoGuardBuilder::default()
    }
}

/// Builds a [`PlivoGuard`] (made by [`PlivoGuard::builder`]) or, the same way, the
/// [`PlivoSignatureLayer`] around one (made by [`PlivoSignatureLayer::builder`]): `Built` is what
/// [`build`](Self::build) returns.
///
/// | setting | default |
/// |---|---|
/// | [`auth_tokens`](Self::auth_tokens) / [`auth_token`](Self::auth_token) | none (at least one token, or a main-account token, is required) |
/// | [`main_account_tokens`](Self::main_account_tokens) / [`main_account_token`](Self::main_account_token) | none: `-Ma-` headers never match |
/// | [`tenants`](Self::tenants) | none: the static tokens above verify every request (one or the other is required) |
/// | [`url_policy`](Self::url_policy) | none: **required** (see [`UrlPolicy`]) |
/// | [`trusted_proxies`](Self::trusted_proxies) | none: forwarding headers are never believed |
/// | [`proxy_headers`](Self::proxy_headers) | [`ProxyHeader::XForwardedProto`] alone, when proxies are trusted |
/// | [`source_networks`](Self::source_networks) | none: any client address |
/// | [`accept_v2`](Self::accept_v2) | `false`: V3 signatures only |
/// | [`also_accept_stream_url_form`](Self::also_accept_stream_url_form) | none: audio streams verify over `http://` only |
/// | [`body_limit`](Self::body_limit) | [`DEFAULT_BODY_LIMIT`](Self::DEFAULT_BODY_LIMIT) (64 KiB) |
/// | [`body_timeout`](Self::body_timeout) | [`DEFAULT_BODY_TIMEOUT`](Self::DEFAULT_BODY_TIMEOUT) (10 s) |
/// | [`skip_paths_under`](Self::skip_paths_under) | none: every path is guarded |
/// | [`on_rejection`](Self::on_rejection) | [`Rejection::default_response`] |
/// | [`replay_store`](Self::replay_store) | a [`MemoryNonceStore`] (1 h, 100,000 nonces); [`without_replay_protection`](Self::without_replay_protection) turns it off |
/// | [`replay_fail_open`](Self::replay_fail_open) | `false`: 503 when the store cannot answer |
/// | [`replay_release_on_drop`](Self::replay_release_on_drop) | `false`: a request abandoned after its handler started keeps its nonce |
/// | [`report_only`](Self::report_only) | `false`: rejections are enforced |
/// | [`diagnose`](Self::diagnose) | `true`: the signature doctor examines refusals a configuration could explain, within its budget |
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
pub struct PlivoGuardBuilder<Built = PlivoGuard> {
    account_tokens: Vec<String>,
    main_account_tokens: Vec<String>,
    tenants: Option<TenantCache>,
    url_policy: Option<UrlPolicy>,
    trusted_proxies: Option<Vec<String>>,
    proxy_headers: Option<Vec<ProxyHeader>>,
    source_networks: Option<Vec<String>>,
    accept_v2: bool,
    extra_stream_url_forms: Vec<StreamUrlForm>,
    body_limit: usize,
    body_timeout: Option<Duration>,
    skipped_prefixes: Vec<String>,
    responder: Option<Responder>,
    replay: ReplaySetting,
    replay_fail_open: bool,
    replay_release_on_drop: bool,
    report_only: bool,
    diagnose: bool,
    metrics: Option<Arc<dyn Metrics>>,
    built: PhantomData<fn() -> Built>,
}

/// Replay protection as configured.
enum ReplaySetting {
    /// A [`MemoryNonceStore`] with its defaults, made at `build()`.
    Default,
    Store(Arc<dyn NonceStore>),
    Off,
}

impl<Built> Default for PlivoGuardBuilder<Built> {
    fn default() -> Self {
        Self {
            account_tokens: Vec::new(),
            main_account_tokens: Vec::new(),
            tenants: None,
            url_policy: None,
            trusted_proxies: None,
            proxy_headers: None,
            source_networks: None,
            accept_v2: false,
            extra_stream_url_forms: Vec::new(),
            body_limit: PlivoGuardBuilder::DEFAULT_BODY_LIMIT,
            body_timeout: Some(PlivoGuardBuilder::DEFAULT_BODY_TIMEOUT),
            skipped_prefixes: Vec::new(),
            responder: None,
            replay: ReplaySetting::Default,
            replay_fail_open: false,
            replay_release_on_drop: false,
            report_only: false,
            diagnose: true,
            metrics: None,
            built: PhantomData,
        }
    }
}

impl PlivoGuardBuilder {
    /// The default body limit: 64 KiB. Plivo's callbacks are a few hundred bytes to a few KiB.
    pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

    /// The default time allowed to receive a whole body: 10 s. Plivo sends a few KiB at once; a
    /// sender slower than this is holding a task hostage.
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
}

impl<Built> PlivoGuardBuilder<Built> {
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

    /// Adds one of the main account's auth tokens, checked against the `-Ma-` headers. Call
    /// again, or use [`main_account_tokens`](Self::main_account_tokens), to accept several
    /// during a rotation of the main account's token.
    pub fn main_account_token(mut self, token: impl Into<String>) -> Self {
        self.main_account_tokens.push(token.into());
        self
    }

    /// Adds several main-account tokens (a rotation: the new one and the one it replaces).
    ///
    /// ```
    /// let layer = tower_plivo::PlivoSignatureLayer::builder()
    ///     .auth_token("account-token")
    ///     .main_account_tokens(["main-new", "main-old"])
    ///     .url_policy(tower_plivo::UrlPolicy::public_base("https://hooks.example.com")?)
    ///     .build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn main_account_tokens<I, T>(mut self, tokens: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.main_account_tokens
            .extend(tokens.into_iter().map(Into::into));
        self
    }

    /// Many Plivo accounts behind one endpoint: each request is verified with the tokens of
    /// the tenant its URL names, from your store through `cache` (see [`tenants`](crate::tenants)
    /// for an example). Instead of the static tokens: configuring both is an error. Keep a
    /// clone of `cache` to [`invalidate`](TenantCache::invalidate) a tenant you changed.
    pub fn tenants(mut self, cache: TenantCache) -> Self {
        self.tenants = Some(cache);
        self
    }

    /// Where the public URL Plivo called comes from (see [`UrlPolicy`]). Required: `build()`
    /// without one is [`ConfigError::NoUrlPolicy`].
    pub fn url_policy(mut self, policy: UrlPolicy) -> Self {
        self.url_policy = Some(policy);
        self
    }

    /// The networks of your own proxies and load balancers (`10.0.0.0/8`, `fd00::/8`,
    /// `127.0.0.1`, ...). When the TCP peer is in one of them, the forwarding headers named
    /// with [`proxy_headers`](Self::proxy_headers) are believed: to correct the URL under
    /// [`UrlPolicy::from_request`], and to find the client for
    /// [`source_networks`](Self::source_networks). From any other peer, or when the peer
    /// address is unknown, no forwarding header is believed.
    ///
    /// Serve axum with `into_make_service_with_connect_info::<SocketAddr>()` (or insert a
    /// [`PeerAddr`](crate::PeerAddr)) so the peer is known. Trusted proxies that would be used
    /// for nothing (with [`UrlPolicy::public_base`] and no client header named) are a
    /// [`ConfigError`].
    ///
    /// ```
    /// use tower_plivo::{PlivoSignatureLayer, Scheme, UrlPolicy};
    ///
    /// // TLS ends at a load balancer in 10.0.0.0/8 that sets X-Forwarded-Proto.
    /// let layer = PlivoSignatureLayer::builder()
    ///     .auth_token("token")
    ///     .url_policy(UrlPolicy::from_request(Scheme::Https).allow_hosts(["hooks.example.com"])?)
    ///     .trusted_proxies(["10.0.0.0/8"])
    ///     .build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn trusted_proxies<I, T>(mut self, networks: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.trusted_proxies
            .get_or_insert_with(Vec::new)
            .extend(networks.into_iter().map(Into::into));
        self
    }

    /// The forwarding headers your trusted proxies set, and so the only ones believed. The
    /// default is [`ProxyHeader::XForwardedProto`] alone; naming a list replaces it.
    ///
    /// Name only what your proxy really writes: a header it passes through untouched carries
    /// whatever the client sent. With several trusted hops, every one of them must write the
    /// named header (append to `Forwarded` or `X-Forwarded-For`, set `X-Forwarded-Proto`):
    /// the walk through the chain believes each trusted hop's entry. AWS ALB, Google Cloud Load Balancing, Cloudflare, Heroku and
    /// Fly set `X-Forwarded-Proto` and `X-Forwarded-For` but neither `X-Forwarded-Host` nor
    /// `Forwarded`. Naming `Forwarded` together with an `X-Forwarded-*` header, a header
    /// without [`trusted_proxies`](Self::trusted_proxies), or a header nothing would read (a
    /// URL header under [`UrlPolicy::public_base`], a client header without
    /// [`source_networks`](Self::source_networks)) is a [`ConfigError`].
    ///
    /// ```
    /// use tower_plivo::{PlivoSignatureLayer, ProxyHeader, Scheme, UrlPolicy};
    ///
    /// // nginx in front, configured to set X-Forwarded-Proto and X-Forwarded-Host.
    /// let layer = PlivoSignatureLayer::builder()
    ///     .auth_token("token")
    ///     .url_policy(UrlPolicy::from_request(Scheme::Http).allow_hosts(["hooks.example.com"])?)
    ///     .trusted_proxies(["127.0.0.1"])
    ///     .proxy_headers([ProxyHeader::XForwardedProto, ProxyHeader::XForwardedHost])
    ///     .build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn proxy_headers(mut self, headers: impl IntoIterator<Item = ProxyHeader>) -> Self {
        self.proxy_headers = Some(headers.into_iter().collect());
        self
    }

    /// Also refuse requests whose client address is outside these networks (Plivo publishes
    /// the addresses its callbacks come from), with [`Rejection::SourceNotAllowed`]. This is
    /// a second defence, checked in addition to the signature, never instead of it.
    ///
    /// The client is the TCP peer; when the peer is one of the
    /// [`trusted_proxies`](Self::trusted_proxies) and [`ProxyHeader::XForwardedFor`] (or
    /// [`ProxyHeader::Forwarded`]) is named, it is the rightmost address in that header that
    /// is not itself a trusted proxy. A trusted peer with no client header named is itself the
    /// client, so the request is refused unless the proxy's address is listed (the log says
    /// why). An unknown client (no peer address, an unreadable chain) is refused.
    ///
    /// ```
    /// use tower_plivo::{PlivoSignatureLayer, ProxyHeader, UrlPolicy};
    ///
    /// let layer = PlivoSignatureLayer::builder()
    ///     .auth_token("token")
    ///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
    ///     .trusted_proxies(["10.0.0.0/8"])
    ///     .proxy_headers([ProxyHeader::XForwardedFor])
    ///     .source_networks(["203.0.113.0/24", "2001:db8::/32"])
    ///     .build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn source_networks<I, T>(mut self, networks: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.source_networks
            .get_or_insert_with(Vec::new)
            .extend(networks.into_iter().map(Into::into));
        self
    }

    /// Also accept V2 signatures (`X-Plivo-Signature-V2`), as Plivo sends for messaging (SMS,
    /// MMS, delivery reports) and Verify callbacks. V3 still decides whenever a V3 header is
    /// present.
    ///
    /// **V2 signs only the URL without its query, and the nonce: neither the query nor the
    /// body.** On a route that accepts it, anyone holding one V2-signed request for that URL
    /// can send any body and any query under its signature (once, with replay protection).
    /// Enable it only on the routes Plivo calls with V2, never on voice routes. A V2 request
    /// where V2 is not accepted is refused with [`Rejection::SignatureVersionNotAccepted`].
    ///
    /// **Where V3 arrives, leave V2 off.** Plivo's current messaging traffic carries V3 (and
    /// `-Ma-V3`) as well as V2; a route whose callbacks all carry V3 needs only V3. Keep V2
    /// for accounts and products that still send V2 alone. On a route that accepts V2 with
    /// replay protection on, a request accepted by V3 that also carries V2 headers counts as
    /// seen for its V2 message too (when that V2 signature verifies): its V2 half sent alone
    /// later, with any body, is a replay. The request costs one more store call then.
    ///
    /// ```
    /// use tower_plivo::{PlivoSignatureLayer, UrlPolicy};
    ///
    /// let sms = PlivoSignatureLayer::builder()
    ///     .auth_token("token")
    ///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
    ///     .accept_v2(true)
    ///     .build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn accept_v2(mut self, accept: bool) -> Self {
        self.accept_v2 = accept;
        self
    }

    /// **An escape hatch, off by default: read the risk.** Also accept audio-stream upgrades
    /// whose signature matches this other URL form (one form at most).
    ///
    /// Plivo signs a stream upgrade over the stream URL with its scheme replaced by `http`
    /// ([`StreamUrlForm::HttpScheme`], wire format §6); that is the only form accepted by
    /// default, and the one Plivo's own CLI had to adopt to accept live streams. Plivo's stream
    /// SDKs compute other forms. If the signature doctor shows that your real Plivo traffic
    /// matches one of those instead, this accepts it too, until the cause is understood. The
    /// risk: every form accepted is one more URL a captured signature can be presented for; the
    /// mode is announced at WARN when the layer is built, and
    /// [`PlivoVerified::stream_url_form`](crate::PlivoVerified::stream_url_form) says which form
    /// matched. Naming [`StreamUrlForm::HttpScheme`] (always accepted), or a second form, is
    /// an error.
    ///
    /// ```
    /// use tower_plivo::{PlivoSignatureLayer, StreamUrlForm, UrlPolicy};
    ///
    /// let layer = PlivoSignatureLayer::builder()
    ///     .auth_token("token")
    ///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
    ///     .also_accept_stream_url_form(StreamUrlForm::WebSocketScheme)
    ///     .build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn also_accept_stream_url_form(mut self, form: StreamUrlForm) -> Self {
        self.extra_stream_url_forms.push(form);
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

    /// Lets requests whose path is `prefix` or below it (`/health` covers `/health/live` but
    /// not `/healthz`) through unread and unverified, e.g. gRPC services on a tonic server that
    /// also takes webhooks. Call again to add prefixes.
    ///
    /// The path compared is the one the wrapped service sees (under axum's `nest`, without the
    /// nest's prefix), and only a plain path is skipped: one with percent-escapes, `.` or `..`
    /// segments, an empty segment or a backslash is guarded whatever it starts with. So a
    /// prefix that is written wrongly, or a path written to look like it is under one, guards
    /// more, never less. Where you can, prefer composition: put the layer on the webhook
    /// routes only (axum's `route_layer`, or an axum router with the layer merged into tonic's
    /// `Routes`).
    ///
    /// ```
    /// let layer = tower_plivo::PlivoSignatureLayer::builder()
    ///     .auth_token("token")
    ///     .url_policy(tower_plivo::UrlPolicy::public_base("https://hooks.example.com")?)
    ///     .skip_paths_under("/grpc.health.v1.Health")
    ///     .build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn skip_paths_under(mut self, prefix: impl Into<String>) -> Self {
        self.skipped_prefixes.push(prefix.into());
        self
    }

    /// Replaces the default rejection response. The [`Rejection`] is also put in the response's
    /// extensions whatever this returns. Keep the default's discretion: a body that names the
    /// reason tells a forger which of its variants verified.
    ///
    /// The body is any of `&'static str`, `String`, `Vec<u8>`, `&'static [u8]`, [`Bytes`] (or
    /// the `Full<Bytes>` of [`Rejection::default_response`], to change a default response), so
    /// a plain function can name its type without naming `http_body_util`.
    ///
    /// ```
    /// use http::{Response, header};
    /// use tower_plivo::{PlivoSignatureLayer, Rejection, UrlPolicy};
    ///
    /// fn json_refusal(rejection: Rejection) -> Response<&'static str> {
    ///     Response::builder()
    ///         .status(rejection.status())
    ///         .header(header::CONTENT_TYPE, "application/json")
    ///         .body("{\"error\":\"refused\"}")
    ///         .unwrap()
    /// }
    ///
    /// let layer = PlivoSignatureLayer::builder()
    ///     .auth_token("token")
    ///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
    ///     .on_rejection(json_refusal)
    ///     .build()?;
    /// // Or the default response with a header added.
    /// let layer = PlivoSignatureLayer::builder()
    ///     .auth_token("token")
    ///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
    ///     .on_rejection(|rejection| {
    ///         let mut response = rejection.default_response();
    ///         response.headers_mut().insert("x-refused-by", "tower-plivo".parse().unwrap());
    ///         response
    ///     })
    ///     .build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn on_rejection<F, B>(mut self, responder: F) -> Self
    where
        F: Fn(Rejection) -> Response<B> + Send + Sync + 'static,
        B: Into<Full<Bytes>>,
    {
        self.responder = Some(Arc::new(move |rejection| {
            responder(rejection).map(Into::into)
        }));
        self
    }

    /// Uses this store for replay protection (see [`crate::replay`]) instead of the default
    /// in-process [`MemoryNonceStore`]: a verified request whose signed message was already
    /// accepted is refused with 403 [`Rejection::Replayed`]. Several replicas behind a load
    /// balancer need one shared store (`RedisNonceStore`, feature `redis`); several layers in
    /// one process can share an `Arc` of a store.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_plivo::{PlivoSignatureLayer, UrlPolicy, replay::MemoryNonceStore};
    ///
    /// let layer = PlivoSignatureLayer::builder()
    ///     .auth_token("token")
    ///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
    ///     .replay_store(MemoryNonceStore::new().ttl(Duration::from_secs(6 * 60 * 60)))
    ///     .build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn replay_store(mut self, store: impl NonceStore) -> Self {
        self.replay = ReplaySetting::Store(Arc::new(store));
        self
    }

    /// Turns replay protection off. **What this gives up:** Plivo's signatures carry no
    /// timestamp, so any request captured once (from a proxy log, a trace, a leaked capture)
    /// verifies forever: the handler runs again for every copy, and under V2 every copy may
    /// carry another body. Turn it off only where something else refuses replays.
    ///
    /// ```
    /// let layer = tower_plivo::PlivoSignatureLayer::builder()
    ///     .auth_token("token")
    ///     .url_policy(tower_plivo::UrlPolicy::public_base("https://hooks.example.com")?)
    ///     .without_replay_protection()
    ///     .build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn without_replay_protection(mut self) -> Self {
        self.replay = ReplaySetting::Off;
        self
    }

    /// When the nonce store cannot answer: `false` (the default) refuses with 503 so Plivo
    /// retries later; `true` lets the request through unprotected. Both are logged. `true`
    /// without replay protection is a [`ConfigError`].
    pub fn replay_fail_open(mut self, fail_open: bool) -> Self {
        self.replay_fail_open = fail_open;
        self
    }

    /// Also release a request's nonce when the request is dropped after its handler started
    /// (the client disconnected, an outer timeout fired, a panic was caught outside), so that
    /// a retry of it is accepted.
    ///
    /// **The risk:** a dropped request may already have been acted on. With this on, an
    /// attacker holding one captured request can send it, let the handler act, disconnect
    /// before the answer, and send it again: the handler runs once per copy. Without it (the
    /// default), a nonce is released only when the handler cannot have acted (the request was
    /// dropped before the handler's future was first polled) or answered 5xx or failed.
    /// Whether Plivo's retries reuse a nonce is not documented; they get a fresh one as far as
    /// anyone has observed. `true` without replay protection is a [`ConfigError`].
    pub fn replay_release_on_drop(mut self, release: bool) -> Self {
        self.replay_release_on_drop = release;
        self
    }

    /// Report-only rollout: verify and log every request, but let all of them through. A request
    /// that would have been refused carries its [`Rejection`](crate::Rejection) in its
    /// extensions (and [`PlivoVerified`](crate::PlivoVerified) as well when its signature
    /// verified, as for a replay); one without a `Rejection` would have been accepted. A request
    /// the layer reads still meets the body limit and timeout; one refused from its head alone
    /// (no signature headers, a V2 signature where V2 is off, another method) is handed on with
    /// its body unread, under the inner service's own limits. A warning is logged when the layer
    /// is built.
    ///
    /// ```
    /// let layer = tower_plivo::PlivoSignatureLayer::builder()
    ///     .auth_token("t")
    ///     .url_policy(tower_plivo::UrlPolicy::public_base("https://hooks.example.com")?)
    ///     .report_only(true)
    ///     .build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn report_only(mut self, report_only: bool) -> Self {
        self.report_only = report_only;
        self
    }

    /// The signature doctor, on by default. When a refusal could be a configuration mistake (a
    /// signature that does not match, an untrusted host, an unknown origin, a V2 signature
    /// where only V3 is accepted), it recomputes the signature for what a misconfiguration
    /// would have made Plivo sign instead (the other scheme, the default port added or
    /// removed, the hosts in `Host` and in forwarding headers whoever sent them, a forwarded
    /// port, the trailing slash, a path prefix stripped by a router or added by a proxy, the
    /// other token family, the other signature version, the other stream URL forms), alone and
    /// combined, and logs one line (target `tower_plivo::doctor`, after the refusal's own line)
    /// naming what differs and the change that fixes it; "the token is wrong or the request is
    /// forged" only when nothing matches. Candidates never accept a request, and the answer is
    /// the one the request would have had without the doctor.
    ///
    /// Its cost is bounded whatever the traffic, so a flood of forged requests cannot turn it
    /// into work or log volume: per layer it examines at most 10 refusals a minute (in bursts
    /// of at most 5), each by trying at most 256 candidates (each one HMAC per configured token
    /// of the header's family), and logs one line per refusal examined. A POST refused from its
    /// head (untrusted host, unknown origin, V2 not accepted) has its body read first (within
    /// the body limit and timeout), because its signature covers the body; in report-only mode
    /// such a request goes on unread and is not examined. The refusals it skipped are counted
    /// in its next line (`refusals_skipped`).
    ///
    /// On by default because the first cause of "the signature never matches" is
    /// configuration, and the log is the only place to see it; its lines name URLs and headers,
    /// never a token. `.diagnose(false)` turns it off.
    ///
    /// ```
    /// let layer = tower_plivo::PlivoSignatureLayer::builder()
    ///     .auth_token("t")
    ///     .url_policy(tower_plivo::UrlPolicy::public_base("https://hooks.example.com")?)
    ///     .diagnose(false)
    ///     .build()?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    ///
    /// Only with the `diagnosis` feature (on by default): without it the doctor is compiled
    /// out, and a call to this method does not compile rather than doing nothing.
    #[cfg(feature = "diagnosis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "diagnosis")))]
    pub fn diagnose(mut self, diagnose: bool) -> Self {
        self.diagnose = diagnose;
        self
    }

    /// Counters called with every verdict (see [`Metrics`]). With the `metrics` feature, every
    /// verdict also goes to the `metrics` facade, with or without these.
    pub fn metrics(mut self, metrics: impl Metrics) -> Self {
        self.metrics = Some(Arc::new(metrics));
        self
    }

    /// Checks the configuration and builds the guard (or the layer around it). A setting that
    /// could not do what it says (no URL policy, trusted proxies that nothing would read, a
    /// header named for nothing) is an error here rather than a surprise in production.
    pub fn build(self) -> Result<Built, ConfigError>
    where
        Built: From<PlivoGuard>,
    {
        let tokens = match self.tenants {
            None => Tokens::Static(Verifier::new(AuthTokens::new(
                &self.account_tokens,
                &self.main_account_tokens,
            )?)),
            Some(_) if !self.account_tokens.is_empty() || !self.main_account_tokens.is_empty() => {
                return Err(ConfigError::Ineffective {
                    setting: "auth_token / main_account_token",
                    reason: "tenants are configured, and each request is verified with its tenant's \
                             tokens only: put these tokens in the tenant store, or remove \
                             .tenants(..)",
                });
            }
            Some(cache) => Tokens::Tenants(cache),
        };
        let url_policy = self.url_policy.ok_or(ConfigError::NoUrlPolicy)?;
        if let Some(bad) = self
            .skipped_prefixes
            .iter()
            .find(|prefix| !is_skippable_prefix(prefix))
        {
            return Err(ConfigError::InvalidValue {
                setting: "skipped path prefix (a plain path below `/`: `/` itself would skip every \
                          request, and a prefix with escapes, `.`, `..` or empty segments could \
                          never match)",
                value: bad.clone(),
            });
        }
        let source_networks = self
            .source_networks
            .map(|networks| parse_networks("source_networks", &networks))
            .transpose()?;
        let proxies = trusted_proxies(
            self.trusted_proxies,
            self.proxy_headers,
            &url_policy,
            source_networks.is_some(),
        )?;
        let replay = match self.replay {
            ReplaySetting::Default => {
                Some(Arc::new(MemoryNonceStore::new()) as Arc<dyn NonceStore>)
            }
            ReplaySetting::Store(store) => Some(store),
            ReplaySetting::Off => None,
        };
        if replay.is_none() && (self.replay_fail_open || self.replay_release_on_drop) {
            return Err(ConfigError::Ineffective {
                setting: "replay_fail_open / replay_release_on_drop",
                reason: "replay protection is off (without_replay_protection)",
            });
        }
        let extra_stream_url_form = extra_stream_url_form(&self.extra_stream_url_forms)?;
        if self.report_only {
            events::report_only_configured();
        }
        if let Some(form) = extra_stream_url_form {
            events::extra_stream_url_form_configured(form);
        }
        let settings = Settings {
            tokens,
            url_policy,
            proxies,
            source_networks,
            accept_v2: self.accept_v2,
            extra_stream_url_form,
            body_limit: self.body_limit,
            body_timeout: self.body_timeout,
            skipped_prefixes: self.skipped_prefixes,
            responder: self.responder,
            replay: replay.map(|store| ReplaySettings {
                store,
                fail_open: self.replay_fail_open,
                release_on_drop: self.replay_release_on_drop,
            }),
            report_only: self.report_only,
            diagnose: cfg!(feature = "diagnosis") && self.diagnose,
        };
        let observers = Observers {
            #[cfg(feature = "diagnosis")]
            doctor: self.diagnose.then(|| Arc::new(Doctor::new())),
            metrics: self.metrics,
        };
        Ok(Built::from(PlivoGuard::new(settings, observers)))
    }
}

/// The one extra stream URL form, if any: the default form is always accepted, and at most one
/// other may be added.
fn extra_stream_url_form(forms: &[StreamUrlForm]) -> Result<Option<StreamUrlForm>, ConfigError> {
    match forms {
        [] => Ok(None),
        [StreamUrlForm::HttpScheme, ..] | [_, StreamUrlForm::HttpScheme, ..] => {
            Err(ConfigError::Ineffective {
                setting: "also_accept_stream_url_form",
                reason: "StreamUrlForm::HttpScheme is the form Plivo signs, always accepted",
            })
        }
        [form] => Ok(Some(*form)),
        [first, second, ..] => Err(ConfigError::InvalidValue {
            setting: "also_accept_stream_url_form (one other form at most)",
            value: format!("{first}, {second}"),
        }),
    }
}

/// The trusted proxies, checked against what would read their headers.
fn trusted_proxies(
    networks: Option<Vec<String>>,
    named: Option<Vec<ProxyHeader>>,
    url_policy: &UrlPolicy,
    source_networks: bool,
) -> Result<Option<TrustedProxies>, ConfigError> {
    let Some(networks) = networks else {
        return match named {
            Some(_) => Err(ConfigError::Ineffective {
                setting: "proxy_headers",
                reason: "it names headers of trusted proxies, and none are configured (.trusted_proxies([..]))",
            }),
            None => Ok(None),
        };
    };
    let read = |header: ProxyHeader| {
        header.describes_url() && url_policy.reads_the_request()
            || header.describes_client() && source_networks
    };
    let headers: ProxyHeaders = match &named {
        Some(named) => {
            let named: ProxyHeaders = named.iter().copied().collect();
            // `Forwarded` has no path prefix: `X-Forwarded-Prefix` may stand beside it.
            let overlaps_forwarded =
                |h| !matches!(h, ProxyHeader::Forwarded | ProxyHeader::XForwardedPrefix);
            if named.contains(ProxyHeader::Forwarded) && named.any(overlaps_forwarded) {
                return Err(ConfigError::InvalidValue {
                    setting: "proxy headers (name Forwarded or the X-Forwarded-* headers, whichever your proxy sets, not both; X-Forwarded-Prefix may go with either)",
                    value: format!("{named:?}"),
                });
            }
            if let Some(unread) = named.iter().find(|&h| !read(h)) {
                return Err(ConfigError::Ineffective {
                    setting: unread.name(),
                    reason: if unread.describes_client() {
                        "it names the client, which only .source_networks([..]) reads"
                    } else {
                        "it describes the URL, and UrlPolicy::public_base fixes the URL"
                    },
                });
            }
            named
        }
        None => ProxyHeaders::DEFAULT,
    };
    let proxies = TrustedProxies::new(&networks, headers)?;
    if source_networks && proxies.trusts_everything() {
        return Err(ConfigError::Ineffective {
            setting: "trusted_proxies",
            reason: "a network that is every address (/0) is trusted, so every entry of a client \
                     header could be the client's own: source_networks could believe no client; \
                     list your proxies' own networks",
        });
    }
    if !headers.any(read) {
        return Err(ConfigError::Ineffective {
            setting: "trusted_proxies",
            reason: if url_policy.reads_the_request() {
                "no proxy header is named (.proxy_headers([..]))"
            } else if source_networks {
                "with UrlPolicy::public_base the proxies serve only to find the client: name ProxyHeader::XForwardedFor or ProxyHeader::Forwarded in .proxy_headers([..])"
            } else {
                "UrlPolicy::public_base fixes the URL and no .source_networks([..]) needs the client behind the proxies"
            },
        });
    }
    Ok(Some(proxies))
}

impl<Built> fmt::Debug for PlivoGuardBuilder<Built> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlivoGuardBuilder")
            .field("account_tokens", &self.account_tokens.len())
            .field("main_account_tokens", &self.main_account_tokens.len())
            .field("tenants", &self.tenants)
            .field("url_policy", &self.url_policy)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("proxy_headers", &self.proxy_headers)
            .field("source_networks", &self.source_networks)
            .field("accept_v2", &self.accept_v2)
            .field("extra_stream_url_forms", &self.extra_stream_url_forms)
            .field("body_limit", &self.body_limit)
            .field("body_timeout", &self.body_timeout)
            .field("skipped_prefixes", &self.skipped_prefixes)
            .field("custom_responder", &self.responder.is_some())
            .field(
                "replay_protection",
                &match self.replay {
                    ReplaySetting::Default => "memory (default)",
                    ReplaySetting::Store(_) => "custom store",
                    ReplaySetting::Off => "off",
                },
            )
            .field("replay_fail_open", &self.replay_fail_open)
            .field("replay_release_on_drop", &self.replay_release_on_drop)
            .field("report_only", &self.report_only)
            .field("diagnose", &self.diagnose)
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url_policy::Scheme;

    fn with_policy() -> PlivoGuardBuilder {
        PlivoGuard::builder()
            .auth_token("t")
            .url_policy(UrlPolicy::public_base("https://hooks.example.com").unwrap())
    }

    fn from_request() -> PlivoGuardBuilder {
        PlivoGuard::builder()
            .auth_token("t")
            .url_policy(UrlPolicy::from_request(Scheme::Https))
    }

    fn ineffective(builder: PlivoGuardBuilder) -> &'static str {
        match builder.build() {
            Err(ConfigError::Ineffective { setting, .. }) => setting,
            other => panic!("expected Ineffective, got {other:?}"),
        }
    }

    #[test]
    fn debug_never_shows_a_token() {
        let builder = with_policy()
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
            PlivoGuard::builder().build().unwrap_err(),
            ConfigError::NoAuthToken
        );
        assert_eq!(
            PlivoGuard::builder().auth_token("t").build().unwrap_err(),
            ConfigError::NoUrlPolicy
        );
        assert!(with_policy().auth_token(" t").build().is_err());
        assert!(with_policy().skip_paths_under("plivo").build().is_err());
        assert!(matches!(
            with_policy()
                .trusted_proxies(["10.0.0.0/33"])
                .source_networks(["1.2.3.4"])
                .proxy_headers([ProxyHeader::XForwardedFor])
                .build(),
            Err(ConfigError::InvalidCidr { .. })
        ));
        assert!(matches!(
            with_policy().source_networks(["nope"]).build(),
            Err(ConfigError::InvalidCidr { .. })
        ));
    }

    #[test]
    fn the_no_url_policy_error_names_the_choices() {
        let text = ConfigError::NoUrlPolicy.to_string();
        for choice in [
            "public_base",
            "from_request",
            "allow_hosts",
            "trusted_proxies",
        ] {
            assert!(text.contains(choice), "{text}");
        }
    }

    #[test]
    fn settings_that_would_do_nothing_are_errors() {
        // Proxy headers without proxies.
        assert_eq!(
            ineffective(from_request().proxy_headers([ProxyHeader::XForwardedHost])),
            "proxy_headers"
        );
        // Proxies that nothing reads: a fixed URL and no client to find.
        assert_eq!(
            ineffective(with_policy().trusted_proxies(["10.0.0.0/8"])),
            "trusted_proxies"
        );
        // A fixed URL and source networks, but no header that names the client.
        assert_eq!(
            ineffective(
                with_policy()
                    .trusted_proxies(["10.0.0.0/8"])
                    .source_networks(["203.0.113.0/24"])
            ),
            "trusted_proxies"
        );
        // URL headers under a fixed URL.
        assert_eq!(
            ineffective(
                with_policy()
                    .trusted_proxies(["10.0.0.0/8"])
                    .source_networks(["203.0.113.0/24"])
                    .proxy_headers([ProxyHeader::XForwardedFor, ProxyHeader::XForwardedHost])
            ),
            "x-forwarded-host"
        );
        // A client header without source networks.
        assert_eq!(
            ineffective(
                from_request()
                    .trusted_proxies(["10.0.0.0/8"])
                    .proxy_headers([ProxyHeader::XForwardedProto, ProxyHeader::XForwardedFor])
            ),
            "x-forwarded-for"
        );
        // An empty list under from_request.
        assert_eq!(
            ineffective(
                from_request()
                    .trusted_proxies(["10.0.0.0/8"])
                    .proxy_headers([])
            ),
            "trusted_proxies"
        );
        // Replay options with replay protection off.
        assert!(matches!(
            with_policy()
                .without_replay_protection()
                .replay_fail_open(true)
                .build(),
            Err(ConfigError::Ineffective { .. })
        ));
        assert!(matches!(
            with_policy()
                .without_replay_protection()
                .replay_release_on_drop(true)
                .build(),
            Err(ConfigError::Ineffective { .. })
        ));
    }

    #[test]
    fn lists_and_prefixes_that_could_not_do_what_they_say_are_errors() {
        for prefix in ["/", "//", "/a/../b", "/%68ealth", "health", "/a//b"] {
            assert!(
                matches!(
                    with_policy().skip_paths_under(prefix).build(),
                    Err(ConfigError::InvalidValue { .. })
                ),
                "{prefix}"
            );
        }
        assert!(with_policy().skip_paths_under("/health/").build().is_ok());
        assert!(matches!(
            from_request().trusted_proxies(Vec::<String>::new()).build(),
            Err(ConfigError::InvalidCidr {
                setting: "trusted_proxies",
                ..
            })
        ));
        assert!(matches!(
            with_policy().source_networks(Vec::<String>::new()).build(),
            Err(ConfigError::InvalidCidr {
                setting: "source_networks",
                ..
            })
        ));
    }

    #[test]
    fn trusting_every_address_cannot_find_a_client() {
        assert_eq!(
            ineffective(
                with_policy()
                    .trusted_proxies(["0.0.0.0/0", "::/0"])
                    .proxy_headers([ProxyHeader::XForwardedFor])
                    .source_networks(["203.0.113.0/24"])
            ),
            "trusted_proxies"
        );
        // Trusting everything for the scheme alone is the user's call (a PaaS router).
        assert!(
            from_request()
                .trusted_proxies(["0.0.0.0/0"])
                .build()
                .is_ok()
        );
    }

    #[test]
    fn forwarded_and_x_forwarded_headers_are_not_mixed() {
        assert!(matches!(
            from_request()
                .trusted_proxies(["10.0.0.0/8"])
                .proxy_headers([ProxyHeader::Forwarded, ProxyHeader::XForwardedProto])
                .build(),
            Err(ConfigError::InvalidValue { .. })
        ));
    }

    #[test]
    fn the_configurations_the_docs_describe_build() {
        // A fixed public URL with trusted proxies that serve only to find the client.
        assert!(
            with_policy()
                .trusted_proxies(["10.0.0.0/8"])
                .proxy_headers([ProxyHeader::XForwardedFor])
                .source_networks(["203.0.113.0/24"])
                .build()
                .is_ok()
        );
        // The request's host behind a TLS-terminating proxy (the default header).
        assert!(
            from_request()
                .trusted_proxies(["10.0.0.0/8"])
                .build()
                .is_ok()
        );
        assert!(
            from_request()
                .trusted_proxies(["10.0.0.0/8"])
                .proxy_headers([ProxyHeader::Forwarded])
                .source_networks(["203.0.113.0/24"])
                .build()
                .is_ok()
        );
    }
}
