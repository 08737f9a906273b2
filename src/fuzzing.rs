//! Thin wrappers over crate internals for the fuzz targets in `fuzz/` (feature `fuzzing`).
//!
//! Internal: not part of the public API, no stability promise. Each wrapper only forwards to
//! the one internal function it names, so the fuzzers exercise the code the layer runs. (Form
//! parsing and message building are fuzzed through the public `Signer`, which needs nothing
//! here.)

use std::net::SocketAddr;

use http::{HeaderMap, Uri};

use crate::rejection::Rejection;
use crate::url_policy::UrlPolicy;

/// How many pieces of a signature header the verifier keeps (those that decode to a 32-byte
/// tag): `signature::mac::parse_signature_list`.
pub fn signature_pieces(header: &[u8]) -> usize {
    crate::signature::mac::parse_signature_list(header).count()
}

/// The origin (`scheme://authority`) the URL policy resolves for this request head:
/// `UrlPolicy::resolve`, which reads `Forwarded` / `X-Forwarded-*` from trusted peers.
pub fn resolve_origin(
    policy: &UrlPolicy,
    uri: &Uri,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<String, Rejection> {
    policy
        .resolve(uri, headers, peer)
        .map(|origin| origin.to_string())
}
