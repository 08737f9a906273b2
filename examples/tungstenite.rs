//! Plivo audio streams on a bare `tokio-tungstenite` server, without tower: the
//! [`SyncPlivoGuard::check_upgrade`](tower_plivo::guard::SyncPlivoGuard::check_upgrade) runs inside `accept_hdr_async`'s
//! handshake callback, so an upgrade Plivo did not sign is answered 403 and never becomes a
//! socket. A verified socket gets every text and binary message echoed back.
//!
//! ```text
//! cargo run --example tungstenite
//! ```
//!
//! | variable | meaning |
//! |---|---|
//! | `PLIVO_AUTH_TOKEN` | the account/sub-account auth token; unset: a demo token |
//! | `PLIVO_PUBLIC_URL` | `https://host[:port]` Plivo dials (as `wss://`); default `http://127.0.0.1:3004` |
//! | `BIND` | listen address, default `127.0.0.1:3004` |
//! | `PLIVO_HEADER_READ_TIMEOUT_MS` | how long a connection has to complete its upgrade handshake (from being accepted to the `101`), default 30000; an open socket has no deadline |
//! | `PLIVO_MAX_CONNECTIONS` | connections open at once, sockets included (default 512); past it, new ones wait to be accepted until one closes |
//!
//! Both come from `examples/shared/serving.rs`, as in the HTTP/1 examples. Left uncovered here:
//! the upgrade's head may reach tungstenite's fixed 64 KiB (its `AttackCheck`, not settable)
//! rather than the 16 KiB the other examples allow, and an open socket that goes silent stays
//! open (a call's stream ends with Plivo's `stop` event or the close of the socket; send
//! pings, or time out reads, to catch a peer that vanished).
//!
//! Try it (the printed command is signed as Plivo signs the stream):
//!
//! ```text
//! cargo run --example sign -- --token MAdemoTOKENdoNOTuseINproduction0 --url ws://127.0.0.1:3004/stream
//! ```

#[path = "shared/demo.rs"]
mod demo;
#[path = "shared/logging.rs"]
mod logging;
#[path = "shared/serving.rs"]
mod serving;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tower_plivo::guard::SyncPlivoGuard;
use tower_plivo::{PlivoGuard, RequestHead, UrlPolicy};

use serving::{Admitted, Gate, Limits};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    logging::init();
    let limits = Limits::from_env()?;
    let bind = demo::env("BIND").unwrap_or_else(|| "127.0.0.1:3004".to_owned());
    let public = demo::env("PLIVO_PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}"));
    let check = PlivoGuard::builder()
        .auth_token(demo::env("PLIVO_AUTH_TOKEN").unwrap_or_else(|| demo::DEMO_TOKEN.to_owned()))
        .url_policy(UrlPolicy::public_base(&public)?)
        .build()?
        // The default in-memory replay store answers at once, as a synchronous callback needs.
        .synchronous()?;
    let listener = TcpListener::bind(&bind).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    // At most `max_connections` at once: each holds its slot until it closes.
    let gate = Gate::new(listener, limits);
    loop {
        let (stream, peer) = gate.accept().await;
        tokio::spawn(serve(stream, peer, check.clone(), limits));
    }
}

async fn serve(
    stream: Admitted,
    peer: std::net::SocketAddr,
    check: SyncPlivoGuard,
    limits: Limits,
) {
    // The callback sees the upgrade's head before the 101, but not the peer: pass it in.
    // (tungstenite's callback type returns its large error response by value.)
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| match check
        .check_upgrade(RequestHead::from(request).with_peer(Some(peer)))
    {
        Ok(_verified) => Ok(response),
        // The reason is in the check's log line; the answer tells a forger nothing.
        Err(_refused) => {
            let mut refusal = ErrorResponse::new(Some("forbidden\n".to_owned()));
            *refusal.status_mut() = http::StatusCode::FORBIDDEN;
            Err(refusal)
        }
    };
    // The handshake within the header read timeout: a connection that sends nothing, or half
    // an upgrade head, is dropped then. The socket it opens has no deadline.
    let handshake = tokio_tungstenite::accept_hdr_async(stream, callback);
    let Ok(Ok(mut socket)) = tokio::time::timeout(limits.header_read_timeout, handshake).await
    else {
        return;
    };
    while let Some(Ok(message)) = socket.next().await {
        if message.is_close() {
            return;
        }
        if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err() {
            return;
        }
    }
}
