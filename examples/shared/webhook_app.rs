//! The `server` example's routes and handlers, without the layer: `GET|POST /speak/` answers
//! Plivo XML, `/stream` accepts an audio-stream WebSocket and echoes every text and binary
//! message back unchanged, and any other request gets its body echoed back as `text/plain`.
//!
//! Shared with `#[path]` (not an example of its own) by `server_unguarded`, the load
//! benchmark's baseline, so that the only difference between the two servers `benches/load.sh`
//! drives is `PlivoSignatureLayer`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

/// The answer of `/speak/`.
pub const SPEAK_XML: &str = r#"<Response><Speak loop="3">Hello, from Plivo</Speak></Response>"#;

/// The routes, to be wrapped in `PlivoSignatureLayer` (or not, for the baseline).
pub fn routes() -> Router {
    Router::new()
        .route("/speak/", get(speak).post(speak))
        .route("/stream", get(stream))
        .fallback(echo)
}

async fn speak() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/xml")], SPEAK_XML)
}

async fn echo(body: Bytes) -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/plain")], body)
}

async fn stream(upgrade: WebSocketUpgrade) -> impl IntoResponse {
    upgrade.on_upgrade(echo_messages)
}

/// Sends every text and binary message back as it came, until the peer closes.
async fn echo_messages(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        let echo = match message {
            Message::Text(_) | Message::Binary(_) => message,
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if socket.send(echo).await.is_err() {
            return;
        }
    }
}
