//! Which URL Plivo called (SPEC §4): the public origin comes from configuration, from the
//! request, or from forwarding headers sent by a trusted proxy; the path and query always come
//! from the request target exactly as received.

mod cidr;
mod forwarded;

use std::fmt;
use std::net::SocketAddr;

use http::{HeaderMap, Uri, header::HOST};

use crate::config_error::ConfigError;
use crate::rejection::Rejection;
use cidr::Cidr;

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http`
    Http,
    /// `https`
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    ///
    /// ```
    /// assert_eq!(tower_plivo::Scheme::Https.as_str(), "https");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("https") {
            Some(Scheme::Https)
        } else if text.eq_ignore_ascii_case("http") {
            Some(Scheme::Http)
        } else {
            None
        }
    }
}

impl std::str::FromStr for Scheme {
    type Err = ConfigError;

    /// ```
    /// use tower_plivo::Scheme;
    /// assert_eq!("HTTPS".parse::<Scheme>()?, Scheme::Https);
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    fn from_str(text: &str) -> Result<Self, ConfigError> {
        Scheme::parse(text).ok_or_else(|| ConfigError::InvalidScheme(text.to_owned()))
    }
}

/// How the layer learns the scheme and authority of the URL Plivo called.
///
/// Behind a TLS-terminating proxy the server sees `http://10.0.0.5:8080/...` while Plivo signed
/// `https://hooks.example.com/...`: pick the mode that tells the layer the truth.
///
/// ```
/// use tower_plivo::{Scheme, UrlPolicy};
///
/// // Safest: the origin configured in Plivo, fixed.
/// let fixed = UrlPolicy::public_base("https://hooks.example.com")?;
/// // The request's own Host header, with the scheme Plivo used.
/// let direct = UrlPolicy::from_request(Scheme::Https).allow_hosts(["hooks.example.com"])?;
/// // Forwarding headers, believed only from these proxies.
/// let proxied = UrlPolicy::trusted_proxies(["10.0.0.0/8", "fd00::/8"])?;
/// # Ok::<(), tower_plivo::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct UrlPolicy {
    mode: Mode,
    allowed_hosts: Option<Vec<String>>,
}

#[derive(Clone, Debug)]
enum Mode {
    PublicBase {
        scheme: Scheme,
        authority: String,
    },
    FromRequest {
        scheme: Scheme,
    },
    TrustedProxies {
        proxies: Vec<Cidr>,
        fallback_scheme: Scheme,
    },
}

impl UrlPolicy {
    /// Always verify against this origin, `scheme://host[:port]` exactly as configured in Plivo
    /// (an explicit port such as `:443` is kept, as Plivo signs it). A trailing `/` is allowed;
    /// a longer path, a query, a fragment or userinfo is an error.
    ///
    /// ```
    /// use tower_plivo::UrlPolicy;
    ///
    /// assert!(UrlPolicy::public_base("https://hooks.example.com:8443/").is_ok());
    /// assert!(UrlPolicy::public_base("https://hooks.example.com/plivo").is_err());
    /// assert!(UrlPolicy::public_base("ftp://hooks.example.com").is_err());
    /// ```
    pub fn public_base(url: &str) -> Result<Self, ConfigError> {
        let error = |reason| ConfigError::InvalidPublicBase {
            url: url.to_owned(),
            reason,
        };
        let (scheme, rest) = url.split_once("://").ok_or(error("no scheme"))?;
        let scheme = Scheme::parse(scheme).ok_or(error("the scheme must be http or https"))?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('/') {
            return Err(error("it has a path (the path comes from each request)"));
        }
        if authority.contains(['?', '#']) {
            return Err(error("it has a query or fragment"));
        }
        if authority.contains('@') {
            return Err(error("it has userinfo"));
        }
        if !is_authority(authority) {
            return Err(error("the host is missing or malformed"));
        }
        Ok(Self::new(Mode::PublicBase {
            scheme,
            authority: authority.to_owned(),
        }))
    }

    /// Take the authority from the request (its `Host` header, or the target's authority for
    /// HTTP/2 and absolute-form requests) and use `scheme`. The `Host` header is chosen by the
    /// client, so combine this with [`allow_hosts`](Self::allow_hosts) when one token serves
    /// several domains.
    pub fn from_request(scheme: Scheme) -> Self {
        Self::new(Mode::FromRequest { scheme })
    }

    /// Believe `Forwarded` / `X-Forwarded-Proto` / `-Host` / `-Port` only when the TCP peer is
    /// in one of these networks (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`, ...). From any other
    /// peer, or when the peer address is unknown, they are ignored and the request is treated as
    /// in [`from_request`](Self::from_request) with the fallback scheme (`http` unless
    /// [`with_fallback_scheme`](Self::with_fallback_scheme) says otherwise).
    ///
    /// An `X-Forwarded-Port` equal to the scheme's default port is not added to the host, since
    /// Plivo's URL then has none (load balancers send `443` on every request).
    pub fn trusted_proxies<I, T>(proxies: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let proxies = proxies
            .into_iter()
            .map(|cidr| {
                let cidr = cidr.as_ref();
                cidr.parse::<Cidr>()
                    .map_err(|()| ConfigError::InvalidCidr(cidr.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(Mode::TrustedProxies {
            proxies,
            fallback_scheme: Scheme::Http,
        }))
    }

    /// The scheme used in trusted-proxy mode when no trusted proxy names one.
    ///
    /// ```
    /// use tower_plivo::{Scheme, UrlPolicy};
    /// let policy = UrlPolicy::trusted_proxies(["10.0.0.0/8"])?.with_fallback_scheme(Scheme::Https);
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn with_fallback_scheme(mut self, scheme: Scheme) -> Self {
        if let Mode::TrustedProxies {
            fallback_scheme, ..
        } = &mut self.mode
        {
            *fallback_scheme = scheme;
        }
        self
    }

    /// Refuse requests whose resolved host (compared without port, ignoring case) is not one of
    /// these, with [`Rejection::UntrustedHost`]. Has no effect with
    /// [`public_base`](Self::public_base), whose host is fixed.
    ///
    /// ```
    /// use tower_plivo::{Scheme, UrlPolicy};
    /// assert!(UrlPolicy::from_request(Scheme::Https).allow_hosts(["bad/host"]).is_err());
    /// ```
    pub fn allow_hosts<I, T>(mut self, hosts: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let hosts = hosts
            .into_iter()
            .map(|host| {
                let host = host.as_ref();
                if is_authority(host) && !host.contains(':')
                    || host.starts_with('[') && is_authority(host)
                {
                    Ok(host.to_ascii_lowercase())
                } else {
                    Err(ConfigError::InvalidValue {
                        setting: "allowed host",
                        value: host.to_owned(),
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.allowed_hosts = Some(hosts);
        Ok(self)
    }

    fn new(mode: Mode) -> Self {
        Self {
            mode,
            allowed_hosts: None,
        }
    }

    /// The scheme and authority of the URL Plivo called, for this request.
    pub(crate) fn resolve(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Result<Origin, Rejection> {
        let origin = match &self.mode {
            Mode::PublicBase { scheme, authority } => {
                return Ok(Origin {
                    scheme: *scheme,
                    authority: authority.clone(),
                });
            }
            Mode::FromRequest { scheme } => request_origin(*scheme, uri, headers)?,
            Mode::TrustedProxies {
                proxies,
                fallback_scheme,
            } => {
                let trusted_peer = peer.is_some_and(|p| proxies.iter().any(|c| c.contains(p.ip())));
                if peer.is_none() && forwarded::present(headers) {
                    tracing::debug!(
                        target: "tower_plivo",
                        "forwarding headers ignored: the peer address is unknown (serve axum with \
                         into_make_service_with_connect_info::<SocketAddr>(), or insert tower_plivo::PeerAddr)"
                    );
                }
                if trusted_peer {
                    forwarded_origin(*fallback_scheme, uri, headers, proxies)?
                } else {
                    request_origin(*fallback_scheme, uri, headers)?
                }
            }
        };
        if let Some(allowed) = &self.allowed_hosts {
            let host = host_of(&origin.authority).to_ascii_lowercase();
            if !allowed.contains(&host) {
                return Err(Rejection::UntrustedHost);
            }
        }
        Ok(origin)
    }
}

/// The scheme and authority of a resolved URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) scheme: Scheme,
    pub(crate) authority: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.authority)
    }
}

fn request_origin(scheme: Scheme, uri: &Uri, headers: &HeaderMap) -> Result<Origin, Rejection> {
    let authority = match uri.authority() {
        Some(authority) => authority.as_str(),
        None => single_header(headers, HOST.as_str()).ok_or(Rejection::UnknownOrigin)?,
    };
    // Userinfo never reaches a server in a real request; an authority carrying one is refused.
    if !is_authority(authority) || authority.contains('@') {
        return Err(Rejection::UnknownOrigin);
    }
    Ok(Origin {
        scheme,
        authority: authority.to_owned(),
    })
}

fn forwarded_origin(
    fallback_scheme: Scheme,
    uri: &Uri,
    headers: &HeaderMap,
    proxies: &[Cidr],
) -> Result<Origin, Rejection> {
    let forwarded = forwarded::read(headers, proxies);
    let scheme = forwarded
        .proto
        .as_deref()
        .and_then(Scheme::parse)
        .unwrap_or(fallback_scheme);
    let mut origin = match forwarded.host {
        Some(host) if is_authority(&host) => Origin {
            scheme,
            authority: host,
        },
        Some(_) => return Err(Rejection::UnknownOrigin),
        None => request_origin(scheme, uri, headers)?,
    };
    if let Some(port) = forwarded.port {
        let host = host_of(&origin.authority).to_owned();
        origin.authority = if port == scheme.default_port() {
            host
        } else {
            format!("{host}:{port}")
        };
    }
    Ok(origin)
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

/// Whether `text` looks like `host[:port]`: non-empty, visible ASCII, no `/ ? # \` or spaces,
/// no userinfo (`@`: it never reaches a server in a request, from `Host` or from a proxy), a
/// numeric port if any.
fn is_authority(text: &str) -> bool {
    if text.is_empty()
        || !text.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'\\' | b'"' | b',' | b'@')
        })
    {
        return false;
    }
    let host = host_of(text);
    let after = &text[host.len()..];
    let port_ok = match after.strip_prefix(':') {
        Some(port) => {
            !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
        }
        None => after.is_empty(),
    };
    !host.is_empty() && port_ok
}

/// The host of `host[:port]` (an IPv6 literal keeps its brackets).
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, _)) => host,
        None => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn resolve(
        policy: &UrlPolicy,
        pairs: &[(&'static str, &str)],
        peer: Option<&str>,
    ) -> Result<String, Rejection> {
        let uri: Uri = "/answer?x=1".parse().unwrap();
        policy
            .resolve(&uri, &headers(pairs), peer.map(|p| p.parse().unwrap()))
            .map(|o| o.to_string())
    }

    #[test]
    fn public_base_ignores_the_request() {
        let policy = UrlPolicy::public_base("https://Hooks.example.com:443/").unwrap();
        assert_eq!(
            resolve(
                &policy,
                &[("host", "10.0.0.5:8080"), ("x-forwarded-host", "evil")],
                Some("10.0.0.1:1")
            ),
            Ok("https://Hooks.example.com:443".into())
        );
    }

    #[test]
    fn public_base_validation() {
        for bad in [
            "hooks.example.com",
            "https://",
            "https://h/p",
            "https://h?x",
            "https://u@h",
            "https://h:x",
            "ws://h",
        ] {
            assert!(UrlPolicy::public_base(bad).is_err(), "{bad}");
        }
        assert!(UrlPolicy::public_base("http://[::1]:8080").is_ok());
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
    fn absolute_form_authority_wins() {
        let policy = UrlPolicy::from_request(Scheme::Http);
        let uri: Uri = "http://target.example/answer".parse().unwrap();
        let origin = policy
            .resolve(&uri, &headers(&[("host", "other")]), None)
            .unwrap();
        assert_eq!(origin.authority, "target.example");
    }

    #[test]
    fn trusted_proxy_headers_only_from_trusted_peers() {
        let policy = UrlPolicy::trusted_proxies(["10.0.0.0/8"]).unwrap();
        let forged = [
            ("host", "internal:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "hooks.example.com"),
        ];
        assert_eq!(
            resolve(&policy, &forged, Some("10.1.2.3:5000")),
            Ok("https://hooks.example.com".into())
        );
        assert_eq!(
            resolve(&policy, &forged, Some("[::ffff:10.1.2.3]:5000")),
            Ok("https://hooks.example.com".into())
        );
        assert_eq!(
            resolve(&policy, &forged, Some("203.0.113.5:5000")),
            Ok("http://internal:8080".into())
        );
        assert_eq!(
            resolve(&policy, &forged, None),
            Ok("http://internal:8080".into())
        );
    }

    #[test]
    fn forwarded_port_rules() {
        let policy = UrlPolicy::trusted_proxies(["127.0.0.1"]).unwrap();
        let peer = Some("127.0.0.1:9");
        let with = |port: &str| {
            resolve(
                &policy,
                &[
                    ("x-forwarded-proto", "https"),
                    ("x-forwarded-host", "h.example:1234"),
                    ("x-forwarded-port", port),
                ],
                peer,
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
            peer,
        );
        assert_eq!(v6, Ok("http://[fd00::1]:8080".into()));
    }

    /// Found by `fuzz/fuzz_targets/forwarded.rs`: a trusted proxy's host carrying userinfo (or
    /// a bare `@`) was taken as the authority (`http://@`), while the same value in `Host` is
    /// refused. Userinfo never reaches a server in a request, so it is refused from both.
    #[test]
    fn forwarded_host_with_userinfo_is_refused() {
        let policy = UrlPolicy::trusted_proxies(["127.0.0.1"]).unwrap();
        let peer = Some("127.0.0.1:9");
        for host in ["@", "user@h.example", "u:pw@h.example:8443"] {
            assert_eq!(
                resolve(&policy, &[("x-forwarded-host", host)], peer),
                Err(Rejection::UnknownOrigin),
                "{host}"
            );
            let forwarded = format!("host=\"{host}\"");
            assert_eq!(
                resolve(&policy, &[("forwarded", &forwarded)], peer),
                Err(Rejection::UnknownOrigin),
                "{host}"
            );
        }
    }

    #[test]
    fn allow_list() {
        let policy = UrlPolicy::from_request(Scheme::Https)
            .allow_hosts(["Hooks.Example.com"])
            .unwrap();
        assert!(resolve(&policy, &[("host", "hooks.example.COM:443")], None).is_ok());
        assert_eq!(
            resolve(&policy, &[("host", "evil.example")], None),
            Err(Rejection::UntrustedHost)
        );
    }
}
