//! The URL policy over real TCP: each policy, forwarding headers from trusted and untrusted
//! peers (the peer address comes from axum's `ConnectInfo`), only the headers named as set by
//! the trusted proxies, `Forwarded` with several hops, IPv6 peers, and the host allow-list.

use crate::support;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ConnectInfo;
use tower_plivo::signature::Signer;
use tower_plivo::{PlivoGuardBuilder, PlivoSignatureLayer, ProxyHeader, Scheme, UrlPolicy};

use support::{FORM, echo, fresh_nonce, send, serve_on};

const TOKEN: &str = "MAURLPOLICYTOKENdddddddddddddddddd";
const BODY: &str = "CallUUID=u-1&Event=Hangup";

fn builder(policy: UrlPolicy) -> PlivoGuardBuilder<PlivoSignatureLayer> {
    PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .url_policy(policy)
}

/// Proxies at these networks that set these headers, under `from_request(Http)`.
fn behind(networks: &[&str], headers: &[ProxyHeader]) -> PlivoGuardBuilder<PlivoSignatureLayer> {
    builder(UrlPolicy::from_request(Scheme::Http))
        .trusted_proxies(networks.iter().copied())
        .proxy_headers(headers.iter().copied())
}

const URL_HEADERS: [ProxyHeader; 3] = [
    ProxyHeader::XForwardedProto,
    ProxyHeader::XForwardedHost,
    ProxyHeader::XForwardedPort,
];

async fn server(builder: PlivoGuardBuilder<PlivoSignatureLayer>, bind: &str) -> SocketAddr {
    let layer = builder.build().unwrap();
    serve_on(bind, Router::new().fallback(echo).layer(layer)).await
}

/// Posts `BODY` to `/hook?leg=a` signed for `signed_url`, with a fresh nonce; returns the
/// status and the URL the layer verified.
async fn post(addr: SocketAddr, signed_url: &str, extra: &[(&str, &str)]) -> (u16, Option<String>) {
    let nonce = fresh_nonce();
    let sig = Signer::new(TOKEN)
        .sign_v3_post(signed_url, BODY.as_bytes(), &nonce)
        .unwrap();
    let mut headers = vec![
        ("X-Plivo-Signature-V3", sig.as_str()),
        ("X-Plivo-Signature-V3-Nonce", nonce.as_str()),
        FORM,
    ];
    headers.extend_from_slice(extra);
    let reply = send(addr, "POST", "/hook?leg=a", &headers, BODY).await;
    (reply.status, reply.header("x-verified-url"))
}

#[tokio::test]
async fn public_base_ignores_host_and_forwarding_headers() {
    let addr = server(
        builder(UrlPolicy::public_base("https://hooks.example.com:8443").unwrap()),
        "127.0.0.1:0",
    )
    .await;
    let forged = [
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "http"),
    ];
    let (status, url) = post(addr, "https://hooks.example.com:8443/hook?leg=a", &forged).await;
    assert_eq!(
        (status, url.as_deref()),
        (200, Some("https://hooks.example.com:8443/hook?leg=a"))
    );
    // The local address, which is what the server sees, is not what Plivo signed.
    assert_eq!(
        post(addr, &format!("http://{addr}/hook?leg=a"), &[])
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn from_request_uses_the_host_header_and_the_configured_scheme() {
    let addr = server(
        builder(UrlPolicy::from_request(Scheme::Https)),
        "127.0.0.1:0",
    )
    .await;
    let host = [("host", "hooks.example.com")];
    assert_eq!(
        post(addr, "https://hooks.example.com/hook?leg=a", &host)
            .await
            .0,
        200
    );
    assert_eq!(
        post(addr, "http://hooks.example.com/hook?leg=a", &host)
            .await
            .0,
        403
    );
    assert_eq!(
        post(addr, &format!("https://{addr}/hook?leg=a"), &[])
            .await
            .0,
        200,
        "client's own Host"
    );
}

#[tokio::test]
async fn allow_list_refuses_other_hosts_and_other_ports() {
    let policy = UrlPolicy::from_request(Scheme::Https)
        .allow_hosts(["hooks.example.com", "staging.example.com:8443"])
        .unwrap();
    let addr = server(builder(policy), "127.0.0.1:0").await;
    assert_eq!(
        post(
            addr,
            "https://hooks.example.com/hook?leg=a",
            &[("host", "hooks.example.com")]
        )
        .await
        .0,
        200
    );
    assert_eq!(
        post(
            addr,
            "https://Staging.Example.com:8443/hook?leg=a",
            &[("host", "Staging.Example.com:8443")]
        )
        .await
        .0,
        200,
        "the host is compared without case"
    );
    // Correctly signed for another domain, or another port, served with the same token:
    // refused by the allow-list.
    for (signed, host) in [
        ("https://other.example/hook?leg=a", "other.example"),
        (
            "https://hooks.example.com:8443/hook?leg=a",
            "hooks.example.com:8443",
        ),
        (
            "https://staging.example.com/hook?leg=a",
            "staging.example.com",
        ),
    ] {
        let nonce = fresh_nonce();
        let sig = Signer::new(TOKEN)
            .sign_v3_post(signed, BODY.as_bytes(), &nonce)
            .unwrap();
        let headers = [
            ("X-Plivo-Signature-V3", sig.as_str()),
            ("X-Plivo-Signature-V3-Nonce", nonce.as_str()),
            FORM,
            ("host", host),
        ];
        send(addr, "POST", "/hook?leg=a", &headers, BODY)
            .await
            .assert_refused(403, "untrusted_host");
    }
}

#[tokio::test]
async fn named_headers_are_believed_from_a_trusted_peer() {
    let addr = server(behind(&["127.0.0.0/8"], &URL_HEADERS), "127.0.0.1:0").await;
    let xf = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "hooks.example.com"),
        ("x-forwarded-port", "443"),
    ];
    let (status, url) = post(addr, "https://hooks.example.com/hook?leg=a", &xf).await;
    assert_eq!(
        (status, url.as_deref()),
        (200, Some("https://hooks.example.com/hook?leg=a"))
    );
    // A client-supplied first value is not the one believed.
    let appended = [
        ("x-forwarded-proto", "http, https"),
        ("x-forwarded-host", "evil.example, hooks.example.com"),
    ];
    assert_eq!(
        post(addr, "https://hooks.example.com/hook?leg=a", &appended)
            .await
            .0,
        200
    );
    assert_eq!(
        post(addr, "http://evil.example/hook?leg=a", &appended)
            .await
            .0,
        403
    );
    // A non-default forwarded port is part of the URL.
    let port = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "hooks.example.com"),
        ("x-forwarded-port", "8443"),
    ];
    assert_eq!(
        post(addr, "https://hooks.example.com:8443/hook?leg=a", &port)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn by_default_a_trusted_peer_is_believed_for_x_forwarded_proto_alone() {
    let addr = server(
        builder(UrlPolicy::from_request(Scheme::Http)).trusted_proxies(["127.0.0.0/8"]),
        "127.0.0.1:0",
    )
    .await;
    // What a load balancer that passes the client's headers through delivers: the proto it
    // set, and the host and port the client chose.
    let sent = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "hooks.example.com"),
        ("x-forwarded-port", "8443"),
        ("forwarded", "proto=https;host=hooks.example.com"),
    ];
    assert_eq!(
        post(addr, "https://hooks.example.com:8443/hook?leg=a", &sent)
            .await
            .0,
        403,
        "X-Forwarded-Host, -Port and Forwarded are not named"
    );
    let (status, url) = post(addr, &format!("https://{addr}/hook?leg=a"), &sent).await;
    assert_eq!(
        (status, url),
        (200, Some(format!("https://{addr}/hook?leg=a"))),
        "the Host header, with the proto the proxy set"
    );
}

#[tokio::test]
async fn forged_forwarding_headers_from_an_untrusted_peer_are_ignored() {
    // 127.0.0.1 is not in the trusted list, so the forwarded values must not be used.
    let addr = server(
        behind(
            &["10.0.0.0/8"],
            &[ProxyHeader::XForwardedProto, ProxyHeader::XForwardedHost],
        ),
        "127.0.0.1:0",
    )
    .await;
    let forged = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "hooks.example.com"),
        (
            "forwarded",
            "for=1.2.3.4;proto=https;host=hooks.example.com",
        ),
    ];
    assert_eq!(
        post(addr, "https://hooks.example.com/hook?leg=a", &forged)
            .await
            .0,
        403
    );
    let (status, url) = post(addr, &format!("http://{addr}/hook?leg=a"), &forged).await;
    assert_eq!(
        (status, url),
        (200, Some(format!("http://{addr}/hook?leg=a")))
    );
}

#[tokio::test]
async fn forwarded_with_several_hops_walks_only_trusted_ones() {
    let addr = server(
        behind(&["127.0.0.1", "10.0.0.0/8"], &[ProxyHeader::Forwarded]),
        "127.0.0.1:0",
    )
    .await;
    // client-forged element, then the edge proxy (public client 198.51.100.7), then an internal
    // hop from 10.0.0.2; the nearest element is appended by our peer 127.0.0.1.
    let chain = "for=6.6.6.6;proto=http;host=forged.example, \
                 for=198.51.100.7;proto=https;host=hooks.example.com, \
                 for=10.0.0.2;proto=http;host=internal-lb:8080";
    let (status, url) = post(
        addr,
        "https://hooks.example.com/hook?leg=a",
        &[("forwarded", chain)],
    )
    .await;
    assert_eq!(
        (status, url.as_deref()),
        (200, Some("https://hooks.example.com/hook?leg=a"))
    );
    assert_eq!(
        post(
            addr,
            "http://forged.example/hook?leg=a",
            &[("forwarded", chain)]
        )
        .await
        .0,
        403
    );
    // When the middle hop is not trusted, the walk stops at the nearest element.
    let untrusted_middle = "for=6.6.6.6;proto=https;host=hooks.example.com, for=203.0.113.9;proto=http;host=internal-lb:8080";
    assert_eq!(
        post(
            addr,
            "https://hooks.example.com/hook?leg=a",
            &[("forwarded", untrusted_middle)]
        )
        .await
        .0,
        403
    );
    assert_eq!(
        post(
            addr,
            "http://internal-lb:8080/hook?leg=a",
            &[("forwarded", untrusted_middle)]
        )
        .await
        .0,
        200
    );
    // An X-Forwarded-* header is not named here: it changes nothing.
    assert_eq!(
        post(
            addr,
            &format!("http://{addr}/hook?leg=a"),
            &[
                ("x-forwarded-host", "hooks.example.com"),
                ("x-forwarded-proto", "https")
            ]
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn ipv6_peers_are_matched_against_ipv6_networks() {
    let Ok(probe) = std::net::TcpListener::bind("[::1]:0") else {
        panic!("IPv6 loopback is required for this test");
    };
    drop(probe);
    let xf = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "hooks.example.com"),
    ];
    let trusted = server(behind(&["::1/128"], &URL_HEADERS), "[::1]:0").await;
    assert_eq!(
        post(trusted, "https://hooks.example.com/hook?leg=a", &xf)
            .await
            .0,
        200
    );
    let untrusted = server(behind(&["fd00::/8", "127.0.0.1"], &URL_HEADERS), "[::1]:0").await;
    assert_eq!(
        post(untrusted, "https://hooks.example.com/hook?leg=a", &xf)
            .await
            .0,
        403
    );
    assert_eq!(
        post(untrusted, &format!("http://{untrusted}/hook?leg=a"), &xf)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn ipv4_mapped_peer_matches_an_ipv4_network() {
    // A dual-stack listener sees IPv4 clients as ::ffff:127.0.0.1.
    let listener = match tokio::net::TcpListener::bind("[::]:0").await {
        Ok(listener) => listener,
        Err(e) => panic!("dual-stack bind failed: {e}"),
    };
    let port = listener.local_addr().unwrap().port();
    let layer = behind(&["127.0.0.0/8"], &URL_HEADERS).build().unwrap();
    let peer = |ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() };
    let app = Router::new().fallback(peer).layer(layer);
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let nonce = fresh_nonce();
    let sig = Signer::new(TOKEN)
        .sign_v3_post(
            "https://hooks.example.com/hook?leg=a",
            BODY.as_bytes(),
            &nonce,
        )
        .unwrap();
    let headers = [
        ("X-Plivo-Signature-V3", sig.as_str()),
        ("X-Plivo-Signature-V3-Nonce", nonce.as_str()),
        FORM,
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "hooks.example.com"),
    ];
    let reply = send(addr, "POST", "/hook?leg=a", &headers, BODY).await;
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (200, "::ffff:127.0.0.1"),
        "the peer really is IPv4-mapped"
    );
}

#[tokio::test]
async fn without_connect_info_forwarding_headers_are_never_believed() {
    let layer = behind(&["0.0.0.0/0", "::/0"], &URL_HEADERS)
        .build()
        .unwrap();
    // Served without `into_make_service_with_connect_info`: no peer address is known.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, Router::new().fallback(echo).layer(layer))
            .await
            .unwrap()
    });
    let xf = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "hooks.example.com"),
    ];
    assert_eq!(
        post(addr, "https://hooks.example.com/hook?leg=a", &xf)
            .await
            .0,
        403
    );
}
