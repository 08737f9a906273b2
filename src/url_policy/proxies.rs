//! Trusted proxies: which TCP peers are proxies of the user's, which forwarding headers those
//! proxies set (only those are believed), and what the headers say about the URL Plivo called
//! and the client behind the proxies.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderMap;
use http::header::FORWARDED;

use super::Scheme;
use super::cidr::Cidr;
use super::forwarded;
use super::prefix::path_prefix;
use crate::config_error::ConfigError;
use crate::rejection::Rejection;

/// A forwarding header that the user's trusted proxies set, and that the layer may therefore
/// believe when such a proxy is the TCP peer.
///
/// Only headers named with
/// [`proxy_headers`](crate::PlivoGuardBuilder::proxy_headers) are read; the default is
/// [`XForwardedProto`](Self::XForwardedProto) alone, the header TLS termination changes. Most
/// load balancers (AWS ALB, Google Cloud Load Balancing, Cloudflare, Heroku, Fly) pass the
/// client's `Host` through and never set `X-Forwarded-Host` or `Forwarded`: a value of those
/// that the client sent arrives unchanged from a "trusted" peer, so believing a header the
/// proxy does not set lets the client choose the URL that is verified.
///
/// ```
/// use tower_plivo::ProxyHeader;
///
/// assert_eq!("X-Forwarded-For".parse::<ProxyHeader>()?, ProxyHeader::XForwardedFor);
/// assert_eq!(ProxyHeader::Forwarded.name(), "forwarded");
/// assert!("x-real-ip".parse::<ProxyHeader>().is_err());
/// # Ok::<(), tower_plivo::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyHeader {
    /// `X-Forwarded-Proto`: the scheme Plivo used (its rightmost value). `http` and `https`,
    /// or `ws` and `wss`, which some proxies (Traefik) send for WebSocket upgrades and which
    /// mean `http` and `https`; any other value refuses the request.
    XForwardedProto,
    /// `X-Forwarded-Host`: the host Plivo called (its rightmost value).
    XForwardedHost,
    /// `X-Forwarded-Port`: the port Plivo called (its rightmost value; the scheme's default
    /// port adds nothing to the URL).
    XForwardedPort,
    /// RFC 7239 `Forwarded`: its `proto` and `host` give the URL, its `for` the client, read
    /// element by element from the nearest hop, through trusted hops only (`proto` as for
    /// [`XForwardedProto`](Self::XForwardedProto)).
    Forwarded,
    /// `X-Forwarded-For`: the client address, the rightmost entry that is not a trusted proxy.
    XForwardedFor,
    /// `X-Forwarded-Prefix`: the path prefix the proxy removed (Traefik's `StripPrefix` sets
    /// it; nginx does with `proxy_set_header X-Forwarded-Prefix /plivo;`). The URL verified is
    /// then the origin, this prefix, and the path as received. It must be one value that starts
    /// with `/` (one trailing `/` is dropped): several values or lines, or any other value,
    /// refuse the request with [`Rejection::UnknownOrigin`](crate::Rejection::UnknownOrigin).
    /// It may be named beside [`Forwarded`](Self::Forwarded), which has no prefix of its own.
    ///
    /// **Name it only if every route of your proxy to the app sets it, replacing what the
    /// client sent** (`/` on a route that strips nothing). From a proxy that passes the client's
    /// value on, the client chooses where the signed path splits into prefix and route: one
    /// captured request for `/plivo/hook` then reaches the app's `/` (with a prefix of
    /// `/plivo/hook`) or `/plivo/hook` (with `/`), any split at a `/`.
    XForwardedPrefix,
}

impl ProxyHeader {
    pub(crate) const ALL: [ProxyHeader; 6] = [
        ProxyHeader::XForwardedProto,
        ProxyHeader::XForwardedHost,
        ProxyHeader::XForwardedPort,
        ProxyHeader::Forwarded,
        ProxyHeader::XForwardedFor,
        ProxyHeader::XForwardedPrefix,
    ];

    /// The header's name, in lower case.
    pub fn name(self) -> &'static str {
        match self {
            ProxyHeader::XForwardedProto => "x-forwarded-proto",
            ProxyHeader::XForwardedHost => "x-forwarded-host",
            ProxyHeader::XForwardedPort => "x-forwarded-port",
            ProxyHeader::Forwarded => "forwarded",
            ProxyHeader::XForwardedFor => "x-forwarded-for",
            ProxyHeader::XForwardedPrefix => "x-forwarded-prefix",
        }
    }

    /// Whether the header says something about the URL Plivo called.
    pub(crate) fn describes_url(self) -> bool {
        !matches!(self, ProxyHeader::XForwardedFor)
    }

    /// Whether the header says who the client is.
    pub(crate) fn describes_client(self) -> bool {
        matches!(self, ProxyHeader::Forwarded | ProxyHeader::XForwardedFor)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for ProxyHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProxyHeader {
    type Err = ConfigError;

    /// A header name, in any case.
    fn from_str(text: &str) -> Result<Self, ConfigError> {
        let text = text.trim();
        ProxyHeader::ALL
            .into_iter()
            .find(|header| header.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| ConfigError::InvalidValue {
                setting: "proxy header (x-forwarded-proto, x-forwarded-host, x-forwarded-port, forwarded, x-forwarded-for or x-forwarded-prefix)",
                value: text.to_owned(),
            })
    }
}

/// A set of [`ProxyHeader`]s.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ProxyHeaders(u8);

impl ProxyHeaders {
    /// What trusted proxies are believed for when the user names nothing.
    pub(crate) const DEFAULT: Self = Self(1 << ProxyHeader::XForwardedProto as u8);

    pub(crate) fn contains(self, header: ProxyHeader) -> bool {
        self.0 & header.bit() != 0
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = ProxyHeader> {
        ProxyHeader::ALL
            .into_iter()
            .filter(move |&header| self.contains(header))
    }

    pub(crate) fn any(self, which: impl Fn(ProxyHeader) -> bool) -> bool {
        self.iter().any(which)
    }
}

impl FromIterator<ProxyHeader> for ProxyHeaders {
    fn from_iter<I: IntoIterator<Item = ProxyHeader>>(headers: I) -> Self {
        Self(
            headers
                .into_iter()
                .fold(0, |bits, header| bits | header.bit()),
        )
    }
}

impl fmt::Debug for ProxyHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The user's proxies and the headers they set.
#[derive(Clone, Debug)]
pub(crate) struct TrustedProxies {
    networks: Vec<Cidr>,
    headers: ProxyHeaders,
}

/// What the named forwarding headers of a trusted peer say about the URL Plivo called; each
/// piece is `None` when its header is not named or not sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ForwardedUrl {
    pub(crate) scheme: Option<Scheme>,
    pub(crate) host: Option<String>,
    pub(crate) port: Option<u16>,
    /// The path prefix the proxy removed, as verified (`""` for a forwarded `/`).
    pub(crate) prefix: Option<String>,
}

impl TrustedProxies {
    /// Parses the networks (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`, ...).
    pub(crate) fn new<I, T>(networks: I, headers: ProxyHeaders) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let networks = parse_networks("trusted_proxies", networks)?;
        Ok(Self { networks, headers })
    }

    /// `proxies` (if any) with `peer` trusted too, believed for `headers` (to check a fix the
    /// doctor would print before printing it).
    #[cfg(feature = "diagnosis")]
    pub(crate) fn extended(
        proxies: Option<&TrustedProxies>,
        peer: IpAddr,
        headers: ProxyHeaders,
    ) -> Result<Self, ConfigError> {
        let mut networks = proxies.map_or_else(Vec::new, |p| p.networks.clone());
        networks.push(
            peer.to_string()
                .parse()
                .map_err(|()| ConfigError::InvalidCidr {
                    setting: "trusted_proxies",
                    value: peer.to_string(),
                })?,
        );
        Ok(Self { networks, headers })
    }

    /// The headers these proxies are believed for.
    #[cfg(feature = "diagnosis")]
    pub(crate) fn named(&self) -> ProxyHeaders {
        self.headers
    }

    /// Whether every address of a family is trusted (`0.0.0.0/0`, `::/0`).
    pub(crate) fn trusts_everything(&self) -> bool {
        self.networks.iter().any(Cidr::is_everything)
    }

    /// Whether `ip` is one of the user's proxies.
    pub(crate) fn trusts(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|network| network.contains(ip))
    }

    /// What the named URL headers say, for a request whose TCP peer is trusted. A named header
    /// that is sent but cannot be read refuses the request: a proxy of the user's wrote it, and
    /// guessing around it could verify a URL nobody meant.
    pub(crate) fn forwarded_url(&self, headers: &HeaderMap) -> Result<ForwardedUrl, Rejection> {
        let unreadable = |_| Rejection::UnknownOrigin;
        let scheme = |text: &str| Scheme::forwarded(text).ok_or(Rejection::UnknownOrigin);
        let mut url = ForwardedUrl::default();
        if self.headers.contains(ProxyHeader::Forwarded) && headers.contains_key(FORWARDED) {
            let chain = forwarded::chain(headers).map_err(unreadable)?;
            let (proto, host) = chain.url(|ip| self.trusts(ip));
            url.scheme = proto.as_deref().map(scheme).transpose()?;
            url.host = host;
        }
        if self.headers.contains(ProxyHeader::XForwardedProto)
            && let Some(proto) = forwarded::rightmost(headers, ProxyHeader::XForwardedProto.name())?
        {
            url.scheme = Some(scheme(proto)?);
        }
        if self.headers.contains(ProxyHeader::XForwardedHost) {
            url.host = forwarded::rightmost(headers, ProxyHeader::XForwardedHost.name())?
                .map(str::to_owned);
        }
        if self.headers.contains(ProxyHeader::XForwardedPort)
            && let Some(port) = forwarded::rightmost(headers, ProxyHeader::XForwardedPort.name())?
        {
            url.port = Some(parse_port(port).ok_or(Rejection::UnknownOrigin)?);
        }
        if self.headers.contains(ProxyHeader::XForwardedPrefix)
            && let Some(value) = forwarded::single(headers, ProxyHeader::XForwardedPrefix.name())?
        {
            let prefix = path_prefix(value).ok_or(Rejection::UnknownOrigin)?;
            url.prefix = Some(prefix.to_owned());
        }
        Ok(url)
    }

    /// Whether `header`, named and sent by a trusted peer, can be read as [`forwarded_url`]
    /// reads it (for the log line, which must not call a header it refused "believed").
    ///
    /// [`forwarded_url`]: Self::forwarded_url
    #[cfg(feature = "diagnosis")]
    pub(crate) fn can_read(&self, header: ProxyHeader, headers: &HeaderMap) -> bool {
        let alone = Self {
            networks: self.networks.clone(),
            headers: [header].into_iter().collect(),
        };
        alone.forwarded_url(headers).is_ok()
    }

    /// The client behind a trusted peer: from the named client header, the rightmost address
    /// that is not itself a trusted proxy; the peer itself when no client header is named or
    /// sent. `None` when the chain cannot be read (an unparseable entry, an obfuscated
    /// `for=`): the client is unknown.
    pub(crate) fn client_behind(&self, peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
        if self.headers.contains(ProxyHeader::Forwarded) && headers.contains_key(FORWARDED) {
            return forwarded::chain(headers).ok()?.client(|ip| self.trusts(ip));
        }
        if self.headers.contains(ProxyHeader::XForwardedFor) {
            return forwarded::client_in_x_forwarded_for(headers, |ip| self.trusts(ip))
                .unwrap_or(Some(peer));
        }
        Some(peer)
    }
}

/// Parses a list of networks for `setting`, naming the first one that is not an address or
/// CIDR block.
pub(crate) fn parse_networks<I, T>(
    setting: &'static str,
    networks: I,
) -> Result<Vec<Cidr>, ConfigError>
where
    I: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    let networks = networks
        .into_iter()
        .map(|network| {
            let network = network.as_ref();
            network
                .parse::<Cidr>()
                .map_err(|()| ConfigError::InvalidCidr {
                    setting,
                    value: network.to_owned(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if networks.is_empty() {
        // An empty list matches nothing: a setting that cannot do what it says.
        return Err(ConfigError::InvalidCidr {
            setting,
            value: String::new(),
        });
    }
    Ok(networks)
}

fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url_policy::test_headers as headers;

    fn proxies(named: &[ProxyHeader]) -> TrustedProxies {
        TrustedProxies::new(["10.0.0.0/8"], named.iter().copied().collect()).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    const EVERY_URL_HEADER: [(&str, &str); 4] = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "forged.example"),
        ("x-forwarded-port", "8443"),
        ("forwarded", "proto=https;host=forged.example"),
    ];

    #[test]
    fn only_named_headers_are_read() {
        let sent = headers(&EVERY_URL_HEADER);
        let default = TrustedProxies::new(["10.0.0.0/8"], ProxyHeaders::DEFAULT).unwrap();
        assert_eq!(
            default.forwarded_url(&sent),
            Ok(ForwardedUrl {
                scheme: Some(Scheme::Https),
                ..Default::default()
            })
        );
        assert_eq!(
            proxies(&[ProxyHeader::XForwardedHost]).forwarded_url(&sent),
            Ok(ForwardedUrl {
                host: Some("forged.example".into()),
                ..Default::default()
            })
        );
        assert_eq!(
            proxies(&[ProxyHeader::XForwardedPort]).forwarded_url(&sent),
            Ok(ForwardedUrl {
                port: Some(8443),
                ..Default::default()
            })
        );
        assert_eq!(
            proxies(&[ProxyHeader::Forwarded]).forwarded_url(&sent),
            Ok(ForwardedUrl {
                scheme: Some(Scheme::Https),
                host: Some("forged.example".into()),
                port: None,
                prefix: None,
            })
        );
        assert_eq!(
            proxies(&[ProxyHeader::XForwardedFor]).forwarded_url(&sent),
            Ok(ForwardedUrl::default())
        );
    }

    #[test]
    fn a_prefix_is_one_path_from_one_line() {
        let prefix = |lines: &[&str]| {
            let pairs: Vec<(&'static str, &str)> = lines
                .iter()
                .map(|line| ("x-forwarded-prefix", *line))
                .collect();
            proxies(&[ProxyHeader::XForwardedPrefix])
                .forwarded_url(&headers(&pairs))
                .map(|url| url.prefix)
        };
        assert_eq!(prefix(&[]), Ok(None));
        assert_eq!(prefix(&["/plivo"]), Ok(Some("/plivo".into())));
        assert_eq!(prefix(&["/plivo/"]), Ok(Some("/plivo".into())));
        assert_eq!(prefix(&[" /plivo "]), Ok(Some("/plivo".into())));
        assert_eq!(prefix(&["/"]), Ok(Some(String::new())));
        for refused in [
            &["/a", "/a"][..],
            &["/a,/b"],
            &["a"],
            &[""],
            &["/a//"],
            &["/a?b"],
        ] {
            assert_eq!(
                prefix(refused),
                Err(Rejection::UnknownOrigin),
                "{refused:?}"
            );
        }
        // Not named: never read.
        let sent = headers(&[("x-forwarded-prefix", "/plivo")]);
        let url = proxies(&[ProxyHeader::XForwardedProto]).forwarded_url(&sent);
        assert_eq!(url.map(|url| url.prefix), Ok(None));
    }

    #[test]
    fn unreadable_named_headers_refuse() {
        let named = proxies(&[ProxyHeader::XForwardedProto, ProxyHeader::XForwardedPort]);
        // The WebSocket schemes are read as their HTTP ones (Traefik sends them on upgrades).
        for (proto, scheme) in [("wss", Scheme::Https), ("ws", Scheme::Http)] {
            let sent = headers(&[("x-forwarded-proto", proto)]);
            assert_eq!(named.forwarded_url(&sent).unwrap().scheme, Some(scheme));
            let sent = headers(&[("forwarded", &format!("proto={proto}"))]);
            let rfc7239 = proxies(&[ProxyHeader::Forwarded]).forwarded_url(&sent);
            assert_eq!(rfc7239.unwrap().scheme, Some(scheme));
        }
        for bad in [
            [("x-forwarded-proto", "ftp"), ("x-forwarded-port", "443")],
            [("x-forwarded-proto", "wss2"), ("x-forwarded-port", "443")],
            [("x-forwarded-proto", "https"), ("x-forwarded-port", "44x")],
            [
                ("x-forwarded-proto", "https"),
                ("x-forwarded-port", "99999"),
            ],
        ] {
            assert_eq!(
                named.forwarded_url(&headers(&bad)),
                Err(Rejection::UnknownOrigin),
                "{bad:?}"
            );
        }
        let forwarded = proxies(&[ProxyHeader::Forwarded]);
        assert_eq!(
            forwarded.forwarded_url(&headers(&[("forwarded", "for=\"unterminated")])),
            Err(Rejection::UnknownOrigin)
        );
        assert_eq!(
            forwarded.forwarded_url(&headers(&[("forwarded", "proto=gopher")])),
            Err(Rejection::UnknownOrigin)
        );
    }

    #[test]
    fn the_client_behind_x_forwarded_for_is_the_rightmost_untrusted_entry() {
        let named = proxies(&[ProxyHeader::XForwardedFor]);
        let peer = ip("10.0.0.2");
        let client =
            |value: &str| named.client_behind(peer, &headers(&[("x-forwarded-for", value)]));
        assert_eq!(client("203.0.113.9"), Some(ip("203.0.113.9")));
        // The client prepends what it likes; the proxies append what they saw.
        assert_eq!(
            client("198.51.100.1, 203.0.113.9, 10.0.0.1"),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            client("[2001:db8::1]:4711, 10.0.0.1"),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(client("203.0.113.9:5000"), Some(ip("203.0.113.9")));
        assert_eq!(client("garbage, 10.0.0.1"), None);
        // Every entry trusted: the leftmost is the client's own claim, so the client is unknown.
        assert_eq!(client("10.0.0.7, 10.0.0.1"), None);
        assert_eq!(named.client_behind(peer, &HeaderMap::new()), Some(peer));
    }

    #[test]
    fn the_client_behind_forwarded_walks_trusted_hops() {
        let named = proxies(&[ProxyHeader::Forwarded]);
        let peer = ip("10.0.0.2");
        let client = |value: &str| named.client_behind(peer, &headers(&[("forwarded", value)]));
        assert_eq!(
            client("for=198.51.100.1, for=203.0.113.9;proto=https, for=10.0.0.1"),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(client("for=unknown, for=10.0.0.1"), None);
        assert_eq!(client("for=\"[2001:db8::7]:80\""), Some(ip("2001:db8::7")));
    }

    #[test]
    fn without_a_client_header_the_peer_is_the_client() {
        let named = TrustedProxies::new(["10.0.0.0/8"], ProxyHeaders::DEFAULT).unwrap();
        let sent = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
        ]);
        assert_eq!(
            named.client_behind(ip("10.0.0.2"), &sent),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn header_names_parse_in_any_case() {
        for header in ProxyHeader::ALL {
            assert_eq!(
                header.name().to_uppercase().parse::<ProxyHeader>(),
                Ok(header)
            );
        }
        let set: ProxyHeaders = [ProxyHeader::Forwarded, ProxyHeader::XForwardedFor]
            .into_iter()
            .collect();
        assert_eq!(format!("{set:?}"), "{Forwarded, XForwardedFor}");
    }
}
