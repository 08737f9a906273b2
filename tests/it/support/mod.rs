//! Shared helpers for the integration tests: real axum servers on 127.0.0.1 and a real HTTP
//! client.
//!
//! The `support` module of the `it` test crate (`tests/it/main.rs`), also included by path
//! (`#[path = "it/support/mod.rs"] mod support;`) by the test binaries kept apart from it
//! (`tests/allocations.rs`, `tests/metrics.rs`). `counting_allocator.rs` is not a module of it:
//! it installs a global allocator, so only the binaries that measure memory include it.
#![allow(dead_code)] // each test module uses a different subset

pub mod compose;
pub mod curl;
pub mod examples;
pub mod hyper_app;
// Only the Lambda tests run the `lambda` example.
#[cfg(feature = "lambda")]
pub mod lambda_runtime;
pub mod logs;
// Only the real-proxy tests start nginx, HAProxy and Caddy.
#[cfg(feature = "real-proxies")]
pub mod proxy;
pub mod raw;
// Only the cluster tests start a cluster; without the feature the harness is not built.
#[cfg(feature = "redis-cluster")]
pub mod redis_cluster;
// Only the Redis tests start a `redis-server`.
#[cfg(feature = "redis")]
pub mod redis_node;
// Where the crate's unit tests (`src/signature/form.rs`), the benches and the fuzz targets
// include it from too.
#[path = "../../support/reference.rs"]
pub mod reference;
pub mod replay_app;
pub mod replay_conformance;
pub mod sign;
pub mod tenants_db;
pub mod vectors;
pub mod websocket;

use std::net::{SocketAddr, TcpListener};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower_plivo::{PlivoVerified, Rejection};

/// The echo handler of the `server` example contract, plus the verification details in headers
/// so tests can see what the layer decided.
pub async fn echo(request: Request) -> impl IntoResponse {
    let verified = request.extensions().get::<PlivoVerified>().cloned();
    let reported = request.extensions().get::<Rejection>().copied();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let mut headers = vec![(CONTENT_TYPE.as_str().to_owned(), "text/plain".to_owned())];
    // Report-only mode hands a refused request on with its rejection.
    if let Some(rejection) = reported {
        headers.push((REPORTED.into(), rejection.code().into()));
    }
    if let Some(v) = verified {
        headers.push(("x-verified-token".into(), v.token().to_string()));
        headers.push(("x-verified-version".into(), v.version().as_str().into()));
        headers.push(("x-verified-url".into(), v.url().to_owned()));
        headers.push(("x-verified-nonce".into(), v.nonce().to_owned()));
    }
    let mut response = body.into_response();
    for (name, value) in headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    response
}

/// The test-only header in which [`echo`] names the rejection a report-only layer handed on.
pub const REPORTED: &str = "x-reported-rejection";

/// The test-only header that carries the layer's typed reason over the wire (see
/// [`expose_rejection`]).
pub const REASON: &str = "x-test-rejection";

/// Copies the [`Rejection`] the layer puts in a refusal's extensions into the [`REASON`]
/// header. The default body is the same for every 403 (so that a forger learns nothing from
/// it); tests over TCP read the reason here instead, as an outer layer of the user's would.
pub fn expose_rejection(app: Router) -> Router {
    app.layer(axum::middleware::map_response(
        |mut response: axum::response::Response| async move {
            if let Some(rejection) = response.extensions().get::<Rejection>().copied() {
                response
                    .headers_mut()
                    .insert(REASON, rejection.code().parse().unwrap());
            }
            response
        },
    ))
}

/// Copies a refusal's [`Rejection`] into the [`REASON`] header, as [`expose_rejection`] does, for
/// stacks that are not a [`Router`] (a bare tower stack, a tonic server's layers).
pub fn copy_reason<B>(mut response: axum::http::Response<B>) -> axum::http::Response<B> {
    if let Some(rejection) = response.extensions().get::<Rejection>().copied() {
        response
            .headers_mut()
            .insert(REASON, rejection.code().parse().unwrap());
    }
    response
}

/// Serves `app` on a fresh 127.0.0.1 port with `ConnectInfo<SocketAddr>`, in the background,
/// with the layer's reasons exposed (see [`expose_rejection`]).
pub async fn serve(app: Router) -> SocketAddr {
    serve_on("127.0.0.1:0", app).await
}

/// As [`serve`], on this address (`[::1]:0` for IPv6).
pub async fn serve_on(bind: &str, app: Router) -> SocketAddr {
    let app = expose_rejection(app);
    let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// Serves a bare tower stack (not a [`Router`]) on a fresh 127.0.0.1 port with
/// `ConnectInfo<SocketAddr>`, with the layer's reasons exposed as [`serve`] does. `axum::serve`
/// takes only services answering `Response<axum::body::Body>`, so the answer is converted with
/// `IntoResponse` on the way out: axum's requirement, which every body-changing layer (ours,
/// tower-http's compression, ...) meets the same way.
pub async fn serve_service<S, B>(service: S) -> SocketAddr
where
    S: tower::Service<
            Request,
            Response = axum::http::Response<B>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let service = tower::ServiceBuilder::new()
        .map_response(|response: axum::http::Response<B>| copy_reason(response.into_response()))
        .service(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(service),
        )
        .await
        .unwrap();
    });
    addr
}

/// As [`serve`], without `ConnectInfo`: the layer never learns the TCP peer (the mistake of
/// serving axum with `into_make_service()` behind a proxy).
pub async fn serve_without_peer(app: Router) -> SocketAddr {
    let app = expose_rejection(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service())
            .await
            .unwrap();
    });
    addr
}

/// A response as the client saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// Reads a response whole.
    pub async fn read<B>(response: axum::http::Response<B>) -> Self
    where
        B: http_body::Body,
        B::Error: std::fmt::Debug,
    {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// The layer's reason for a refusal (`None` for anything else).
    pub fn reason(&self) -> Option<String> {
        self.header(REASON)
    }

    /// Asserts a refusal by the layer: this status, this reason, and the body every refusal
    /// with this status has (nothing that tells one reason from another).
    #[track_caller]
    pub fn assert_refused(&self, status: u16, reason: &str) {
        assert_eq!(
            (self.status, self.reason().as_deref()),
            (status, Some(reason)),
            "{}",
            self.text()
        );
        assert_eq!(self.text(), refusal_body(status));
    }
}

/// The default responder's body for a status: the same for every reason.
pub fn refusal_body(status: u16) -> &'static str {
    match status {
        413 => "payload too large\n",
        400 => "bad request\n",
        408 => "request timeout\n",
        503 => "service unavailable\n",
        _ => "forbidden\n",
    }
}

/// A fresh nonce each call (20 decimal digits, as Plivo sends): replay protection is on by
/// default, so every genuine request a test sends needs its own.
pub fn fresh_nonce() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seed = std::process::id() as u64 * 1_000_000_000;
    format!("{:020}", seed + NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sends one HTTP/1.1 request with exactly these headers and body to `addr`. `target` is the
/// request target as it goes on the wire (path and raw query).
pub async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let uri = format!("http://{addr}{target}");
    let response = client
        .request(request(method, &uri, headers, body.into()))
        .await
        .unwrap();
    Reply::read(response).await
}

/// A request with exactly these headers and body, for `uri` (absolute, or a target as it goes
/// on the wire).
pub fn request(
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> axum::http::Request<Full<Bytes>> {
    let mut builder = axum::http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Full::new(body)).unwrap()
}

/// A form POST of `body` to `path` on `addr`, V3-signed with `token` for the public URL `url`
/// and a fresh nonce, as Plivo sends a webhook.
pub async fn signed_form_post(
    addr: SocketAddr,
    token: &str,
    url: &str,
    path: &str,
    body: &str,
) -> Reply {
    let nonce = fresh_nonce();
    let signature = sign_v3(token, "POST", url, body.as_bytes(), &nonce);
    let headers = [
        (V3_SIGNATURE, signature.as_str()),
        (V3_NONCE, nonce.as_str()),
        FORM,
    ];
    send(addr, "POST", path, &headers, body.to_owned()).await
}

/// The V3 signature of a `method` ("GET" or "POST") request to `url` with this body and
/// nonce (Plivo puts a GET's parameters in the query, so `body` is ignored for a GET).
pub fn sign_v3(token: &str, method: &str, url: &str, body: &[u8], nonce: &str) -> String {
    let signer = tower_plivo::signature::Signer::new(token);
    match method {
        "GET" => signer.sign_v3_get(url, nonce),
        "POST" => signer.sign_v3_post(url, body, nonce),
        other => panic!("Plivo signs GET and POST only, not {other}"),
    }
    .unwrap()
}

/// The six signature headers, as the wire format names them (lower case, as `http` keeps
/// names): written out here rather than taken from the crate, so the tests hold the crate to
/// the wire.
pub const V3_SIGNATURE: &str = "x-plivo-signature-v3";
pub const V3_MAIN_ACCOUNT_SIGNATURE: &str = "x-plivo-signature-ma-v3";
pub const V3_NONCE: &str = "x-plivo-signature-v3-nonce";
pub const V2_SIGNATURE: &str = "x-plivo-signature-v2";
pub const V2_MAIN_ACCOUNT_SIGNATURE: &str = "x-plivo-signature-ma-v2";
pub const V2_NONCE: &str = "x-plivo-signature-v2-nonce";

/// The headers of a `method` ("GET" or "POST") request with these (name, value) pairs; a POST
/// also carries the form `Content-Type`. `None` when a value cannot be a header value at all
/// (a control byte, say): no HTTP request can carry it.
pub fn request_headers(method: &str, pairs: &[(&str, &[u8])]) -> Option<http::HeaderMap> {
    let mut headers = http::HeaderMap::new();
    for (name, value) in pairs {
        let value = http::HeaderValue::from_bytes(value).ok()?;
        headers.append(http::HeaderName::from_bytes(name.as_bytes()).ok()?, value);
    }
    if method == "POST" {
        headers.insert(CONTENT_TYPE, http::HeaderValue::from_static(FORM.1));
    }
    Some(headers)
}

/// The pure verifier's verdict on a `method` request to `url` with these header pairs and body
/// (a POST's as a form).
pub fn pure_verify(
    verifier: &tower_plivo::signature::Verifier,
    method: &str,
    url: &str,
    pairs: &[(&str, &[u8])],
    body: &[u8],
) -> Result<(tower_plivo::SignatureVersion, tower_plivo::TokenId), Rejection> {
    let headers = request_headers(method, pairs).expect("valid header values");
    let method = http::Method::from_bytes(method.as_bytes()).unwrap();
    verifier.verify(&method, url, &headers, body)
}

/// The form content type header.
pub const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

/// A [`tower_plivo::Metrics`] that counts acceptances and keeps every rejection, in order.
#[derive(Default)]
pub struct Counts {
    pub accepted: std::sync::atomic::AtomicU64,
    pub rejected: std::sync::Mutex<Vec<Rejection>>,
}

impl tower_plivo::Metrics for Counts {
    fn accepted(&self, _: &PlivoVerified) {
        self.accepted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn rejected(&self, rejection: Rejection) {
        self.rejected.lock().unwrap().push(rejection);
    }
}
