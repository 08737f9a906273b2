//! An app for the replay tests: the echo handler, plus routes that fail once or hang, behind a
//! layer with replay protection.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use tower_plivo::UrlPolicy;
use tower_plivo::replay::NonceStore;
use tower_plivo::signature::Signer;
use tower_plivo::{PlivoSignatureLayer, PlivoSignatureLayerBuilder};

use super::{FORM, Reply, echo, send, serve};

pub const TOKEN: &str = "MAREPLAYTOKENiiiiiiiiiiiiiiiiiiiiii";
pub const ORIGIN: &str = "https://hooks.example.com";

/// Counts calls that reached the handlers, and handler futures dropped before they finished
/// (the server noticed the client was gone).
#[derive(Clone, Default)]
pub struct Calls(pub Arc<AtomicUsize>, pub Arc<AtomicUsize>);

impl Calls {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    pub fn dropped(&self) -> usize {
        self.1.load(Ordering::SeqCst)
    }

    /// Waits (up to 5 s) until a handler future has been dropped unfinished.
    pub async fn until_dropped(&self) {
        for _ in 0..250 {
            if self.dropped() > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the server never dropped the abandoned request");
    }
}

/// Counts a drop unless disarmed: the handler future was dropped before it finished.
struct DropCounter(Option<Arc<AtomicUsize>>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        if let Some(count) = self.0.take() {
            count.fetch_add(1, Ordering::SeqCst);
        }
    }
}

pub async fn replay_server(store: impl NonceStore, fail_open: bool) -> (SocketAddr, Calls) {
    replay_server_with(store, |builder| builder.replay_fail_open(fail_open)).await
}

/// The replay app behind a layer with this store (V3 and V2 accepted), configured further by
/// `configure`.
pub async fn replay_server_with(
    store: impl NonceStore,
    configure: impl FnOnce(PlivoSignatureLayerBuilder) -> PlivoSignatureLayerBuilder,
) -> (SocketAddr, Calls) {
    let calls = Calls::default();
    let builder = PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .url_policy(UrlPolicy::public_base(ORIGIN).unwrap())
        .accept_v2(true)
        .replay_store(store);
    let layer = configure(builder).build().unwrap();
    let (fail_calls, slow_calls, echo_calls) = (calls.clone(), calls.clone(), calls.clone());
    let app = Router::new()
        // 500 on the first call, 200 after: Plivo's retry must get through.
        .route(
            "/fail-once",
            post(move || {
                let calls = fail_calls.clone();
                async move {
                    if calls.0.fetch_add(1, Ordering::SeqCst) == 0 {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        )
        // Hangs on the first call (the client gives up and disconnects), answers after.
        .route(
            "/slow-once",
            post(move || {
                let calls = slow_calls.clone();
                async move {
                    let mut unfinished = DropCounter(Some(calls.1.clone()));
                    if calls.0.fetch_add(1, Ordering::SeqCst) == 0 {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    unfinished.0 = None;
                    StatusCode::OK
                }
            }),
        )
        .fallback(move |request| {
            echo_calls.0.fetch_add(1, Ordering::SeqCst);
            echo(request)
        })
        .layer(layer);
    (serve(app).await, calls)
}

/// A signed V3 POST to `path` with this nonce.
pub fn signed(path: &str, nonce: &str, body: &str) -> Vec<(String, String)> {
    let signature = Signer::new(TOKEN)
        .sign_v3_post(&format!("{ORIGIN}{path}"), body.as_bytes(), nonce)
        .unwrap();
    vec![
        ("X-Plivo-Signature-V3".into(), signature),
        ("X-Plivo-Signature-V3-Nonce".into(), nonce.into()),
        (FORM.0.into(), FORM.1.into()),
    ]
}

pub async fn post_signed(
    addr: SocketAddr,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> Reply {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    send(addr, "POST", path, &headers, body.to_owned()).await
}

/// Sends `copies` identical signed requests at once; returns the statuses.
pub async fn concurrent_copies(
    addr: SocketAddr,
    path: &str,
    nonce: &str,
    copies: usize,
) -> Vec<u16> {
    let headers = signed(path, nonce, "CallUUID=c");
    let tasks: Vec<_> = (0..copies)
        .map(|_| {
            let headers = headers.clone();
            let path = path.to_owned();
            tokio::spawn(async move {
                post_signed(addr, &path, &headers, "CallUUID=c")
                    .await
                    .status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

/// Starts a request to `/slow-once` and gives up on it after `after`, closing the connection.
pub async fn abandoned_request(addr: SocketAddr, nonce: &str) {
    let headers = signed("/slow-once", nonce, "");
    let attempt = tokio::time::timeout(
        Duration::from_millis(300),
        post_signed(addr, "/slow-once", &headers, ""),
    );
    assert!(attempt.await.is_err(), "the first call hangs");
}
