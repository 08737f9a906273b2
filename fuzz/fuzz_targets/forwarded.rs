//! `Forwarded` (RFC 7239) and `X-Forwarded-Proto` / `-Host` / `-Port` parsing (SPEC §4), through
//! the URL policy's resolution of a request head. Arbitrary header lines, request targets and
//! peers never panic; from a peer outside the trusted networks (or an unknown peer) forwarding
//! headers change nothing; every origin resolved is `http(s)://` plus a clean authority; the
//! allow-list holds.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};
use libfuzzer_sys::fuzz_target;
use tower_plivo::fuzzing::resolve_origin;
use tower_plivo::{Scheme, UrlPolicy};

const NAMES: [&str; 6] = [
    "forwarded",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "host",
    "x-real-ip",
];
/// The first four names are the forwarding headers.
const FORWARDING: [&str; 4] = [NAMES[0], NAMES[1], NAMES[2], NAMES[3]];

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

static TRUSTED: LazyLock<UrlPolicy> = LazyLock::new(|| {
    UrlPolicy::trusted_proxies(["10.0.0.0/8", "fd00::/8", "127.0.0.1"]).expect("valid CIDRs")
});
static ALLOWED: LazyLock<UrlPolicy> = LazyLock::new(|| {
    UrlPolicy::trusted_proxies(["10.0.0.0/8", "fd00::/8", "127.0.0.1"])
        .expect("valid CIDRs")
        .with_fallback_scheme(Scheme::Https)
        .allow_hosts(["hooks.example.com"])
        .expect("valid host")
});
static DIRECT: LazyLock<UrlPolicy> = LazyLock::new(|| UrlPolicy::from_request(Scheme::Https));

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
    for (name, value) in input.headers {
        let name = HeaderName::from_static(NAMES[usize::from(name) % NAMES.len()]);
        let Ok(value) = HeaderValue::from_bytes(value) else {
            continue;
        };
        if !FORWARDING.contains(&name.as_str()) {
            plain.append(name.clone(), value.clone());
        }
        headers.append(name, value);
    }

    let direct = resolve_origin(&DIRECT, &uri, &headers, peer);
    for policy in [&*TRUSTED, &*ALLOWED] {
        let resolved = resolve_origin(policy, &uri, &headers, peer);
        if let Ok(origin) = &resolved {
            let authority = clean(origin);
            if std::ptr::eq(policy, &*ALLOWED) {
                let host = authority
                    .rsplit_once(':')
                    .map_or(authority, |(host, _)| host);
                assert!(host.eq_ignore_ascii_case("hooks.example.com"), "{origin:?}");
            }
        }
        if !peer.is_some_and(|p| trusted_ip(p.ip())) {
            // Forwarding headers from an unknown or untrusted peer are ignored.
            assert_eq!(
                resolved,
                resolve_origin(policy, &uri, &plain, peer),
                "{peer:?}"
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
        assert_eq!(direct, resolve_origin(&DIRECT, &uri, &plain, peer));
    }
});
