//! Cost of a full verification against the floor it cannot avoid: one HMAC-SHA256 over the
//! canonical message. Prints the ratio measured in this run.
//!
//! ```text
//! cargo bench --bench verify
//! ```

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tower_plivo::AuthTokens;
use tower_plivo::signature::{Method, SignatureHeaders, SignedRequest, SignedUrl, Verifier};

const TOKEN: &str = "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4";
const NONCE: &str = "31627761595286130198";
const URL_A: &str =
    "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml/?a=b&c=d";
const SIGNATURE: &str = "k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c=";
const P13: &str = "Direction=outbound&From=19792014278&ALegUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
&CallStatus=in-progress&BillRate=0.002&ParentAuthID=MANWVLYTK4ZWU1YTY4QA\
&To=sip%3APlivoSignature382029104058171078704104%40phone-qa.voice.plivodev.com\
&ALegRequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36&CallUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
&RequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
&SIP-H-To=%3Csip%3APlivoSignature382029104058171078704104%4052.9.11.55%3Btransport%3Dudp%3E%3Btag%3D1\
&SessionStart=2020-04-08+11%3A34%3A33.238707&Event=StartApp";
/// The canonical V3 message of public vector 1 (SPEC §6, POST to URL A).
const MESSAGE: &str = "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml/?a=b&c=d.\
ALegRequestUUID3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36ALegUUID3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
BillRate0.002CallStatusin-progressCallUUID3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36DirectionoutboundEventStartApp\
From19792014278ParentAuthIDMANWVLYTK4ZWU1YTY4QARequestUUID3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
SIP-H-To<sip:PlivoSignature382029104058171078704104@52.9.11.55;transport=udp>;tag=1\
SessionStart2020-04-08 11:34:33.238707Tosip:PlivoSignature382029104058171078704104@phone-qa.voice.plivodev.com\
.31627761595286130198";

fn benches(c: &mut Criterion) {
    let verifier = Verifier::new(AuthTokens::new([TOKEN], None::<&str>).unwrap());
    let headers = SignatureHeaders {
        v3_signature: Some(SIGNATURE.as_bytes()),
        v3_nonce: Some(NONCE.as_bytes()),
        ..Default::default()
    };
    let request = SignedRequest {
        method: Method::Post,
        url: SignedUrl::parse(URL_A).unwrap(),
        content_type: Some(b"application/x-www-form-urlencoded"),
        body: P13.as_bytes(),
    };
    assert!(
        verifier.verify(&headers.claim().unwrap(), &request).is_ok(),
        "vector 1 must verify"
    );

    let mut group = c.benchmark_group("v3_post_vector1");
    group.bench_function("raw_hmac", |b| {
        b.iter(|| {
            let mut mac = Hmac::<Sha256>::new_from_slice(TOKEN.as_bytes()).unwrap();
            mac.update(black_box(MESSAGE.as_bytes()));
            black_box(mac.finalize())
        })
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            let claim = black_box(&headers).claim().unwrap();
            black_box(verifier.verify(&claim, black_box(&request)).is_ok())
        })
    });
    group.finish();
}

criterion_group!(group, benches);

fn main() {
    // Check the message constant against the SDK's canonical form of vector 1 before timing it.
    let mut mac = Hmac::<Sha256>::new_from_slice(TOKEN.as_bytes()).unwrap();
    mac.update(MESSAGE.as_bytes());
    let tag = base64_of(&mac.finalize().into_bytes());
    assert_eq!(tag, SIGNATURE, "MESSAGE is not vector 1's canonical string");

    group();
    Criterion::default().configure_from_args().final_summary();

    let raw = mean_ns("v3_post_vector1/raw_hmac");
    let full = mean_ns("v3_post_vector1/verify");
    if let (Some(raw), Some(full)) = (raw, full) {
        println!(
            "verify V3 POST vector 1: {full:.0} ns; raw HMAC-SHA256: {raw:.0} ns; ratio {:.2}x",
            full / raw
        );
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The mean criterion measured in this run, from its estimates file.
fn mean_ns(id: &str) -> Option<f64> {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let path = target
        .join("criterion")
        .join(id)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["mean"]["point_estimate"].as_f64()
}
