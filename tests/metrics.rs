//! The `metrics` feature, end to end: a real Prometheus exporter installed as the `metrics`
//! recorder, an axum app like `examples/metrics.rs` over real TCP, and `/metrics` fetched over
//! HTTP and read series by series.
//!
//! The recorder is global to the test binary, so the tests take turns ([`turn`]) and assert on
//! what each one added to every series it touches.

#[path = "it/support/mod.rs"]
mod support;

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_plivo::{PlivoSignatureLayer, Rejection, UrlPolicy};

use support::{Counts, FORM, echo, fresh_nonce, send, serve, sign_v3};

const TOKEN: &str = "MAmetricsFACADEtokenmmmmmmmmmmmmmm";
const ORIGIN: &str = "https://hooks.example.com";
const BODY: &str = "CallUUID=1";

const ACCEPTED: &str = r#"plivo_webhook_requests_total{verdict="accepted",reason="none"}"#;
const MISMATCH: &str =
    r#"plivo_webhook_requests_total{verdict="rejected",reason="signature_mismatch"}"#;
const MISSING: &str =
    r#"plivo_webhook_requests_total{verdict="rejected",reason="missing_signature"}"#;
const REPORTED: &str =
    r#"plivo_webhook_requests_total{verdict="reported",reason="signature_mismatch"}"#;
const VERIFY_COUNT: &str = r#"plivo_webhook_verify_duration_seconds_count{version="v3"}"#;

/// The Prometheus recorder, installed once per test binary (a process has one recorder).
fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().unwrap())
}

/// One test at a time: each asserts exact increments of shared series.
async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

fn layer(report_only: bool) -> tower_plivo::PlivoGuardBuilder<tower_plivo::PlivoSignatureLayer> {
    PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .url_policy(UrlPolicy::public_base(ORIGIN).unwrap())
        .report_only(report_only)
}

/// The example's app: `/plivo/*` guarded, `/report/*` guarded in report-only mode, and an
/// unguarded `/metrics` rendering the exporter.
async fn app(plivo: PlivoSignatureLayer) -> std::net::SocketAddr {
    let handle = prometheus().clone();
    let guarded = Router::new()
        .route("/plivo/answer", axum::routing::post(echo))
        .route_layer(plivo);
    let reporting = Router::new()
        .route("/report/answer", axum::routing::post(echo))
        .route_layer(layer(true).build().unwrap());
    serve(
        guarded
            .merge(reporting)
            .route("/metrics", get(move || async move { handle.render() })),
    )
    .await
}

/// What `/metrics` shows, fetched over HTTP.
async fn scrape(addr: std::net::SocketAddr) -> String {
    let reply = send(addr, "GET", "/metrics", &[], "").await;
    assert_eq!(reply.status, 200);
    reply.text()
}

/// The value of one series (`0` while it has not been recorded).
fn value(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |value| value.parse().unwrap())
}

/// What each series gained between two scrapes.
fn gained(before: &str, after: &str, series: &[&str]) -> Vec<(String, u64)> {
    series
        .iter()
        .map(|s| (s.to_string(), value(after, s) - value(before, s)))
        .collect()
}

/// A request to `path` signed with `token` (the layer's, or a forger's).
async fn post_signed(addr: std::net::SocketAddr, path: &str, token: &str) -> u16 {
    let nonce = fresh_nonce();
    let signature = sign_v3(
        token,
        "POST",
        &format!("{ORIGIN}{path}"),
        BODY.as_bytes(),
        &nonce,
    );
    let headers = [
        ("X-Plivo-Signature-V3", signature.as_str()),
        ("X-Plivo-Signature-V3-Nonce", nonce.as_str()),
        FORM,
    ];
    send(addr, "POST", path, &headers, BODY).await.status
}

const FORGER: &str = "MAforgedTOKENffffffffffffffffffff";

#[tokio::test]
async fn every_verdict_reaches_the_exporter_by_verdict_and_reason() {
    let _turn = turn().await;
    let addr = app(layer(false).build().unwrap()).await;
    let before = scrape(addr).await;

    assert_eq!(post_signed(addr, "/plivo/answer", TOKEN).await, 200);
    assert_eq!(post_signed(addr, "/plivo/answer", FORGER).await, 403);
    let unsigned = send(addr, "POST", "/plivo/answer", &[FORM], BODY).await;
    unsigned.assert_refused(403, "missing_signature");
    // Report-only: refused in the log and the metrics, let through to the handler.
    assert_eq!(post_signed(addr, "/report/answer", FORGER).await, 200);

    let after = scrape(addr).await;
    assert_eq!(
        gained(&before, &after, &[ACCEPTED, MISMATCH, MISSING, REPORTED]),
        [
            (ACCEPTED.to_owned(), 1),
            (MISMATCH.to_owned(), 1),
            (MISSING.to_owned(), 1),
            (REPORTED.to_owned(), 1),
        ],
        "{after}"
    );
    // Three requests got as far as computing a signature; the unsigned one did not.
    assert_eq!(
        gained(&before, &after, &[VERIFY_COUNT]),
        [(VERIFY_COUNT.to_owned(), 3)],
        "{after}"
    );
    // Every series of the counter has the same two labels, and the exporter has the
    // descriptions.
    for line in after
        .lines()
        .filter(|line| line.starts_with("plivo_webhook_requests_total"))
    {
        let labels = &line[line.find('{').unwrap() + 1..line.find('}').unwrap()];
        let keys: Vec<&str> = labels
            .split(',')
            .map(|pair| pair.split_once('=').unwrap().0)
            .collect();
        assert_eq!(keys, ["verdict", "reason"], "{line}");
    }
    assert!(
        after.contains("# TYPE plivo_webhook_requests_total counter"),
        "{after}"
    );
    assert!(
        after.contains("# HELP plivo_webhook_requests_total Requests the Plivo signature layer"),
        "{after}"
    );
    assert!(
        after.contains("# HELP plivo_webhook_verify_duration_seconds Time the Plivo signature"),
        "{after}"
    );
}

#[tokio::test]
async fn a_custom_metrics_is_still_called_alongside_the_facade() {
    let _turn = turn().await;
    let counts = Arc::new(Counts::default());
    let addr = app(layer(false).metrics(counts.clone()).build().unwrap()).await;
    let before = scrape(addr).await;

    assert_eq!(post_signed(addr, "/plivo/answer", TOKEN).await, 200);
    assert_eq!(post_signed(addr, "/plivo/answer", FORGER).await, 403);

    let after = scrape(addr).await;
    assert_eq!(counts.accepted.load(Ordering::Relaxed), 1);
    assert_eq!(
        *counts.rejected.lock().unwrap(),
        [Rejection::SignatureMismatch]
    );
    assert_eq!(
        gained(&before, &after, &[ACCEPTED, MISMATCH, MISSING, REPORTED]),
        [
            (ACCEPTED.to_owned(), 1),
            (MISMATCH.to_owned(), 1),
            (MISSING.to_owned(), 0),
            (REPORTED.to_owned(), 0),
        ],
        "{after}"
    );
}
