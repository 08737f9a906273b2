//! Shared helpers for the integration tests: real axum servers on 127.0.0.1 and a real HTTP
//! client.
#![allow(dead_code)] // each test file uses a different subset

pub mod replay_app;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower_plivo::PlivoVerified;

/// The echo handler of the `server` example contract, plus the verification details in headers
/// so tests can see what the layer decided.
pub async fn echo(request: Request) -> impl IntoResponse {
    let verified = request.extensions().get::<PlivoVerified>().cloned();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let mut headers = vec![(CONTENT_TYPE.as_str().to_owned(), "text/plain".to_owned())];
    if let Some(v) = verified {
        headers.push(("x-verified-token".into(), v.token.to_string()));
        headers.push(("x-verified-version".into(), v.version.as_str().into()));
        headers.push(("x-verified-url".into(), v.url));
        headers.push(("x-verified-nonce".into(), v.nonce));
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

/// Serves `app` on a fresh 127.0.0.1 port with `ConnectInfo<SocketAddr>`, in the background.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
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

/// A response as the client saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
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
    let mut builder = axum::http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{target}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = client
        .request(builder.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

/// The form content type header.
pub const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
