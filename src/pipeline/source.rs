//! Part of the head stage: the source-network check, a second defence in addition to the
//! signature, that refuses requests whose client address is not one of the networks Plivo
//! calls from.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;

use crate::url_policy::{Cidr, ProxyHeader, TrustedProxies};

/// Who the client of a request is, and how that was found (for the log line of a refusal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Client {
    /// The TCP peer, not a trusted proxy.
    Peer(IpAddr),
    /// The TCP peer is a trusted proxy and no client header is named or sent: the proxy itself
    /// counts as the client.
    TrustedPeer(IpAddr),
    /// Found behind the trusted peer in a named client header.
    BehindProxy { client: IpAddr, peer: IpAddr },
    /// Given by the platform that delivered the request (AWS Lambda's `sourceIp`), from
    /// outside the request.
    Platform(IpAddr),
    /// No peer address is known (no `ConnectInfo`, `TcpConnectInfo` or `PeerAddr`).
    NoPeerAddress,
    /// The trusted peer's client header could not be read (an unparseable entry, an
    /// obfuscated `for=`).
    Unreadable { peer: IpAddr },
}

impl Client {
    /// Finds the client of a request: the address its platform gave, else its TCP peer and,
    /// when the peer is trusted, the client headers named for the user's proxies.
    pub(crate) fn of(
        platform: Option<IpAddr>,
        peer: Option<SocketAddr>,
        proxies: Option<&TrustedProxies>,
        headers: &HeaderMap,
    ) -> Self {
        if let Some(client) = platform {
            return Client::Platform(client.to_canonical());
        }
        let Some(peer) = peer.map(|p| p.ip().to_canonical()) else {
            return Client::NoPeerAddress;
        };
        match proxies.filter(|p| p.trusts(peer)) {
            None => Client::Peer(peer),
            Some(proxies) => match proxies.client_behind(peer, headers) {
                None => Client::Unreadable { peer },
                Some(client) if client == peer => Client::TrustedPeer(peer),
                Some(client) => Client::BehindProxy { client, peer },
            },
        }
    }

    fn address(self) -> Option<IpAddr> {
        match self {
            Client::Peer(ip)
            | Client::TrustedPeer(ip)
            | Client::Platform(ip)
            | Client::BehindProxy { client: ip, .. } => Some(ip),
            Client::NoPeerAddress | Client::Unreadable { .. } => None,
        }
    }
}

/// Whether the client is in `networks`; `Err` carries the sentence the log line gives.
pub(crate) fn admits(networks: &[Cidr], client: Client) -> Result<(), String> {
    if client
        .address()
        .is_some_and(|ip| networks.iter().any(|network| network.contains(ip)))
    {
        return Ok(());
    }
    Err(match client {
        Client::Peer(ip) => format!("client {ip} (the TCP peer) is not in source_networks"),
        Client::Platform(ip) => {
            format!("client {ip} (as the platform gave it) is not in source_networks")
        }
        Client::BehindProxy { client, peer } => {
            format!("client {client} (behind trusted proxy {peer}) is not in source_networks")
        }
        Client::TrustedPeer(ip) => format!(
            "client {ip} is the TCP peer, a trusted proxy: no client header ({} or {}) is named \
             with proxy_headers or sent, so the proxy itself counts as the client and is not in \
             source_networks",
            ProxyHeader::XForwardedFor,
            ProxyHeader::Forwarded
        ),
        Client::NoPeerAddress => "the client address is unknown: no peer address (serve axum with \
             into_make_service_with_connect_info::<SocketAddr>(), or insert tower_plivo::PeerAddr)"
            .to_owned(),
        Client::Unreadable { peer } => format!(
            "the client address is unknown: the client header sent through trusted proxy {peer} \
             cannot be read"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url_policy::{ProxyHeaders, parse_networks};
    use http::HeaderValue;

    fn networks() -> Vec<Cidr> {
        parse_networks("source_networks", ["203.0.113.0/24"]).unwrap()
    }

    fn proxies(named: &[ProxyHeader]) -> TrustedProxies {
        TrustedProxies::new(["10.0.0.0/8"], named.iter().copied().collect()).unwrap()
    }

    fn xff(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        headers
    }

    fn peer(text: &str) -> Option<SocketAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn the_peer_is_the_client_unless_it_is_a_trusted_proxy() {
        let named = proxies(&[ProxyHeader::XForwardedFor]);
        let forged = xff("203.0.113.9");
        // An untrusted peer's X-Forwarded-For is not believed.
        let client = Client::of(None, peer("198.51.100.7:1"), Some(&named), &forged);
        assert_eq!(client, Client::Peer("198.51.100.7".parse().unwrap()));
        assert!(admits(&networks(), client).is_err());
        // A trusted peer's is.
        let client = Client::of(None, peer("10.0.0.2:1"), Some(&named), &forged);
        assert!(matches!(client, Client::BehindProxy { .. }));
        assert_eq!(admits(&networks(), client), Ok(()));
        // IPv4-mapped peers count as the IPv4 address.
        let client = Client::of(
            None,
            peer("[::ffff:203.0.113.4]:1"),
            None,
            &HeaderMap::new(),
        );
        assert_eq!(admits(&networks(), client), Ok(()));
    }

    #[test]
    fn a_trusted_peer_without_a_named_client_header_is_the_client() {
        let default = TrustedProxies::new(["10.0.0.0/8"], ProxyHeaders::DEFAULT).unwrap();
        let client = Client::of(
            None,
            peer("10.0.0.2:1"),
            Some(&default),
            &xff("203.0.113.9"),
        );
        assert_eq!(client, Client::TrustedPeer("10.0.0.2".parse().unwrap()));
        let why = admits(&networks(), client).unwrap_err();
        assert!(
            why.contains("trusted proxy") && why.contains("x-forwarded-for"),
            "{why}"
        );
    }

    #[test]
    fn an_unknown_client_is_refused() {
        let named = proxies(&[ProxyHeader::XForwardedFor]);
        let every = parse_networks("source_networks", ["0.0.0.0/0", "::/0"]).unwrap();
        let client = Client::of(None, None, Some(&named), &xff("203.0.113.9"));
        assert!(admits(&every, client).unwrap_err().contains("connect_info"));
        let client = Client::of(
            None,
            peer("10.0.0.2:1"),
            Some(&named),
            &xff("bogus, 10.0.0.1"),
        );
        assert!(matches!(client, Client::Unreadable { .. }));
        assert!(admits(&every, client).is_err());
    }

    #[test]
    fn the_platforms_client_is_believed_before_the_peer_and_any_header() {
        let named = proxies(&[ProxyHeader::XForwardedFor]);
        let platform = Some("203.0.113.5".parse().unwrap());
        // A forged header through a trusted peer changes nothing: the platform said who it is.
        let client = Client::of(
            platform,
            peer("10.0.0.2:1"),
            Some(&named),
            &xff("198.51.100.1"),
        );
        assert_eq!(client, Client::Platform("203.0.113.5".parse().unwrap()));
        assert!(admits(&networks(), client).is_ok());
        let outside = Client::of(
            Some("198.51.100.1".parse().unwrap()),
            None,
            None,
            &xff("203.0.113.9"),
        );
        assert!(
            admits(&networks(), outside)
                .unwrap_err()
                .contains("platform")
        );
    }
}
