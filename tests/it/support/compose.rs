//! The composition suites' shared pieces (`tests/it/composition.rs`,
//! `tests/it/composition_tonic.rs`): handlers that record every call, and a client that sends
//! genuine and forged Plivo requests to a served stack and asserts a forged one never reaches a
//! handler.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tower::Service;
use tower_plivo::{PlivoGuardBuilder, PlivoSignatureLayer, PlivoVerified, UrlPolicy};

use super::{FORM, Reply, fresh_nonce, send, serve};

pub const TOKEN: &str = "MAcomposeTOKENaaaaaaaaaaaaaaaaaaaaa";
/// Another account's token: what a forger can sign with.
pub const FORGER: &str = "MAforgerTOKENzzzzzzzzzzzzzzzzzzzzzz";
pub const ORIGIN: &str = "https://hooks.example.com";
/// A form long enough (over 32 bytes) for tower-http's default compression predicate.
pub const BODY: &str =
    "CallUUID=6b2b4b5e-composition&From=14155550100&To=14155550199&Event=StartApp";

pub fn plivo() -> PlivoGuardBuilder<PlivoSignatureLayer> {
    PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .url_policy(UrlPolicy::public_base(ORIGIN).unwrap())
}

// ---- the handlers: each records every call ----

/// What the handlers share: how many times any of them ran (and the nonces they saw), and the
/// gate `/hold` waits on.
#[derive(Clone)]
pub struct Handlers {
    pub calls: Arc<AtomicUsize>,
    /// The V3 nonce of every request a handler ran for (to tell requests sent concurrently
    /// apart).
    pub nonces: Arc<Mutex<Vec<String>>>,
    /// `/hold` waits for a permit here (the tests add one to let it finish).
    pub gate: Arc<tokio::sync::Semaphore>,
    /// `/hold` signals here once it is running.
    pub entered: Arc<tokio::sync::Notify>,
}

impl Handlers {
    pub fn new() -> Self {
        Self {
            calls: Arc::default(),
            nonces: Arc::default(),
            gate: Arc::new(tokio::sync::Semaphore::new(0)),
            entered: Arc::default(),
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Counts a handler run, and the nonce of the request it ran for.
    pub fn record(&self, headers: &HeaderMap) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(nonce) = headers.get("x-plivo-signature-v3-nonce") {
            let nonce = nonce.to_str().unwrap().to_owned();
            self.nonces.lock().unwrap().push(nonce);
        }
    }

    pub fn saw_nonce(&self, nonce: &str) -> bool {
        self.nonces.lock().unwrap().iter().any(|seen| seen == nonce)
    }

    /// The routes every test starts from: `/answer` echoes (body, whether verified, the
    /// request id it saw), `/slow` takes 2 s, `/panic` panics, `/hold` waits for the gate.
    pub fn routes(&self) -> Router {
        Router::new()
            .route("/answer", post(answer))
            .route("/slow", post(slow))
            .route("/panic", post(panicking))
            .route("/hold", post(hold))
            .with_state(self.clone())
    }
}

/// The echo: the body it received, `x-verified: yes|no`, and `x-seen-request-id`.
pub async fn answer(State(handlers): State<Handlers>, request: Request) -> Response {
    handlers.record(request.headers());
    echo(request).await
}

pub async fn echo(request: Request) -> Response {
    let verified = request.extensions().get::<PlivoVerified>().is_some();
    let request_id = request.headers().get("x-request-id").cloned();
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap();
    let mut response = ([("content-type", "text/plain")], body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        "x-verified",
        if verified { "yes" } else { "no" }.parse().unwrap(),
    );
    if let Some(id) = request_id {
        headers.insert("x-seen-request-id", id);
    }
    response
}

pub async fn slow(State(handlers): State<Handlers>, headers: HeaderMap) -> &'static str {
    handlers.record(&headers);
    tokio::time::sleep(Duration::from_secs(2)).await;
    "too late"
}

pub async fn panicking(State(handlers): State<Handlers>, headers: HeaderMap) -> &'static str {
    handlers.record(&headers);
    panic!("the handler panicked (on purpose)");
}

pub async fn hold(State(handlers): State<Handlers>, headers: HeaderMap) -> &'static str {
    handlers.record(&headers);
    handlers.entered.notify_one();
    handlers.gate.acquire().await.unwrap().forget();
    "released"
}

// ---- the client ----

/// One served stack, named for failure messages.
pub struct App {
    pub label: String,
    pub addr: SocketAddr,
    pub handlers: Handlers,
}

impl App {
    /// A stack served some other way (a tonic server), at `addr`.
    pub fn at(label: impl Into<String>, handlers: &Handlers, addr: SocketAddr) -> Self {
        Self {
            label: label.into(),
            addr,
            handlers: handlers.clone(),
        }
    }

    pub async fn serve(label: impl Into<String>, handlers: &Handlers, app: Router) -> Self {
        Self {
            label: label.into(),
            addr: serve(app).await,
            handlers: handlers.clone(),
        }
    }

    pub async fn serve_service<S, B>(
        label: impl Into<String>,
        handlers: &Handlers,
        stack: S,
    ) -> Self
    where
        S: Service<Request, Response = axum::http::Response<B>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body<Data = axum::body::Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        Self {
            label: label.into(),
            addr: super::serve_service(stack).await,
            handlers: handlers.clone(),
        }
    }

    /// A POST to `target` signed with `token` over `signed` (the form Plivo signed), sending
    /// `sent` (the same bytes unless the client compresses them), with `extra` headers.
    pub async fn post(
        &self,
        token: &str,
        target: &str,
        signed: &[u8],
        sent: Vec<u8>,
        extra: &[(&str, &str)],
    ) -> Reply {
        self.post_with_nonce(&fresh_nonce(), token, target, signed, sent, extra)
            .await
    }

    pub async fn post_with_nonce(
        &self,
        nonce: &str,
        token: &str,
        target: &str,
        signed: &[u8],
        sent: Vec<u8>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let signature = super::sign_v3(token, "POST", &format!("{ORIGIN}{target}"), signed, nonce);
        let mut headers = vec![
            ("x-plivo-signature-v3", signature.as_str()),
            ("x-plivo-signature-v3-nonce", nonce),
            FORM,
        ];
        headers.extend_from_slice(extra);
        send(self.addr, "POST", target, &headers, sent).await
    }

    /// A forged request sent while others are in flight (so the call count cannot tell): asserts
    /// no handler ran for its nonce.
    pub async fn forged_among_others(&self, target: &str) -> Reply {
        let nonce = fresh_nonce();
        let reply = self
            .post_with_nonce(&nonce, FORGER, target, BODY.as_bytes(), BODY.into(), &[])
            .await;
        assert!(
            !self.handlers.saw_nonce(&nonce),
            "{}: a forged request reached the handler (answer {} {:?})",
            self.label,
            reply.status,
            reply.text()
        );
        reply
    }

    /// Sends a genuine request to `target` (a `/hold` route) in the background and returns
    /// once its handler is running, holding whatever permit it took until the test adds one
    /// to the gate; the handle gives its answer.
    pub async fn hold_one(self: &Arc<Self>, target: &str) -> tokio::task::JoinHandle<Reply> {
        let app = self.clone();
        let target = target.to_owned();
        let held = tokio::spawn(async move { app.genuine(&target, &[]).await });
        tokio::time::timeout(Duration::from_secs(5), self.handlers.entered.notified())
            .await
            .expect("the held request reaches the handler");
        held
    }

    /// A genuine request to `target` (a `/slow` route, 2 s) is the neighbour's 408 well before
    /// the handler would have answered, and the handler ran once.
    pub async fn assert_slow_handler_timed_out(&self, target: &str) {
        let before = self.handlers.calls();
        let started = std::time::Instant::now();
        let slow = self.genuine(target, &[]).await;
        self.assert_from_neighbour(&slow, 408, "a slow handler");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{}",
            self.label
        );
        assert_eq!(self.handlers.calls(), before + 1, "{}", self.label);
    }

    /// A genuine request: [`BODY`] signed with the account's token for `target`.
    pub async fn genuine(&self, target: &str, extra: &[(&str, &str)]) -> Reply {
        self.post(TOKEN, target, BODY.as_bytes(), BODY.into(), extra)
            .await
    }

    /// Runs `send` (a forged request) and asserts no handler ran for it.
    pub async fn forged_with<F: Future<Output = Reply>>(&self, send: F) -> Reply {
        let before = self.handlers.calls();
        let reply = send.await;
        assert_eq!(
            self.handlers.calls(),
            before,
            "{}: a forged request reached the handler (answer {} {:?})",
            self.label,
            reply.status,
            reply.text()
        );
        reply
    }

    /// A forged request: [`BODY`] signed for `target` with another account's token.
    pub async fn forged(&self, target: &str, extra: &[(&str, &str)]) -> Reply {
        self.forged_with(self.post(FORGER, target, BODY.as_bytes(), BODY.into(), extra))
            .await
    }

    /// Asserts `reply` is the handler's echo of [`BODY`], verified, and that exactly one
    /// handler call happened since `before`.
    #[track_caller]
    pub fn assert_accepted(&self, reply: &Reply, before: usize) {
        assert_eq!(
            (
                reply.status,
                reply.text().as_str(),
                reply.header("x-verified").as_deref()
            ),
            (200, BODY, Some("yes")),
            "{}: the genuine request must reach the handler with its body intact",
            self.label
        );
        assert_eq!(self.handlers.calls(), before + 1, "{}", self.label);
    }

    /// Sends a genuine request to `/answer` and asserts it was accepted intact.
    pub async fn assert_genuine_accepted(&self, extra: &[(&str, &str)]) -> Reply {
        let before = self.handlers.calls();
        let reply = self.genuine("/answer", extra).await;
        self.assert_accepted(&reply, before);
        reply
    }

    /// Sends a forged request to `/answer` and asserts ours refused it (and no handler ran).
    pub async fn assert_forged_refused(&self, extra: &[(&str, &str)]) -> Reply {
        let reply = self.forged("/answer", extra).await;
        assert_eq!(
            (reply.status, reply.reason().as_deref()),
            (403, Some("signature_mismatch")),
            "{}: the forged request must be refused by ours",
            self.label
        );
        reply
    }

    /// Asserts `reply` has `status` and came from a neighbour (no reason of ours on it).
    #[track_caller]
    pub fn assert_from_neighbour(&self, reply: &Reply, status: u16, what: &str) {
        assert_eq!(
            (reply.status, reply.reason()),
            (status, None),
            "{}: {what} ({:?})",
            self.label,
            reply.text()
        );
    }
}

// ---- the README's stacks ----

/// The layers a `ServiceBuilder` chain in `text` adds, in order: each `.layer(path::Type…` as
/// `Type` (a variable, as `plivo`, by its name); a nested `ServiceBuilder` is not a layer.
pub fn layer_names(text: &str) -> Vec<&str> {
    text.match_indices(".layer(")
        .filter_map(|(at, _)| {
            let rest = text[at + ".layer(".len()..].trim_start();
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let path = &rest[..end];
            // `tower_http::trace::TraceLayer::new_for_grpc` is `TraceLayer`.
            let name = path
                .rsplit("::")
                .find(|segment| segment.starts_with(char::is_uppercase))
                .unwrap_or(path);
            (name != "ServiceBuilder").then_some(name)
        })
        .collect()
}

/// The layers of the `ServiceBuilder` chains in `text` from the first `start` to the next `end`
/// after it, in order (how a test checks that the README shows its stack).
pub fn layers_between(text: &'static str, start: &str, end: &str) -> Vec<&'static str> {
    let from = text.find(start).expect("the stack's start") + start.len();
    let to = from + text[from..].find(end).expect("the stack's end");
    layer_names(&text[from..to])
}
