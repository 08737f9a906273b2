//! Shared by the benches: the public vectors, a plain reference canonicalisation (to hash the
//! exact message each verification hashes, and to check it against the crate), request
//! generators, and reading criterion's estimates back to print ratios measured in the same run.

#![allow(dead_code)] // each bench uses a different part

use std::path::PathBuf;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const V3_TOKEN: &str = "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4";
pub const V3_NONCE: &str = "31627761595286130198";
/// SPEC §6, URL A.
pub const URL_A: &str =
    "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml/?a=b&c=d";
/// SPEC §6: V3 POST to URL A ("public vector 1").
pub const V3_POST_SIGNATURE: &str = "k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c=";
/// SPEC §6: V3 GET to URL A (P13 appended to its query).
pub const V3_GET_SIGNATURE: &str = "UBq8jAtd32wR8EK9VgxbBn4n5rpI/l1H9iN4WfSEHFQ=";
/// P13, form-encoded as Plivo sends it (590 bytes).
pub const P13: &str = "Direction=outbound&From=19792014278&ALegUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
&CallStatus=in-progress&BillRate=0.002&ParentAuthID=MANWVLYTK4ZWU1YTY4QA\
&To=sip%3APlivoSignature382029104058171078704104%40phone-qa.voice.plivodev.com\
&ALegRequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36&CallUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
&RequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
&SIP-H-To=%3Csip%3APlivoSignature382029104058171078704104%4052.9.11.55%3Btransport%3Dudp%3E%3Btag%3D1\
&SessionStart=2020-04-08+11%3A34%3A33.238707&Event=StartApp";

pub const V2_TOKEN: &str = "my_auth_token";
pub const V2_NONCE: &str = "12345";
pub const V2_URL: &str = "https://answer.url/";
pub const V2_SIGNATURE: &str = "do1CXv+k99A6+B+eTcyqbxWlezFIxJ/1vz72787r37g=";

/// HMAC-SHA256 keyed from scratch, as a one-off computation does it: the floor.
pub fn raw_hmac(token: &str, message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A plain reference of SPEC §2 (split, position, decode, sort, join), independent of the
/// crate's optimised parser.
pub fn reference_v3_message(url: &str, form_body: Option<&str>, nonce: &str) -> Vec<u8> {
    fn decode(component: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < component.len() {
            let hex = |d: Option<&u8>| d.and_then(|d| (*d as char).to_digit(16));
            match component[i] {
                b'+' => out.push(b' '),
                b'%' => match (hex(component.get(i + 1)), hex(component.get(i + 2))) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                },
                b => out.push(b),
            }
            i += 1;
        }
        out
    }
    fn pairs(raw: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut pairs: Vec<_> = raw
            .as_bytes()
            .split(|&b| b == b'&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.iter().position(|&b| b == b'=') {
                Some(at) => (decode(&p[..at]), decode(&p[at + 1..])),
                None => (decode(p), Vec::new()),
            })
            .collect();
        pairs.sort();
        pairs
    }
    let url = url.split('#').next().unwrap_or_default();
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let query = pairs(query);
    let body = form_body.map(pairs).unwrap_or_default();
    let mut out = base.as_bytes().to_vec();
    if !query.is_empty() || !body.is_empty() {
        out.push(b'?');
    }
    for (i, (k, v)) in query.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(k);
        out.push(b'=');
        out.extend_from_slice(v);
    }
    if !query.is_empty() && !body.is_empty() {
        out.push(b'.');
    }
    for (k, v) in &body {
        out.extend_from_slice(k);
        out.extend_from_slice(v);
    }
    out.push(b'.');
    out.extend_from_slice(nonce.as_bytes());
    out
}

/// A Plivo-like form body of `params` parameters, in a scrambled (not sorted) order, with the
/// escapes Plivo's bodies carry (`+`, `%3A`, `%40`) and keys that share long prefixes.
pub fn form_body(params: usize) -> String {
    const KEYS: [&str; 13] = [
        "ALegRequestUUID",
        "ALegUUID",
        "BillRate",
        "CallStatus",
        "CallUUID",
        "Direction",
        "Event",
        "From",
        "ParentAuthID",
        "RequestUUID",
        "SIP-H-To",
        "SessionStart",
        "To",
    ];
    let mut order: Vec<usize> = (0..params).collect();
    // A fixed scramble (multiplicative step coprime with most sizes, then a xorshift swap pass).
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..order.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        order.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    let mut body = String::new();
    for (n, i) in order.into_iter().enumerate() {
        if n > 0 {
            body.push('&');
        }
        let key = KEYS[i % KEYS.len()];
        let round = i / KEYS.len();
        match i % 4 {
            0 => body.push_str(&format!("{key}{round}=3e82ae9d-2c78-4d85-b1a4-{i:012}")),
            1 => body.push_str(&format!("{key}{round}=sip%3Auser{i}%40phone.plivo.com")),
            2 => body.push_str(&format!("{key}{round}=2020-04-08+11%3A34%3A{i:02}.238707")),
            _ => body.push_str(&format!("{key}{round}=in-progress")),
        }
    }
    body
}

/// A form body of at most `bytes` bytes (and close to it) of [`form_body`] parameters.
pub fn form_body_of_size(bytes: usize) -> String {
    let mut params = bytes / 40 + 1;
    loop {
        let body = form_body(params);
        if body.len() >= bytes {
            let mut end = body.len();
            while end > bytes {
                end = body[..end].rfind('&').unwrap_or(0);
            }
            return body[..end].to_owned();
        }
        params = params * 5 / 4 + 1;
    }
}

/// Where criterion writes its results, found as criterion finds it: `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else the target directory `cargo metadata` reports.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    let metadata = std::env::var_os("CARGO").and_then(|cargo| {
        std::process::Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .ok()
    });
    metadata
        .and_then(|out| serde_json::from_slice::<serde_json::Value>(&out.stdout).ok())
        .and_then(|value| value["target_directory"].as_str().map(PathBuf::from))
        .map_or_else(
            || PathBuf::from("target/criterion"),
            |t| t.join("criterion"),
        )
}

/// The mean criterion measured for `id` in this run: read from `<criterion home>/<id>/new`,
/// and only if written after `since` (so a filtered-out bench never shows a stale number).
pub fn mean_ns(id: &str, since: std::time::SystemTime) -> Option<f64> {
    let path = criterion_home().join(id).join("new").join("estimates.json");
    let written = std::fs::metadata(&path).ok()?.modified().ok()?;
    if written < since {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["mean"]["point_estimate"].as_f64()
}

/// Formats nanoseconds for the summary lines.
pub fn ns(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.1} µs", value / 1000.0)
    } else {
        format!("{value:.0} ns")
    }
}
