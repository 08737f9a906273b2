//! What the server knows about a request besides its head: the TCP peer address (which decides
//! whether forwarding headers are believed) and the request target as received (before any
//! router rewrote it).

use std::net::SocketAddr;

use http::request::Parts;
use http::{Extensions, Uri};

/// The address of the TCP peer that sent a request. Insert it into the request extensions when
/// serving with plain hyper, so the trusted-proxy policy can see who is talking.
///
/// axum's `ConnectInfo<SocketAddr>` (with the `axum` feature) and tonic's `TcpConnectInfo`
/// (with the `tonic` feature) are read too. Without any of them, forwarding headers are never
/// believed.
///
/// ```
/// use tower_plivo::PeerAddr;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(PeerAddr("10.0.0.7:50000".parse().unwrap()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

/// The peer address from whichever integration put it in the extensions.
pub(crate) fn peer_addr(extensions: &Extensions) -> Option<SocketAddr> {
    if let Some(PeerAddr(addr)) = extensions.get::<PeerAddr>() {
        return Some(*addr);
    }
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) =
        extensions.get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(*addr);
    }
    #[cfg(feature = "tonic")]
    if let Some(addr) = extensions
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|info| info.remote_addr())
    {
        return Some(addr);
    }
    None
}

/// The URI to take the path and query from. Under axum's `Router::nest` the URI a layer sees has
/// its prefix stripped; axum keeps the original in `OriginalUri`, and that is what Plivo signed.
pub(crate) fn original_uri(parts: &Parts) -> &Uri {
    #[cfg(feature = "axum")]
    if let Some(axum::extract::OriginalUri(uri)) =
        parts.extensions.get::<axum::extract::OriginalUri>()
    {
        return uri;
    }
    &parts.uri
}
