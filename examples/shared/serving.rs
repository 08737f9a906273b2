//! How the examples serve HTTP/1.1: the limits a server facing the internet needs besides the
//! layer, written once here and used by every example that serves webhooks (`server`,
//! `server_unguarded`, `multi_tenant`, `stream`, `hyper`, `metrics`; `tungstenite` uses
//! [`Limits`] and [`Gate`] around its own handshake). Copy this file into your server.
//!
//! `axum::serve` and a bare hyper-util accept loop give hyper no timer, so hyper enforces no
//! header read timeout: a connection that sends half a request head, or nothing, stays open
//! for good, and each stalled head may buffer up to hyper's default of ~400 KiB (150 such
//! connections took the `server` example from 5.7 MB to 65 MB). Here every connection has:
//!
//! | limit | default | set by |
//! |---|---|---|
//! | a deadline for the whole request head, counted from the connection's start and again from the end of each response: it closes a connection that sends nothing, one that sends half a head or trickles it, and an idle keep-alive connection; not an upgraded WebSocket | 30 s | `PLIVO_HEADER_READ_TIMEOUT_MS` |
//! | a request head of at most 16 KiB, which is also all hyper buffers while reading it (larger: `431`, then closed) | 16 KiB | [`MAX_HEAD_BYTES`] |
//! | at most this many connections open at once, audio streams included; past it the server stops accepting, and new connections wait in the listen backlog until one closes | 512 | `PLIVO_MAX_CONNECTIONS` |
//!
//! HTTP/1.1 only, which is how Plivo calls webhooks and dials streams. (hyper-util's `auto`
//! builder, which also takes h2c, first reads a connection's opening bytes to tell the two
//! apart, with no timer: a connection that sends nothing would wait there for good.)
//!
//! Not covered: an audio stream's socket that goes silent stays open (and keeps its slot) until
//! its handler gives up on it; the handlers here wait for Plivo's `stop` event or the close.
#![allow(dead_code)] // each example uses a different part

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The largest request head (request line and headers) served. Plivo's longest are its GET
/// callbacks, every parameter in the query: a hangup callback's ~40 parameters (UUIDs, numbers,
/// times, causes) come to about 1.2 KiB encoded, and each custom SIP header Plivo passes on
/// (`X-PH-…`: a name of at most 24 characters, a value of at most 120, alphanumeric or `%`)
/// adds at most 386 bytes, a value of all `%` encoded; add three signature headers with
/// ~44-byte values, a 20-digit nonce, `Host` and `User-Agent` (~300 bytes). Ten SIP headers at
/// their longest make 5.3 KiB; 16 KiB holds 30 (`tests/it/serving.rs` sends that, signed). hyper's
/// floor is 8 KiB (`max_buf_size` panics below 8192); its default buffer ~400 KiB.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Unless `PLIVO_HEADER_READ_TIMEOUT_MS` says otherwise (hyper's own default, once it has a
/// timer).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Unless `PLIVO_MAX_CONNECTIONS` says otherwise: under the 1024 open files many systems allow a
/// process by default, with room for the rest (a Redis pool, logs), and at most 8 MiB of heads
/// being read at once. Each open audio stream holds one, for as long as its call lasts.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// The limits that can be set from the environment.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    /// From `PLIVO_HEADER_READ_TIMEOUT_MS` and `PLIVO_MAX_CONNECTIONS` (the defaults when unset);
    /// an invalid value is an error naming its variable.
    pub fn from_env() -> Result<Self, String> {
        let millis = whole_number(
            "PLIVO_HEADER_READ_TIMEOUT_MS",
            DEFAULT_HEADER_READ_TIMEOUT.as_millis() as usize,
            u32::MAX as usize,
        )?;
        Ok(Self {
            header_read_timeout: Duration::from_millis(millis as u64),
            max_connections: whole_number(
                "PLIVO_MAX_CONNECTIONS",
                DEFAULT_MAX_CONNECTIONS,
                Semaphore::MAX_PERMITS,
            )?,
        })
    }
}

/// `variable` as a whole number from 1 to `max`, or `default` when unset or blank.
fn whole_number(variable: &str, default: usize, max: usize) -> Result<usize, String> {
    let Some(value) = std::env::var(variable)
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(default);
    };
    match value.trim().parse::<usize>() {
        Ok(number) if (1..=max).contains(&number) => Ok(number),
        _ => Err(format!(
            "{variable}: must be a whole number from 1 to {max}, not {value:?}"
        )),
    }
}

/// Serves HTTP/1.1 on `listener` within `limits`, the requests of each connection answered by
/// the service `service_for` makes for its peer (put the peer where your layer looks for it;
/// [`serve_router`] does that for axum). Runs until the process ends.
pub async fn serve<S, B>(
    listener: TcpListener,
    limits: Limits,
    mut service_for: impl FnMut(SocketAddr) -> S,
) where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let mut http = http1::Builder::new();
    http
        // Without a timer hyper enforces no timeout at all, its default 30 s included.
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // The limit on the head, answered with 431...
        .max_header_size(MAX_HEAD_BYTES)
        // ...and on the read buffer holding it, so a stalled head cannot grow it further
        // (bodies are streamed through it in reads of at most this size).
        .max_buf_size(MAX_HEAD_BYTES);
    let gate = Gate::new(listener, limits);
    loop {
        let (stream, peer) = gate.accept().await;
        let service = TowerToHyperService::new(service_for(peer));
        // An upgrade (an audio stream's WebSocket) hands the socket to its handler, past the
        // header timer; it keeps its slot in the gate until it closes.
        let connection = http
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection closed");
            }
        });
    }
}

/// [`serve`] for an axum app, each request carrying the peer as `ConnectInfo<SocketAddr>`
/// (where the layer and axum's `ConnectInfo` extractor find it), as
/// `into_make_service_with_connect_info::<SocketAddr>()` does for `axum::serve`.
pub async fn serve_router(listener: TcpListener, limits: Limits, app: axum::Router) {
    serve(listener, limits, |peer| {
        tower::ServiceBuilder::new()
            .map_request(move |mut request: Request<Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            })
            .service(app.clone())
    })
    .await;
}

/// A listener that accepts a connection only while fewer than `max_connections` are open.
pub struct Gate {
    listener: TcpListener,
    slots: Arc<Semaphore>,
}

impl Gate {
    pub fn new(listener: TcpListener, limits: Limits) -> Self {
        Self {
            listener,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
        }
    }

    /// The next connection, once a slot is free. It holds the slot until it is dropped, by
    /// hyper or, after an upgrade, by the WebSocket it became.
    pub async fn accept(&self) -> (Admitted, SocketAddr) {
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .expect("the gate's semaphore is never closed");
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    // As `axum::serve` logs it.
                    tracing::trace!(%peer, "connection accepted");
                    let admitted = Admitted {
                        stream,
                        _slot: slot,
                    };
                    return (admitted, peer);
                }
                // Out of file descriptors, or a connection reset before it was accepted: wait
                // a moment rather than spin, and keep serving.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// A connection the [`Gate`] let in: the TCP stream, and its slot, freed when this is dropped.
pub struct Admitted {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Admitted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
