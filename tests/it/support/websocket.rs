//! Audio streams over real sockets: upgrade requests signed as Plivo signs them, a real
//! WebSocket client (tokio-tungstenite), and a stream route that says what the layer verified.
#![allow(dead_code)]

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Extension;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::any;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, handshake::client::Request as ClientRequest};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tower_plivo::PlivoVerified;
use tower_plivo::signature::Signer;

use super::{V3_NONCE, V3_SIGNATURE};

use super::REASON;

/// A client's end of an accepted stream.
pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The URL Plivo signs for a stream dialled as `wss://{authority}{target}` (or `ws://`): the
/// same host, port, path and query over `http` (wire format §6).
pub fn plivo_stream_url(authority: &str, target: &str) -> String {
    format!("http://{authority}{target}")
}

/// An upgrade request for `ws://{addr}{target}`, carrying a V3 signature over `signed_url`
/// made with `token` and `nonce`, as Plivo sends it (the `Host` is the server's address).
pub fn upgrade_request(
    addr: SocketAddr,
    target: &str,
    signed_url: &str,
    token: &str,
    nonce: &str,
) -> ClientRequest {
    let signature = Signer::new(token).sign_v3_get(signed_url, nonce).unwrap();
    with_headers(
        format!("ws://{addr}{target}")
            .into_client_request()
            .unwrap(),
        &[(V3_SIGNATURE, &signature), (V3_NONCE, nonce)],
    )
}

/// The request with these headers set (replacing any of the same name, `Host` included).
pub fn with_headers(mut request: ClientRequest, headers: &[(&str, &str)]) -> ClientRequest {
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    request
}

/// A handshake the server refused: its status and the layer's reason.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub reason: Option<String>,
}

/// Opens the WebSocket: the client's end on `101 Switching Protocols`, else the refusal.
pub async fn connect(request: ClientRequest) -> Result<Client, Refused> {
    handshake_outcome(tokio_tungstenite::connect_async(request).await)
}

/// What a client handshake came to: the client's end on `101 Switching Protocols`, else the
/// server's refusal (a handshake that got no HTTP answer at all fails the test).
pub fn handshake_outcome<S>(
    outcome: Result<
        (WebSocketStream<S>, tungstenite::handshake::client::Response),
        tungstenite::Error,
    >,
) -> Result<WebSocketStream<S>, Refused> {
    match outcome {
        Ok((client, response)) => {
            assert_eq!(response.status(), 101);
            Ok(client)
        }
        Err(tungstenite::Error::Http(response)) => Err(Refused {
            status: response.status().as_u16(),
            reason: response
                .headers()
                .get(REASON)
                .map(|v| v.to_str().unwrap().to_owned()),
        }),
        Err(other) => panic!("the handshake failed without an HTTP answer: {other}"),
    }
}

/// Asserts that the handshake is refused with 403 and this reason: no socket is opened.
#[track_caller]
pub fn assert_refused<S>(outcome: Result<S, Refused>, reason: &str) {
    match outcome {
        Ok(_) => panic!("the upgrade was accepted; expected a 403 {reason}"),
        Err(refused) => assert_eq!(
            refused,
            Refused {
                status: 403,
                reason: Some(reason.to_owned()),
            }
        ),
    }
}

/// The next text message, with a timeout.
pub async fn next_text<S>(client: &mut WebSocketStream<S>) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match next(client).await {
        tungstenite::Message::Text(text) => text.to_string(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// The next message, with a timeout.
pub async fn next<S>(client: &mut WebSocketStream<S>) -> tungstenite::Message
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    tokio::time::timeout(std::time::Duration::from_secs(5), client.next())
        .await
        .expect("a message within 5 s")
        .expect("the socket is open")
        .expect("a well-formed message")
}

/// Sends a text and a binary message and asserts that both come back unchanged.
pub async fn assert_echoes<S>(client: &mut WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    client
        .send(tungstenite::Message::text("hello, caller"))
        .await
        .unwrap();
    assert_eq!(next_text(client).await, "hello, caller");
    let audio = vec![0x7f, 0x00, 0xff, 0x80];
    client
        .send(tungstenite::Message::binary(audio.clone()))
        .await
        .unwrap();
    assert_eq!(
        next(client).await,
        tungstenite::Message::binary(audio),
        "binary frames come back unchanged"
    );
}

/// The stream route of the tests: on a verified upgrade it sends one text message,
/// `verified {url} {stream URL form}`, then echoes every text and binary message.
pub fn stream_routes() -> Router {
    Router::new().route("/stream", any(stream))
}

async fn stream(
    Extension(verified): Extension<PlivoVerified>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let hello = hello(&verified);
    upgrade.on_upgrade(move |socket| echo(socket, hello))
}

async fn echo(mut socket: WebSocket, hello: String) {
    if socket.send(Message::Text(hello.into())).await.is_err() {
        return;
    }
    while let Some(Ok(message)) = socket.recv().await {
        let reply = match message {
            Message::Text(_) | Message::Binary(_) => message,
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if socket.send(reply).await.is_err() {
            break;
        }
    }
}

/// Writes `request` on a fresh connection and reads only the response head (a switched
/// connection never ends): its status line.
pub async fn status_line_of(addr: SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("a response head within 5 s")
            .unwrap();
        assert_eq!(
            read, 1,
            "the connection closed before the response head ended"
        );
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

/// The server end of a tungstenite stream (no axum): sends `hello`, then echoes every text and
/// binary message until the client closes.
pub async fn echo_tungstenite<S>(mut socket: WebSocketStream<S>, hello: String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if socket
        .send(tungstenite::Message::text(hello))
        .await
        .is_err()
    {
        return;
    }
    while let Some(Ok(message)) = socket.next().await {
        if message.is_close() {
            break;
        }
        if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err() {
            break;
        }
    }
}

/// What a stream server tells the client about a verified upgrade (the first message).
pub fn hello(verified: &PlivoVerified) -> String {
    let form = verified
        .stream_url_form()
        .map_or("none", |form| form.as_str());
    format!("verified {} {form}", verified.url())
}

/// The upgrade request a printed `websocat -H 'Name: value' … URL` command line sends (as a
/// user would paste it; websocat itself need not be installed).
pub fn request_from_websocat(line: &str) -> ClientRequest {
    let words = super::curl::shell_words(line);
    assert_eq!(
        words.first().map(String::as_str),
        Some("websocat"),
        "{line}"
    );
    let mut headers = Vec::new();
    let mut url = None;
    let mut words = words.into_iter().skip(1);
    while let Some(word) = words.next() {
        match word.as_str() {
            "-H" => {
                let header = words.next().expect("-H takes a header");
                let (name, value) = header.split_once(": ").expect("Name: value");
                headers.push((name.to_owned(), value.to_owned()));
            }
            _ if url.is_none() => url = Some(word),
            other => panic!("unexpected websocat argument {other:?} in {line}"),
        }
    }
    let mut request = url.expect("a URL").into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    request
}
