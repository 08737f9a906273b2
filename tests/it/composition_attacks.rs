//! Attacks on what composing with other layers added (the capture, the identity-encoding rule,
//! body errors, the metrics labels): each test is one attack by a client holding one genuine
//! captured Plivo request (signed with TOKEN) or only another account's token (FORGER). A
//! passing test means the attack fails.
//!
//! ```text
//! cargo test --all-features --test it composition_attacks::
//! ```

use crate::support;

use std::io::Write;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tower::ServiceBuilder;
use tower_plivo::PlivoVerified;
use tower_plivo::capture::{CaptureReceivedLayer, ReceivedRequestLine};

use support::compose::{App, BODY, FORGER, Handlers, ORIGIN, TOKEN, plivo};
use support::raw;
use support::{FORM, fresh_nonce, send, sign_v3};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Attack: the layer verifies the bytes it reads, a decompressor inside it hands the handler
/// other bytes. The strongest version: a signature over the *compressed* bytes themselves
/// (as if Plivo had signed them), in every spelling of `Content-Encoding` a client can send,
/// with tower-http's RequestDecompressionLayer inside ours. None may reach the handler: the
/// handler would see BODY, which no signature covered.
#[tokio::test]
async fn no_spelling_of_content_encoding_reaches_a_decompressor_inside() {
    use tower_http::decompression::RequestDecompressionLayer;
    let handlers = Handlers::new();
    let stack = handlers
        .routes()
        .layer(RequestDecompressionLayer::new().pass_through_unaccepted(true))
        .layer(plivo().build().unwrap());
    let app = App::serve("decompression inside ours", &handlers, stack).await;
    let gzipped = gzip(BODY.as_bytes());
    let spellings: &[&[&str]] = &[
        &["gzip"],
        &["GZIP"],
        &[" gzip"],
        &["gzip "],
        &["\tgzip\t"],
        &[",gzip"],
        &["gzip,"],
        &["identity,gzip"],
        &["identity, ,gzip"],
        &["identity", "gzip"],
        &["", "gzip"],
        &["gzip", "identity"],
        &["x-gzip"],
        &["deflate"],
        &["br"],
        &["zstd"],
        &["gzip;q=1"],
    ];
    for spelling in spellings {
        let extra: Vec<(&str, &str)> = spelling.iter().map(|v| ("content-encoding", *v)).collect();
        let reply = app
            .forged_with(app.post(TOKEN, "/answer", &gzipped, gzipped.clone(), &extra))
            .await;
        assert_eq!(
            (reply.status, reply.reason().as_deref()),
            (403, Some("unsupported_body")),
            "{spelling:?}"
        );
    }
    // The codings that pass ours are the ones nothing decodes: the handler gets exactly the
    // bytes verified (or the neighbour refuses, never decodes).
    for spelling in [
        &["identity"][..],
        &["IDENTITY"],
        &[""],
        &[" , "],
        &["identity, identity"],
    ] {
        let extra: Vec<(&str, &str)> = spelling.iter().map(|v| ("content-encoding", *v)).collect();
        let before = handlers.calls();
        let reply = app.genuine("/answer", &extra).await;
        app.assert_accepted(&reply, before);
    }
}

/// Attack: `Transfer-Encoding: gzip, chunked` (hyper de-chunks, and decodes nothing else),
/// signed over the gzip bytes, with a decompressor inside ours: refused (`unsupported_body`)
/// before any handler, so no layer is left to decode bytes the signature did not cover.
#[tokio::test]
async fn transfer_encoding_gzip_is_not_decoded_behind_the_layer() {
    use tower_http::decompression::RequestDecompressionLayer;
    let handlers = Handlers::new();
    let stack = handlers
        .routes()
        .layer(RequestDecompressionLayer::new())
        .layer(plivo().build().unwrap());
    let app = App::serve("decompression inside ours, TE gzip", &handlers, stack).await;
    let gzipped = gzip(BODY.as_bytes());
    let nonce = fresh_nonce();
    let signature = sign_v3(TOKEN, "POST", &format!("{ORIGIN}/answer"), &gzipped, &nonce);
    let mut request = format!(
        "POST /answer HTTP/1.1\r\nhost: hooks.example.com\r\nx-plivo-signature-v3: {signature}\r\n\
         x-plivo-signature-v3-nonce: {nonce}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         transfer-encoding: gzip, chunked\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    request.extend(raw::chunk(&gzipped));
    request.extend_from_slice(b"0\r\n\r\n");
    let reply = raw::send_raw(app.addr, request).await;
    assert_eq!(
        (reply.status, reply.reason().as_deref()),
        (403, Some("unsupported_body")),
        "a transfer coding besides chunked is refused: {}",
        reply.head
    );
    assert_eq!(handlers.calls(), 0, "no handler ran");
}

/// The handler of the capture tests: echoes the captured request line and whether verified.
async fn line_echo(request: Request) -> Response {
    let verified = request.extensions().get::<PlivoVerified>().is_some();
    let line = request
        .extensions()
        .get::<ReceivedRequestLine>()
        .map(|line| line.uri().to_string())
        .unwrap_or_default();
    ([("x-verified", if verified { "yes" } else { "no" })], line).into_response()
}

/// Attack: spoof the captured request line with the headers rewriting proxies use, and a
/// forged request through a rewriting layer in front. The capture reads no header, and a
/// forgery through NormalizePath is refused whatever the capture says.
#[tokio::test]
async fn the_capture_reads_no_header_and_never_decides() {
    use tower_http::normalize_path::NormalizePathLayer;
    let stack = ServiceBuilder::new()
        .layer(CaptureReceivedLayer::new())
        .layer(NormalizePathLayer::trim_trailing_slash())
        .layer(plivo().build().unwrap())
        .service(Router::new().route("/answer", post(line_echo)));
    let addr = support::serve_service(stack).await;
    let spoof = [
        ("x-original-uri", "/evil"),
        ("x-original-url", "/evil"),
        ("x-rewrite-url", "/evil"),
        ("x-forwarded-uri", "/evil"),
        ("x-forwarded-prefix", "/evil"),
    ];
    // Genuine for /answer, sent to /answer//: normalised, verified, the line as sent.
    let nonce = fresh_nonce();
    let signature = sign_v3(
        TOKEN,
        "POST",
        &format!("{ORIGIN}/answer"),
        BODY.as_bytes(),
        &nonce,
    );
    let mut headers = vec![
        ("x-plivo-signature-v3", signature.as_str()),
        ("x-plivo-signature-v3-nonce", nonce.as_str()),
        FORM,
    ];
    headers.extend_from_slice(&spoof);
    let reply = send(addr, "POST", "/answer//", &headers, BODY).await;
    assert_eq!(
        (
            reply.status,
            reply.header("x-verified").as_deref(),
            reply.text().as_str()
        ),
        (200, Some("yes"), "/answer//")
    );
    // Forged, for the path as sent and for the path as normalised.
    for signed in ["/answer//", "/answer"] {
        let nonce = fresh_nonce();
        let signature = sign_v3(
            FORGER,
            "POST",
            &format!("{ORIGIN}{signed}"),
            BODY.as_bytes(),
            &nonce,
        );
        let mut headers = vec![
            ("x-plivo-signature-v3", signature.as_str()),
            ("x-plivo-signature-v3-nonce", nonce.as_str()),
            FORM,
        ];
        headers.extend_from_slice(&spoof);
        let reply = send(addr, "POST", "/answer//", &headers, BODY).await;
        assert_eq!(reply.status, 403, "forged over {signed}: {}", reply.text());
    }
}

/// Attack: a body that fails mid-stream (a bad chunk) with no limit layer anywhere: 400
/// `body_read_failed`, never 413, never the handler, never a 500 or a hang.
#[tokio::test]
async fn a_broken_chunked_body_is_400_and_never_handled() {
    let handlers = Handlers::new();
    let stack = handlers.routes().layer(plivo().build().unwrap());
    let app = App::serve("bare router", &handlers, stack).await;
    let nonce = fresh_nonce();
    let signature = sign_v3(
        TOKEN,
        "POST",
        &format!("{ORIGIN}/answer"),
        BODY.as_bytes(),
        &nonce,
    );
    let mut request = format!(
        "POST /answer HTTP/1.1\r\nhost: hooks.example.com\r\nx-plivo-signature-v3: {signature}\r\n\
         x-plivo-signature-v3-nonce: {nonce}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    request.extend(raw::chunk(&BODY.as_bytes()[..10]));
    request.extend_from_slice(b"zz\r\nnot a chunk\r\n0\r\n\r\n");
    let reply = raw::send_raw(app.addr, request).await;
    assert_eq!(
        (reply.status, reply.reason().as_deref()),
        (400, Some("body_read_failed")),
        "{}",
        reply.head
    );
    assert_eq!(handlers.calls(), 0);
}

/// Attack: metric cardinality from attacker input (methods, paths, hosts, nonces, header
/// values, versions). Every series must carry only the fixed label values.
#[cfg(feature = "metrics")]
#[tokio::test]
async fn metric_labels_stay_fixed_whatever_is_sent() {
    use metrics_exporter_prometheus::PrometheusBuilder;
    // This thread's recorder, not the process's: the server and the client share the thread
    // (the current-thread runtime of `tokio::test`), and the tests beside this one in the `it`
    // binary report nothing into it.
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _recorder = metrics::set_default_local_recorder(&recorder);
    let handlers = Handlers::new();
    let stack = handlers
        .routes()
        .layer(plivo().accept_v2(true).build().unwrap());
    let app = App::serve("metrics", &handlers, stack).await;
    app.genuine("/answer", &[]).await;
    for i in 0..20 {
        let target = format!("/answer?label{i}=v{i}");
        let host = format!("h{i}.example");
        let nonce = format!("{i}.{i}");
        let _ = app.forged(&target, &[("host", &host)]).await;
        let _ = send(
            app.addr,
            "POST",
            &target,
            &[
                ("x-plivo-signature-v3", "x"),
                ("x-plivo-signature-v3-nonce", &nonce),
            ],
            "",
        )
        .await;
        let _ = send(
            app.addr,
            "POST",
            &target,
            &[
                ("x-plivo-signature-v2", "x"),
                ("x-plivo-signature-v2-nonce", &nonce),
            ],
            "",
        )
        .await;
        let _ = send(app.addr, &format!("M{i}"), &target, &[], "").await;
    }
    let rendered = handle.render();
    for series in [
        "reason=\"signature_mismatch\"",
        "reason=\"method_not_allowed\"",
        "reason=\"invalid_nonce\"",
        "verdict=\"accepted\"",
    ] {
        assert!(
            rendered.contains(series),
            "not vacuous: {series} in\n{rendered}"
        );
    }
    let reasons: Vec<&str> = tower_plivo_codes();
    for line in rendered
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let labels = line
            .split_once('{')
            .and_then(|(_, rest)| rest.split_once('}'))
            .map_or("", |(labels, _)| labels);
        for label in labels.split(',').filter(|l| !l.is_empty()) {
            let (key, value) = label.split_once('=').unwrap();
            let value = value.trim_matches('"');
            let fixed = match key {
                "verdict" => ["accepted", "rejected", "reported"].contains(&value),
                "reason" => value == "none" || reasons.contains(&value),
                "version" => ["v3", "v2"].contains(&value),
                "quantile" => true,
                _ => false,
            };
            assert!(fixed, "an unbounded label in {line}");
        }
    }
}

#[cfg(feature = "metrics")]
fn tower_plivo_codes() -> Vec<&'static str> {
    use tower_plivo::Rejection::*;
    [
        MethodNotAllowed,
        MissingSignature,
        MissingNonce,
        InvalidNonce,
        ConflictingHeaders,
        UnsupportedBody,
        UnsupportedUpgrade,
        SignatureMismatch,
        UnknownOrigin,
        UntrustedHost,
        BodyTooLarge,
        BodyReadFailed,
        BodyTimeout,
        Replayed,
        ReplayStoreUnavailable,
        SignatureVersionNotAccepted,
        SourceNotAllowed,
        UnknownTenant,
        TenantStoreUnavailable,
    ]
    .into_iter()
    .map(|r| r.code())
    .collect()
}
