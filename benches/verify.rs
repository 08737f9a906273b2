//! Cost of a full verification against the floor it cannot avoid: one HMAC-SHA256 over the
//! canonical message. Three public vectors (docs/wire-format.md): V3 POST (vector 1, a 539-byte
//! body of 13 params, a 590-byte message), V3 GET (the same params in the query) and V2.
//! Prints the ratios measured in this run, from the three workloads below timed in alternating
//! blocks of 32 (`<case>/alternating`); `<case>/verify` is also timed alone, for
//! `benches/compare_sdks`.
//!
//! ```text
//! cargo bench --bench verify
//! ```
//!
//! `raw_hmac` keys HMAC-SHA256 with the token and hashes the message, as a one-off computation
//! (and the SDKs) do: that is the floor the ratio is judged against. `hmac_prekeyed` hashes the
//! same message from a state keyed once (what the verifier does per request); it is printed too,
//! so the cost of the canonicalisation alone can be read off.

mod common;

use std::hint::black_box;

use common::vectors::{
    ORIGIN, P13, PATH_A, V2_NONCE, V2_TOKEN, V2_VECTORS, V3_NONCE, V3_TOKEN, V3_VECTORS,
};
use common::*;
use criterion::{Criterion, criterion_group};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tower_plivo::signature::{AuthTokens, Verifier};

struct Case {
    id: &'static str,
    label: &'static str,
    token: &'static str,
    v3: bool,
    post: bool,
    url: String,
    body: &'static str,
    nonce: &'static str,
    signature: &'static str,
}

impl Case {
    fn message(&self) -> Vec<u8> {
        if self.v3 {
            let body = self.post.then_some(self.body);
            reference_v3_message(&self.url, body, self.nonce)
        } else {
            let url = reference::parse_url(&self.url).expect("an absolute URL");
            reference::v2_message(&url, self.nonce.as_bytes())
        }
    }
}

/// The signature of the public V3 vector with this method to URL A.
fn v3_vector(method: &str) -> &'static str {
    let vector = V3_VECTORS
        .iter()
        .find(|v| v.method == method && v.path == PATH_A)
        .expect("a public vector");
    vector.signature
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "v3_post_vector1",
            label: "V3 POST vector 1",
            token: V3_TOKEN,
            v3: true,
            post: true,
            url: format!("{ORIGIN}{PATH_A}"),
            body: P13,
            nonce: V3_NONCE,
            signature: v3_vector("POST"),
        },
        Case {
            id: "v3_get_vector",
            label: "V3 GET vector   ",
            token: V3_TOKEN,
            v3: true,
            post: false,
            url: format!("{ORIGIN}{PATH_A}&{P13}"),
            body: "",
            nonce: V3_NONCE,
            signature: v3_vector("GET"),
        },
        Case {
            id: "v2_vector",
            label: "V2 vector       ",
            token: V2_TOKEN,
            v3: false,
            post: true,
            url: V2_VECTORS[1].0.to_owned(),
            body: "",
            nonce: V2_NONCE,
            signature: V2_VECTORS[1].1,
        },
    ]
}

fn benches(c: &mut Criterion) {
    for case in cases() {
        let message = case.message();
        let verifier =
            Verifier::new(AuthTokens::new([case.token], None::<&str>).unwrap()).accept_v2(!case.v3);
        let body = case.post.then_some(case.body.as_bytes());
        let signed = Signed::new(case.v3, &case.url, body, case.signature, case.nonce);
        assert!(signed.verifies(&verifier), "{} must verify", case.label);
        let prekeyed = Hmac::<Sha256>::new_from_slice(case.token.as_bytes()).unwrap();

        let mut group = c.benchmark_group(case.id);
        // `<case>/verify` alone (what `benches/compare_sdks` reads), then the three workloads in
        // alternating blocks: the ratios printed are these.
        bench_verify(&mut group, &verifier, &signed);
        bench_alternating(
            &mut group,
            "alternating",
            case.id,
            vec![
                timed(|| {
                    black_box(raw_hmac(black_box(case.token), black_box(&message)));
                }),
                timed(|| {
                    let mut mac = black_box(&prekeyed).clone();
                    mac.update(black_box(&message));
                    black_box(mac.finalize());
                }),
                timed(|| {
                    black_box(black_box(&signed).verifies(black_box(&verifier)));
                }),
            ],
        );
        group.finish();
    }
}

criterion_group!(group, benches);

fn main() {
    // Each message is the reference canonical form: check it against the vector's signature
    // before timing a hash over it.
    for case in cases() {
        let tag = reference::sign(case.token, &case.message());
        assert_eq!(
            tag, case.signature,
            "{}: reference message is wrong",
            case.label
        );
    }
    group();
    Criterion::default().configure_from_args().final_summary();

    println!();
    println!(
        "ratio = verify / raw_hmac (target <= 1.30 for V3, <= 1.15 for V2), timed in alternating \
         blocks of 32 (`<case>/alternating`); canonicalisation = verify - hmac_prekeyed"
    );
    for case in cases() {
        let Some([raw, prekeyed, full]) =
            alternating_ns(case.id).and_then(|t| <[f64; 3]>::try_from(t).ok())
        else {
            continue;
        };
        let target = if case.v3 { 1.30 } else { 1.15 };
        println!(
            "verify {}: {:>7}; raw HMAC-SHA256 ({} B message): {:>7}; ratio {:.2}x ({}) \
             (vs pre-keyed HMAC {:>7}: {:.2}x; canonicalisation + checks {})",
            case.label,
            ns(full),
            case.message().len(),
            ns(raw),
            full / raw,
            if full / raw <= target {
                "met"
            } else {
                "MISSED"
            },
            ns(prekeyed),
            full / prekeyed,
            ns(full - prekeyed),
        );
    }
}
