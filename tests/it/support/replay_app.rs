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
use tower_plivo::{PlivoGuardBuilder, PlivoSignatureLayer};

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
    configure: impl FnOnce(
        PlivoGuardBuilder<PlivoSignatureLayer>,
    ) -> PlivoGuardBuilder<PlivoSignatureLayer>,
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

/// The V2 headers of a delivery to `path` with this nonce (V2 signs the URL and nonce only),
/// and a form `Content-Type`.
pub fn v2_signed(path: &str, nonce: &str) -> Vec<(String, String)> {
    let signature = Signer::new(TOKEN)
        .sign_v2(&format!("{ORIGIN}{path}"), nonce)
        .unwrap();
    vec![
        ("X-Plivo-Signature-V2".into(), signature),
        ("X-Plivo-Signature-V2-Nonce".into(), nonce.into()),
        (FORM.0.into(), FORM.1.into()),
    ]
}

/// A delivery signed with both families, as Plivo's messaging traffic now arrives: V3 over the
/// URL and `body`, V2 over the URL, each with its own nonce.
pub fn dual_signed(
    path: &str,
    v3_nonce: &str,
    v2_nonce: &str,
    body: &str,
) -> Vec<(String, String)> {
    let mut headers = signed(path, v3_nonce, body);
    headers.extend(v2_signed(path, v2_nonce).into_iter().take(2));
    headers
}

/// The body an attacker puts under a captured V2 half: V2 signs no body.
pub const FORGED_BODY: &str = "Text=wire+500+to+acct+42";

/// Sends the genuine delivery (both families) to `path`, then `copies` of its V2 half with a
/// forged body all at once: the delivery is accepted, every copy refused as a replay, and the
/// handler runs once.
pub async fn v2_half_copies_after_the_delivery(
    addr: SocketAddr,
    calls: &Calls,
    path: &str,
    [v3_nonce, v2_nonce]: [&str; 2],
    copies: usize,
) {
    let body = "From=14155550100&Text=hi&To=14155550199";
    let delivery = dual_signed(path, v3_nonce, v2_nonce, body);
    let before = calls.get();
    let accepted = post_signed(addr, path, &delivery, body).await;
    assert_eq!(accepted.status, 200, "the genuine delivery");
    assert_eq!(accepted.header("x-verified-version").as_deref(), Some("v3"));
    let half = v2_signed(path, v2_nonce);
    let replies = at_once((0..copies).map(|_| (half.clone(), FORGED_BODY)), addr, path).await;
    for reply in &replies {
        reply.assert_refused(403, "replayed");
    }
    assert_eq!(
        calls.get() - before,
        1,
        "only the delivery reached the handler"
    );
}

/// Sends the genuine delivery (both families) and `copies` of its V2 half with a forged body at
/// the same moment. Exactly one of them is accepted: whichever's first store call, for the V2
/// message's key (a delivery reserves that one first), lands first. Returns whether the
/// delivery was the one.
pub async fn v2_half_copies_racing_the_delivery(
    addr: SocketAddr,
    calls: &Calls,
    path: &str,
    [v3_nonce, v2_nonce]: [&str; 2],
    copies: usize,
) -> bool {
    let body = "From=14155550100&Text=hi&To=14155550199";
    let delivery = dual_signed(path, v3_nonce, v2_nonce, body);
    let half = v2_signed(path, v2_nonce);
    let before = calls.get();
    let mut sent = vec![(delivery, body)];
    sent.extend((0..copies).map(|_| (half.clone(), FORGED_BODY)));
    let replies = at_once(sent, addr, path).await;
    let accepted: Vec<usize> = (0..replies.len())
        .filter(|&i| replies[i].status == 200)
        .collect();
    assert_eq!(accepted.len(), 1, "exactly one accepted: {accepted:?}");
    for (i, reply) in replies.iter().enumerate() {
        if !accepted.contains(&i) {
            reply.assert_refused(403, "replayed");
        }
    }
    assert_eq!(calls.get() - before, 1, "one request reached the handler");
    accepted == [0]
}

/// Sends each (headers, body) to `path` at the same moment (all connected and waiting at a
/// barrier first); the replies in the same order.
async fn at_once(
    requests: impl IntoIterator<Item = (Vec<(String, String)>, &'static str)>,
    addr: SocketAddr,
    path: &str,
) -> Vec<Reply> {
    let requests: Vec<_> = requests.into_iter().collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(headers, body)| {
            let (barrier, path) = (barrier.clone(), path.to_owned());
            tokio::spawn(async move {
                barrier.wait().await;
                post_signed(addr, &path, &headers, body).await
            })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    replies
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
