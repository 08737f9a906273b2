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
use crate::signature::{SignatureHeaders, SignatureVersion, VerifyError};
use crate::url_policy::{ProxyHeader, TrustedProxies, UrlPolicy, origin_of};

/// How many pieces of a signature header the verifier keeps (those that decode to a 32-byte
/// tag): `signature::mac::parse_signature_list`.
pub fn signature_pieces(header: &[u8]) -> usize {
    crate::signature::mac::parse_signature_list(header).count()
}

/// The version and nonce the headers claim: `SignatureHeaders::claim`.
pub fn claim<'a>(
    headers: &SignatureHeaders<'a>,
) -> Result<(SignatureVersion, &'a [u8]), VerifyError> {
    headers.claim().map(|claim| (claim.version, claim.nonce))
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
