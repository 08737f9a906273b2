//! The layer's span as an OpenTelemetry pipeline receives it: `tracing-opentelemetry` turns each
//! span field into an attribute of the same name, so the span's fields must carry the HTTP
//! semantic conventions' names themselves (`http.request.method`, `url.path`, `url.full`,
//! `http.response.status_code`, ...) for a collector to read them without a mapping. The spans
//! are exported by the SDK's in-memory exporter and checked attribute by attribute.

use crate::support;

use std::collections::BTreeMap;

use axum::Router;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tower_plivo::{PlivoSignatureLayer, UrlPolicy};
use tracing_subscriber::layer::SubscriberExt as _;

use support::{FORM, echo, fresh_nonce, send, serve, sign_v3};

const TOKEN: &str = "MAotelTOKENsecretXXXXXXXXXXXXXXXXXX";

/// A span's attributes, each as text.
fn attributes(span: &SpanData) -> BTreeMap<String, String> {
    span.attributes
        .iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

#[tokio::test]
async fn the_span_reaches_opentelemetry_under_the_http_semantic_conventions() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("composition-test")));
    // The current-thread runtime of `tokio::test`: the server and the client share this
    // thread's default subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);

    let layer = PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .url_policy(UrlPolicy::public_base("https://hooks.example.com").unwrap())
        .build()
        .unwrap();
    let addr = serve(Router::new().fallback(echo).layer(layer)).await;
    let nonce = fresh_nonce();
    let url = "https://hooks.example.com/answer?Leg=a";
    let signature = sign_v3(TOKEN, "POST", url, b"CallUUID=1", &nonce);
    let headers = [
        FORM,
        ("x-plivo-signature-v3", &signature[..]),
        ("x-plivo-signature-v3-nonce", &nonce[..]),
    ];
    let accepted = send(addr, "POST", "/answer?Leg=a", &headers, "CallUUID=1").await;
    assert_eq!(accepted.status, 200);
    let forged = send(addr, "POST", "/answer", &headers, "CallUUID=1").await;
    assert_eq!(forged.status, 403);
    provider.force_flush().unwrap();

    let spans: Vec<BTreeMap<String, String>> = exporter
        .get_finished_spans()
        .unwrap()
        .iter()
        .filter(|span| span.name == "plivo_webhook")
        .map(attributes)
        .collect();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let accepted = &spans[0];
    let expect = |span: &BTreeMap<String, String>, key: &str, value: &str| {
        assert_eq!(
            span.get(key).map(String::as_str),
            Some(value),
            "{key} in {span:#?}"
        );
    };
    expect(accepted, "http.request.method", "POST");
    expect(accepted, "url.path", "/answer");
    expect(accepted, "url.query", "Leg=a");
    expect(accepted, "url.full", url);
    expect(accepted, "network.peer.address", "127.0.0.1");
    expect(accepted, "http.request.body.size", "10");
    expect(accepted, "http.response.status_code", "200");
    expect(accepted, "plivo.version", "v3");
    expect(accepted, "plivo.token", "account:0");
    expect(accepted, "plivo.nonce", &nonce);
    expect(accepted, "plivo.verdict", "accepted");
    let port: u16 = accepted["network.peer.port"].parse().unwrap();
    assert_ne!(port, 0);
    assert!(accepted["plivo.verify_ns"].parse::<u64>().unwrap() > 0);

    let refused = &spans[1];
    expect(refused, "url.path", "/answer");
    expect(refused, "http.response.status_code", "403");
    expect(refused, "plivo.verdict", "rejected");
    expect(refused, "plivo.reason", "signature_mismatch");
    assert!(!refused.contains_key("url.query"), "{refused:#?}");
    for span in &spans {
        assert!(
            span.values().all(|value| !value.contains(TOKEN)),
            "{span:#?}"
        );
    }
}
