//! Which URL Plivo called: the public origin comes from configuration, or from the request
//! (its `Host`, with the scheme the user names, corrected by the forwarding headers the user's
//! trusted proxies set); the path and query always come from the request target exactly as
//! received.

mod authority;
mod cidr;
mod forwarded;
mod prefix;
mod proxies;
#[cfg(feature = "diagnosis")]
mod report;
mod scheme;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderMap, Uri, header::HOST};

use crate::config_error::ConfigError;
use crate::rejection::Rejection;
pub(crate) use authority::is_authority;
#[cfg(feature = "diagnosis")]
pub(crate) use authority::split_authority;
use authority::{AllowedHost, host_of, same_authority};
pub(crate) use cidr::Cidr;
#[cfg(feature = "diagnosis")]
pub(crate) use forwarded::{Claimed, claimed as claimed_by_forwarding, claimed_by};
pub use scheme::Scheme;

/// A header map of these pairs, in order (for the unit tests of this module's parts).
#[cfg(test)]
pub(crate) fn test_headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, http::HeaderValue::from_str(value).unwrap());
    }
    map
}
pub use proxies::ProxyHeader;
pub(crate) use proxies::{ProxyHeaders, TrustedProxies, parse_networks};
#[cfg(feature = "diagnosis")]
pub(crate) use report::{Ignored, OriginReport, Peer};

/// Where the scheme and authority of the URL Plivo called come from. There is no default: the
/// layer cannot be built without one.
///
/// Behind a TLS-terminating proxy the server sees `http://10.0.0.5:8080/...` while Plivo signed
/// `https://hooks.example.com/...`: pick the policy that tells the layer the truth.
///
/// | policy | use when | what the client can influence |
/// |---|---|---|
/// | [`public_base`](Self::public_base) | you know the URL configured in Plivo (the safest) | nothing |
/// | [`from_request`](Self::from_request) + [`allow_hosts`](Self::allow_hosts) | one token serves several known hosts | which of the listed hosts |
/// | [`from_request`](Self::from_request) alone | development, or hosts you cannot list | the host: a request Plivo signed for another of your hosts on the same token verifies |
///
/// With [`from_request`](Self::from_request), the forwarding headers named with
/// [`proxy_headers`](crate::PlivoGuardBuilder::proxy_headers) correct the scheme,
/// host and port when the TCP peer is one of the
/// [`trusted_proxies`](crate::PlivoGuardBuilder::trusted_proxies).
///
/// ```
/// use tower_plivo::{Scheme, UrlPolicy};
///
/// // Safest: the origin configured in Plivo, fixed.
/// let fixed = UrlPolicy::public_base("https://hooks.example.com")?;
/// // The request's own Host header, among these hosts, with the scheme Plivo used.
/// let listed = UrlPolicy::from_request(Scheme::Https).allow_hosts(["hooks.example.com", "staging.example.com:8443"])?;
/// # Ok::<(), tower_plivo::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct UrlPolicy {
    mode: Mode,
}

#[derive(Clone, Debug)]
enum Mode {
    PublicBase {
        scheme: Scheme,
        authority: Arc<str>,
        /// The path prefix a proxy in front removes (`""`: none).
        prefix: String,
    },
    FromRequest {
        scheme: Scheme,
        allowed_hosts: Option<Vec<AllowedHost>>,
    },
}

impl UrlPolicy {
    /// Always verify against this origin, `scheme://host[:port]` exactly as configured in Plivo
    /// (an explicit port such as `:443` is kept, as Plivo signs it), optionally followed by the
    /// path prefix that a proxy or gateway in front of the app removes (nginx
    /// `proxy_pass http://app/;` under `location /plivo/`, Traefik's `StripPrefix`, an API
    /// Gateway base-path mapping in front of an HTTP backend; a Lambda integration receives the
    /// mapping's path, see the deployment guide's "AWS Lambda").
    ///
    /// The URL verified is this base, then the path exactly as the app received it, then the
    /// query: with `https://hooks.example.com/plivo`, a request for `/answer?x=1` is verified as
    /// `https://hooks.example.com/plivo/answer?x=1`. A trailing `/` on the base is ignored, and
    /// a received `/` is also tried as the bare base (`https://hooks.example.com/plivo`), since
    /// Plivo may have been configured with either. A request whose path still carries the prefix
    /// (a proxy that does not strip it) is verified with the prefix twice, which Plivo did not
    /// sign, and refused; the signature doctor says when the URL without the configured prefix
    /// would have matched. A query, a fragment or userinfo is an error.
    ///
    /// ```
    /// use tower_plivo::UrlPolicy;
    ///
    /// assert!(UrlPolicy::public_base("https://hooks.example.com:8443/").is_ok());
    /// assert!(UrlPolicy::public_base("https://hooks.example.com/plivo").is_ok());
    /// assert!(UrlPolicy::public_base("https://hooks.example.com/plivo?x=1").is_err());
    /// assert!(UrlPolicy::public_base("ftp://hooks.example.com").is_err());
    /// ```
    pub fn public_base(url: &str) -> Result<Self, ConfigError> {
        let error = |reason| ConfigError::InvalidPublicBase {
            url: url.to_owned(),
            reason,
        };
        let (scheme, rest) = url.split_once("://").ok_or(error("no scheme"))?;
        let scheme = Scheme::parse(scheme).ok_or(error("the scheme must be http or https"))?;
        if rest.contains(['?', '#']) {
            return Err(error("it has a query or fragment"));
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(error("it has userinfo"));
        }
        if !is_authority(authority) {
            return Err(error("the host is missing or malformed"));
        }
        let prefix = match path {
            "" => "",
            path => prefix::path_prefix(path).ok_or(error(
                "its path is not a path prefix (printable, ending in at most one `/`)",
            ))?,
        };
        Ok(Self {
            mode: Mode::PublicBase {
                scheme,
                authority: authority.into(),
                prefix: prefix.to_owned(),
            },
        })
    }

    /// Take the authority from the request (its `Host` header, or the target's authority for
    /// HTTP/2 and absolute-form requests) and use `scheme`, unless a trusted proxy's named
    /// forwarding headers say otherwise.
    ///
    /// When a request carries both a `Host` header and a target with an authority, the two
    /// must name the same host (without regard to case; a port equal to the scheme's default
    /// is the same as none), or the request is refused with [`Rejection::UnknownOrigin`]: the
    /// host verified must be the host a handler or router reads.
    ///
    /// **The `Host` header is chosen by the client.** Alone, this policy verifies whatever
    /// host the request names, so a callback Plivo signed for another of your hosts under the
    /// same token (staging and production, say) verifies here too. Add
    /// [`allow_hosts`](Self::allow_hosts), or use [`public_base`](Self::public_base).
    ///
    /// ```
    /// use tower_plivo::{Scheme, UrlPolicy};
    /// let policy = UrlPolicy::from_request(Scheme::Https).allow_hosts(["hooks.example.com"])?;
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn from_request(scheme: Scheme) -> Self {
        Self {
            mode: Mode::FromRequest {
                scheme,
                allowed_hosts: None,
            },
        }
    }

    /// With [`from_request`](Self::from_request): refuse requests whose resolved authority is
    /// not one of these, with [`Rejection::UntrustedHost`]. Each entry is `host` or
    /// `host:port`; the host is compared without regard to case and the port exactly (an entry
    /// without a port admits only an authority without one, as Plivo sends `Host` for a URL
    /// without a port). With [`public_base`](Self::public_base), whose host is fixed, this is
    /// an error rather than a setting that does nothing.
    ///
    /// ```
    /// use tower_plivo::{Scheme, UrlPolicy};
    /// assert!(UrlPolicy::from_request(Scheme::Https).allow_hosts(["bad/host"]).is_err());
    /// assert!(UrlPolicy::public_base("https://h.example")?.allow_hosts(["h.example"]).is_err());
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn allow_hosts<I, T>(mut self, hosts: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let Mode::FromRequest { allowed_hosts, .. } = &mut self.mode else {
            return Err(ConfigError::Ineffective {
                setting: "UrlPolicy::allow_hosts",
                reason: "UrlPolicy::public_base fixes the host; allow_hosts applies to UrlPolicy::from_request",
            });
        };
        let hosts = hosts
            .into_iter()
            .map(|host| {
                let host = host.as_ref();
                AllowedHost::parse(host).ok_or_else(|| ConfigError::InvalidValue {
                    setting: "allowed host (host or host:port)",
                    value: host.to_owned(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if hosts.is_empty() {
            return Err(ConfigError::InvalidValue {
                setting: "allowed host (the list is empty: nothing would verify)",
                value: String::new(),
            });
        }
        allowed_hosts.get_or_insert_with(Vec::new).extend(hosts);
        Ok(self)
    }

    /// Whether the origin comes from the request, so that forwarding headers can correct it.
    pub(crate) fn reads_the_request(&self) -> bool {
        matches!(self.mode, Mode::FromRequest { .. })
    }

    /// The scheme the policy names (the fixed one, or the one assumed for the request's `Host`).
    #[cfg(feature = "diagnosis")]
    pub(crate) fn scheme(&self) -> Scheme {
        match &self.mode {
            Mode::PublicBase { scheme, .. } | Mode::FromRequest { scheme, .. } => *scheme,
        }
    }

    /// This policy without its allow-list (to tell operators which host it refused).
    #[cfg(feature = "diagnosis")]
    pub(crate) fn without_allow_list(&self) -> Self {
        match &self.mode {
            Mode::FromRequest { scheme, .. } => Self::from_request(*scheme),
            Mode::PublicBase { .. } => self.clone(),
        }
    }

    /// Whether the allow-list (if any) admits this authority.
    #[cfg(feature = "diagnosis")]
    pub(crate) fn admits(&self, authority: &str) -> bool {
        match &self.mode {
            Mode::FromRequest {
                allowed_hosts: Some(allowed),
                ..
            } => allowed.iter().any(|entry| entry.admits(authority)),
            _ => true,
        }
    }

    /// The scheme and authority of the URL Plivo called, for this request. `trusted` is the
    /// user's proxies when the TCP peer is one of them (their named headers are then read).
    pub(crate) fn resolve(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        trusted: Option<&TrustedProxies>,
    ) -> Result<Origin, Rejection> {
        let (scheme, allowed_hosts) = match &self.mode {
            Mode::PublicBase {
                scheme,
                authority,
                prefix,
            } => {
                return Ok(Origin {
                    scheme: *scheme,
                    authority: authority.clone(),
                    prefix: prefix.clone(),
                });
            }
            Mode::FromRequest {
                scheme,
                allowed_hosts,
            } => (*scheme, allowed_hosts),
        };
        let forwarded = match trusted {
            Some(proxies) => proxies.forwarded_url(headers)?,
            None => proxies::ForwardedUrl::default(),
        };
        let scheme = forwarded.scheme.unwrap_or(scheme);
        let mut origin = match forwarded.host {
            Some(host) if is_authority(&host) => Origin::new(scheme, host),
            Some(_) => return Err(Rejection::UnknownOrigin),
            None => request_origin(scheme, uri, headers)?,
        };
        if let Some(prefix) = forwarded.prefix {
            origin.prefix = prefix;
        }
        if let Some(port) = forwarded.port {
            let host = host_of(&origin.authority).to_owned();
            origin.authority = if port == scheme.default_port() {
                host.into()
            } else {
                format!("{host}:{port}").into()
            };
        }
        if let Some(allowed) = allowed_hosts
            && !allowed.iter().any(|entry| entry.admits(&origin.authority))
        {
            return Err(Rejection::UntrustedHost);
        }
        Ok(origin)
    }
}

/// The origin of a request under `policy`, believing the named headers of `proxies` only when
/// the TCP `peer` is one of them.
pub(crate) fn origin_of(
    policy: &UrlPolicy,
    proxies: Option<&TrustedProxies>,
    uri: &Uri,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<Origin, Rejection> {
    let trusted_peer = proxies.filter(|proxies| peer.is_some_and(|peer| proxies.trusts(peer.ip())));
    policy.resolve(uri, headers, trusted_peer)
}

/// The scheme and authority of a resolved URL, and the path prefix a proxy removed (`""`:
/// none): what goes before the path as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) scheme: Scheme,
    /// Shared with the policy under a public base: a request's origin is then a reference
    /// count, not a copy.
    pub(crate) authority: Arc<str>,
    pub(crate) prefix: String,
}

impl Origin {
    /// This origin without a path prefix.
    pub(crate) fn new(scheme: Scheme, authority: impl Into<Arc<str>>) -> Self {
        Self {
            scheme,
            authority: authority.into(),
            prefix: String::new(),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, authority, prefix) = (self.scheme.as_str(), &self.authority, &self.prefix);
        write!(f, "{scheme}://{authority}{prefix}")
    }
}

pub(crate) fn request_origin(
    scheme: Scheme,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Origin, Rejection> {
    // The authority verified comes from the request itself: it must be the one a handler
    // reads in `Host`.
    if host_disagreement(scheme, uri, headers).is_some() {
        return Err(Rejection::UnknownOrigin);
    }
    let authority = match uri.authority() {
        Some(authority) => authority.as_str(),
        None => single_header(headers, HOST.as_str()).ok_or(Rejection::UnknownOrigin)?,
    };
    // Userinfo never reaches a server in a real request; an authority carrying one is refused.
    if !is_authority(authority) || authority.contains('@') {
        return Err(Rejection::UnknownOrigin);
    }
    Ok(Origin::new(scheme, authority.to_owned()))
}

/// The `Host` header (its lines joined) and the request target's authority, when the target
/// carries one (an absolute-form HTTP/1.1 target, HTTP/2's `:authority`), a `Host` is present
/// too, and the two do not name the same place (host without case; the default port of
/// `scheme`, the scheme verified, the same as none). The host verified must be the one a
/// handler or router reads: RFC 9113 §8.3.1 calls such an HTTP/2 request malformed, and
/// RFC 9112 §3.2.2 has an absolute-form target override `Host`, which a framework reading
/// `Host` would not do.
pub(crate) fn host_disagreement<'a>(
    scheme: Scheme,
    uri: &'a Uri,
    headers: &HeaderMap,
) -> Option<(String, &'a str)> {
    let authority = uri.authority()?.as_str();
    let mut lines = headers.get_all(HOST).iter();
    let first = lines.next()?;
    // The `Host` must itself be an authority (a junk tail such as `[::1]x` would otherwise
    // read as no port).
    let agrees = lines.next().is_none()
        && first.to_str().is_ok_and(|host| {
            is_authority(host) && same_authority(host, authority, scheme.default_port())
        });
    if agrees {
        return None;
    }
    let shown = headers
        .get_all(HOST)
        .iter()
        .map(|line| String::from_utf8_lossy(line.as_bytes()).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    Some((shown, authority))
}

/// The `Host` header when it appears exactly once.
fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    value.to_str().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url_policy::test_headers as headers;

    fn resolve(
        policy: &UrlPolicy,
        pairs: &[(&'static str, &str)],
        trusted: Option<&TrustedProxies>,
    ) -> Result<String, Rejection> {
        let uri: Uri = "/answer?x=1".parse().unwrap();
        policy
            .resolve(&uri, &headers(pairs), trusted)
            .map(|o| o.to_string())
    }

    fn proxies(named: &[ProxyHeader]) -> TrustedProxies {
        TrustedProxies::new(["10.0.0.0/8"], named.iter().copied().collect()).unwrap()
    }

    #[test]
    fn public_base_ignores_the_request() {
        let policy = UrlPolicy::public_base("https://Hooks.example.com:443/").unwrap();
        let every = proxies(&[ProxyHeader::XForwardedHost, ProxyHeader::XForwardedProto]);
        assert_eq!(
            resolve(
                &policy,
                &[("host", "10.0.0.5:8080"), ("x-forwarded-host", "evil")],
                Some(&every)
            ),
            Ok("https://Hooks.example.com:443".into())
        );
    }

    #[test]
    fn public_base_validation() {
        for bad in [
            "hooks.example.com",
            "https://",
            "https://h/p?x",
            "https://h?x",
            "https://h/p#f",
            "https://u@h",
            "https://u@h/p",
            "https://h:x",
            "https://h/p//",
            "https://h/a b",
            "ws://h",
        ] {
            assert!(UrlPolicy::public_base(bad).is_err(), "{bad}");
        }
        assert!(UrlPolicy::public_base("http://[::1]:8080").is_ok());
    }

    #[test]
    fn public_base_keeps_a_path_prefix_without_its_trailing_slash() {
        for (base, origin) in [
            ("https://h.example/plivo", "https://h.example/plivo"),
            ("https://h.example/plivo/", "https://h.example/plivo"),
            ("https://h.example:8443/a/b/", "https://h.example:8443/a/b"),
            ("https://h.example/", "https://h.example"),
            ("https://h.example", "https://h.example"),
        ] {
            let policy = UrlPolicy::public_base(base).unwrap();
            assert_eq!(resolve(&policy, &[], None), Ok(origin.into()), "{base}");
        }
    }

    #[test]
    fn from_request_uses_host() {
        let policy = UrlPolicy::from_request(Scheme::Https);
        assert_eq!(
            resolve(&policy, &[("host", "h.example:8443")], None),
            Ok("https://h.example:8443".into())
        );
        assert_eq!(resolve(&policy, &[], None), Err(Rejection::UnknownOrigin));
        assert_eq!(
            resolve(&policy, &[("host", "a"), ("host", "b")], None),
            Err(Rejection::UnknownOrigin)
        );
        assert_eq!(
            resolve(&policy, &[("host", "a/b")], None),
            Err(Rejection::UnknownOrigin)
        );
    }

    #[test]
    fn the_targets_authority_and_host_must_agree() {
        let policy = UrlPolicy::from_request(Scheme::Http);
        let uri: Uri = "http://target.example/answer".parse().unwrap();
        assert_eq!(
            policy.resolve(&uri, &headers(&[("host", "other")]), None),
            Err(Rejection::UnknownOrigin)
        );
        assert_eq!(
            policy.resolve(
                &uri,
                &headers(&[("host", "target.example"), ("host", "target.example")]),
                None
            ),
            Err(Rejection::UnknownOrigin),
            "a repeated Host"
        );
        for agreeing in ["target.example", "TARGET.example", "target.example:80"] {
            let origin = policy
                .resolve(&uri, &headers(&[("host", agreeing)]), None)
                .unwrap();
            assert_eq!(&*origin.authority, "target.example", "{agreeing}");
        }
        let https: Uri = "https://target.example:443/answer".parse().unwrap();
        let origin = UrlPolicy::from_request(Scheme::Https)
            .resolve(&https, &headers(&[("host", "target.example")]), None)
            .unwrap();
        assert_eq!(
            &*origin.authority, "target.example:443",
            "as the target says"
        );
        // The default port is the verified scheme's (here http's), not the target's.
        assert_eq!(
            policy.resolve(&https, &headers(&[("host", "target.example")]), None),
            Err(Rejection::UnknownOrigin)
        );
        for junk in [
            "target.example:+80",
            "target.example:x",
            "[::1]x",
            "u@target.example",
        ] {
            assert_eq!(
                policy.resolve(&uri, &headers(&[("host", junk)]), None),
                Err(Rejection::UnknownOrigin),
                "{junk}"
            );
        }
        let v6: Uri = "http://[::1]/answer".parse().unwrap();
        for junk in ["[::1]junk", "[::1]:+80"] {
            assert_eq!(
                policy.resolve(&v6, &headers(&[("host", junk)]), None),
                Err(Rejection::UnknownOrigin),
                "{junk}"
            );
        }
        assert!(
            policy
                .resolve(&v6, &headers(&[("host", "[::1]:80")]), None)
                .is_ok()
        );
        let origin = policy.resolve(&uri, &headers(&[]), None).unwrap();
        assert_eq!(
            &*origin.authority, "target.example",
            "no Host: the target's"
        );
    }

    #[test]
    fn a_trusted_peer_is_believed_for_the_named_headers_only() {
        let policy = UrlPolicy::from_request(Scheme::Http);
        let sent = [
            ("host", "internal:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "hooks.example.com"),
        ];
        let default = TrustedProxies::new(["10.0.0.0/8"], ProxyHeaders::DEFAULT).unwrap();
        assert_eq!(
            resolve(&policy, &sent, Some(&default)),
            Ok("https://internal:8080".into()),
            "X-Forwarded-Host is not believed unless named"
        );
        let both = proxies(&[ProxyHeader::XForwardedProto, ProxyHeader::XForwardedHost]);
        assert_eq!(
            resolve(&policy, &sent, Some(&both)),
            Ok("https://hooks.example.com".into())
        );
        assert_eq!(
            resolve(&policy, &sent, None),
            Ok("http://internal:8080".into()),
            "an untrusted peer is believed for nothing"
        );
    }

    #[test]
    fn forwarded_port_rules() {
        let policy = UrlPolicy::from_request(Scheme::Http);
        let named = proxies(&[
            ProxyHeader::XForwardedProto,
            ProxyHeader::XForwardedHost,
            ProxyHeader::XForwardedPort,
        ]);
        let with = |port: &str| {
            resolve(
                &policy,
                &[
                    ("x-forwarded-proto", "https"),
                    ("x-forwarded-host", "h.example:1234"),
                    ("x-forwarded-port", port),
                ],
                Some(&named),
            )
        };
        assert_eq!(with("443"), Ok("https://h.example".into()));
        assert_eq!(with("8443"), Ok("https://h.example:8443".into()));
        let v6 = resolve(
            &policy,
            &[
                ("x-forwarded-host", "[fd00::1]"),
                ("x-forwarded-port", "8080"),
            ],
            Some(&named),
        );
        assert_eq!(v6, Ok("http://[fd00::1]:8080".into()));
    }

    /// Found by `fuzz/fuzz_targets/forwarded.rs`: a trusted proxy's host carrying userinfo (or
    /// a bare `@`) was taken as the authority (`http://@`), while the same value in `Host` is
    /// refused. Userinfo never reaches a server in a request, so it is refused from both.
    #[test]
    fn forwarded_host_with_userinfo_is_refused() {
        let policy = UrlPolicy::from_request(Scheme::Http);
        let x_forwarded = proxies(&[ProxyHeader::XForwardedHost]);
        let forwarded = proxies(&[ProxyHeader::Forwarded]);
        for host in ["@", "user@h.example", "u:pw@h.example:8443"] {
            assert_eq!(
                resolve(&policy, &[("x-forwarded-host", host)], Some(&x_forwarded)),
                Err(Rejection::UnknownOrigin),
                "{host}"
            );
            let value = format!("host=\"{host}\"");
            assert_eq!(
                resolve(&policy, &[("forwarded", &value)], Some(&forwarded)),
                Err(Rejection::UnknownOrigin),
                "{host}"
            );
        }
    }

    #[test]
    fn the_allow_list_compares_the_host_without_case_and_the_port_exactly() {
        let policy = UrlPolicy::from_request(Scheme::Https)
            .allow_hosts([
                "Hooks.Example.com",
                "staging.example.com:8443",
                "[fd00::1]:80",
            ])
            .unwrap();
        let host = |value: &str| resolve(&policy, &[("host", value)], None);
        assert!(host("hooks.example.COM").is_ok());
        assert_eq!(host("hooks.example.com:443"), Err(Rejection::UntrustedHost));
        assert_eq!(
            host("hooks.example.com:8443"),
            Err(Rejection::UntrustedHost)
        );
        assert!(host("STAGING.example.com:8443").is_ok());
        assert_eq!(host("staging.example.com"), Err(Rejection::UntrustedHost));
        assert_eq!(
            host("staging.example.com:08443"),
            Err(Rejection::UntrustedHost)
        );
        assert!(host("[FD00::1]:80").is_ok());
        assert_eq!(host("evil.example"), Err(Rejection::UntrustedHost));
    }

    #[test]
    fn allow_hosts_is_refused_where_it_would_do_nothing() {
        assert!(matches!(
            UrlPolicy::public_base("https://h.example")
                .unwrap()
                .allow_hosts(["h.example"]),
            Err(ConfigError::Ineffective { .. })
        ));
        assert!(
            UrlPolicy::from_request(Scheme::Https)
                .allow_hosts(Vec::<String>::new())
                .is_err()
        );
    }
}
