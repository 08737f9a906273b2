//! `Forwarded` (RFC 7239) and `X-Forwarded-Proto` / `-Host` / `-Port` / `-For` parsing, through
//! the URL policy's resolution of a request head and the client address the source-network
//! check would compare. Arbitrary header lines, request targets and peers never panic; from a
//! peer outside the trusted networks (or an unknown peer) forwarding headers change nothing;
//! headers not named as set by the proxies change nothing either; every origin resolved is
//! `http(s)://` plus a clean authority; the allow-list holds.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};
use libfuzzer_sys::fuzz_target;
use tower_plivo::fuzzing::Resolver;
use tower_plivo::{ProxyHeader, Scheme, UrlPolicy};

const NAMES: [&str; 7] = [
    "forwarded",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-for",
    "host",
    "x-real-ip",
];
/// The first five names are the forwarding headers.
const FORWARDING: [&str; 5] = [NAMES[0], NAMES[1], NAMES[2], NAMES[3], NAMES[4]];
/// The `X-Forwarded-*` family, the headers `Forwarded` stands for.
const X_FORWARDED: [&str; 4] = [NAMES[1], NAMES[2], NAMES[3], NAMES[4]];

#[derive(Arbitrary, Debug)]
enum Peer {
    Unknown,
    V4(u32),
    V6(u128),
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    peer: Peer,
    port: u16,
    target: &'a str,
    headers: Vec<(u8, &'a [u8])>,
}

const PROXIES: [&str; 3] = ["10.0.0.0/8", "fd00::/8", "127.0.0.1"];
const X_FORWARDED_HEADERS: [ProxyHeader; 4] = [
    ProxyHeader::XForwardedProto,
    ProxyHeader::XForwardedHost,
    ProxyHeader::XForwardedPort,
    ProxyHeader::XForwardedFor,
];

/// Proxies that set the `X-Forwarded-*` family.
static X_FORWARDED_PROXIES: LazyLock<Resolver> = LazyLock::new(|| {
    Resolver::new(
        UrlPolicy::from_request(Scheme::Http),
        Some((&PROXIES, &X_FORWARDED_HEADERS)),
    )
});
/// Proxies that set `Forwarded`.
static FORWARDED_PROXIES: LazyLock<Resolver> = LazyLock::new(|| {
    Resolver::new(
        UrlPolicy::from_request(Scheme::Http),
        Some((&PROXIES, &[ProxyHeader::Forwarded])),
    )
});
/// As the first, with an allow-list.
static ALLOWED: LazyLock<Resolver> = LazyLock::new(|| {
    Resolver::new(
        UrlPolicy::from_request(Scheme::Https)
            .allow_hosts(["hooks.example.com"])
            .expect("valid host"),
        Some((&PROXIES, &X_FORWARDED_HEADERS)),
    )
});
static DIRECT: LazyLock<Resolver> =
    LazyLock::new(|| Resolver::new(UrlPolicy::from_request(Scheme::Https), None));

fn trusted_ip(ip: IpAddr) -> bool {
    let v4 = |ip: Ipv4Addr| ip.octets()[0] == 10 || ip == Ipv4Addr::LOCALHOST;
    match ip {
        IpAddr::V4(ip) => v4(ip),
        IpAddr::V6(ip) => ip.octets()[0] == 0xfd || ip.to_ipv4_mapped().is_some_and(v4),
    }
}

/// `scheme://authority` with a scheme the policy knows and an authority that is visible ASCII
/// without the characters that would change the URL's structure.
fn clean(origin: &str) -> &str {
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or_else(|| panic!("unknown scheme in {origin:?}"));
    assert!(!authority.is_empty(), "{origin:?}");
    assert!(
        authority
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"/?#\\\",@".contains(&b)),
        "{origin:?}"
    );
    authority
}

fuzz_target!(|input: Input<'_>| {
    let peer = match input.peer {
        Peer::Unknown => None,
        Peer::V4(ip) => Some(SocketAddr::new(Ipv4Addr::from(ip).into(), input.port)),
        Peer::V6(ip) => Some(SocketAddr::new(Ipv6Addr::from(ip).into(), input.port)),
    };
    let uri: Uri = input
        .target
        .parse()
        .unwrap_or_else(|_| Uri::from_static("/answer"));
    let mut headers = HeaderMap::new();
    let mut plain = HeaderMap::new();
    let mut no_forwarded = HeaderMap::new();
    let mut no_x_forwarded = HeaderMap::new();
    for (name, value) in input.headers {
        let name = HeaderName::from_static(NAMES[usize::from(name) % NAMES.len()]);
        let Ok(value) = HeaderValue::from_bytes(value) else {
            continue;
        };
        if !FORWARDING.contains(&name.as_str()) {
            plain.append(name.clone(), value.clone());
        }
        if name != "forwarded" {
            no_forwarded.append(name.clone(), value.clone());
        }
        if !X_FORWARDED.contains(&name.as_str()) {
            no_x_forwarded.append(name.clone(), value.clone());
        }
        headers.append(name, value);
    }

    let trusted_peer = peer.is_some_and(|p| trusted_ip(p.ip()));
    let direct = DIRECT.origin(&uri, &headers, peer);
    for (resolver, unnamed_stripped) in [
        (&*X_FORWARDED_PROXIES, &no_forwarded),
        (&*FORWARDED_PROXIES, &no_x_forwarded),
        (&*ALLOWED, &no_forwarded),
    ] {
        let resolved = resolver.origin(&uri, &headers, peer);
        if let Ok(origin) = &resolved {
            let authority = clean(origin);
            if std::ptr::eq(resolver, &*ALLOWED) {
                let host = authority
                    .rsplit_once(':')
                    .map_or(authority, |(host, _)| host);
                assert!(host.eq_ignore_ascii_case("hooks.example.com"), "{origin:?}");
            }
        }
        // Headers the proxies are not named as setting change nothing, from any peer.
        assert_eq!(resolved, resolver.origin(&uri, unnamed_stripped, peer));
        assert_eq!(
            resolver.client(&headers, peer),
            resolver.client(unnamed_stripped, peer)
        );
        if !trusted_peer {
            // Forwarding headers from an unknown or untrusted peer are ignored.
            assert_eq!(resolved, resolver.origin(&uri, &plain, peer), "{peer:?}");
            assert_eq!(
                resolver.client(&headers, peer),
                peer.map(|p| p.ip().to_canonical())
            );
        }
    }
    if let Ok(origin) = &direct {
        // Without proxies, the authority is the target's or the single `Host` header's.
        let authority = clean(origin);
        let expected = match uri.authority() {
            Some(a) => a.as_str().to_owned(),
            None => headers
                .get("host")
                .expect("resolved")
                .to_str()
                .expect("ascii")
                .to_owned(),
        };
        assert_eq!(authority, expected);
        assert_eq!(direct, DIRECT.origin(&uri, &plain, peer));
    }
});
