//! Thin wrappers over crate internals for the fuzz targets in `fuzz/` (feature `fuzzing`).
//!
//! Internal: not part of the public API, no stability promise. Each wrapper only forwards to
//! the internal functions it names, so the fuzzers exercise the code the layer runs. (Form
//! parsing and message building are fuzzed through the public `Signer`, which needs nothing
//! here.)

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, Uri};

use crate::pipeline::source::Client;
use crate::rejection::Rejection;
use crate::signature::{
    SHOWN_NAMES, SignatureHeaders, SignatureVersion, SignedRequest, SignedUrl, TokenId, Verifier,
};
use crate::url_policy::{ProxyHeader, TrustedProxies, UrlPolicy, origin_of};

/// How many pieces of a signature header the verifier keeps (those that decode to a 32-byte
/// tag): `signature::mac::parse_signature_list`.
pub fn signature_pieces(header: &[u8]) -> usize {
    crate::signature::mac::parse_signature_list(header).count()
}

/// The six signature header names, in the order of the `values` below: V3's signature,
/// main-account signature and nonce, then V2's.
pub const HEADER_NAMES: [&str; 6] = [
    SHOWN_NAMES[0].0,
    SHOWN_NAMES[1].0,
    SHOWN_NAMES[2].0,
    SHOWN_NAMES[3].0,
    SHOWN_NAMES[4].0,
    SHOWN_NAMES[5].0,
];

/// The version and nonce six header values claim (any bytes, as a fuzzer makes them):
/// `SignatureHeaders::claim`.
pub fn claim(values: [Option<&[u8]>; 6]) -> Result<(SignatureVersion, &[u8]), Rejection> {
    let claim = SignatureHeaders::from_slots(values).claim()?;
    Ok((claim.version, claim.nonce))
}

/// Verifies six header values (any bytes) over a GET of `url` (`post` `None`) or a POST with
/// this `Content-Type` and body: `Verifier::verify` once the headers are read.
pub fn verify(
    verifier: &Verifier,
    values: [Option<&[u8]>; 6],
    url: &str,
    post: Option<(Option<&[u8]>, &[u8])>,
) -> Result<(SignatureVersion, TokenId), Rejection> {
    let url = SignedUrl::parse(url).map_err(|_| Rejection::UnknownOrigin)?;
    let request = match post {
        None => SignedRequest::get(url),
        Some((content_type, body)) => SignedRequest::post(url, content_type, body),
    };
    verifier.verify_read(SignatureHeaders::from_slots(values), &request)
}

/// A URL policy with trusted proxies, as the layer holds them.
pub struct Resolver {
    policy: UrlPolicy,
    proxies: Option<TrustedProxies>,
}

impl Resolver {
    /// `proxies`: the trusted networks and the headers they set, if any.
    pub fn new(policy: UrlPolicy, proxies: Option<(&[&str], &[ProxyHeader])>) -> Self {
        let proxies = proxies.map(|(networks, headers)| {
            TrustedProxies::new(networks, headers.iter().copied().collect())
                .expect("valid networks")
        });
        Self { policy, proxies }
    }

    /// The origin (`scheme://authority`) resolved for this request head: `url_policy::origin_of`,
    /// which reads the named forwarding headers from trusted peers only.
    pub fn origin(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Result<String, Rejection> {
        origin_of(&self.policy, self.proxies.as_ref(), uri, headers, peer)
            .map(|origin| origin.to_string())
    }

    /// The client address the source-network check would compare: `source::Client::of`.
    pub fn client(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        match Client::of(None, peer, self.proxies.as_ref(), headers) {
            Client::Peer(ip) | Client::TrustedPeer(ip) | Client::Platform(ip) => Some(ip),
            Client::BehindProxy { client, .. } => Some(client),
            Client::NoPeerAddress | Client::Unreadable { .. } => None,
        }
    }
}
