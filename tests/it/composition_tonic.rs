//! The layer on a whole tonic server, composed with the tower layers a gRPC service usually has
//! there (`Server::builder().layer(ServiceBuilder…)`): TraceLayer, ConcurrencyLimit + LoadShed,
//! and tower-http's TimeoutLayer, each outside and inside ours. The server carries the gRPC
//! health service (its paths skipped by ours) and Plivo webhooks under `/plivo` on one
//! 127.0.0.1 port. Every forged webhook goes through `App::forged*`, which asserts it never
//! reached a handler. Last, the deployment guide's tonic arrangement (the signature layer and the limits
//! on the webhook routes only), served and checked layer for layer against the deployment guide.
//!
//! ```text
//! cargo test --all-features --test it composition_tonic::
//! ```

use crate::support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use http::StatusCode;
use tonic::Code;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus as WireStatus;
use tonic_health::pb::health_client::HealthClient;
use tower::{Layer, Service, ServiceBuilder};

use support::compose::{App, Handlers, plivo};

/// Ours on the whole server: the health service's paths skipped (they carry no signature),
/// everything else guarded.
fn ours() -> tower_plivo::PlivoSignatureLayer {
    plivo()
        .skip_paths_under("/grpc.health.v1.Health")
        .build()
        .unwrap()
}

/// Serves the health service and `handlers`' routes under `/plivo` with `stack` on the whole
/// server. The bounds are tonic's own for `Server::layer`: ours composes with the neighbours
/// with no adapter, in both orders.
async fn serve<L, ResBody>(label: String, handlers: &Handlers, stack: L) -> App
where
    L: Layer<Routes> + Clone + Send + Sync + 'static,
    L::Service: Service<http::Request<tonic::body::Body>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    <L::Service as Service<http::Request<tonic::body::Body>>>::Future: Send,
    <L::Service as Service<http::Request<tonic::body::Body>>>::Error:
        Into<tower::BoxError> + Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<tower::BoxError>,
{
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_service_status("", ServingStatus::Serving).await;
    let webhooks = Router::new().nest("/plivo", handlers.routes());
    let routes: Routes = Routes::new(health_service)
        .into_axum_router()
        .merge(webhooks)
        .into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _health = health;
        Server::builder()
            .accept_http1(true)
            // Outermost, so the reason of a refusal by ours is visible to the client.
            .layer(
                ServiceBuilder::new()
                    .map_response(support::copy_reason::<ResBody>)
                    .layer(stack),
            )
            .add_routes(routes)
            .serve_with_incoming(TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    App::at(label, handlers, addr)
}

async fn health_check(addr: SocketAddr) -> Result<WireStatus, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|reply| reply.get_ref().status())
}

/// What every stack must do: gRPC passes (skipped by ours), a genuine webhook is accepted with
/// its body intact, a forged one is refused and never handled.
async fn assert_basics(app: &App) {
    assert_eq!(
        health_check(app.addr).await.map_err(|status| status.code()),
        Ok(WireStatus::Serving),
        "{}: gRPC passes",
        app.label
    );
    let before = app.handlers.calls();
    let reply = app.genuine("/plivo/answer", &[]).await;
    app.assert_accepted(&reply, before);
    let forged = app.forged("/plivo/answer", &[]).await;
    forged.assert_refused(403, "signature_mismatch");
}

/// TraceLayer (tower-http, HTTP flavour) outside and inside ours: transparent to gRPC and to
/// both verdicts.
#[tokio::test]
async fn trace_layer_on_the_server() {
    use tower_http::trace::TraceLayer;
    let handlers = Handlers::new();
    let outside = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(ours());
    assert_basics(&serve("TraceLayer outside ours (tonic)".into(), &handlers, outside).await).await;
    let handlers = Handlers::new();
    let inside = ServiceBuilder::new()
        .layer(ours())
        .layer(TraceLayer::new_for_http());
    assert_basics(&serve("TraceLayer inside ours (tonic)".into(), &handlers, inside).await).await;
}

/// ConcurrencyLimit(1) + LoadShed on the whole server (one semaphore for every request, unlike
/// axum's per-route `Router::layer`). tonic turns the shed error into a gRPC status whatever
/// the request: a gRPC call gets RESOURCE_EXHAUSTED, and a webhook gets **HTTP 200** with
/// `grpc-status: 8` and an empty body (tonic's `RecoverError`; Plivo would take that 200 as
/// delivered). No HandleErrorLayer is needed: tonic takes any `Into<BoxError>` error, and ours
/// passes LoadShed's on unchanged when it wraps it. A forged webhook while overloaded: with
/// the shedder outside, shed before ours; inside, refused by ours (403) before the shedder.
#[tokio::test]
async fn concurrency_limit_and_load_shed_on_the_server() {
    use tower::limit::ConcurrencyLimitLayer;
    use tower::load_shed::LoadShedLayer;
    for outside in [true, false] {
        let handlers = Handlers::new();
        let shed_and_limit = ServiceBuilder::new()
            .layer(LoadShedLayer::new())
            .layer(ConcurrencyLimitLayer::new(1));
        let label = format!(
            "ConcurrencyLimit+LoadShed {} ours (tonic)",
            if outside { "outside" } else { "inside" }
        );
        let app = Arc::new(if outside {
            let stack = ServiceBuilder::new().layer(shed_and_limit).layer(ours());
            serve(label, &handlers, stack).await
        } else {
            let stack = ServiceBuilder::new().layer(ours()).layer(shed_and_limit);
            serve(label, &handlers, stack).await
        });
        assert_basics(&app).await;

        let held = app.hold_one("/plivo/hold").await;
        assert_eq!(
            health_check(app.addr).await.map_err(|status| status.code()),
            Err(Code::ResourceExhausted),
            "{}: gRPC is shed",
            app.label
        );
        let before = handlers.calls();
        let shed = app.genuine("/plivo/answer", &[]).await;
        assert_eq!(
            (
                shed.status,
                shed.header("grpc-status").as_deref(),
                shed.text().as_str()
            ),
            (200, Some("8"), ""),
            "{}: a shed webhook is tonic's gRPC status",
            app.label
        );
        assert_eq!(
            handlers.calls(),
            before,
            "{}: a shed request is not handled",
            app.label
        );
        let forged = app.forged_among_others("/plivo/answer").await;
        if outside {
            assert_eq!(
                forged.header("grpc-status").as_deref(),
                Some("8"),
                "{}",
                app.label
            );
        } else {
            forged.assert_refused(403, "signature_mismatch");
        }
        handlers.gate.add_permits(1);
        let held = held.await.unwrap();
        assert_eq!(
            (held.status, held.text().as_str()),
            (200, "released"),
            "{}",
            app.label
        );
        assert_basics(&app).await;
    }
}

/// tower-http's TimeoutLayer (408) on the whole server, outside and inside ours: a slow webhook
/// handler is the neighbour's 408 either way, gRPC and both verdicts are unchanged. Directly on
/// ours, with no adapter: the 408 is `ResBody::default()`, and our `ResponseBody` is `Default`.
#[tokio::test]
async fn timeout_layer_on_the_server() {
    use tower_http::timeout::TimeoutLayer;
    let timeout =
        || TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_millis(300));
    for outside in [true, false] {
        let handlers = Handlers::new();
        let label = format!(
            "TimeoutLayer {} ours (tonic)",
            if outside { "outside" } else { "inside" }
        );
        let app = if outside {
            serve(
                label,
                &handlers,
                ServiceBuilder::new().layer(timeout()).layer(ours()),
            )
            .await
        } else {
            serve(
                label,
                &handlers,
                ServiceBuilder::new().layer(ours()).layer(timeout()),
            )
            .await
        };
        assert_basics(&app).await;
        app.assert_slow_handler_timed_out("/plivo/slow").await;
        app.forged("/plivo/slow", &[])
            .await
            .assert_refused(403, "signature_mismatch");
    }
}

/// The deployment guide's tonic webhook routes: `handlers`' routes under `/plivo`, guarded, with the
/// shedder and the limit inside the signature layer.
fn readme_webhooks(handlers: &Handlers) -> Router {
    use axum::error_handling::HandleErrorLayer;
    use tower::BoxError;
    use tower::limit::ConcurrencyLimitLayer;
    use tower::load_shed::LoadShedLayer;
    Router::new().nest("/plivo", handlers.routes()).route_layer(
        ServiceBuilder::new()
            .layer(plivo().build().unwrap())
            .layer(HandleErrorLayer::new(|_: BoxError| async {
                StatusCode::SERVICE_UNAVAILABLE
            }))
            .layer(LoadShedLayer::new())
            .layer(ConcurrencyLimitLayer::new(1)),
    )
}

/// What [`readme_server_layers`] builds.
type ServerLayers = ServiceBuilder<
    tower::layer::util::Stack<
        tower_http::trace::TraceLayer<
            tower_http::classify::SharedClassifier<tower_http::classify::GrpcErrorsAsFailures>,
        >,
        tower::layer::util::Stack<
            tower_plivo::capture::CaptureReceivedLayer,
            tower::layer::util::Identity,
        >,
    >,
>;

/// The deployment guide's layers on the whole tonic server.
fn readme_server_layers() -> ServerLayers {
    ServiceBuilder::new()
        .layer(tower_plivo::capture::CaptureReceivedLayer::new())
        .layer(tower_http::trace::TraceLayer::new_for_grpc())
}

/// The deployment guide's tonic arrangement: the signature layer, the shedder and the limit on the
/// webhook routes (`route_layer`, with `HandleErrorLayer` answering 503), the capture and
/// TraceLayer on the whole server. gRPC passes (never meeting the signature layer), a genuine
/// webhook is accepted, a forged one refused; an overloaded webhook is a 503, which Plivo
/// retries, not tonic's HTTP 200 with `grpc-status: 8`. The deployment guide shows these layers in this
/// order.
#[tokio::test]
async fn the_readme_tonic_stack() {
    use support::compose::layers_between;

    const GUIDE: &str = include_str!("../../docs/guides/deployments.md");
    const THIS: &str = include_str!("composition_tonic.rs");
    let in_guide = [
        layers_between(GUIDE, "let webhooks = Router::new()", "let routes"),
        layers_between(GUIDE, "Server::builder()\n", ".add_routes(routes)"),
    ];
    let here = [
        layers_between(THIS, "fn readme_webhooks(", "\n}\n"),
        layers_between(THIS, "fn readme_server_layers(", "\n}\n"),
    ];
    assert_eq!(
        in_guide, here,
        "the deployment guide's stacks are this test's"
    );

    let handlers = Handlers::new();
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_service_status("", ServingStatus::Serving).await;
    let webhooks = readme_webhooks(&handlers);
    let routes: Routes = Routes::new(health_service)
        .into_axum_router()
        .merge(webhooks)
        .into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _health = health;
        Server::builder()
            .accept_http1(true)
            .timeout(Duration::from_secs(10))
            .layer(
                readme_server_layers()
                    // The test's own, so the client sees a refusal's reason.
                    .map_response(support::copy_reason),
            )
            .add_routes(routes)
            .serve_with_incoming(TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    let app = Arc::new(App::at(
        "the deployment guide's tonic stack",
        &handlers,
        addr,
    ));
    assert_basics(&app).await;

    let held = app.hold_one("/plivo/hold").await;
    let before = handlers.calls();
    let shed = app.genuine("/plivo/hold", &[]).await;
    assert_eq!(
        (shed.status, shed.header("grpc-status")),
        (503, None),
        "{}: an overloaded webhook is a 503 Plivo retries",
        app.label
    );
    assert_eq!(
        handlers.calls(),
        before,
        "{}: a shed request is not handled",
        app.label
    );
    app.forged_among_others("/plivo/hold")
        .await
        .assert_refused(403, "signature_mismatch");
    handlers.gate.add_permits(1);
    let held = held.await.unwrap();
    assert_eq!((held.status, held.text().as_str()), (200, "released"));
}
