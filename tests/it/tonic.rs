//! One tonic server, as in `examples/tonic.rs`: the gRPC health service and Plivo webhooks
//! under `/plivo` on the same 127.0.0.1 port. `PlivoSignatureLayer` is composed onto the
//! webhook routes only (an axum router with `route_layer`, merged into tonic's `Routes`), so
//! gRPC never meets it; a control puts it on the whole server instead, where it refuses gRPC
//! unless the gRPC paths are skipped. gRPC goes through tonic's own client; webhooks through
//! hyper's.
//!
//! ```text
//! cargo test --features tonic --test it -- tonic:: --skip composition_tonic
//! ```

use crate::support;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Extension;
use axum::routing::{any, post};
use tonic::Code;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus as WireStatus;
use tonic_health::pb::health_client::HealthClient;
use tower_plivo::signature::Signer;

use support::FORM;
use tower_plivo::{
    PlivoGuardBuilder, PlivoSignatureLayer, PlivoVerified, ProxyHeader, Scheme, UrlPolicy,
};

const TOKEN: &str = "MAtonicTESTtokenDDDDDDDDDDDDDDDDDDD";
const NONCE: &str = "55555555554444444444";
const ANSWER_XML: &str = "<Response><Speak>Hello, from Plivo</Speak></Response>";

fn layer() -> PlivoGuardBuilder<PlivoSignatureLayer> {
    PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        // 127.0.0.1 is the "proxy" here, so one test can show tonic's `TcpConnectInfo`
        // reaching the layer; direct requests carry no forwarding headers and verify against
        // `Host`.
        .url_policy(UrlPolicy::from_request(Scheme::Http))
        .trusted_proxies(["127.0.0.1"])
        .proxy_headers([ProxyHeader::XForwardedProto, ProxyHeader::XForwardedHost])
}

/// Where the layer goes.
enum Placement {
    /// On the webhook routes only (`route_layer`), as the example does.
    WebhookRoutes(PlivoSignatureLayer),
    /// On the whole server (`Server::builder().layer(..)`).
    WholeServer(PlivoSignatureLayer),
}

/// Starts the server on a fresh 127.0.0.1 port with the layer on the webhook routes only.
async fn serve() -> SocketAddr {
    serve_with(Placement::WebhookRoutes(layer().build().unwrap())).await
}

async fn serve_with(placement: Placement) -> SocketAddr {
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_service_status("", ServingStatus::Serving).await;
    health
        .set_service_status("plivo.Webhooks", ServingStatus::NotServing)
        .await;

    let webhooks = Router::new()
        .route("/plivo/answer", post(answer))
        .route("/plivo/{*rest}", any(echo));
    let (webhooks, whole_server) = match placement {
        Placement::WebhookRoutes(plivo) => (webhooks.route_layer(plivo), None),
        Placement::WholeServer(plivo) => (webhooks, Some(plivo)),
    };
    let routes: Routes = Routes::new(health_service)
        .into_axum_router()
        .merge(support::expose_rejection(webhooks))
        .into();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // The reporter owns the statuses: it lives as long as the server.
        let _health = health;
        let incoming = TcpIncoming::from(listener);
        let mut server = Server::builder().accept_http1(true);
        match whole_server {
            None => server
                .add_routes(routes)
                .serve_with_incoming(incoming)
                .await
                .unwrap(),
            Some(plivo) => server
                .layer(plivo)
                .add_routes(routes)
                .serve_with_incoming(incoming)
                .await
                .unwrap(),
        }
    });
    addr
}

/// Answers the XML, and says which URL the layer verified.
async fn answer(
    Extension(verified): Extension<PlivoVerified>,
) -> ([(&'static str, String); 2], &'static str) {
    (
        [
            ("content-type", "text/xml".to_owned()),
            ("x-verified-url", verified.url().to_owned()),
        ],
        ANSWER_XML,
    )
}

async fn echo(body: Bytes) -> Bytes {
    body
}

async fn health_client(addr: SocketAddr) -> HealthClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    HealthClient::new(channel)
}

/// Sends one HTTP/1.1 request and returns status, `x-verified-url` (or the layer's reason for
/// a refusal) and body.
async fn send(
    addr: SocketAddr,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Option<String>, Bytes) {
    let reply = support::send(addr, "POST", target, headers, body.to_owned()).await;
    let url = reply.header("x-verified-url").or_else(|| reply.reason());
    (reply.status, url, reply.body)
}

fn sign(url: &str, body: &str) -> String {
    Signer::new(TOKEN)
        .sign_v3_post(url, body.as_bytes(), NONCE)
        .unwrap()
}

#[tokio::test]
async fn grpc_calls_pass_without_plivo_headers() {
    let addr = serve().await;
    let mut client = health_client(addr).await;

    let reply = client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("a gRPC call carries no Plivo signature and must not be refused");
    assert_eq!(reply.get_ref().status(), WireStatus::Serving);

    let reply = client
        .check(HealthCheckRequest {
            service: "plivo.Webhooks".into(),
        })
        .await
        .unwrap();
    assert_eq!(reply.get_ref().status(), WireStatus::NotServing);

    // gRPC errors travel in trailers: they must come back as the service sent them.
    let error = client
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::NotFound, "{error:?}");
}

#[tokio::test]
async fn webhooks_on_the_same_port_are_verified() {
    let addr = serve().await;
    let body = "CallUUID=t-1&From=14155550100&To=14155550199&Direction=inbound";
    let url = format!("http://{addr}/plivo/answer");
    let signature = sign(&url, body);
    let signed = [
        ("X-Plivo-Signature-V3", signature.as_str()),
        ("X-Plivo-Signature-V3-Nonce", NONCE),
        FORM,
    ];

    let (status, verified, reply) = send(addr, "/plivo/answer", &signed, body).await;
    assert_eq!((status, reply.as_ref()), (200, ANSWER_XML.as_bytes()));
    assert_eq!(verified.as_deref(), Some(url.as_str()));

    let (status, reason, reply) = send(addr, "/plivo/answer", &[FORM], body).await;
    assert_eq!(
        (status, reason.as_deref()),
        (403, Some("missing_signature"))
    );
    assert_eq!(reply.as_ref(), b"forbidden\n");

    let tampered = body.replace("inbound", "outbound");
    let (status, reason, reply) = send(addr, "/plivo/answer", &signed, &tampered).await;
    assert_eq!(
        (status, reason.as_deref()),
        (403, Some("signature_mismatch"))
    );
    assert_eq!(reply.as_ref(), b"forbidden\n");

    // Any path below the prefix is guarded, and the handler gets the body byte for byte.
    let body = "Text=caf%C3%A9&To=1&To=2";
    let signature = sign(&format!("http://{addr}/plivo/sms?x=1"), body);
    let headers = [
        ("X-Plivo-Signature-V3", signature.as_str()),
        ("X-Plivo-Signature-V3-Nonce", NONCE),
        FORM,
    ];
    let (status, _, reply) = send(addr, "/plivo/sms?x=1", &headers, body).await;
    assert_eq!((status, reply.as_ref()), (200, body.as_bytes()));
    let (status, _, _) = send(addr, "/plivo/sms?x=1", &[FORM], body).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn tonic_connect_info_lets_a_trusted_proxy_be_believed() {
    let addr = serve().await;
    let body = "CallUUID=t-2";
    let signature = sign("https://hooks.example.com/plivo/answer", body);
    let forwarded = [
        ("X-Plivo-Signature-V3", signature.as_str()),
        ("X-Plivo-Signature-V3-Nonce", NONCE),
        FORM,
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "hooks.example.com"),
    ];
    let (status, verified, _) = send(addr, "/plivo/answer", &forwarded, body).await;
    assert_eq!(status, 200);
    assert_eq!(
        verified.as_deref(),
        Some("https://hooks.example.com/plivo/answer")
    );
}

#[tokio::test]
async fn on_the_whole_server_the_layer_refuses_grpc_unless_its_paths_are_skipped() {
    // The control for `grpc_calls_pass_without_plivo_headers`: the same routes with the layer
    // on the whole server refuse the gRPC call, so it is the composition that lets it pass.
    let addr = serve_with(Placement::WholeServer(layer().build().unwrap())).await;
    let error = health_client(addr)
        .await
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap_err();
    // The layer answers gRPC requests with a gRPC status, so the client sees a clear
    // PERMISSION_DENIED rather than a protocol error; the message, like the HTTP body, is the
    // same whatever the reason.
    assert_eq!(error.code(), tonic::Code::PermissionDenied, "{error:?}");
    assert_eq!(error.message(), "permission denied");

    // Skipping the gRPC service's paths lets it through, and the webhooks stay guarded.
    let skipping = layer()
        .skip_paths_under("/grpc.health.v1.Health")
        .build()
        .unwrap();
    let addr = serve_with(Placement::WholeServer(skipping)).await;
    let reply = health_client(addr)
        .await
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(reply.get_ref().status(), WireStatus::Serving);
    let (status, _, _) = send(addr, "/plivo/answer", &[FORM], "CallUUID=1").await;
    assert_eq!(status, 403);
}
