//! Path prefixes over real TCP: a proxy in front strips `/plivo` from the path Plivo called, and
//! the prefix comes back from the public base or from a trusted proxy's `X-Forwarded-Prefix`.
//! Each genuine request sits next to the requests a forger would try with it: the prefix
//! doubled, moved into the path, or claimed in a header from an address that is not a proxy.

use crate::support;

use std::borrow::Cow;
use std::net::SocketAddr;

use axum::Router;
use tower_plivo::signature::AuthTokens;
use tower_plivo::tenants::{StoreFuture, TenantCache, TenantRequest, TokenSource};
use tower_plivo::{
    ConfigError, PlivoGuardBuilder, PlivoSignatureLayer, ProxyHeader, Scheme, UrlPolicy,
};

use support::{FORM, V3_NONCE, V3_SIGNATURE, echo, expose_rejection, fresh_nonce, send, serve_on};

const TOKEN: &str = "MAPATHPREFIXTOKENppppppppppppppppp";
const BODY: &str = "CallUUID=p-1&Event=Hangup";
const PLIVO_URL: &str = "https://hooks.example.com/plivo/hook?leg=a";

fn builder(policy: UrlPolicy) -> PlivoGuardBuilder<PlivoSignatureLayer> {
    PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .url_policy(policy)
}

fn prefixed_base() -> UrlPolicy {
    UrlPolicy::public_base("https://hooks.example.com/plivo/").unwrap()
}

/// Proxies at `networks` believed for `X-Forwarded-Proto` and `X-Forwarded-Prefix`, under
/// `from_request(Http)` limited to `hooks.example.com`.
fn behind(networks: &[&str]) -> PlivoGuardBuilder<PlivoSignatureLayer> {
    let policy = UrlPolicy::from_request(Scheme::Http)
        .allow_hosts(["hooks.example.com"])
        .unwrap();
    builder(policy)
        .trusted_proxies(networks.iter().copied())
        .proxy_headers([ProxyHeader::XForwardedProto, ProxyHeader::XForwardedPrefix])
}

async fn server(builder: PlivoGuardBuilder<PlivoSignatureLayer>) -> SocketAddr {
    let layer = builder.build().unwrap();
    let app = expose_rejection(Router::new().fallback(echo).layer(layer));
    serve_on("127.0.0.1:0", app).await
}

/// One signed POST as captured: the signature and nonce Plivo sent for `signed_url`.
struct Captured {
    signature: String,
    nonce: String,
}

impl Captured {
    fn of(signed_url: &str) -> Self {
        let nonce = fresh_nonce();
        let signature = support::sign_v3(TOKEN, "POST", signed_url, BODY.as_bytes(), &nonce);
        Self { signature, nonce }
    }

    /// Sends it to `target` with `extra` headers: the status, the reason of a refusal, and the
    /// URL the layer verified.
    async fn send(
        &self,
        addr: SocketAddr,
        target: &str,
        extra: &[(&str, &str)],
    ) -> (u16, Option<String>, Option<String>) {
        let mut headers = vec![
            (V3_SIGNATURE, self.signature.as_str()),
            (V3_NONCE, self.nonce.as_str()),
            FORM,
            ("host", "hooks.example.com"),
        ];
        headers.extend_from_slice(extra);
        let reply = send(addr, "POST", target, &headers, BODY).await;
        (reply.status, reply.reason(), reply.header("x-verified-url"))
    }
}

#[tokio::test]
async fn a_prefix_in_the_public_base_goes_before_the_path_as_received() {
    let addr = server(builder(prefixed_base())).await;
    let plivo = Captured::of(PLIVO_URL);
    // The proxy stripped `/plivo`: the app receives `/hook?leg=a`.
    assert_eq!(
        plivo.send(addr, "/hook?leg=a", &[]).await,
        (200, None, Some(PLIVO_URL.to_owned()))
    );
    // The same signature on any other target names another URL.
    for target in [
        "/plivo/hook?leg=a", // the prefix doubled: a proxy that does not strip it
        "/hook?leg=b",
        "/hook/?leg=a",
        "/livo/hook?leg=a",
        "/?leg=a",
        "//hook?leg=a",
        "/%68ook?leg=a",
        "/hook;?leg=a",
    ] {
        let (status, reason, _) = Captured::of(PLIVO_URL).send(addr, target, &[]).await;
        assert_eq!(
            (status, reason.as_deref()),
            (403, Some("signature_mismatch")),
            "{target}"
        );
    }
}

#[tokio::test]
async fn a_received_root_is_tried_as_the_prefix_with_and_without_its_slash() {
    let addr = server(builder(prefixed_base())).await;
    // `PlivoVerified::url` is the URL built from the request (with its `/`), whichever of the
    // two readings Plivo signed, as for the root path without a prefix.
    for signed in [
        "https://hooks.example.com/plivo/",
        "https://hooks.example.com/plivo",
    ] {
        let (status, _, url) = Captured::of(signed).send(addr, "/", &[]).await;
        let verified = Some("https://hooks.example.com/plivo/");
        assert_eq!((status, url.as_deref()), (200, verified), "{signed}");
    }
    // The bare origin was not signed under this configuration.
    let bare = Captured::of("https://hooks.example.com/");
    assert_eq!(bare.send(addr, "/", &[]).await.0, 403);
}

#[tokio::test]
async fn a_trusted_proxy_names_the_prefix_it_stripped() {
    let addr = server(behind(&["127.0.0.1"])).await;
    let forwarded = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-prefix", "/plivo"),
    ];
    let plivo = Captured::of(PLIVO_URL);
    assert_eq!(
        plivo.send(addr, "/hook?leg=a", &forwarded).await,
        (200, None, Some(PLIVO_URL.to_owned()))
    );
    // A trailing `/` on the header is dropped, as on the public base.
    let slashed = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-prefix", "/plivo/"),
    ];
    assert_eq!(
        Captured::of(PLIVO_URL)
            .send(addr, "/hook?leg=a", &slashed)
            .await
            .0,
        200
    );
    // Without the header, no prefix: the path must be the whole path Plivo signed.
    let proto = [("x-forwarded-proto", "https")];
    assert_eq!(
        Captured::of(PLIVO_URL)
            .send(addr, "/hook?leg=a", &proto)
            .await
            .0,
        403
    );
    assert_eq!(
        Captured::of(PLIVO_URL)
            .send(addr, "/plivo/hook?leg=a", &proto)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_prefix_header_that_is_not_one_path_refuses_the_request() {
    let addr = server(behind(&["127.0.0.1"])).await;
    for value in [
        "/plivo,/other",
        "plivo",
        "",
        "/plivo//",
        "/pl ivo",
        "/plivo?x=1",
    ] {
        let headers = [
            ("x-forwarded-proto", "https"),
            ("x-forwarded-prefix", value),
        ];
        let (status, reason, _) = Captured::of(PLIVO_URL)
            .send(addr, "/hook?leg=a", &headers)
            .await;
        assert_eq!(
            (status, reason.as_deref()),
            (403, Some("unknown_origin")),
            "{value:?}"
        );
    }
    // Two lines, each a valid prefix: which one the proxy meant cannot be known.
    let two_lines = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-prefix", "/plivo"),
        ("x-forwarded-prefix", "/plivo"),
    ];
    let (status, reason, _) = Captured::of(PLIVO_URL)
        .send(addr, "/hook?leg=a", &two_lines)
        .await;
    assert_eq!((status, reason.as_deref()), (403, Some("unknown_origin")));
}

#[tokio::test]
async fn a_prefix_claimed_from_an_untrusted_address_is_not_believed() {
    // The app trusts only 10.0.0.0/8; this client at 127.0.0.1 sends straight to it.
    let addr = server(behind(&["10.0.0.0/8"])).await;
    let spoofed = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-prefix", "/plivo"),
    ];
    let plivo = Captured::of(PLIVO_URL);
    let (status, reason, _) = plivo.send(addr, "/hook?leg=a", &spoofed).await;
    assert_eq!(
        (status, reason.as_deref()),
        (403, Some("signature_mismatch"))
    );
    // What this client's own request verifies as: http, no prefix.
    let own = Captured::of("http://hooks.example.com/hook?leg=a");
    assert_eq!(
        own.send(addr, "/hook?leg=a", &spoofed).await,
        (
            200,
            None,
            Some("http://hooks.example.com/hook?leg=a".to_owned())
        )
    );
}

#[test]
fn a_prefix_header_where_nothing_reads_it_is_a_configuration_error() {
    let error = builder(prefixed_base())
        .trusted_proxies(["10.0.0.0/8"])
        .proxy_headers([ProxyHeader::XForwardedPrefix])
        .build()
        .unwrap_err();
    assert!(
        matches!(
            error,
            ConfigError::Ineffective {
                setting: "x-forwarded-prefix",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("public_base fixes the URL"),
        "{error}"
    );
    // Beside `Forwarded`, which has no prefix of its own, it may be named.
    let beside_forwarded = builder(UrlPolicy::from_request(Scheme::Https))
        .trusted_proxies(["10.0.0.0/8"])
        .proxy_headers([ProxyHeader::Forwarded, ProxyHeader::XForwardedPrefix])
        .build();
    assert!(beside_forwarded.is_ok());
    let host_beside_forwarded = builder(UrlPolicy::from_request(Scheme::Https))
        .trusted_proxies(["10.0.0.0/8"])
        .proxy_headers([ProxyHeader::Forwarded, ProxyHeader::XForwardedHost])
        .build();
    assert!(host_beside_forwarded.is_err());
    assert_eq!(
        "X-Forwarded-Prefix".parse::<ProxyHeader>().unwrap(),
        ProxyHeader::XForwardedPrefix
    );
}

/// Tenants named by the first segment of the path verified.
struct FirstSegment;

impl TokenSource for FirstSegment {
    fn tenant<'a>(&self, request: &TenantRequest<'a>) -> Option<Cow<'a, str>> {
        request.path_segment(0).map(Cow::Borrowed)
    }

    fn tokens(&self, tenant: &str) -> StoreFuture<Option<AuthTokens>> {
        let tokens = (tenant == "plivo").then(|| AuthTokens::new([TOKEN], None::<&str>).unwrap());
        StoreFuture::ready(Ok(tokens))
    }
}

#[tokio::test]
async fn tenant_rules_see_the_path_verified_and_skipped_paths_the_path_received() {
    let layer = PlivoSignatureLayer::builder()
        .tenants(TenantCache::new(FirstSegment))
        .url_policy(prefixed_base())
        .skip_paths_under("/health")
        .build()
        .unwrap();
    let app = expose_rejection(Router::new().fallback(echo).layer(layer));
    let addr = serve_on("127.0.0.1:0", app).await;
    // The tenant is `plivo`: the first segment of `/plivo/hook`, though the app got `/hook`.
    let (status, _, url) = Captured::of(PLIVO_URL).send(addr, "/hook?leg=a", &[]).await;
    assert_eq!((status, url.as_deref()), (200, Some(PLIVO_URL)));
    // `skip_paths_under` matches the path as received, without the prefix.
    let health = send(addr, "GET", "/health", &[], "").await;
    assert_eq!(health.status, 200);
    let prefixed_health = send(addr, "GET", "/plivo/health", &[], "").await;
    assert_eq!(prefixed_health.status, 403);
}
