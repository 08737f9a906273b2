//! Real reverse proxies in front of the layer: nginx, HAProxy and Caddy, each started from the
//! configuration files a user copies (`deploy/`, shown in the deployment guide), ending TLS in
//! front of an axum app on 127.0.0.1 that trusts 127.0.0.1 as its proxy. Feature
//! `real-proxies` (tests only; `scripts/test-all` installs the three proxies):
//!
//! ```text
//! cargo test --features real-proxies real_proxies
//! ```
//!
//! For each proxy and setup, over TLS as Plivo calls: Plivo's request (signed for the public
//! URL, `https://hooks.example.test/...`) is accepted and the layer verified that URL; a forged
//! one is refused; a request that would verify only under a forwarding header the client
//! wrote is refused, through the proxy (which replaces the header: the app is shown what it
//! received) and straight to the app from `127.0.0.2`, an address that is not the proxy.
//!
//! The client is tokio-rustls trusting a CA the test makes (rcgen), not curl: one client for
//! webhooks and for audio streams (WebSocket over TLS, which Debian's curl cannot open), with
//! the TLS server name, `Host` and every header exactly as written (`support/proxy.rs`).
//!
//! What the proxies do with the forwarding headers, as `forwarding_headers_as_the_app_gets_them`
//! asserts for each (with the deploy files as written):
//!
//! | | `X-Forwarded-Proto` | `X-Forwarded-For` | `Host` | `X-Forwarded-Host` |
//! |---|---|---|---|---|
//! | nginx | replaced (`$scheme`) | the proxy's peer appended to the client's value (`$proxy_add_x_forwarded_for`) | `$host`: the client's, without its port (nginx's default would be the upstream address) | passed on as the client sent it |
//! | HAProxy | replaced (`set-header`) | a line added after the client's lines (`option forwardfor`) | passed on as sent | passed on as sent |
//! | Caddy | replaced | replaced by the peer (the client is not one of Caddy's `trusted_proxies`) | passed on as sent | replaced by the `Host` |
//!
//! `X-Forwarded-Prefix` is replaced by each (the deploy files set it, one value, `/plivo`); a
//! proxy that appended it would make the layer refuse every request (`unknown_origin`: several
//! values). The layer believes only what is named with `proxy_headers` (here
//! `X-Forwarded-Proto`, and `X-Forwarded-Prefix` where a prefix is stripped), never
//! `X-Forwarded-Host`, which nginx and HAProxy pass on from the client.

use crate::support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tower_plivo::{PlivoGuardBuilder, PlivoSignatureLayer, ProxyHeader, Scheme, UrlPolicy};

use support::proxy::{
    Kind, PUBLIC_HOST, Proxy, Setup, connect_from, https_headers, open_stream_over, send_over,
};
use support::websocket::{assert_echoes, assert_refused, next_text, stream_routes, with_headers};
use support::{FORM, Reply, V3_NONCE, V3_SIGNATURE, echo, fresh_nonce, serve_on, sign_v3};

const TOKEN: &str = "MAREALPROXIESTOKENrrrrrrrrrrrrrrrr";
const FORGED: &str = "NOTtheTOKENofTHISaccountxxxxxxxxxx";
const BODY: &str = "CallUUID=rp-1&Event=StartApp";

/// A client that is not the proxy: the app trusts 127.0.0.1 only.
const UNTRUSTED: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// `https://hooks.example.test{path}`.
fn public(path: &str) -> String {
    format!("https://{PUBLIC_HOST}{path}")
}

/// The app's URL policy behind a proxy that ends TLS: `from_request` over plain http, so only
/// the trusted proxy's `X-Forwarded-Proto` makes the URL verified `https` (the guide's
/// `Scheme::Https` would verify `https` without it), the host among the public one.
fn behind_the_proxy() -> PlivoGuardBuilder<PlivoSignatureLayer> {
    let policy = UrlPolicy::from_request(Scheme::Http)
        .allow_hosts([PUBLIC_HOST])
        .unwrap();
    PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .url_policy(policy)
        .trusted_proxies(["127.0.0.1"])
}

/// As [`behind_the_proxy`], also believing the proxy's `X-Forwarded-Prefix`.
fn prefix_from_the_proxy() -> PlivoGuardBuilder<PlivoSignatureLayer> {
    behind_the_proxy().proxy_headers([ProxyHeader::XForwardedProto, ProxyHeader::XForwardedPrefix])
}

/// The prefix in the public base; no forwarding header is read.
fn prefix_in_the_public_base() -> PlivoGuardBuilder<PlivoSignatureLayer> {
    PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .url_policy(UrlPolicy::public_base(&public("/plivo")).unwrap())
}

/// The app on a free 127.0.0.1 port with `ConnectInfo`: the stream route of the stream tests
/// (`/stream`, which sends `verified {url} {form}` first) and [`echo`] for every other path,
/// behind the layer; around it, [`report_received`].
async fn app(builder: PlivoGuardBuilder<PlivoSignatureLayer>) -> SocketAddr {
    let routes = stream_routes()
        .fallback(echo)
        .layer(builder.build().unwrap())
        .layer(middleware::from_fn(report_received));
    serve_on("127.0.0.1:0", routes).await
}

/// What the app received, as response headers (outside the layer, so refusals have them too):
/// the request target, and the lines of `Host` and each forwarding header joined with ` | `.
async fn report_received(request: Request, next: Next) -> Response {
    let seen = seen(&request);
    let mut response = next.run(request).await;
    for (name, value) in seen {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_str(&value).unwrap());
    }
    response
}

/// The target and header lines [`report_received`] reports, with the headers they go in.
fn seen(request: &Request) -> [(&'static str, String); 6] {
    let lines = |name: &str| {
        request
            .headers()
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    [
        ("x-received-target", request.uri().to_string()),
        ("x-received-host", lines("host")),
        ("x-received-proto", lines("x-forwarded-proto")),
        ("x-received-prefix", lines("x-forwarded-prefix")),
        ("x-received-for", lines("x-forwarded-for")),
        ("x-received-forwarded-host", lines("x-forwarded-host")),
    ]
}

/// What [`report_received`] says the app received.
#[derive(Debug, PartialEq, Eq)]
struct Received {
    target: String,
    host: String,
    proto: String,
    prefix: String,
    forwarded_for: String,
    forwarded_host: String,
}

impl Received {
    #[track_caller]
    fn of(reply: &Reply) -> Received {
        let header = |name: &str| {
            reply
                .header(name)
                .unwrap_or_else(|| panic!("{name}: the request did not reach the app: {reply:?}"))
        };
        Received {
            target: header("x-received-target"),
            host: header("x-received-host"),
            proto: header("x-received-proto"),
            prefix: header("x-received-prefix"),
            forwarded_for: header("x-received-for"),
            forwarded_host: header("x-received-forwarded-host"),
        }
    }
}

/// A form POST of [`BODY`] V3-signed with `token` for `url`, with a fresh nonce: its signature
/// headers and the form content type.
struct Signed {
    signature: String,
    nonce: String,
}

impl Signed {
    fn by(token: &str, url: &str) -> Signed {
        let nonce = fresh_nonce();
        let signature = sign_v3(token, "POST", url, BODY.as_bytes(), &nonce);
        Signed { signature, nonce }
    }

    /// The signature headers, the content type, then `extra`.
    fn headers<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut headers = vec![
            (V3_SIGNATURE, self.signature.as_str()),
            (V3_NONCE, self.nonce.as_str()),
            FORM,
        ];
        headers.extend_from_slice(extra);
        headers
    }

    /// POSTs it to `target` through `proxy` over TLS, with Plivo's `Host` and `extra`.
    async fn through(&self, proxy: &Proxy, target: &str, extra: &[(&str, &str)]) -> Reply {
        let headers = https_headers(&self.headers(extra));
        proxy.send("POST", target, &headers, BODY).await
    }

    /// POSTs it to `target` straight to the app, over TCP from [`UNTRUSTED`], with Plivo's
    /// `Host` and `extra`.
    async fn around(&self, app: SocketAddr, target: &str, extra: &[(&str, &str)]) -> Reply {
        let headers = https_headers(&self.headers(extra));
        let connection = connect_from(UNTRUSTED, app).await;
        send_over(connection, "POST", target, &headers, BODY.into()).await
    }
}

/// Asserts an accepted request: 200, and the URL the layer verified.
#[track_caller]
fn assert_verified(reply: &Reply, url: &str, proxy: &Proxy) {
    assert_eq!(
        (reply.status, reply.header("x-verified-url").as_deref()),
        (200, Some(url)),
        "{:?} {reply:?}\n{}",
        proxy.kind(),
        proxy.output()
    );
}

/// (a) TLS ends at the proxy, which sets `X-Forwarded-Proto`; the app verifies the https URL
/// from the request's `Host`.
async fn tls_termination(kind: Kind) {
    let app = app(behind_the_proxy()).await;
    let proxy = Proxy::start(kind, Setup::TlsTermination, app);
    let target = "/answer?call=a&leg=1";
    let url = public(target);

    // Plivo's request: the URL verified is the one Plivo signed.
    let plivo = Signed::by(TOKEN, &url).through(&proxy, target, &[]).await;
    assert_verified(&plivo, &url, &proxy);
    let received = Received::of(&plivo);
    assert_eq!(
        (received.target.as_str(), received.host.as_str()),
        (target, PUBLIC_HOST)
    );
    assert_eq!(received.proto, "https");

    // Forged: another account's token.
    let forged = Signed::by(FORGED, &url).through(&proxy, target, &[]).await;
    forged.assert_refused(403, "signature_mismatch");

    // A request signed for http://, which would verify if the client's `X-Forwarded-Proto:
    // http` reached the layer: the proxy replaced it with `https`.
    let http_url = format!("http://{PUBLIC_HOST}{target}");
    let spoof = [("x-forwarded-proto", "http")];
    let spoofed = Signed::by(TOKEN, &http_url)
        .through(&proxy, target, &spoof)
        .await;
    spoofed.assert_refused(403, "signature_mismatch");
    assert_eq!(Received::of(&spoofed).proto, "https");
    // And Plivo's own request with that header is verified as https.
    let plivo = Signed::by(TOKEN, &url)
        .through(&proxy, target, &spoof)
        .await;
    assert_verified(&plivo, &url, &proxy);

    // `X-Forwarded-Host` is not named, so not believed, whatever the proxy does with it.
    let other = public(target).replace(PUBLIC_HOST, "other.example.test");
    let other_host = [("x-forwarded-host", "other.example.test")];
    let spoofed = Signed::by(TOKEN, &other)
        .through(&proxy, target, &other_host)
        .await;
    spoofed.assert_refused(403, "signature_mismatch");

    // Straight to the app from an address that is not the proxy: its `X-Forwarded-Proto:
    // https` is not believed, so Plivo's https signature does not verify...
    let https = [("x-forwarded-proto", "https")];
    let around = Signed::by(TOKEN, &url).around(app, target, &https).await;
    around.assert_refused(403, "signature_mismatch");
    assert_eq!(Received::of(&around).proto, "https", "it reached the app");
    // ...as the request is verified as plain http, which it is.
    let own = Signed::by(TOKEN, &http_url)
        .around(app, target, &https)
        .await;
    assert_verified(&own, &http_url, &proxy);
}

/// (b) The proxy strips `/plivo`; the app has the prefix in its public base, and reads no
/// forwarding header.
async fn strip_prefix_in_the_public_base(kind: Kind) {
    let app = app(prefix_in_the_public_base()).await;
    let proxy = Proxy::start(kind, Setup::StripPrefix, app);
    let (public_target, app_target) = ("/plivo/answer?call=b", "/answer?call=b");
    let url = public(public_target);

    let plivo = Signed::by(TOKEN, &url)
        .through(&proxy, public_target, &[])
        .await;
    assert_verified(&plivo, &url, &proxy);
    let received = Received::of(&plivo);
    assert_eq!(
        (received.target.as_str(), received.prefix.as_str()),
        (app_target, "/plivo"),
        "the proxy stripped the prefix"
    );

    let forged = Signed::by(FORGED, &url)
        .through(&proxy, public_target, &[])
        .await;
    forged.assert_refused(403, "signature_mismatch");

    // A request signed under another prefix, with that prefix claimed in the header: never
    // read under public_base, and replaced by the proxy anyway.
    let other = public("/other/answer?call=b");
    let spoof = [("x-forwarded-prefix", "/other")];
    let spoofed = Signed::by(TOKEN, &other)
        .through(&proxy, public_target, &spoof)
        .await;
    spoofed.assert_refused(403, "signature_mismatch");
    assert_eq!(Received::of(&spoofed).prefix, "/plivo");
    let around = Signed::by(TOKEN, &other)
        .around(app, app_target, &spoof)
        .await;
    around.assert_refused(403, "signature_mismatch");

    // The app's paths outside the prefix are not public: the proxy answers, not the app.
    let outside = Signed::by(TOKEN, &public(app_target))
        .through(&proxy, app_target, &[])
        .await;
    assert_eq!(
        (outside.status, outside.header("x-received-target")),
        (404, None)
    );
    // Nor is the bare prefix: nginx redirects it to /plivo/, HAProxy and Caddy answer 404.
    let bare = Signed::by(TOKEN, &public("/plivo"))
        .through(&proxy, "/plivo", &[])
        .await;
    let status = if kind == Kind::Nginx { 301 } else { 404 };
    assert_eq!(
        (bare.status, bare.header("x-received-target")),
        (status, None)
    );
}

/// (b) The proxy strips `/plivo` and names it in `X-Forwarded-Prefix`, which the app believes
/// from it (and `X-Forwarded-Proto`).
async fn strip_prefix_named_by_the_proxy(kind: Kind) {
    let app = app(prefix_from_the_proxy()).await;
    let proxy = Proxy::start(kind, Setup::StripPrefix, app);
    let (public_target, app_target) = ("/plivo/answer?call=b", "/answer?call=b");
    let url = public(public_target);

    let plivo = Signed::by(TOKEN, &url)
        .through(&proxy, public_target, &[])
        .await;
    assert_verified(&plivo, &url, &proxy);
    let received = Received::of(&plivo);
    assert_eq!(
        (
            received.target.as_str(),
            received.prefix.as_str(),
            received.proto.as_str()
        ),
        (app_target, "/plivo", "https")
    );

    let forged = Signed::by(FORGED, &url)
        .through(&proxy, public_target, &[])
        .await;
    forged.assert_refused(403, "signature_mismatch");

    // Signed under another prefix, claimed on two lines: had the proxy passed them on, the
    // layer would verify /other (one line) or refuse `unknown_origin` (two lines, or a line
    // appended). The proxy replaced them with its one `/plivo`.
    let other = public("/other/answer?call=b");
    let spoof = [
        ("x-forwarded-prefix", "/other"),
        ("x-forwarded-prefix", "/other"),
    ];
    let spoofed = Signed::by(TOKEN, &other)
        .through(&proxy, public_target, &spoof)
        .await;
    spoofed.assert_refused(403, "signature_mismatch");
    assert_eq!(Received::of(&spoofed).prefix, "/plivo");
    let plivo = Signed::by(TOKEN, &url)
        .through(&proxy, public_target, &spoof)
        .await;
    assert_verified(&plivo, &url, &proxy);

    // Straight to the app, claiming what the proxy would say: not believed from 127.0.0.2, so
    // the URL verified is http://hooks.example.test/answer?call=b, which Plivo did not sign.
    let claimed = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-prefix", "/plivo"),
    ];
    let around = Signed::by(TOKEN, &url)
        .around(app, app_target, &claimed)
        .await;
    around.assert_refused(403, "signature_mismatch");
    let http_url = format!("http://{PUBLIC_HOST}{app_target}");
    let own = Signed::by(TOKEN, &http_url)
        .around(app, app_target, &claimed)
        .await;
    assert_verified(&own, &http_url, &proxy);
}

/// Plivo's upgrade for a stream dialled at `wss://hooks.example.test{target}`: V3-signed with
/// `token` as a GET over the same URL with `http://` (wire format §6), plus `extra` headers.
fn stream_request(
    token: &str,
    signed_target: &str,
    target: &str,
    extra: &[(&str, &str)],
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let nonce = fresh_nonce();
    let signed = format!("http://{PUBLIC_HOST}{signed_target}");
    let signature = sign_v3(token, "GET", &signed, b"", &nonce);
    let mut headers = vec![
        (V3_SIGNATURE, signature.as_str()),
        (V3_NONCE, nonce.as_str()),
    ];
    headers.extend_from_slice(extra);
    let request = format!("wss://{PUBLIC_HOST}{target}")
        .into_client_request()
        .unwrap();
    // The `Host` tungstenite takes from the URL: the public host, no port.
    assert_eq!(request.headers()["host"], PUBLIC_HOST);
    with_headers(request, &headers)
}

/// Opens `request` through `proxy` and asserts the 101, the URL the layer verified (the first
/// message), and frames both ways.
async fn assert_stream_opens(
    proxy: &Proxy,
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
    verified: &str,
) {
    let mut client = proxy.open_stream(request).await.unwrap_or_else(|refused| {
        panic!(
            "{:?}: the upgrade was refused: {refused:?}\n{}",
            proxy.kind(),
            proxy.output()
        )
    });
    assert_eq!(
        next_text(&mut client).await,
        format!("verified {verified} http_scheme")
    );
    assert_echoes(&mut client).await;
}

/// (c) An audio stream through the TLS-terminating proxy: the upgrade's `Upgrade` and
/// `Connection` reach the app, which verifies it before its 101, then frames flow.
async fn audio_stream_through_tls_termination(kind: Kind) {
    let app = app(behind_the_proxy()).await;
    let proxy = Proxy::start(kind, Setup::TlsTermination, app);
    let target = "/stream?call=c";
    let plivo = stream_request(TOKEN, target, target, &[]);
    let verified = format!("http://{PUBLIC_HOST}{target}");
    assert_stream_opens(&proxy, plivo, &verified).await;

    let forged = stream_request(FORGED, target, target, &[]);
    assert_refused(proxy.open_stream(forged).await, "signature_mismatch");
    let tampered = stream_request(TOKEN, target, "/stream?call=other", &[]);
    assert_refused(proxy.open_stream(tampered).await, "signature_mismatch");
}

/// (c) An audio stream under the stripped prefix, for both app configurations: Plivo dials
/// `wss://hooks.example.test/plivo/stream` and the app receives `/stream`.
async fn audio_stream_under_the_stripped_prefix(kind: Kind) {
    let (public_target, app_target) = ("/plivo/stream?call=d", "/stream?call=d");
    let verified = format!("http://{PUBLIC_HOST}{public_target}");
    for builder in [prefix_in_the_public_base(), prefix_from_the_proxy()] {
        let app = app(builder).await;
        let proxy = Proxy::start(kind, Setup::StripPrefix, app);
        let plivo = stream_request(TOKEN, public_target, public_target, &[]);
        assert_stream_opens(&proxy, plivo, &verified).await;

        let forged = stream_request(FORGED, public_target, public_target, &[]);
        assert_refused(proxy.open_stream(forged).await, "signature_mismatch");

        // Signed under another prefix, claimed in the header: the proxy replaced it.
        let spoof = [("x-forwarded-prefix", "/other")];
        let other = stream_request(TOKEN, "/other/stream?call=d", public_target, &spoof);
        assert_refused(proxy.open_stream(other).await, "signature_mismatch");
    }
    // Straight to the app from an address that is not the proxy, claiming the prefix: not
    // believed, so the URL verified has none.
    let app = app(prefix_from_the_proxy()).await;
    let claimed = [("x-forwarded-prefix", "/plivo")];
    let around = stream_request(TOKEN, public_target, app_target, &claimed);
    let connection = connect_from(UNTRUSTED, app).await;
    assert_refused(
        open_stream_over(connection, around).await,
        "signature_mismatch",
    );
}

/// What each proxy does with `Host` and the forwarding headers a client sent (see the table at
/// the top), with the `tls-termination` deploy file: the headers as the app received them, and
/// what the layer then decides.
async fn forwarding_headers_as_the_app_gets_them(kind: Kind) {
    let app = app(behind_the_proxy()).await;
    let proxy = Proxy::start(kind, Setup::TlsTermination, app);
    let target = "/answer?call=e";
    let url = public(target);
    let sent = [
        ("x-forwarded-proto", "http"),
        ("x-forwarded-for", "203.0.113.7"),
        ("x-forwarded-host", "other.example.test"),
    ];
    let plivo = Signed::by(TOKEN, &url).through(&proxy, target, &sent).await;
    assert_verified(&plivo, &url, &proxy);
    let received = Received::of(&plivo);
    let (forwarded_for, forwarded_host) = match kind {
        // $proxy_add_x_forwarded_for: appended to the client's value, on one line.
        Kind::Nginx => ("203.0.113.7, 127.0.0.1", "other.example.test"),
        // option forwardfor: a line of its own after the client's.
        Kind::Haproxy => ("203.0.113.7 | 127.0.0.1", "other.example.test"),
        // The client is not a trusted proxy of Caddy's: its values are replaced.
        Kind::Caddy => ("127.0.0.1", PUBLIC_HOST),
    };
    assert_eq!(
        received,
        Received {
            target: target.to_owned(),
            host: PUBLIC_HOST.to_owned(),
            proto: "https".to_owned(),
            prefix: String::new(),
            forwarded_for: forwarded_for.to_owned(),
            forwarded_host: forwarded_host.to_owned(),
        },
        "{kind:?}"
    );

    // A `Host` with a port (Plivo sends none for a URL without one): nginx's `$host` drops it,
    // HAProxy and Caddy pass it on, and the allow list refuses it.
    let with_port = format!("{PUBLIC_HOST}:8443");
    let signed = Signed::by(TOKEN, &url);
    let headers = signed.headers(&[("host", with_port.as_str())]);
    let reply = proxy.send("POST", target, &headers, BODY).await;
    match kind {
        Kind::Nginx => {
            assert_verified(&reply, &url, &proxy);
            assert_eq!(Received::of(&reply).host, PUBLIC_HOST);
        }
        Kind::Haproxy | Kind::Caddy => {
            reply.assert_refused(403, "untrusted_host");
            assert_eq!(Received::of(&reply).host, with_port);
        }
    }

    // Another host altogether: nginx and HAProxy pass it to the app, whose allow list refuses
    // it; Caddy serves only the site's host, and answers another with an empty 200 itself.
    let other = public(target).replace(PUBLIC_HOST, "other.example.test");
    let signed = Signed::by(TOKEN, &other);
    let headers = signed.headers(&[("host", "other.example.test")]);
    let reply = proxy.send("POST", target, &headers, BODY).await;
    match kind {
        Kind::Nginx | Kind::Haproxy => reply.assert_refused(403, "untrusted_host"),
        Kind::Caddy => assert_eq!(
            (
                reply.status,
                reply.body.len(),
                reply.header("x-received-host")
            ),
            (200, 0, None)
        ),
    }
}

/// The path as each proxy passes it on. Without a prefix to strip, all three pass the request
/// target as the client sent it. Stripping one, nginx (a URI in `proxy_pass`) passes the path
/// normalised, `%2F` decoded and `//` merged, and Caddy's `handle_path` merges `//`: Plivo's
/// signature over such a URL no longer verifies. HAProxy's `replace-path` keeps it. The query
/// is passed on as sent by all three.
async fn paths_as_the_proxy_passes_them(kind: Kind) {
    let target = "/hook%2Fx//y?q=%2F&r=a%20b";
    let app_with_base = app(prefix_in_the_public_base()).await;
    let stripping = Proxy::start(kind, Setup::StripPrefix, app_with_base);
    let url = public(&format!("/plivo{target}"));
    let reply = Signed::by(TOKEN, &url)
        .through(&stripping, &format!("/plivo{target}"), &[])
        .await;
    let received = Received::of(&reply).target;
    match kind {
        Kind::Nginx => {
            assert_eq!(received, "/hook/x/y?q=%2F&r=a%20b");
            reply.assert_refused(403, "signature_mismatch");
        }
        Kind::Caddy => {
            assert_eq!(received, "/hook%2Fx/y?q=%2F&r=a%20b");
            reply.assert_refused(403, "signature_mismatch");
        }
        Kind::Haproxy => {
            assert_eq!(received, target);
            assert_verified(&reply, &url, &stripping);
        }
    }

    let app = app(behind_the_proxy()).await;
    let proxy = Proxy::start(kind, Setup::TlsTermination, app);
    let url = public(target);
    let reply = Signed::by(TOKEN, &url).through(&proxy, target, &[]).await;
    assert_verified(&reply, &url, &proxy);
    assert_eq!(Received::of(&reply).target, target);
}

/// The tests of each proxy, named `real_proxies::<proxy>::<test>`.
macro_rules! tests_of {
    ($($proxy:ident: $kind:expr;)*) => {$(
        mod $proxy {
            use super::*;

            #[tokio::test]
            async fn tls_termination() {
                super::tls_termination($kind).await;
            }

            #[tokio::test]
            async fn strip_prefix_in_the_public_base() {
                super::strip_prefix_in_the_public_base($kind).await;
            }

            #[tokio::test]
            async fn strip_prefix_named_by_the_proxy() {
                super::strip_prefix_named_by_the_proxy($kind).await;
            }

            #[tokio::test]
            async fn audio_stream_through_tls_termination() {
                super::audio_stream_through_tls_termination($kind).await;
            }

            #[tokio::test]
            async fn audio_stream_under_the_stripped_prefix() {
                super::audio_stream_under_the_stripped_prefix($kind).await;
            }

            #[tokio::test]
            async fn forwarding_headers_as_the_app_gets_them() {
                super::forwarding_headers_as_the_app_gets_them($kind).await;
            }

            #[tokio::test]
            async fn paths_as_the_proxy_passes_them() {
                super::paths_as_the_proxy_passes_them($kind).await;
            }
        }
    )*};
}

tests_of! {
    nginx: Kind::Nginx;
    haproxy: Kind::Haproxy;
    caddy: Kind::Caddy;
}
