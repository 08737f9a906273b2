//! A plain hyper 1 server for the tests, as `examples/hyper.rs` runs one: the layer around an
//! echo handler, the `PeerAddr` extension inserted per connection, the layer's reason for a
//! refusal copied into [`REASON`](super::REASON).
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tower::ServiceBuilder;
use tower_plivo::service::RequestBody;
use tower_plivo::{PeerAddr, PlivoSignatureLayer, PlivoVerified, Rejection};

/// A running server and how many requests reached its handler (i.e. passed the layer).
pub struct Server {
    pub addr: SocketAddr,
    pub handled: Arc<AtomicUsize>,
}

/// Serves `layer` around an echo handler on a fresh 127.0.0.1 port, as the example does.
/// `with_peer_addr: false` leaves out the `PeerAddr` extension, as a user who forgot it would.
pub async fn serve(layer: PlivoSignatureLayer, with_peer_addr: bool) -> Server {
    serve_slow(layer, with_peer_addr, Duration::ZERO).await
}

/// As [`serve`], with a handler that takes `delay` (counted as handled when it starts).
pub async fn serve_slow(
    layer: PlivoSignatureLayer,
    with_peer_addr: bool,
    delay: Duration,
) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = handled.clone();
    tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.unwrap();
            let counter = counter.clone();
            let service = ServiceBuilder::new()
                .map_request(move |mut request: Request<Incoming>| {
                    if with_peer_addr {
                        request.extensions_mut().insert(PeerAddr(peer));
                    }
                    request
                })
                // The reason of a refusal, which the body no longer tells, for the assertions.
                .map_response(|mut response: Response<_>| {
                    if let Some(rejection) = response.extensions().get::<Rejection>().copied() {
                        response
                            .headers_mut()
                            .insert(super::REASON, HeaderValue::from_static(rejection.code()));
                    }
                    response
                })
                .layer(layer.clone())
                .service_fn(move |request| echo(request, counter.clone(), delay));
            tokio::spawn(async move {
                // A client closing its connection mid-test is not a failure of the server.
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                    .await;
            });
        }
    });
    Server { addr, handled }
}

/// Echoes the body, and what the layer verified in `x-verified-*` headers.
async fn echo(
    request: Request<RequestBody<Incoming>>,
    handled: Arc<AtomicUsize>,
    delay: Duration,
) -> Result<Response<Full<Bytes>>, Infallible> {
    handled.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(delay).await;
    let verified = request.extensions().get::<PlivoVerified>().cloned();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let mut response = Response::new(Full::new(body));
    let headers = response.headers_mut();
    if let Some(v) = verified {
        for (name, value) in [
            ("x-verified-version", v.version().as_str().to_owned()),
            ("x-verified-token", v.token().to_string()),
            ("x-verified-nonce", v.nonce().to_owned()),
            ("x-verified-url", v.url().to_owned()),
        ] {
            headers.insert(name, HeaderValue::from_str(&value).unwrap());
        }
    }
    Ok(response)
}
