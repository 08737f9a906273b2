//! The guard's upgrade check outside tower, in front of servers that upgrade without tower: a
//! bare tokio-tungstenite server calling [`SyncPlivoGuard::check_upgrade`] in its handshake
//! callback, and a plain hyper server awaiting [`PlivoGuard::check_upgrade`] before it answers
//! `101` and hands the upgraded connection to tungstenite. Real TCP, a real WebSocket client.

use crate::support;

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use support::REASON;
use support::fresh_nonce;
use support::websocket::{
    assert_echoes, assert_refused, connect, echo_tungstenite, hello, next_text, plivo_stream_url,
    upgrade_request,
};
use tokio::net::TcpListener;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::handshake::server::{
    ErrorResponse, Request as HandshakeRequest, Response as HandshakeResponse,
};
use tokio_tungstenite::tungstenite::protocol::Role;
use tower_plivo::{
    PlivoGuard, PlivoGuardBuilder, Rejection, RequestHead, UrlPolicy, guard::SyncPlivoGuard,
};

const TOKEN: &str = "upgradeTESTtokenNOTaSECRET000000";
const PUBLIC: &str = "hooks.example.com";

fn builder() -> PlivoGuardBuilder {
    PlivoGuard::builder()
        .auth_token(TOKEN)
        .url_policy(UrlPolicy::public_base(&format!("https://{PUBLIC}")).unwrap())
}

fn guard() -> PlivoGuard {
    builder().build().unwrap()
}

/// The refusal a server sends instead of upgrading (with the reason exposed for the test).
fn forbidden(rejection: Rejection) -> Response<Option<String>> {
    Response::builder()
        .status(StatusCode::FORBIDDEN)
        .header(REASON, rejection.code())
        .body(Some("forbidden\n".to_owned()))
        .unwrap()
}

/// A bare tokio-tungstenite server: the check runs in the synchronous handshake callback,
/// with the peer address captured from `accept()`.
async fn tungstenite_server(check: SyncPlivoGuard) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.unwrap();
            let check = check.clone();
            tokio::spawn(async move {
                let mut greeting = None;
                // tungstenite's callback type returns its (large) error response by value.
                #[allow(clippy::result_large_err)]
                let callback = |request: &HandshakeRequest, response: HandshakeResponse| match check
                    .check_upgrade(RequestHead::from(request).with_peer(Some(peer)))
                {
                    Ok(verified) => {
                        greeting = Some(hello(&verified));
                        Ok(response)
                    }
                    Err(refused) => Err::<_, ErrorResponse>(forbidden(refused.rejection())),
                };
                if let Ok(socket) = tokio_tungstenite::accept_hdr_async(stream, callback).await {
                    echo_tungstenite(socket, greeting.expect("verified before the 101")).await;
                }
            });
        }
    });
    addr
}

/// Plivo's upgrade for `target` opens a stream that says what was verified and echoes; the
/// same upgrade again is a replay, refused before any socket.
async fn opens_once(addr: SocketAddr, target: &str, signed: &str) {
    let nonce = fresh_nonce();
    let mut client = connect(upgrade_request(addr, target, signed, TOKEN, &nonce))
        .await
        .expect("a verified upgrade is accepted");
    assert_eq!(
        next_text(&mut client).await,
        format!("verified {signed} http_scheme")
    );
    assert_echoes(&mut client).await;
    assert_refused(
        connect(upgrade_request(addr, target, signed, TOKEN, &nonce)).await,
        "replayed",
    );
}

#[tokio::test]
async fn the_sync_check_guards_a_bare_tungstenite_server() {
    let addr = tungstenite_server(guard().synchronous().unwrap()).await;
    let target = "/stream?call=1";
    let signed = plivo_stream_url(PUBLIC, target);
    opens_once(addr, target, &signed).await;
    // Signed over wss://, unsigned: refused in the callback, no socket.
    let wss = upgrade_request(
        addr,
        target,
        &format!("wss://{PUBLIC}{target}"),
        TOKEN,
        &fresh_nonce(),
    );
    assert_refused(connect(wss).await, "signature_mismatch");
    let unsigned = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{addr}{target}"),
    )
    .unwrap();
    assert_refused(connect(unsigned).await, "missing_signature");
}

/// A plain hyper server: the async check runs on the request head before the `101`; only then
/// is the connection upgraded and handed to tungstenite.
async fn hyper_server(check: PlivoGuard) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.unwrap();
            let check = check.clone();
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let check = check.clone();
                async move { Ok::<_, Infallible>(answer(check, request, peer).await) }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

async fn answer(
    check: PlivoGuard,
    mut request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let head = RequestHead::from(&request).with_peer(Some(peer));
    let verified = match check.check_upgrade(head).await {
        Ok(verified) => verified,
        Err(refused) => {
            return forbidden(refused.rejection())
                .map(|body| Full::new(Bytes::from(body.unwrap_or_default())));
        }
    };
    let key = request.headers()["sec-websocket-key"].as_bytes().to_vec();
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let upgraded = upgrade
            .await
            .expect("the connection upgrades after the 101");
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        echo_tungstenite(socket, hello(&verified)).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", derive_accept_key(&key))
        .body(Full::default())
        .unwrap()
}

#[tokio::test]
async fn the_async_check_guards_a_hyper_upgrade() {
    let addr = hyper_server(guard()).await;
    let target = "/stream?call=2";
    let signed = plivo_stream_url(PUBLIC, target);
    opens_once(addr, target, &signed).await;
    let tampered = upgrade_request(addr, "/stream?call=3", &signed, TOKEN, &fresh_nonce());
    assert_refused(connect(tampered).await, "signature_mismatch");
}

#[tokio::test]
async fn a_report_only_guard_returns_its_refusals_unenforced() {
    let report_only = builder().report_only(true).build().unwrap();
    let unsigned = Request::get("/stream")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    let refused = report_only
        .check_upgrade(RequestHead::from(&unsigned))
        .await
        .unwrap_err();
    assert_eq!(refused.rejection(), Rejection::MissingSignature);
    assert!(!refused.enforced());
    let sync = report_only.synchronous().unwrap();
    let refused = sync
        .check_upgrade(RequestHead::from(&unsigned))
        .unwrap_err();
    assert!(!refused.enforced());
    let enforcing = guard().check_upgrade(RequestHead::from(&unsigned)).await;
    assert!(enforcing.unwrap_err().enforced());
}

#[test]
fn a_synchronous_guard_over_a_store_that_needs_io_is_an_error() {
    // A store that answers later cannot serve a synchronous callback.
    struct Later;
    impl tower_plivo::replay::NonceStore for Later {
        fn reserve(
            &self,
            _: &tower_plivo::replay::ReplayKey,
            _: tower_plivo::replay::ReservationId,
        ) -> tower_plivo::replay::StoreFuture<tower_plivo::replay::Reservation> {
            tower_plivo::replay::StoreFuture::pending(async {
                Ok(tower_plivo::replay::Reservation::Reserved)
            })
        }
        fn release(
            &self,
            _: &tower_plivo::replay::ReplayKey,
            _: tower_plivo::replay::ReservationId,
        ) {
        }
    }
    let later = builder().replay_store(Later).build().unwrap();
    assert!(later.synchronous().is_err());
}

/// The check takes what tungstenite's callback sees and what hyper's service sees, and refuses
/// a request that is not an upgrade whatever it carries.
#[tokio::test]
async fn the_checks_refuse_a_plain_request() {
    let check = guard();
    let sync = guard().synchronous().unwrap();
    let nonce = fresh_nonce();
    let signature = tower_plivo::signature::Signer::new(TOKEN)
        .sign_v3_get(&format!("https://{PUBLIC}/stream"), &nonce)
        .unwrap();
    let plain = Request::get("/stream")
        .header("x-plivo-signature-v3", signature)
        .header("x-plivo-signature-v3-nonce", nonce)
        .body(())
        .unwrap();
    let refused = check.check_upgrade(RequestHead::from(&plain)).await;
    assert_eq!(
        refused.unwrap_err().rejection(),
        Rejection::UnsupportedUpgrade
    );
    let (parts, ()) = plain.into_parts();
    let refused = sync.check_upgrade(RequestHead::from(&parts));
    assert_eq!(
        refused.unwrap_err().rejection(),
        Rejection::UnsupportedUpgrade
    );
}
