//! What the guard reads of a request before its body: the head (method, target, version,
//! headers), the TCP peer address (which decides whether forwarding headers are believed), a
//! client address the platform gives, and the request target as received (before any router
//! rewrote it).

use std::net::{IpAddr, SocketAddr};

use http::request::Parts;
use http::{Extensions, HeaderMap, Method, Request, Uri, Version};

/// A request's head, borrowed: what [`PlivoGuard`](crate::PlivoGuard) reads before any body.
/// Made from [`http::request::Parts`] or from any [`http::Request`] (such as the
/// `http::Request<()>` that `tokio-tungstenite` hands its handshake callback).
///
/// Two inputs are separate from the head, because the head's own headers cannot vouch for
/// them: the TCP peer ([`with_peer`](Self::with_peer); without it, the peer is read from the
/// extensions as [`PeerAddr`] or axum's and tonic's connection info, else unknown, and then no
/// forwarding header is believed), and the client address a platform gives from outside the
/// request, such as AWS Lambda's `requestContext.identity.sourceIp`
/// ([`with_platform_client`](Self::with_platform_client)).
///
/// ```
/// use tower_plivo::RequestHead;
///
/// // From the request a tokio-tungstenite callback sees, with the peer from `accept()`,
/// let request = http::Request::get("/stream").body(()).unwrap();
/// let head = RequestHead::from(&request).with_peer(Some("10.0.0.7:50000".parse().unwrap()));
/// // or from the parts of a request taken apart.
/// let (parts, ()) = http::Request::get("/stream").body(()).unwrap().into_parts();
/// let also = RequestHead::from(&parts);
/// # let _ = (head, also);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RequestHead<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) version: Version,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) extensions: &'a Extensions,
    peer: Option<SocketAddr>,
    pub(crate) platform_client: Option<IpAddr>,
}

impl<'a> From<&'a Parts> for RequestHead<'a> {
    fn from(parts: &'a Parts) -> Self {
        Self {
            method: &parts.method,
            uri: &parts.uri,
            version: parts.version,
            headers: &parts.headers,
            extensions: &parts.extensions,
            peer: None,
            platform_client: None,
        }
    }
}

impl<'a, B> From<&'a Request<B>> for RequestHead<'a> {
    fn from(request: &'a Request<B>) -> Self {
        Self {
            method: request.method(),
            uri: request.uri(),
            version: request.version(),
            headers: request.headers(),
            extensions: request.extensions(),
            peer: None,
            platform_client: None,
        }
    }
}

impl<'a> RequestHead<'a> {
    /// The TCP peer that sent the request (it decides whether forwarding headers are believed,
    /// and it is the client unless it is a trusted proxy). `None` leaves the extensions' peer,
    /// if any.
    ///
    /// ```
    /// # let request = http::Request::get("/answer").body(()).unwrap();
    /// let head = tower_plivo::RequestHead::from(&request).with_peer(Some("203.0.113.7:40000".parse().unwrap()));
    /// # let _ = head;
    /// ```
    pub fn with_peer(mut self, peer: Option<SocketAddr>) -> Self {
        self.peer = peer;
        self
    }

    /// The client's address as the platform that delivered the request gives it from outside
    /// the request (AWS Lambda behind API Gateway: `requestContext.identity.sourceIp`). It is
    /// believed as the client for [`source_networks`](crate::PlivoGuardBuilder::source_networks),
    /// before any forwarding header: give it only from the platform's own event, never from a
    /// header.
    ///
    /// ```
    /// # let request = http::Request::get("/answer").body(()).unwrap();
    /// let head = tower_plivo::RequestHead::from(&request).with_platform_client("203.0.113.7".parse().unwrap());
    /// # let _ = head;
    /// ```
    pub fn with_platform_client(mut self, client: IpAddr) -> Self {
        self.platform_client = Some(client);
        self
    }

    /// The URI to take the path and query from. Under axum's `Router::nest` the URI a layer
    /// sees has its prefix stripped; axum keeps the original in `OriginalUri`, and that is what
    /// Plivo signed.
    pub(crate) fn original_uri(&self) -> &'a Uri {
        #[cfg(feature = "axum")]
        if let Some(axum::extract::OriginalUri(uri)) =
            self.extensions.get::<axum::extract::OriginalUri>()
        {
            return uri;
        }
        self.uri
    }

    /// The peer address from whichever integration put it in the extensions.
    pub(crate) fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer.or_else(|| peer_addr(self.extensions))
    }
}

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
fn peer_addr(extensions: &Extensions) -> Option<SocketAddr> {
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
