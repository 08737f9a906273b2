//! A voice agent's three Plivo routes behind one `PlivoSignatureLayer`: the answer URL returns
//! `<Stream>` XML pointing at this server's own `wss://` URL, the stream route takes Plivo's
//! audio WebSocket (verified before the `101`) and plays every audio chunk back to the caller,
//! and the stream status callback logs what Plivo reports.
//!
//! ```text
//! cargo run --example stream
//! ```
//!
//! | variable | meaning |
//! |---|---|
//! | `PLIVO_AUTH_TOKEN` | the account/sub-account auth token (never printed); unset: the public demo token, printed |
//! | `PLIVO_PUBLIC_URL` | `https://host[:port]` Plivo calls (the stream is dialled at `wss://host[:port]/stream`); default `http://` + the bound address |
//! | `BIND` | listen address, default `127.0.0.1:3003` |
//! | `PLIVO_HEADER_READ_TIMEOUT_MS`, `PLIVO_MAX_CONNECTIONS` | the connection limits of `examples/shared/serving.rs` (defaults 30000 ms and 512), as in the `server` example: the header timeout never closes an open stream, and each open stream counts as a connection |
//!
//! Routes:
//! - `POST /answer`: `<Response><Stream …>wss://…/stream</Stream></Response>`, bidirectional,
//!   with `extraHeaders` (which Plivo sends inside the stream's `start` event, not as HTTP
//!   headers) and the status callback URL;
//! - `GET /stream`: the audio WebSocket. Logs the `start` event (call, stream, tracks, media
//!   format, `extra_headers`), answers each `media` event with a `playAudio` event carrying the
//!   same audio (an echo), logs `dtmf` digits and `stop`;
//! - `POST /stream-status`: Plivo's stream status callbacks (ordinary V3 webhooks).
//!
//! At start it prints `sign` commands to try it without Plivo, aimed at its own address and
//! signed for the public URL as Plivo signs: the answer webhook (200, the `<Stream>` XML), the
//! stream's upgrade (101) and the upgrade signed with a token it does not know (403).

#[path = "shared/demo.rs"]
mod demo;
#[path = "shared/logging.rs"]
mod logging;
#[path = "shared/serving.rs"]
mod serving;
#[path = "shared/try_it.rs"]
mod try_it;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, Form};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Router, extract::State};
use serde_json::{Value, json};
use tower_plivo::{PlivoSignatureLayer, PlivoVerified, UrlPolicy};

use try_it::{DEMO_CALL, ShellWord, TryIt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    logging::init();
    let limits = serving::Limits::from_env()?;
    let bind = demo::env("BIND").unwrap_or_else(|| "127.0.0.1:3003".to_owned());
    // Bound first: without a public URL, the origin is the address actually bound (`BIND` may
    // ask for port 0).
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    let addr = listener.local_addr()?;
    let public = Public(
        demo::env("PLIVO_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_owned(),
    );
    let token = demo::env("PLIVO_AUTH_TOKEN");
    let demo_token = token.is_none().then_some(demo::DEMO_TOKEN);
    let plivo = PlivoSignatureLayer::builder()
        .auth_token(token.as_deref().unwrap_or(demo::DEMO_TOKEN))
        // The public URL Plivo calls: the same policy verifies webhooks over it and the stream
        // over its http:// form.
        .url_policy(UrlPolicy::public_base(&public.0)?)
        .build()?;
    let app = Router::new()
        .route("/answer", post(answer))
        .route("/stream", get(stream))
        .route("/stream-status", post(stream_status))
        .with_state(public.clone())
        .layer(plivo);
    println!("listening on http://{addr}");
    let stream_url = ShellWord::literal(&public.stream_url());
    TryIt::demo_or_user_token(demo_token, addr)
        .signed(
            "the answer webhook gets 200 and the <Stream> XML:",
            ShellWord::literal(&format!("{}/answer", public.0)),
            Some(DEMO_CALL),
        )
        .signed(
            "the audio stream's upgrade, signed as Plivo dials it, gets 101:",
            stream_url.clone(),
            None,
        )
        .unknown_token(stream_url, None)
        .print();
    serving::serve_router(listener, limits, app).await;
    Ok(())
}

/// The public origin Plivo calls, e.g. `https://hooks.example.com`.
#[derive(Clone)]
struct Public(String);

impl Public {
    /// The stream URL Plivo dials: the public origin over `wss://` (`ws://` for `http://`).
    fn stream_url(&self) -> String {
        format!("{}/stream", self.0.replacen("http", "ws", 1))
    }
}

/// The answer URL: stream the call's audio to this server, both ways.
async fn answer(State(public): State<Public>) -> impl IntoResponse {
    let xml = format!(
        "<Response><Stream bidirectional=\"true\" keepCallAlive=\"true\" \
         contentType=\"audio/x-mulaw;rate=8000\" extraHeaders=\"agent=echo,locale=en-US\" \
         statusCallbackUrl=\"{}/stream-status\" statusCallbackMethod=\"POST\">{}</Stream></Response>",
        public.0,
        public.stream_url()
    );
    ([(CONTENT_TYPE, "application/xml")], xml)
}

/// The audio WebSocket. The layer has verified the upgrade before this handler runs.
async fn stream(
    Extension(verified): Extension<PlivoVerified>,
    upgrade: WebSocketUpgrade,
) -> impl IntoResponse {
    tracing::info!(
        nonce = verified.nonce(),
        url = verified.url(),
        "stream accepted"
    );
    upgrade.on_upgrade(talk)
}

async fn talk(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(event) = serde_json::from_str::<Value>(&text) else {
            tracing::warn!("a stream message that is not JSON");
            continue;
        };
        match event["event"].as_str() {
            Some("start") => tracing::info!(
                call = %event["start"]["callId"],
                stream = %event["start"]["streamId"],
                tracks = %event["start"]["tracks"],
                media_format = %event["start"]["mediaFormat"],
                // From the XML's extraHeaders: inside the event, never HTTP headers, and not
                // covered by the upgrade's signature.
                extra_headers = %event["extra_headers"],
                "stream started"
            ),
            Some("media") => {
                let play = json!({
                    "event": "playAudio",
                    "media": {
                        "contentType": "audio/x-mulaw",
                        "sampleRate": 8000,
                        "payload": event["media"]["payload"],
                    },
                });
                if socket
                    .send(Message::Text(play.to_string().into()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Some("dtmf") => tracing::info!(digit = %event["dtmf"]["digit"], "caller pressed a key"),
            Some("stop") => {
                tracing::info!("stream stopped");
                return;
            }
            other => tracing::debug!(event = ?other, "stream event"),
        }
    }
}

/// Plivo's stream status callbacks (started, stopped, failed…).
async fn stream_status(Form(report): Form<Vec<(String, String)>>) -> impl IntoResponse {
    tracing::info!(?report, "stream status");
    "OK"
}
