//! The layer composed with the neighbours most services put around or inside it (tower-http's
//! layers, tower's limits, axum's middleware and router methods), over real TCP through axum.
//!
//! Each test takes one neighbour, puts it outside ours and then inside ours, and sends a genuine
//! Plivo request and a forged one (signed with another account's token), asserting what the user
//! should expect: accepted with the body intact, refused, or a specific status from the
//! neighbour. Every forged request is sent through `App::forged*` (tests/it/support/compose.rs),
//! which asserts that no handler ran for it: no order may let a forged request reach a handler.
//!
//! No neighbour needs an adapter: under `Router::layer` every neighbour composes with ours in
//! both orders ([`around`] takes any layer `Router::layer` takes), and in a bare
//! `ServiceBuilder` stack each sits directly on ours ([`bare_service_builder_stacks`]; CorsLayer
//! and TimeoutLayer answer `ResBody::default()`, which our `ResponseBody` implements).
//!
//! ```text
//! cargo test --all-features --test it composition::
//! ```

use crate::support;

use std::convert::Infallible;
use std::fmt;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{Route, post};
use tower::{Layer, Service, ServiceBuilder};
use tower_plivo::{PlivoSignatureLayer, PlivoVerified};

use support::compose::{App, BODY, FORGER, Handlers, ORIGIN, TOKEN, layers_between, plivo};
use support::raw::{self, Step};
use support::{FORM, fresh_nonce, send};

/// Which side of ours the neighbour is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// The neighbour sees the request first (`.layer(plivo).layer(neighbour)`).
    Outside,
    /// Ours sees the request first (`.layer(neighbour).layer(plivo)`).
    Inside,
}

const SIDES: [Side; 2] = [Side::Outside, Side::Inside];

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Outside => "neighbour outside ours",
            Side::Inside => "neighbour inside ours",
        })
    }
}

/// Puts `plivo` and `neighbour` on `app` with `Router::layer`, the neighbour on `side`. The
/// bounds are exactly `Router::layer`'s: any neighbour axum takes composes with ours, with no
/// adapter, in both orders.
fn around<L>(side: Side, app: Router, plivo: PlivoSignatureLayer, neighbour: L) -> Router
where
    L: Layer<Route> + Clone + Send + Sync + 'static,
    L::Service: Service<Request> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request>>::Response: IntoResponse + 'static,
    <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
    <L::Service as Service<Request>>::Future: Send + 'static,
{
    match side {
        Side::Outside => app.layer(plivo).layer(neighbour),
        Side::Inside => app.layer(neighbour).layer(plivo),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .unwrap();
    out
}

/// The raw head of a POST to `target` signed with `token` over `signed`, declaring `framing`
/// (a `content-length` or `transfer-encoding` line).
fn raw_signed_head(token: &str, target: &str, signed: &[u8], framing: &str) -> Vec<u8> {
    let nonce = fresh_nonce();
    let signature = support::sign_v3(token, "POST", &format!("{ORIGIN}{target}"), signed, &nonce);
    format!(
        "POST {target} HTTP/1.1\r\nhost: hooks.example.com\r\nx-plivo-signature-v3: {signature}\r\n\
         x-plivo-signature-v3-nonce: {nonce}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         {framing}\r\nconnection: close\r\n\r\n"
    )
    .into_bytes()
}

// ---- tower-http ----

/// TraceLayer on either side: transparent to both verdicts. Outside, our `plivo_webhook` span
/// is inside TraceLayer's `request` span, so the user's request logs carry our verdict. Inside,
/// TraceLayer's span is inside ours (ours calls the inner service in its span), and a forged
/// request never reaches TraceLayer at all.
#[tokio::test]
async fn trace_layer() {
    use tower_http::trace::TraceLayer;
    let captured = support::logs::Captured::default();
    let _guard = captured.install_with("tower_plivo=debug,tower_http=debug");
    for side in SIDES {
        captured.0.lock().unwrap().clear();
        let handlers = Handlers::new();
        let stack = around(
            side,
            handlers.routes(),
            plivo().build().unwrap(),
            TraceLayer::new_for_http(),
        );
        let app = App::serve(format!("TraceLayer, {side}"), &handlers, stack).await;
        app.assert_genuine_accepted(&[]).await;
        app.assert_forged_refused(&[]).await;
        let text = captured.text();
        let line = |needle: &str| {
            text.lines()
                .find(|line| line.contains(needle))
                .unwrap_or_else(|| panic!("{}: no line with {needle:?} in:\n{text}", app.label))
        };
        // Where each span starts in a line (the formatter prints the spans outermost first).
        let at = |line: &str, span: &str| {
            line.find(span)
                .unwrap_or_else(|| panic!("{}: no span {span} in:\n{line}", app.label))
        };
        match side {
            Side::Outside => {
                let refused = line("Plivo request rejected");
                assert!(
                    at(refused, "request{") < at(refused, "plivo_webhook{"),
                    "{}: our span must be nested in TraceLayer's:\n{refused}",
                    app.label
                );
            }
            Side::Inside => {
                let started = line("started processing request");
                assert!(
                    at(started, "plivo_webhook{") < at(started, "request{"),
                    "{}: TraceLayer's span must be nested in ours:\n{started}",
                    app.label
                );
                assert_eq!(
                    text.matches("started processing request").count(),
                    1,
                    "{}: only the genuine request reaches TraceLayer:\n{text}",
                    app.label
                );
            }
        }
    }
}

/// SetRequestId + PropagateRequestId. Outside ours: the refusal carries the request id (the
/// user can correlate it), and the handler sees the id. Inside ours: a refusal is answered
/// before the id layers run, so it has none; a genuine request still has one end to end.
#[tokio::test]
async fn request_id_layers() {
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    for side in SIDES {
        let handlers = Handlers::new();
        let ids = ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(PropagateRequestIdLayer::x_request_id());
        let stack = around(side, handlers.routes(), plivo().build().unwrap(), ids);
        let app = App::serve(format!("Set/PropagateRequestId, {side}"), &handlers, stack).await;

        let reply = app.assert_genuine_accepted(&[]).await;
        let id = reply.header("x-request-id");
        assert!(
            id.as_ref().is_some_and(|id| id.len() == 36),
            "{}: {id:?}",
            app.label
        );
        assert_eq!(
            reply.header("x-seen-request-id"),
            id,
            "{}: the handler sees the id",
            app.label
        );
        // A client's own id is kept, not replaced.
        let reply = app
            .assert_genuine_accepted(&[("x-request-id", "client-id-1")])
            .await;
        assert_eq!(
            reply.header("x-seen-request-id").as_deref(),
            Some("client-id-1")
        );

        let refused = app.assert_forged_refused(&[]).await;
        let refused_with_id = app
            .assert_forged_refused(&[("x-request-id", "client-id-2")])
            .await;
        match side {
            Side::Outside => {
                assert!(
                    refused
                        .header("x-request-id")
                        .is_some_and(|id| id.len() == 36),
                    "{}: the refusal carries the generated id",
                    app.label
                );
                assert_eq!(
                    refused_with_id.header("x-request-id").as_deref(),
                    Some("client-id-2"),
                    "{}: the refusal carries the client's id",
                    app.label
                );
            }
            Side::Inside => {
                assert_eq!(
                    (
                        refused.header("x-request-id"),
                        refused_with_id.header("x-request-id")
                    ),
                    (None, None),
                    "{}: ours answers before the id layers run",
                    app.label
                );
            }
        }
    }
}

/// CompressionLayer: a genuine request's answer is gzipped on either side (ours passes the
/// neighbour's body through, and compresses nothing itself). Outside ours, our refusal goes
/// through the compressor too: under the default predicate it is too small (10 bytes) to be
/// compressed; with a predicate that compresses everything it is, and decodes to our body.
#[tokio::test]
async fn compression_layer() {
    use tower_http::compression::CompressionLayer;
    use tower_http::compression::predicate::SizeAbove;
    let gzip_please = [("accept-encoding", "gzip")];
    for side in SIDES {
        let handlers = Handlers::new();
        let stack = around(
            side,
            handlers.routes(),
            plivo().build().unwrap(),
            CompressionLayer::new(),
        );
        let app = App::serve(format!("CompressionLayer, {side}"), &handlers, stack).await;
        let before = handlers.calls();
        let reply = app.genuine("/answer", &gzip_please).await;
        assert_eq!(
            (reply.status, reply.header("content-encoding").as_deref()),
            (200, Some("gzip")),
            "{}",
            app.label
        );
        assert_eq!(
            gunzip(&reply.body),
            BODY,
            "{}: the answer decodes to the echo",
            app.label
        );
        assert_eq!(handlers.calls(), before + 1);
        // Without Accept-Encoding the answer is plain.
        app.assert_genuine_accepted(&[]).await;
        let refused = app.assert_forged_refused(&gzip_please).await;
        assert_eq!(
            (refused.header("content-encoding"), refused.text().as_str()),
            (None, "forbidden\n"),
            "{}: the default predicate leaves a 10-byte refusal alone",
            app.label
        );

        let handlers = Handlers::new();
        let always = CompressionLayer::new().compress_when(SizeAbove::new(0));
        let stack = around(side, handlers.routes(), plivo().build().unwrap(), always);
        let app = App::serve(
            format!("CompressionLayer(SizeAbove(0)), {side}"),
            &handlers,
            stack,
        )
        .await;
        let refused = app.assert_forged_refused(&gzip_please).await;
        match side {
            Side::Outside => {
                assert_eq!(
                    refused.header("content-encoding").as_deref(),
                    Some("gzip"),
                    "{}",
                    app.label
                );
                assert_eq!(gunzip(&refused.body), "forbidden\n", "{}", app.label);
            }
            // Ours answered before the compressor ran.
            Side::Inside => assert_eq!(refused.text(), "forbidden\n", "{}", app.label),
        }
    }
}

/// RequestDecompressionLayer outside ours: Plivo signs the decoded form, the neighbour
/// decodes it (and drops `Content-Encoding` and `Content-Length`) before ours verifies, so a
/// gzipped genuine request is accepted with the decoded body at the handler. An uncompressed
/// one passes on either side; a forged one, compressed or not, is refused on either side.
/// (Compressed bytes reaching ours, the neighbour inside: see
/// [`request_decompression_inside_ours_refuses_compressed_bodies`].)
#[tokio::test]
async fn request_decompression_layer() {
    use tower_http::decompression::RequestDecompressionLayer;
    let gzipped = gzip(BODY.as_bytes());
    let encoding = [("content-encoding", "gzip")];
    for side in SIDES {
        let handlers = Handlers::new();
        let stack = around(
            side,
            handlers.routes(),
            plivo().build().unwrap(),
            RequestDecompressionLayer::new(),
        );
        let app = App::serve(
            format!("RequestDecompressionLayer, {side}"),
            &handlers,
            stack,
        )
        .await;
        app.assert_genuine_accepted(&[]).await;
        app.assert_forged_refused(&[]).await;
        let forged = app
            .forged_with(app.post(
                FORGER,
                "/answer",
                BODY.as_bytes(),
                gzipped.clone(),
                &encoding,
            ))
            .await;
        assert_eq!(forged.status, 403, "{}: a compressed forgery", app.label);
        if side == Side::Outside {
            let before = handlers.calls();
            let reply = app
                .post(
                    TOKEN,
                    "/answer",
                    BODY.as_bytes(),
                    gzipped.clone(),
                    &encoding,
                )
                .await;
            app.assert_accepted(&reply, before);
        }
    }
}

/// RequestBodyLimitLayer outside ours: a declared length over its limit is its 413 (ours never
/// runs); under it, accepted. Inside ours: ours reads first, so a body over our own
/// `body_limit` is our 413, one under ours but over the neighbour's is the neighbour's 413
/// (it reads the `Content-Length` ours passes on). A forged request never reaches the handler.
/// (A chunked body over the neighbour's limit, outside ours: see
/// [`request_body_limit_outside_ours_chunked_is_413`].)
#[tokio::test]
async fn request_body_limit_layer() {
    use tower_http::limit::RequestBodyLimitLayer;
    // Under the neighbour's limit: BODY (77 bytes). Over it: 120 bytes. Over ours: 300 bytes.
    let limit = 100;
    let over_neighbour = format!("k={}", "v".repeat(118));
    let over_ours = format!("k={}", "v".repeat(298));
    for side in SIDES {
        let handlers = Handlers::new();
        let stack = around(
            side,
            handlers.routes(),
            plivo().body_limit(200).build().unwrap(),
            RequestBodyLimitLayer::new(limit),
        );
        let app = App::serve(
            format!("RequestBodyLimitLayer({limit}), {side}"),
            &handlers,
            stack,
        )
        .await;
        app.assert_genuine_accepted(&[]).await;
        app.assert_forged_refused(&[]).await;

        let before = handlers.calls();
        let over = app
            .post(
                TOKEN,
                "/answer",
                over_neighbour.as_bytes(),
                over_neighbour.clone().into(),
                &[],
            )
            .await;
        app.assert_from_neighbour(&over, 413, "over the neighbour's limit");
        let way_over = app
            .post(
                TOKEN,
                "/answer",
                over_ours.as_bytes(),
                over_ours.clone().into(),
                &[],
            )
            .await;
        match side {
            Side::Outside => app.assert_from_neighbour(&way_over, 413, "over both limits"),
            Side::Inside => way_over.assert_refused(413, "body_too_large"),
        }
        assert_eq!(
            handlers.calls(),
            before,
            "{}: nothing over a limit is handled",
            app.label
        );

        let forged = app
            .forged_with(app.post(
                FORGER,
                "/answer",
                over_neighbour.as_bytes(),
                over_neighbour.clone().into(),
                &[],
            ))
            .await;
        match side {
            Side::Outside => app.assert_from_neighbour(&forged, 413, "a forgery over its limit"),
            Side::Inside => forged.assert_refused(403, "signature_mismatch"),
        }
    }
}

/// tower-http's TimeoutLayer (408). A fast genuine request passes on either side; a slow
/// handler is the neighbour's 408 on either side; a forged request is refused before the
/// handler. A body trickling in past the timeout: the neighbour outside ours times out ours
/// reading it (its 408); inside ours the neighbour never sees the read, and ours answers with
/// its own `body_timeout` (408 `body_timeout`).
#[tokio::test]
async fn timeout_layer() {
    use tower_http::timeout::TimeoutLayer;
    let short = Duration::from_millis(300);
    for side in SIDES {
        let handlers = Handlers::new();
        // Ours reads for 10 s (the default) when the neighbour's short timeout is outside, and
        // 300 ms when the neighbour (with 10 s) is inside: the short one is the one to hit.
        let (neighbour, ours) = match side {
            Side::Outside => (short, Duration::from_secs(10)),
            Side::Inside => (Duration::from_secs(10), short),
        };
        let timeout = TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, neighbour);
        let stack = around(
            side,
            handlers.routes(),
            plivo().body_timeout(ours).build().unwrap(),
            timeout,
        );
        let app = App::serve(format!("TimeoutLayer, {side}"), &handlers, stack).await;
        app.assert_genuine_accepted(&[]).await;
        app.assert_forged_refused(&[]).await;
        let forged = app.forged("/slow", &[]).await;
        forged.assert_refused(403, "signature_mismatch");

        if side == Side::Outside {
            app.assert_slow_handler_timed_out("/slow").await;
        }

        // 100 bytes declared, 10 sent, then silence.
        let body = format!("k={}", "v".repeat(98));
        let head = raw_signed_head(TOKEN, "/answer", body.as_bytes(), "content-length: 100");
        let started = Instant::now();
        let reply = raw::exchange(
            app.addr,
            vec![
                Step::Write(head),
                Step::Write(body.as_bytes()[..10].to_vec()),
            ],
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(3), "{}", app.label);
        assert_eq!(
            reply.status, 408,
            "{}: a trickling body ({})",
            app.label, reply.head
        );
        let expected_reason = match side {
            Side::Outside => None,
            Side::Inside => Some("body_timeout"),
        };
        assert_eq!(reply.reason().as_deref(), expected_reason, "{}", app.label);
    }
}

/// The slow handler, the neighbour inside ours: ours passes the neighbour's 408 on.
#[tokio::test]
async fn timeout_layer_inside_ours_times_out_a_slow_handler() {
    use tower_http::timeout::TimeoutLayer;
    let handlers = Handlers::new();
    let timeout =
        TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_millis(300));
    let stack = around(
        Side::Inside,
        handlers.routes(),
        plivo().build().unwrap(),
        timeout,
    );
    let app = App::serve("TimeoutLayer, neighbour inside ours", &handlers, stack).await;
    let started = Instant::now();
    let slow = app.genuine("/slow", &[]).await;
    app.assert_from_neighbour(&slow, 408, "a slow handler");
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(handlers.calls(), 1);
}

/// NormalizePathLayer must wrap the Router to change routing, so these are bare stacks. A
/// genuine request Plivo signed for `/answer/`:
/// - the normaliser outside ours, served bare (`axum::serve` of the stack): ours verifies the
///   rewritten `/answer`, which Plivo did not sign: 403 `signature_mismatch`;
/// - the normaliser outside ours, served as `Router::new().fallback_service(stack)`: the outer
///   Router records `OriginalUri` (`/answer/`) before the normaliser runs, and ours verifies
///   the original URL: accepted;
/// - ours outside the normaliser: ours verifies `/answer/`, the router then routes `/answer`:
///   accepted.
///
/// A forged request is refused in every arrangement.
#[tokio::test]
async fn normalize_path_layer() {
    use tower_http::normalize_path::NormalizePathLayer;
    let slash = "/answer/";

    let handlers = Handlers::new();
    let stack = ServiceBuilder::new()
        .layer(NormalizePathLayer::trim_trailing_slash())
        .layer(plivo().build().unwrap())
        .service(handlers.routes());
    let app = App::serve_service("NormalizePath outside ours, served bare", &handlers, stack).await;
    app.genuine(slash, &[])
        .await
        .assert_refused(403, "signature_mismatch");
    app.forged(slash, &[])
        .await
        .assert_refused(403, "signature_mismatch");
    app.assert_genuine_accepted(&[]).await;

    let handlers = Handlers::new();
    let stack = ServiceBuilder::new()
        .layer(NormalizePathLayer::trim_trailing_slash())
        .layer(plivo().build().unwrap())
        .service(handlers.routes());
    let app = App::serve(
        "NormalizePath outside ours, in Router::fallback_service",
        &handlers,
        Router::new().fallback_service(stack),
    )
    .await;
    let before = handlers.calls();
    let reply = app.genuine(slash, &[]).await;
    app.assert_accepted(&reply, before);
    app.forged(slash, &[])
        .await
        .assert_refused(403, "signature_mismatch");

    let handlers = Handlers::new();
    let stack = ServiceBuilder::new()
        .layer(plivo().build().unwrap())
        .layer(NormalizePathLayer::trim_trailing_slash())
        .service(handlers.routes());
    let app = App::serve_service("NormalizePath inside ours, served bare", &handlers, stack).await;
    let before = handlers.calls();
    let reply = app.genuine(slash, &[]).await;
    app.assert_accepted(&reply, before);
    app.forged(slash, &[])
        .await
        .assert_refused(403, "signature_mismatch");
    app.assert_genuine_accepted(&[]).await;
}

/// CatchPanicLayer on either side: a genuine request to a panicking handler is the neighbour's
/// 500 (the panic unwinds through ours when the neighbour is outside); a forged one is refused
/// before the handler, so nothing panics.
#[tokio::test]
async fn catch_panic_layer() {
    use tower_http::catch_panic::CatchPanicLayer;
    for side in SIDES {
        let handlers = Handlers::new();
        let stack = around(
            side,
            handlers.routes(),
            plivo().build().unwrap(),
            CatchPanicLayer::new(),
        );
        let app = App::serve(format!("CatchPanicLayer, {side}"), &handlers, stack).await;
        app.assert_genuine_accepted(&[]).await;
        app.assert_forged_refused(&[]).await;
        let before = handlers.calls();
        let panicked = app.genuine("/panic", &[]).await;
        app.assert_from_neighbour(&panicked, 500, "a panicking handler");
        assert_eq!(handlers.calls(), before + 1);
        app.forged("/panic", &[])
            .await
            .assert_refused(403, "signature_mismatch");
        // The server is still up.
        app.assert_genuine_accepted(&[]).await;
    }
}

/// CorsLayer. Outside ours: a preflight is answered by the neighbour without verification (it
/// carries no signature; the handler does not run), and every answer, a refusal included,
/// carries the CORS headers. Inside ours: ours refuses the preflight (an OPTIONS request is
/// not Plivo's), and a refusal has no CORS headers.
#[tokio::test]
async fn cors_layer() {
    use tower_http::cors::{Any, CorsLayer};
    let origin = [("origin", "https://app.example")];
    for side in SIDES {
        let handlers = Handlers::new();
        let cors = CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::POST])
            .allow_headers(Any);
        let stack = around(side, handlers.routes(), plivo().build().unwrap(), cors);
        let app = App::serve(format!("CorsLayer, {side}"), &handlers, stack).await;
        let reply = app.assert_genuine_accepted(&origin).await;
        assert_eq!(
            reply.header("access-control-allow-origin").as_deref(),
            Some("*"),
            "{}: a genuine answer has the CORS headers",
            app.label
        );
        let refused = app.assert_forged_refused(&origin).await;

        let preflight = app
            .forged_with(send(
                app.addr,
                "OPTIONS",
                "/answer",
                &[
                    origin[0],
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "x-plivo-signature-v3"),
                ],
                "",
            ))
            .await;
        match side {
            Side::Outside => {
                app.assert_from_neighbour(&preflight, 200, "the preflight is the neighbour's");
                assert_eq!(
                    preflight.header("access-control-allow-origin").as_deref(),
                    Some("*")
                );
                assert_eq!(
                    refused.header("access-control-allow-origin").as_deref(),
                    Some("*"),
                    "{}: the refusal has the CORS headers",
                    app.label
                );
            }
            Side::Inside => {
                preflight.assert_refused(403, "method_not_allowed");
                assert_eq!(
                    refused.header("access-control-allow-origin"),
                    None,
                    "{}",
                    app.label
                );
            }
        }
    }
}

/// Bare tower stacks (`ServiceBuilder` around a Router, served by `axum::serve`), where no
/// `Router::layer` boxes the body between layers, so each neighbour meets our `ResponseBody`
/// itself. Every one sits directly on ours with no adapter (CorsLayer and TimeoutLayer answer
/// with `ResBody::default()`: our `ResponseBody` is `Default`), and behaves as under
/// `Router::layer`.
#[tokio::test]
async fn bare_service_builder_stacks() {
    use tower_http::catch_panic::CatchPanicLayer;
    use tower_http::compression::CompressionLayer;
    use tower_http::cors::{Any, CorsLayer};
    use tower_http::decompression::RequestDecompressionLayer;
    use tower_http::limit::RequestBodyLimitLayer;
    use tower_http::timeout::TimeoutLayer;
    use tower_http::trace::TraceLayer;

    let handlers = Handlers::new();
    let stack = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(CompressionLayer::new())
        .layer(CatchPanicLayer::new())
        .layer(RequestDecompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(1024))
        .layer(plivo().build().unwrap())
        .service(handlers.routes());
    let app = App::serve_service(
        "Trace+Compression+CatchPanic+RequestDecompression+RequestBodyLimit on ours, bare",
        &handlers,
        stack,
    )
    .await;
    app.assert_genuine_accepted(&[]).await;
    app.assert_forged_refused(&[]).await;
    let reply = app.genuine("/answer", &[("accept-encoding", "gzip")]).await;
    assert_eq!(
        gunzip(&reply.body),
        BODY,
        "{}: compressed answer",
        app.label
    );
    let before = handlers.calls();
    let gzipped = app
        .post(
            TOKEN,
            "/answer",
            BODY.as_bytes(),
            gzip(BODY.as_bytes()),
            &[("content-encoding", "gzip")],
        )
        .await;
    app.assert_accepted(&gzipped, before);
    let panicked = app.genuine("/panic", &[]).await;
    app.assert_from_neighbour(&panicked, 500, "a panicking handler");
    let big = format!("k={}", "v".repeat(2000));
    let over = app
        .forged_with(app.post(TOKEN, "/answer", big.as_bytes(), big.clone().into(), &[]))
        .await;
    app.assert_from_neighbour(&over, 413, "over the neighbour's limit");

    let handlers = Handlers::new();
    let stack = ServiceBuilder::new()
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(300),
        ))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::POST]),
        )
        .layer(plivo().build().unwrap())
        .service(handlers.routes());
    let app = App::serve_service("Timeout+Cors directly on ours, bare", &handlers, stack).await;
    app.assert_genuine_accepted(&[]).await;
    app.assert_forged_refused(&[]).await;
    let preflight = app
        .forged_with(send(
            app.addr,
            "OPTIONS",
            "/answer",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "POST"),
            ],
            "",
        ))
        .await;
    app.assert_from_neighbour(&preflight, 200, "the preflight is the neighbour's");
    let slow = app.genuine("/slow", &[]).await;
    app.assert_from_neighbour(&slow, 408, "a slow handler");
}

// ---- tower ----

/// ConcurrencyLimit(1) + LoadShed. Outside ours, axum needs HandleErrorLayer outermost to turn
/// the shed error into 503 (as for any fallible tower layer). Inside ours, ours wraps LoadShed
/// directly, so our service's error is LoadShed's `BoxError` (ours propagates the inner
/// error type unchanged) and HandleErrorLayer goes outside ours. Either way: genuine 200,
/// forged 403, and with one request held in the handler, a second genuine one is the
/// neighbour's 503. A forged one while overloaded: outside, shed (503) before ours; inside,
/// ours refuses it (403) before calling the shedder. Neither reaches the handler.
#[tokio::test]
async fn concurrency_limit_and_load_shed() {
    use axum::error_handling::HandleErrorLayer;
    use tower::limit::ConcurrencyLimitLayer;
    use tower::load_shed::LoadShedLayer;
    async fn overloaded(error: tower::BoxError) -> (StatusCode, String) {
        (StatusCode::SERVICE_UNAVAILABLE, format!("shed: {error}"))
    }
    for side in SIDES {
        let handlers = Handlers::new();
        let stack = match side {
            Side::Outside => handlers.routes().layer(plivo().build().unwrap()).layer(
                ServiceBuilder::new()
                    .layer(HandleErrorLayer::new(overloaded))
                    .layer(LoadShedLayer::new())
                    .layer(ConcurrencyLimitLayer::new(1)),
            ),
            Side::Inside => handlers.routes().layer(
                ServiceBuilder::new()
                    .layer(HandleErrorLayer::new(overloaded))
                    .layer(plivo().build().unwrap())
                    .layer(LoadShedLayer::new())
                    .layer(ConcurrencyLimitLayer::new(1)),
            ),
        };
        let app = Arc::new(
            App::serve(
                format!("ConcurrencyLimit+LoadShed, {side}"),
                &handlers,
                stack,
            )
            .await,
        );
        app.assert_genuine_accepted(&[]).await;
        app.assert_forged_refused(&[]).await;

        let held = app.hold_one("/hold").await;
        let before = handlers.calls();
        // `ConcurrencyLimitLayer` under `Router::layer` limits each route on its own (axum calls
        // `layer` once per route, and each call makes a semaphore), so the overload is on the
        // held route.
        let shed = app.genuine("/hold", &[]).await;
        app.assert_from_neighbour(&shed, 503, "overloaded");
        assert!(shed.text().starts_with("shed: "), "{}", app.label);
        assert_eq!(
            handlers.calls(),
            before,
            "{}: a shed request is not handled",
            app.label
        );
        let forged = app.forged("/hold", &[]).await;
        match side {
            Side::Outside => app.assert_from_neighbour(&forged, 503, "a forgery while overloaded"),
            Side::Inside => forged.assert_refused(403, "signature_mismatch"),
        }
        handlers.gate.add_permits(1);
        let held = held.await.unwrap();
        assert_eq!(
            (held.status, held.text().as_str()),
            (200, "released"),
            "{}",
            app.label
        );
        app.assert_genuine_accepted(&[]).await;
    }
}

/// ConcurrencyLimit(1) alone (requests wait instead of being shed), on either side, with one
/// request held in the handler. Outside ours, a forged request waits for the permit like any
/// other, then is refused. Inside ours (under `Router::layer`), it does not wait: axum's `Route`
/// is always ready and polls the wrapped service's readiness only when called, which ours does
/// only once a request verified, so a forged one is refused at once and only genuine requests
/// queue for the permit. Either way the genuine one waits, then is accepted. (The limit is per
/// route: see [`concurrency_limit_and_load_shed`].)
#[tokio::test]
async fn concurrency_limit_alone_makes_requests_wait() {
    use tower::limit::ConcurrencyLimitLayer;
    for side in SIDES {
        let handlers = Handlers::new();
        let stack = around(
            side,
            handlers.routes(),
            plivo().build().unwrap(),
            ConcurrencyLimitLayer::new(1),
        );
        let app = Arc::new(App::serve(format!("ConcurrencyLimit, {side}"), &handlers, stack).await);
        let held = app.hold_one("/hold").await;
        let forged = tokio::spawn({
            let app = app.clone();
            async move { app.forged_among_others("/hold").await }
        });
        let genuine = tokio::spawn({
            let app = app.clone();
            async move { app.genuine("/hold", &[]).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !genuine.is_finished(),
            "{}: the genuine request waits",
            app.label
        );
        let mut forged = forged;
        match side {
            // Refused while the permit is still held.
            Side::Inside => tokio::time::timeout(Duration::from_secs(5), &mut forged)
                .await
                .unwrap_or_else(|_| panic!("{}: the forged request waited", app.label))
                .unwrap()
                .assert_refused(403, "signature_mismatch"),
            Side::Outside => {
                assert!(
                    !forged.is_finished(),
                    "{}: the forged request waits",
                    app.label
                )
            }
        }
        assert_eq!(handlers.calls(), 1, "{}", app.label);
        // One permit for the held request, one for the genuine one that follows (a forged
        // request takes none from the gate: it never reaches the handler).
        handlers.gate.add_permits(2);
        if side == Side::Outside {
            forged
                .await
                .unwrap()
                .assert_refused(403, "signature_mismatch");
        }
        for reply in [held.await.unwrap(), genuine.await.unwrap()] {
            assert_eq!(
                (reply.status, reply.text().as_str()),
                (200, "released"),
                "{}",
                app.label
            );
        }
        assert_eq!(
            handlers.calls(),
            2,
            "{}: the held and the genuine one",
            app.label
        );
    }
}

// ---- axum ----

/// `middleware::from_fn` outside and inside ours at once. The inner one runs only for a
/// verified request and sees `PlivoVerified`; the outer one sees the refusal's `Rejection` in
/// the response extensions. A forged request never reaches the inner middleware's
/// `next.run`, let alone the handler.
#[tokio::test]
async fn from_fn_outside_and_inside() {
    use axum::middleware::{Next, from_fn};
    use tower_plivo::Rejection;
    #[derive(Clone, Default)]
    struct Seen {
        inner_runs: Arc<AtomicUsize>,
        inner_saw_verified: Arc<AtomicUsize>,
        outer_rejections: Arc<Mutex<Vec<Rejection>>>,
    }
    let seen = Seen::default();
    let inner = {
        let seen = seen.clone();
        from_fn(move |request: Request, next: Next| {
            let seen = seen.clone();
            async move {
                seen.inner_runs.fetch_add(1, Ordering::SeqCst);
                if request.extensions().get::<PlivoVerified>().is_some() {
                    seen.inner_saw_verified.fetch_add(1, Ordering::SeqCst);
                }
                next.run(request).await
            }
        })
    };
    let outer = {
        let seen = seen.clone();
        from_fn(move |request: Request, next: Next| {
            let seen = seen.clone();
            async move {
                let response = next.run(request).await;
                if let Some(rejection) = response.extensions().get::<Rejection>() {
                    seen.outer_rejections.lock().unwrap().push(*rejection);
                }
                response
            }
        })
    };
    let handlers = Handlers::new();
    let stack = handlers
        .routes()
        .layer(inner)
        .layer(plivo().build().unwrap())
        .layer(outer);
    let app = App::serve("from_fn outside and inside ours", &handlers, stack).await;
    app.assert_genuine_accepted(&[]).await;
    assert_eq!(
        (
            seen.inner_runs.load(Ordering::SeqCst),
            seen.inner_saw_verified.load(Ordering::SeqCst)
        ),
        (1, 1),
        "the inner middleware saw the verified request"
    );
    app.assert_forged_refused(&[]).await;
    assert_eq!(
        seen.inner_runs.load(Ordering::SeqCst),
        1,
        "a forgery never reaches the inner middleware"
    );
    assert_eq!(
        *seen.outer_rejections.lock().unwrap(),
        [Rejection::SignatureMismatch],
        "the outer middleware reads the refusal's reason"
    );
}

/// `Router::layer`: ours wraps the fallback too, so an unsigned request to an unknown path is
/// our 403 (nothing about the routes leaks to a forger), and a genuine one is verified and
/// then axum's 404.
#[tokio::test]
async fn router_layer_guards_the_fallback_too() {
    let handlers = Handlers::new();
    let app = App::serve(
        "Router::layer",
        &handlers,
        handlers.routes().layer(plivo().build().unwrap()),
    )
    .await;
    app.assert_genuine_accepted(&[]).await;
    app.assert_forged_refused(&[]).await;
    app.forged_with(send(app.addr, "POST", "/nope", &[], ""))
        .await
        .assert_refused(403, "missing_signature");
    app.forged("/nope", &[])
        .await
        .assert_refused(403, "signature_mismatch");
    let reply = app.genuine("/nope", &[]).await;
    assert_eq!(
        (reply.status, reply.reason()),
        (404, None),
        "verified, then not found"
    );
}

/// `Router::route_layer`: ours wraps only matched paths, so an unknown path is axum's 404
/// without verification. A matched path with a method it has no handler for is still guarded
/// (axum 0.8 layers the route's method fallback too): unsigned, our 403; genuine, axum's 405
/// once verified.
#[tokio::test]
async fn router_route_layer_leaves_unmatched_paths_alone() {
    let handlers = Handlers::new();
    let app = App::serve(
        "Router::route_layer",
        &handlers,
        handlers.routes().route_layer(plivo().build().unwrap()),
    )
    .await;
    app.assert_genuine_accepted(&[]).await;
    app.assert_forged_refused(&[]).await;
    let unknown = app
        .forged_with(send(app.addr, "POST", "/nope", &[], ""))
        .await;
    assert_eq!((unknown.status, unknown.reason()), (404, None));
    app.forged_with(send(app.addr, "GET", "/answer", &[], ""))
        .await
        .assert_refused(403, "missing_signature");
    let nonce = fresh_nonce();
    let signature = support::sign_v3(TOKEN, "GET", &format!("{ORIGIN}/answer"), b"", &nonce);
    let wrong_method = app
        .forged_with(send(
            app.addr,
            "GET",
            "/answer",
            &[
                ("x-plivo-signature-v3", &signature),
                ("x-plivo-signature-v3-nonce", &nonce),
            ],
            "",
        ))
        .await;
    assert_eq!((wrong_method.status, wrong_method.reason()), (405, None));
}

/// `Router::nest("/plivo", guarded)`: ours reads axum's `OriginalUri`, so a request signed for
/// the full `/plivo/answer` is accepted, one signed for the stripped `/answer` is refused, as
/// is a forged one.
#[tokio::test]
async fn router_nest_verifies_the_full_path() {
    let handlers = Handlers::new();
    let nested = Router::new().nest("/plivo", handlers.routes().layer(plivo().build().unwrap()));
    let app = App::serve("Router::nest", &handlers, nested).await;
    let before = handlers.calls();
    let reply = app.genuine("/plivo/answer", &[]).await;
    app.assert_accepted(&reply, before);
    app.forged("/plivo/answer", &[])
        .await
        .assert_refused(403, "signature_mismatch");
    // Signed for the path the nested router sees, not the one Plivo called.
    let stripped = app
        .forged_with(app.post(TOKEN, "/answer", BODY.as_bytes(), BODY.into(), &[]))
        .await;
    assert_eq!(stripped.status, 404, "sent to /answer outside the nest");
    let nonce = fresh_nonce();
    let signature = support::sign_v3(
        TOKEN,
        "POST",
        &format!("{ORIGIN}/answer"),
        BODY.as_bytes(),
        &nonce,
    );
    app.forged_with(send(
        app.addr,
        "POST",
        "/plivo/answer",
        &[
            ("x-plivo-signature-v3", &signature),
            ("x-plivo-signature-v3-nonce", &nonce),
            FORM,
        ],
        BODY,
    ))
    .await
    .assert_refused(403, "signature_mismatch");
}

/// A route added after `.layer(plivo)` is not guarded (axum layers only what is there). A
/// handler there that extracts `Extension<PlivoVerified>` fails closed: axum refuses the
/// request (500, missing extension) and the handler never runs, forged or genuine.
#[tokio::test]
async fn route_added_after_layer_fails_closed_with_the_extension_extractor() {
    use axum::Extension;
    let handlers = Handlers::new();
    let late = {
        let handlers = handlers.clone();
        post(move |Extension(_): Extension<PlivoVerified>| {
            let handlers = handlers.clone();
            async move {
                handlers.calls.fetch_add(1, Ordering::SeqCst);
                "ran"
            }
        })
    };
    let stack = handlers
        .routes()
        .layer(plivo().build().unwrap())
        .route("/late", late);
    let app = App::serve("a route after Router::layer", &handlers, stack).await;
    app.assert_genuine_accepted(&[]).await;
    let forged = app.forged("/late", &[]).await;
    assert_eq!(
        (forged.status, forged.reason()),
        (500, None),
        "{}",
        forged.text()
    );
    let unsigned = app
        .forged_with(send(app.addr, "POST", "/late", &[], ""))
        .await;
    assert_eq!(unsigned.status, 500);
    // Even genuine: ours never ran there, so there is no proof to extract.
    let genuine = app.forged_with(app.genuine("/late", &[])).await;
    assert_eq!(genuine.status, 500);
}

/// RequestDecompressionLayer inside ours: the compressed bytes reach ours, which refuses
/// any non-identity `Content-Encoding` (403 `unsupported_body`) rather than verifying the
/// compressed bytes, and its line tells the operator to move the decompressor outside.
#[tokio::test]
async fn request_decompression_inside_ours_refuses_compressed_bodies() {
    use tower_http::decompression::RequestDecompressionLayer;
    let captured = support::logs::Captured::default();
    let _guard = captured.install_with("tower_plivo=info");
    let handlers = Handlers::new();
    let stack = around(
        Side::Inside,
        handlers.routes(),
        plivo().build().unwrap(),
        RequestDecompressionLayer::new(),
    );
    let app = App::serve(
        "RequestDecompressionLayer, neighbour inside ours",
        &handlers,
        stack,
    )
    .await;
    let gzipped = gzip(BODY.as_bytes());
    let reply = app
        .forged_with(app.post(
            TOKEN,
            "/answer",
            BODY.as_bytes(),
            gzipped,
            &[("content-encoding", "gzip")],
        ))
        .await;
    reply.assert_refused(403, "unsupported_body");
    let text = captured.text();
    assert!(
        text.lines().any(|line| line.contains("reason=\"unsupported_body\"")
            && line.contains("put tower-http's RequestDecompressionLayer outside (in front of) PlivoSignatureLayer")),
        "{}: the refusal line names the fix:\n{text}",
        app.label
    );
}

/// RequestBodyLimitLayer outside ours, a chunked body (no `Content-Length`) over its
/// limit: the neighbour's limit surfaces as an error from the body ours reads, which ours
/// maps to 413 `body_too_large` (not 400 `body_read_failed`).
#[tokio::test]
async fn request_body_limit_outside_ours_chunked_is_413() {
    use tower_http::limit::RequestBodyLimitLayer;
    let handlers = Handlers::new();
    let stack = around(
        Side::Outside,
        handlers.routes(),
        plivo().build().unwrap(),
        RequestBodyLimitLayer::new(100),
    );
    let app = App::serve(
        "RequestBodyLimitLayer(100), neighbour outside ours, chunked",
        &handlers,
        stack,
    )
    .await;
    let body = format!("k={}", "v".repeat(198));
    for token in [TOKEN, FORGER] {
        let head = raw_signed_head(
            token,
            "/answer",
            body.as_bytes(),
            "transfer-encoding: chunked",
        );
        let mut request = head;
        request.extend(raw::chunk(body.as_bytes()));
        request.extend_from_slice(b"0\r\n\r\n");
        let reply = raw::send_raw(app.addr, request).await;
        assert_eq!(
            (reply.status, reply.reason().as_deref()),
            (413, Some("body_too_large")),
            "{} ({token}): {}",
            app.label,
            reply.head
        );
    }
    assert_eq!(
        handlers.calls(),
        0,
        "{}: nothing over the limit is handled",
        app.label
    );
}

/// The deployment guide's axum stack, layer for layer (the next test checks the deployment guide still lists
/// these layers in this order).
fn readme_stack(routes: Router, plivo: PlivoSignatureLayer) -> Router {
    use axum::error_handling::HandleErrorLayer;
    use tower::BoxError;
    use tower::limit::ConcurrencyLimitLayer;
    use tower::load_shed::LoadShedLayer;
    use tower_http::{
        catch_panic::CatchPanicLayer,
        compression::CompressionLayer,
        decompression::RequestDecompressionLayer,
        limit::RequestBodyLimitLayer,
        request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
        timeout::TimeoutLayer,
        trace::TraceLayer,
    };
    use tower_plivo::capture::CaptureReceivedLayer;
    routes.layer(
        ServiceBuilder::new()
            .layer(CaptureReceivedLayer::new())
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(TraceLayer::new_for_http())
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(CatchPanicLayer::new())
            .layer(CompressionLayer::new())
            .layer(RequestBodyLimitLayer::new(64 * 1024))
            .layer(RequestDecompressionLayer::new())
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_millis(500),
            ))
            .layer(plivo)
            .layer(HandleErrorLayer::new(|_: BoxError| async {
                StatusCode::SERVICE_UNAVAILABLE
            }))
            .layer(LoadShedLayer::new())
            .layer(ConcurrencyLimitLayer::new(64)),
    )
}

/// The deployment guide's typical axum stack, served: a genuine Plivo request is accepted with its body
/// intact (also gzipped by a client: decompression is in front), with a request id and a
/// compressed answer; a forged one is refused with a request id and never reaches the handler;
/// a slow handler is the timeout's 408; a body over the outer limit is its 413. The deployment guide
/// shows exactly these layers in this order.
#[tokio::test]
async fn the_readme_axum_stack() {
    const GUIDE: &str = include_str!("../../docs/guides/deployments.md");
    const THIS: &str = include_str!("composition.rs");
    let guide_app = "fn app(plivo: PlivoSignatureLayer) -> Router {";
    let in_guide = layers_between(GUIDE, guide_app, "\n}\n");
    let here = layers_between(THIS, "fn readme_stack(", "\n}\n");
    assert_eq!(
        in_guide, here,
        "the deployment guide's stack is this test's"
    );
    assert_eq!(here.len(), 13, "{here:?}");

    let handlers = Handlers::new();
    let app = App::serve(
        "the deployment guide's axum stack",
        &handlers,
        readme_stack(handlers.routes(), plivo().build().unwrap()),
    )
    .await;
    let accepted = app.assert_genuine_accepted(&[]).await;
    assert!(accepted.header("x-request-id").is_some(), "{}", app.label);
    let refused = app.assert_forged_refused(&[]).await;
    assert!(refused.header("x-request-id").is_some(), "{}", app.label);
    let before = handlers.calls();
    let gzipped = app
        .post(
            TOKEN,
            "/answer",
            BODY.as_bytes(),
            gzip(BODY.as_bytes()),
            &[("content-encoding", "gzip"), ("accept-encoding", "gzip")],
        )
        .await;
    assert_eq!(gzipped.status, 200, "{}", app.label);
    assert_eq!(gunzip(&gzipped.body), BODY, "{}", app.label);
    assert_eq!(handlers.calls(), before + 1, "{}", app.label);
    let slow = app.genuine("/slow", &[]).await;
    app.assert_from_neighbour(&slow, 408, "a slow handler");
    let big = format!("k={}", "v".repeat(70 * 1024));
    let over = app
        .forged_with(app.post(TOKEN, "/answer", big.as_bytes(), big.clone().into(), &[]))
        .await;
    app.assert_from_neighbour(&over, 413, "over the outer limit");
}
