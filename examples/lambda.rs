//! A Plivo webhook on AWS Lambda: `PlivoSignatureLayer` around an axum `Router`, served by
//! `lambda_http`, behind API Gateway (a REST API or an HTTP API), a function URL, or a custom
//! domain.
//!
//! ```text
//! cargo build --example lambda --features lambda     # the feature only builds this example
//! ```
//!
//! Run it as a function's `bootstrap` (the `provided.al2023` runtime; `cargo lambda` builds and
//! deploys such binaries), or locally against any Lambda runtime API (`cargo lambda watch`): it
//! reads its events from `AWS_LAMBDA_RUNTIME_API`, as every Lambda function does.
//!
//! | variable | meaning |
//! |---|---|
//! | `PLIVO_AUTH_TOKEN` | required: comma-separated account/sub-account tokens |
//! | `PLIVO_PUBLIC_URL` | required: the URL Plivo calls, up to the path the function receives (see below) |
//! | `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` | read by `lambda_http`: set (to anything), a REST API's stage is not put back in front of the path |
//! | `PLIVO_REPLAY_STORE` | `memory` (default: **each Lambda instance remembers only the calls it served itself**), `off`, `redis://[user:password@]host:port[/db]` (needs `--features redis`), `redis-cluster://…`, `rediss://…`, as the `server` example reads it |
//! | `PLIVO_REPLAY_TTL_SECS` | how long a nonce is remembered (default 3600) |
//! | `PLIVO_SOURCE_NETWORKS` | comma-separated CIDRs the client must be in: checked against the client address API Gateway or the function URL puts in the event (`requestContext`'s `sourceIp`), never a header |
//!
//! **Replay protection in memory protects one instance only.** Lambda runs as many instances as
//! there are calls at once and a replay may land on any of them: set `PLIVO_REPLAY_STORE` to a
//! Redis that every instance reaches (ElastiCache, in the function's VPC). The function logs a
//! warning at each cold start while it uses memory.
//!
//! Plivo signs the URL it called; the function is verified against `PLIVO_PUBLIC_URL` followed
//! by the path `lambda_http` hands it, so the public URL holds whatever part of the path did not
//! arrive:
//!
//! | front door | Plivo calls | the function receives | `PLIVO_PUBLIC_URL` |
//! |---|---|---|---|
//! | REST API, stage `prod`, `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true` | `https://{id}.execute-api.{region}.amazonaws.com/prod/answer` | `/answer` | `https://{id}.execute-api.{region}.amazonaws.com/prod` |
//! | the same, the variable unset (`lambda_http` puts the stage back) | the same | `/prod/answer` | `https://{id}.execute-api.{region}.amazonaws.com` |
//! | HTTP API, `$default` stage | `https://{id}.execute-api.{region}.amazonaws.com/answer` | `/answer` | `https://{id}.execute-api.{region}.amazonaws.com` |
//! | HTTP API, stage `prod` (the variable changes nothing) | `https://{id}.execute-api.{region}.amazonaws.com/prod/answer` | `/prod/answer` | `https://{id}.execute-api.{region}.amazonaws.com` |
//! | function URL | `https://{url-id}.lambda-url.{region}.on.aws/answer` | `/answer` | `https://{url-id}.lambda-url.{region}.on.aws` |
//! | custom domain, base path `plivo`, `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true` | `https://hooks.example.com/plivo/answer` | `/plivo/answer` (a REST API; an HTTP API's API mapping is reported both ways) | `https://hooks.example.com` (`https://hooks.example.com/plivo` when `/answer` arrives) |
//!
//! `POST|GET /answer` (also one segment down, `/prod/answer` or `/plivo/answer`, for the front
//! doors that leave a stage or a base path in the path) answers Plivo XML and logs the path it
//! received; any other verified request gets 404 naming its path, the first thing to read when
//! the routes and the front door disagree. Refusals are 403 (413, 400 …) with the reason in the
//! log line, never in the response. The deployment guide's "AWS Lambda" section says why.

#[path = "shared/demo.rs"]
mod demo;
#[path = "shared/logging.rs"]
mod logging;
#[path = "shared/replay_store.rs"]
mod replay_store;

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use tower::ServiceBuilder;
use tower_plivo::{PeerAddr, PlivoSignatureLayer, UrlPolicy};

use demo::env;

/// The answer to Plivo's call.
const ANSWER_XML: &str = "<Response><Speak>Hello from AWS Lambda</Speak></Response>";

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    let plivo = match plivo_layer() {
        Ok(layer) => layer,
        Err(error) => return demo::exit_code(Err(error)),
    };
    let app = ServiceBuilder::new()
        .map_request(platform_client_as_peer)
        .layer(plivo)
        .service(routes());
    // `lambda_http` turns each event into an `http::Request` and the answer (the layer's
    // `Response<ResponseBody<axum::body::Body>>`) into the JSON its front door expects: text for
    // `text/*` and `application/xml` bodies, base64 for any other type.
    demo::exit_code(lambda_http::run(app).await)
}

/// The layer, from the environment.
fn plivo_layer() -> Result<PlivoSignatureLayer, String> {
    let tokens = env("PLIVO_AUTH_TOKEN")
        .ok_or("PLIVO_AUTH_TOKEN: required (comma-separated auth tokens)")?;
    let public_url = env("PLIVO_PUBLIC_URL").ok_or(
        "PLIVO_PUBLIC_URL: required (the URL Plivo calls, up to the path the function receives)",
    )?;
    let policy =
        UrlPolicy::public_base(&public_url).map_err(|e| format!("PLIVO_PUBLIC_URL: {e}"))?;
    let mut builder = PlivoSignatureLayer::builder()
        .auth_tokens(list(&tokens))
        .url_policy(policy);
    if let Some(cidrs) = env("PLIVO_SOURCE_NETWORKS") {
        builder = builder.source_networks(list(&cidrs));
    }
    if env("PLIVO_REPLAY_STORE").is_none_or(|store| store == "memory") {
        tracing::warn!(
            "replay protection in memory: this Lambda instance refuses only the replays it \
             receives itself; set PLIVO_REPLAY_STORE to a Redis that every instance reaches"
        );
    }
    replay_store::with_replay_store(builder)?
        .build()
        .map_err(|e| format!("configuration: {e}"))
}

/// Lambda gives the function no TCP peer. The address of the client that called API Gateway or
/// the function URL is in the event (`requestContext.identity.sourceIp` for a REST API,
/// `requestContext.http.sourceIp` for an HTTP API and a function URL), where a client cannot
/// write it; it stands in for the peer, so `PLIVO_SOURCE_NETWORKS` has a client to check. No
/// proxy is trusted, so no forwarding header is ever believed from it.
fn platform_client_as_peer(mut request: Request) -> Request {
    let source_ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.identity.source_ip.as_deref(),
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.as_deref(),
        _ => None,
    };
    if let Some(ip) = source_ip.and_then(|ip| ip.parse::<IpAddr>().ok()) {
        request
            .extensions_mut()
            .insert(PeerAddr(SocketAddr::new(ip, 0)));
    }
    request
}

/// The function's routes, behind the layer.
fn routes() -> Router {
    let answer = get(answer).post(answer);
    Router::new()
        .route("/answer", answer.clone())
        // An HTTP API's named stage, a REST API's stage put back by `lambda_http`, or a custom
        // domain's base path: one segment in front.
        .route("/{prefix}/answer", answer)
        .fallback(no_route)
}

async fn answer(uri: Uri) -> impl IntoResponse {
    tracing::info!(path = uri.path(), "answered Plivo's call");
    ([(CONTENT_TYPE, "application/xml")], ANSWER_XML)
}

async fn no_route(uri: Uri) -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        format!("no route for {}\n", uri.path()),
    )
}

/// The non-empty pieces of a comma list.
fn list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
}
