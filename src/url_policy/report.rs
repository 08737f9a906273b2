//! How the origin of a refused request came about, told for operators: the TCP peer and whether
//! it is a trusted proxy, the `Host` as received, each forwarding header that arrived and whether
//! it was believed (and if not, why), and what the policy made of it.
//!
//! Only refusals are described (their log line and the signature doctor read this); the
//! origin itself is always resolved by [`origin_of`](super::origin_of), and this module calls it
//! rather than repeating its rules.

use std::fmt;
use std::net::SocketAddr;

use http::header::HOST;
use http::{HeaderMap, Uri};

use super::authority::is_authority;
use super::proxies::{ProxyHeader, ProxyHeaders, TrustedProxies};
use super::{Origin, UrlPolicy, host_disagreement, origin_of, request_origin};
use crate::rejection::Rejection;

/// The TCP peer of a request, as the trusted-proxy policy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peer {
    /// No peer address reached the layer (no `ConnectInfo`, `TcpConnectInfo` or `PeerAddr`).
    Unknown,
    /// Known, and no `trusted_proxies` are configured.
    NoProxies(SocketAddr),
    /// Known, and not one of the `trusted_proxies`.
    Untrusted(SocketAddr),
    /// One of the `trusted_proxies`.
    Trusted(SocketAddr),
}

impl Peer {
    fn of(peer: Option<SocketAddr>, proxies: Option<&TrustedProxies>) -> Self {
        match (peer, proxies) {
            (None, _) => Peer::Unknown,
            (Some(peer), None) => Peer::NoProxies(peer),
            (Some(peer), Some(proxies)) if proxies.trusts(peer.ip().to_canonical()) => {
                Peer::Trusted(peer)
            }
            (Some(peer), Some(_)) => Peer::Untrusted(peer),
        }
    }

    /// The peer's address, when known.
    pub(crate) fn addr(self) -> Option<SocketAddr> {
        match self {
            Peer::Unknown => None,
            Peer::NoProxies(addr) | Peer::Untrusted(addr) | Peer::Trusted(addr) => Some(addr),
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Unknown => {
                f.write_str("unknown (no ConnectInfo, TcpConnectInfo or PeerAddr in the request)")
            }
            Peer::NoProxies(addr) => write!(f, "{addr} (no trusted_proxies configured)"),
            Peer::Untrusted(addr) => write!(f, "{addr} (not in trusted_proxies)"),
            Peer::Trusted(addr) => write!(f, "{addr} (trusted proxy)"),
        }
    }
}

/// Why a forwarding header that arrived was not believed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ignored {
    /// `UrlPolicy::public_base` fixes the URL (a URL header is never read).
    FixedUrl,
    /// The peer address is unknown, so no peer is a trusted proxy.
    PeerUnknown,
    /// No `trusted_proxies` are configured.
    NoProxies,
    /// The peer is not one of the `trusted_proxies`.
    PeerUntrusted,
    /// The peer is trusted, but `proxy_headers` does not name this header.
    NotNamed,
    /// Named, from a trusted peer, but it says who the client is, which only
    /// `source_networks` reads (and they are not configured).
    ClientOnly,
}

impl Ignored {
    fn as_str(self) -> &'static str {
        match self {
            Ignored::FixedUrl => "ignored: public_base fixes the URL",
            Ignored::PeerUnknown => "ignored: peer unknown",
            Ignored::NoProxies => "ignored: no trusted_proxies",
            Ignored::PeerUntrusted => "ignored: peer not trusted",
            Ignored::NotNamed => "ignored: not in proxy_headers",
            Ignored::ClientOnly => "ignored: names the client, not the URL",
        }
    }
}

/// One forwarding header that arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Forwarding {
    pub(crate) header: ProxyHeader,
    /// Every line of it, joined with `, `.
    pub(crate) value: String,
    /// `None`: believed, or refused as unreadable (see `readable`).
    pub(crate) ignored: Option<Ignored>,
    /// Whether a header that was read (not ignored) could be read; one that could not refused
    /// the request, so it is not "believed".
    pub(crate) readable: bool,
}

/// How the origin of a request was established.
#[derive(Clone, Debug)]
pub(crate) struct OriginReport {
    pub(crate) peer: Peer,
    /// The `Host` lines as received, joined with `, ` (`None`: no `Host`).
    pub(crate) host: Option<String>,
    /// The forwarding headers that arrived, in [`ProxyHeader`] order.
    pub(crate) forwarding: Vec<Forwarding>,
    /// The headers the trusted proxies are believed for (the default when none are configured).
    pub(crate) named: ProxyHeaders,
    /// The origin the policy resolved before its allow-list: the one verified, or the one
    /// the allow-list refused (`None`: it could not be established).
    pub(crate) considered: Option<Origin>,
    /// Why the origin could not be established, or why it was refused.
    pub(crate) problem: Option<String>,
}

impl OriginReport {
    /// Describes the origin of a request under `policy`, with `proxies` and TCP `peer`.
    /// `reads_client`: whether client headers are read (`source_networks` is configured).
    pub(crate) fn new(
        policy: &UrlPolicy,
        proxies: Option<&TrustedProxies>,
        reads_client: bool,
        uri: &Uri,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Self {
        let peer_view = Peer::of(peer, proxies);
        let named = proxies.map_or(ProxyHeaders::DEFAULT, TrustedProxies::named);
        let forwarding = ProxyHeader::ALL
            .into_iter()
            .filter_map(|header| {
                let value = joined(headers, header.name())?;
                let ignored = ignored(policy, peer_view, named, reads_client, header);
                let readable = ignored.is_some()
                    || !header.describes_url()
                    || proxies.is_none_or(|proxies| proxies.can_read(header, headers));
                Some(Forwarding {
                    header,
                    value,
                    ignored,
                    readable,
                })
            })
            .collect();
        let origin = origin_of(policy, proxies, uri, headers, peer);
        let considered = match &origin {
            Ok(origin) => Some(origin.clone()),
            Err(Rejection::UntrustedHost) => {
                origin_of(&policy.without_allow_list(), proxies, uri, headers, peer).ok()
            }
            Err(_) => None,
        };
        let problem = problem(
            proxies,
            peer_view,
            uri,
            headers,
            &origin,
            considered.as_ref(),
            policy.scheme(),
        );
        Self {
            peer: peer_view,
            host: joined(headers, HOST.as_str()),
            forwarding,
            named,
            considered,
            problem,
        }
    }

    /// The forwarding headers as one log field: `name="value" believed; ...` (`None` when none
    /// arrived).
    pub(crate) fn forwarding_field(&self) -> Option<String> {
        if self.forwarding.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .forwarding
            .iter()
            .map(|f| {
                let verdict = match (f.ignored, f.readable) {
                    (Some(why), _) => why.as_str(),
                    (None, true) => "believed",
                    (None, false) => "cannot be read: the request is refused",
                };
                // Quoted (a value cannot pass for a verdict) and cut, each on its own (a long
                // one cannot hide the others).
                format!("{}: {:?} ({verdict})", f.header.name(), clip(&f.value))
            })
            .collect();
        Some(parts.join("; "))
    }
}

/// Why `header`, which arrived, was not believed (`None`: it was).
fn ignored(
    policy: &UrlPolicy,
    peer: Peer,
    named: ProxyHeaders,
    reads_client: bool,
    header: ProxyHeader,
) -> Option<Ignored> {
    let about_url = header.describes_url();
    if about_url && !header.describes_client() && !policy.reads_the_request() {
        return Some(Ignored::FixedUrl);
    }
    match peer {
        Peer::Unknown => return Some(Ignored::PeerUnknown),
        Peer::NoProxies(_) => return Some(Ignored::NoProxies),
        Peer::Untrusted(_) => return Some(Ignored::PeerUntrusted),
        Peer::Trusted(_) => {}
    }
    if !named.contains(header) {
        return Some(Ignored::NotNamed);
    }
    // `Forwarded` carries both; under a fixed URL only its `for=` can matter.
    let read_for_url = about_url && policy.reads_the_request();
    let read_for_client = header.describes_client() && reads_client;
    (!read_for_url && !read_for_client).then_some(if about_url {
        Ignored::FixedUrl
    } else {
        Ignored::ClientOnly
    })
}

/// Why the origin could not be established (`UnknownOrigin`) or was refused (`UntrustedHost`).
fn problem(
    proxies: Option<&TrustedProxies>,
    peer: Peer,
    uri: &Uri,
    headers: &HeaderMap,
    origin: &Result<Origin, Rejection>,
    considered: Option<&Origin>,
    scheme: super::Scheme,
) -> Option<String> {
    match origin {
        Ok(_) => None,
        Err(Rejection::UntrustedHost) => Some(format!(
            "host {:?} is not in allow_hosts",
            considered.map_or("", |o| &*o.authority)
        )),
        Err(_) => {
            // The scheme verified: a trusted proxy's, else the policy's.
            let verified_scheme = match (peer, proxies) {
                (Peer::Trusted(_), Some(proxies)) => proxies
                    .forwarded_url(headers)
                    .ok()
                    .and_then(|url| url.scheme)
                    .unwrap_or(scheme),
                _ => scheme,
            };
            if let Some((host, authority)) = host_disagreement(verified_scheme, uri, headers) {
                return Some(format!(
                    "the Host header {:?} and the request target's authority {authority:?} \
                     differ: the host verified must be the one a handler reads",
                    clip(&host)
                ));
            }
            if let (Peer::Trusted(_), Some(proxies)) = (peer, proxies) {
                match proxies.forwarded_url(headers) {
                    Err(_) => {
                        return Some(
                            "a forwarding header named in proxy_headers, from the trusted proxy, \
                             cannot be read"
                                .to_owned(),
                        );
                    }
                    Ok(url) if url.host.as_deref().is_some_and(|h| !is_authority(h)) => {
                        return Some(
                            "the host named by the trusted proxy's forwarding header is not \
                             host[:port]"
                                .to_owned(),
                        );
                    }
                    Ok(_) => {}
                }
            }
            let lines = headers.get_all(HOST).iter().count();
            Some(
                match lines {
                    _ if uri.authority().is_some() => "the request target's authority is malformed",
                    0 => "no Host header",
                    1 if request_origin(scheme, uri, headers).is_err() => {
                        "the Host header is not host[:port]"
                    }
                    1 => "the Host header cannot be read",
                    _ => "the Host header is repeated",
                }
                .to_owned(),
            )
        }
    }
}

/// A header value as a log line shows it: at most 160 bytes, saying how much was cut.
fn clip(value: &str) -> String {
    crate::observe::events::clipped(value.to_owned(), 160)
}

/// Every line of `name`, joined with `, `, when it arrived and is text.
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url_policy::{Scheme, test_headers};

    fn report(
        policy: &UrlPolicy,
        proxies: Option<&TrustedProxies>,
        pairs: &[(&'static str, &str)],
        peer: Option<&str>,
    ) -> OriginReport {
        let uri: Uri = "/answer".parse().unwrap();
        let peer = peer.map(|p| p.parse().unwrap());
        OriginReport::new(policy, proxies, false, &uri, &test_headers(pairs), peer)
    }

    #[test]
    fn each_forwarding_header_says_whether_it_was_believed_and_why_not() {
        let policy = UrlPolicy::from_request(Scheme::Http);
        let proxies = TrustedProxies::new(["10.0.0.0/8"], ProxyHeaders::DEFAULT).unwrap();
        let sent = [
            ("host", "internal:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "hooks.example.com"),
        ];
        let untrusted = report(&policy, Some(&proxies), &sent, Some("127.0.0.1:1"));
        assert_eq!(
            untrusted.peer.to_string(),
            "127.0.0.1:1 (not in trusted_proxies)"
        );
        assert_eq!(
            untrusted.forwarding_field().unwrap(),
            "x-forwarded-proto: \"https\" (ignored: peer not trusted); \
             x-forwarded-host: \"hooks.example.com\" (ignored: peer not trusted)"
        );
        let trusted = report(&policy, Some(&proxies), &sent, Some("10.0.0.1:1"));
        assert_eq!(
            trusted.forwarding_field().unwrap(),
            "x-forwarded-proto: \"https\" (believed); \
             x-forwarded-host: \"hooks.example.com\" (ignored: not in proxy_headers)"
        );
        assert_eq!(
            trusted.considered.unwrap().to_string(),
            "https://internal:8080"
        );
        let unknown = report(&policy, Some(&proxies), &sent, None);
        assert_eq!(unknown.peer, Peer::Unknown);
        assert!(unknown.forwarding_field().unwrap().contains("peer unknown"));
        let fixed = UrlPolicy::public_base("https://h.example").unwrap();
        let fixed = report(&fixed, Some(&proxies), &sent, Some("10.0.0.1:1"));
        assert!(
            fixed
                .forwarding_field()
                .unwrap()
                .contains("ignored: public_base fixes the URL")
        );
    }

    #[test]
    fn a_refused_or_unknown_origin_says_why() {
        let listed = UrlPolicy::from_request(Scheme::Https)
            .allow_hosts(["hooks.example.com"])
            .unwrap();
        let refused = report(&listed, None, &[("host", "10.0.0.5:8080")], None);
        assert_eq!(
            refused.considered.unwrap().to_string(),
            "https://10.0.0.5:8080"
        );
        assert_eq!(
            refused.problem.as_deref(),
            Some("host \"10.0.0.5:8080\" is not in allow_hosts")
        );
        let policy = UrlPolicy::from_request(Scheme::Https);
        let none = report(&policy, None, &[], None);
        assert_eq!(none.problem.as_deref(), Some("no Host header"));
        let twice = report(&policy, None, &[("host", "a"), ("host", "b")], None);
        assert_eq!(
            twice.problem.as_deref(),
            Some("the Host header is repeated")
        );
        assert_eq!(twice.host.as_deref(), Some("a, b"));
        let named = TrustedProxies::new(
            ["10.0.0.0/8"],
            [ProxyHeader::XForwardedHost].into_iter().collect(),
        )
        .unwrap();
        let bad = report(
            &policy,
            Some(&named),
            &[("host", "a"), ("x-forwarded-host", "a/b")],
            Some("10.0.0.1:1"),
        );
        assert!(bad.problem.unwrap().contains("not host[:port]"));
    }

    #[test]
    fn a_host_that_disagrees_with_the_target_is_named_with_it() {
        let policy = UrlPolicy::from_request(Scheme::Https);
        let uri: Uri = "http://a.example/answer".parse().unwrap();
        let headers = test_headers(&[("host", "b.example")]);
        let refused = OriginReport::new(&policy, None, false, &uri, &headers, None);
        assert_eq!(
            refused.problem.as_deref(),
            Some(
                "the Host header \"b.example\" and the request target's authority \
                 \"a.example\" differ: the host verified must be the one a handler reads"
            )
        );
    }

    #[test]
    fn a_header_that_cannot_be_read_is_not_called_believed() {
        let policy = UrlPolicy::from_request(Scheme::Http);
        let proxies = TrustedProxies::new(["10.0.0.0/8"], ProxyHeaders::DEFAULT).unwrap();
        let sent = [("host", "hooks.example.com"), ("x-forwarded-proto", "ftp")];
        let refused = report(&policy, Some(&proxies), &sent, Some("10.0.0.1:1"));
        assert_eq!(
            refused.forwarding_field().unwrap(),
            "x-forwarded-proto: \"ftp\" (cannot be read: the request is refused)"
        );
        assert!(refused.problem.unwrap().contains("cannot be read"));
        let wss = [("host", "hooks.example.com"), ("x-forwarded-proto", "wss")];
        let read = report(&policy, Some(&proxies), &wss, Some("10.0.0.1:1"));
        assert_eq!(
            read.forwarding_field().unwrap(),
            "x-forwarded-proto: \"wss\" (believed)"
        );
        assert_eq!(
            read.considered.unwrap().to_string(),
            "https://hooks.example.com"
        );
    }
}
