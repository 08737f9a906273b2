//! The hostile-input battery: malformed, oversized, slow, broken and forged requests sent over
//! real TCP (raw bytes where a client would refuse to send them, hyper's client for HTTP/2) to
//! an axum server with the layer, served with `into_make_service_with_connect_info`. Every
//! shape asserts the exact status, and for the layer's refusals the reason (the typed
//! `Rejection`, which the test server copies into a header) and the body, which is the same
//! for every reason (`forbidden`). After every shape, a valid signed request (with a fresh
//! nonce) on a fresh connection must still get 200 with its body echoed.
//!
//! The shapes are data: [`cases`] holds one row per shape (a shape that loops over variants,
//! such as 44's methods, has one row per variant, all with its number), and one test per
//! section below runs that section's rows, each against a fresh server, naming the row
//! (`#44 s44_methods_other_than_get_and_post [PUT]`) in every assertion.
//! [`the_table_below_matches_the_cases`] checks this table against [`cases`].
//!
//! Servers (all guard every path with an echo handler behind the layer, with the defaults:
//! V3 only, replay protection in memory):
//! - **main**: account token + main-account token, `UrlPolicy::from_request(Scheme::Http)`
//!   with trusted proxies `10.0.0.0/8` setting `X-Forwarded-Proto`, `-Host` and `-Port` (so the
//!   test client, 127.0.0.1, is an *untrusted* peer and the origin comes from `Host` or the
//!   target's authority with `http`), body limit 1 MiB (room for 10,000 parameters), default
//!   body timeout (10 s).
//! - **slow**: as main, with a 300 ms body timeout; **patient**: as main, with a 2 s one.
//! - **proxied**: as main, but 127.0.0.1 is a trusted proxy; **forwarded**: likewise, with
//!   `Forwarded` as the header it sets.
//! - **sms**: as main, accepting V2 signatures.
//!
//! Statuses marked *(hyper)* are refused by hyper's HTTP/1 parser before the layer runs (no
//! reason body); every other one is the layer's answer.
//!
//! | # | shape | expected |
//! |---|---|---|
//! | 1 | valid signed POST (baseline) | 200 |
//! | 2 | no signature headers at all | 403 `missing_signature` |
//! | 3 | V3 signature without nonce header | 403 `missing_nonce` |
//! | 4 | V3 nonce without any signature header | 403 `missing_signature` |
//! | 5 | empty signature header value | 403 `missing_signature` |
//! | 6 | whitespace-only signature header value | 403 `missing_signature` |
//! | 7 | empty nonce header value | 403 `invalid_nonce` |
//! | 8 | nonce holding a tab | 403 `invalid_nonce` |
//! | 9 | signature header sent twice, same value | 200 |
//! | 10 | signature header sent twice, different values (one valid) | 403 `conflicting_headers` |
//! | 11 | nonce header sent twice, different values | 403 `conflicting_headers` |
//! | 12 | nonce header sent twice, same value | 200 |
//! | 13 | non-base64 signature (44 chars of `!`) | 403 `signature_mismatch` |
//! | 14 | wrong-length signature (valid one truncated to 43 chars) | 403 `signature_mismatch` |
//! | 15 | wrong-length signature (base64 of 48 bytes) | 403 `signature_mismatch` |
//! | 16 | non-ASCII signature bytes (obs-text `0x80..=0xFF`) | 403 `signature_mismatch` |
//! | 17 | non-ASCII nonce bytes, correctly signed over those bytes | 200 |
//! | 18 | control byte `0x01` in the signature value | 400 *(hyper)* |
//! | 19 | control byte `0x7F` (DEL) in the nonce value | 400 *(hyper)* |
//! | 20 | NUL byte in a header value | 400 *(hyper)* |
//! | 21 | 8 KiB signature value (garbage) | 403 `signature_mismatch` |
//! | 22 | 8 KiB nonce, correctly signed | 200 |
//! | 23 | 8 KiB value in an unrelated header | 200 |
//! | 24 | 8 KiB comma list of garbage pieces, the valid signature last | 200 |
//! | 25 | 10 MB declared (`Content-Length`), body never sent | 413 `body_too_large` |
//! | 26 | 10 MB declared and streamed | 413 `body_too_large` |
//! | 27 | 10 MB streamed chunked, no length | 413 `body_too_large` |
//! | 28 | unsigned, 10 MB declared, body never sent | 403 `missing_signature` |
//! | 29 | valid body chunked in pieces, no length | 200 |
//! | 30 | body aborting mid-stream (`Content-Length` 100, 10 sent, write side closed) | 400 `body_read_failed` |
//! | 31 | chunked body aborting mid-chunk | 400 `body_read_failed` |
//! | 32 | malformed chunk size (`zz`) | 400 `body_read_failed` |
//! | 33 | body slower than the timeout (slow server, 10 of 100 bytes then silence) | 408 `body_timeout` |
//! | 34 | body trickled byte by byte but within the timeout (patient server) | 200 |
//! | 35 | `Content-Length` that is not a number | 400 *(hyper)* |
//! | 36 | `Content-Length` shorter than the body sent | 403 `signature_mismatch` |
//! | 37 | broken percent-escapes (`%G1`, lone `%`, `%4`) in query and body, correctly signed | 200 |
//! | 38 | `+` signed, sent as `%20` (same decoded value) | 200 |
//! | 39 | `+` signed, sent as `%2B` (a different value) | 403 `signature_mismatch` |
//! | 40 | `%2B` signed and sent | 200 |
//! | 41 | escapes of bytes that are not UTF-8 (`%FF%FE`), correctly signed | 200 |
//! | 42 | 10,000 body parameters, correctly signed (and fast) | 200 |
//! | 43 | 10,000 body parameters, the last one changed | 403 `signature_mismatch` |
//! | 44 | PUT, DELETE, PATCH, OPTIONS, `FOO`, lowercase `post`, each with a valid POST signature | 403 `method_not_allowed` |
//! | 45 | HEAD with a valid GET signature | 403 (no body) |
//! | 46 | JSON body with a V3 signature | 403 `unsupported_body` |
//! | 47 | multipart body with a V3 signature | 403 `unsupported_body` |
//! | 48 | GET with a body | 403 `unsupported_body` |
//! | 49 | form body without a `Content-Type` | 403 `unsupported_body` |
//! | 50 | form `Content-Type` with parameters and odd case | 200 |
//! | 51 | JSON body with a valid V2 signature (V2 never covers the body), sms server | 200 |
//! | 52 | V2 signature plus a forged V3 header (downgrade attempt), sms server | 403 `signature_mismatch` |
//! | 53 | forged `Forwarded` from an untrusted peer, signed for the forged origin | 403 `signature_mismatch` |
//! | 54 | forged `X-Forwarded-Proto/-Host/-Port` from an untrusted peer, signed for the forged origin | 403 `signature_mismatch` |
//! | 55 | forged `Forwarded` and `X-Forwarded-*` from an untrusted peer, signed for the real origin | 200 |
//! | 56 | `X-Forwarded-Host: user@host` (proxied) or `Forwarded: host="user@host"` (forwarded) from a trusted proxy (fuzz finding); then the proxy's clean host | 403 `unknown_origin`; the clean host 200 |
//! | 57 | no `Host` header (HTTP/1.0) | 403 `unknown_origin` |
//! | 58 | two different `Host` headers | 403 `unknown_origin` |
//! | 59 | absolute-form target, signed for its own authority | 200 |
//! | 60 | absolute-form target naming another host than `Host`, signed for `Host` | 403 `unknown_origin` |
//! | 61 | asterisk-form target (`OPTIONS *`) | 403 `method_not_allowed` |
//! | 62 | HTTP/2 (prior knowledge, h2c): valid POST | 200 |
//! | 63 | HTTP/2: no signature | 403 `missing_signature` |
//! | 64 | HTTP/2: 10 MB body | 413 `body_too_large` |
//! | 65 | HTTP/2: conflicting duplicate signature headers | 403 `conflicting_headers` |
//! | 66 | valid signature on the wrong path | 403 `signature_mismatch` |
//! | 67 | valid signature, path percent-encoded differently (`/an%73wer`) | 403 `signature_mismatch` |
//! | 68 | valid signature with a query string added | 403 `signature_mismatch` |
//! | 69 | the right signature with another request's nonce | 403 `signature_mismatch` |
//! | 70 | a main-account signature in the account header | 403 `signature_mismatch` |
//! | 71 | upper-case header names | 200 |
//! | 72 | pipelined valid, forged, another valid, and the first again, on one connection | 200, 403 `signature_mismatch`, 200, 403 `replayed` |
//! | 73 | 200 headers | 431 *(hyper)* |
//! | 74 | garbage instead of a request line | 400 *(hyper)* |
//! | 75 | 10,000 commas in the signature header | 403 `signature_mismatch` |
//! | 76 | repeated form key, values in another order (equivalent under wire format §2, step 4) | 200 |
//! | 77 | 1 MiB signature header value (past hyper's head buffer) | 431 *(hyper)* |
//! | 78 | a valid V2 signature on the main (V3-only) server | 403 `signature_version_not_accepted` |
//! | 79 | a V3 nonce holding a `.`, correctly signed | 403 `invalid_nonce` |
//! | 80 | the valid request of shape 1 sent twice | 200, then 403 `replayed` |
//! | 81 | the valid request of shape 1 labelled `Content-Encoding: gzip` (its bytes verify; a decompressor inside would decode others) | 403 `unsupported_body` |
//! | 82 | the valid request of shape 1 sent `Transfer-Encoding: gzip, chunked` | 403 `unsupported_body` |

use crate::support;

use std::net::SocketAddr;
use std::ops::{Range, RangeInclusive};
use std::time::{Duration, Instant};

use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower_plivo::signature::Signer;
use tower_plivo::{PlivoSignatureLayer, ProxyHeader, Scheme, UrlPolicy};

use support::raw::{Raw, RawReply as Reply, Step, exchange_many};
use support::{echo, fresh_nonce, refusal_body, serve};

const TOKEN: &str = "MAHOSTILEaccountTOKENaaaaaaaaaaaaaa";
const MAIN: &str = "MAHOSTILEmainTOKENbbbbbbbbbbbbbbbbbb";
const NONCE: &str = "05429567804466091622";
const OTHER_NONCE: &str = "99999567804466091622";
/// The form content type.
const FORM_TYPE: &str = support::FORM.1;
const BODY: &str = "CallUUID=ok&From=1555&To=1666";
const TEN_MB: usize = 10_000_000;
/// A multipart body (shape 47).
const MULTIPART: &[u8] =
    b"--xyz\r\ncontent-disposition: form-data; name=\"CallUUID\"\r\n\r\n1\r\n--xyz--\r\n";
/// A well-formed signature that is not the valid one.
const FORGED: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const SIG: &str = "x-plivo-signature-v3";
const SIG_NONCE: &str = "x-plivo-signature-v3-nonce";

const X_FORWARDED: [ProxyHeader; 3] = [
    ProxyHeader::XForwardedProto,
    ProxyHeader::XForwardedHost,
    ProxyHeader::XForwardedPort,
];

// ---- servers ----

/// The main server's settings, with trusted proxies at `proxies` setting `headers`.
fn builder_behind(
    proxies: &str,
    headers: &[ProxyHeader],
) -> tower_plivo::PlivoGuardBuilder<tower_plivo::PlivoSignatureLayer> {
    PlivoSignatureLayer::builder()
        .auth_token(TOKEN)
        .main_account_token(MAIN)
        .url_policy(UrlPolicy::from_request(Scheme::Http))
        .trusted_proxies([proxies])
        .proxy_headers(headers.iter().copied())
        .body_limit(1024 * 1024)
}

fn builder() -> tower_plivo::PlivoGuardBuilder<tower_plivo::PlivoSignatureLayer> {
    builder_behind("10.0.0.0/8", &X_FORWARDED)
}

/// The server a row targets (see the module documentation); each row gets a fresh one.
#[derive(Clone, Copy, Debug)]
enum Server {
    Main,
    Slow,
    Patient,
    Proxied,
    Forwarded,
    Sms,
}

impl Server {
    async fn start(self) -> SocketAddr {
        let layer = match self {
            Self::Main => builder(),
            Self::Slow => builder().body_timeout(Duration::from_millis(300)),
            Self::Patient => builder().body_timeout(Duration::from_secs(2)),
            Self::Proxied => builder_behind("127.0.0.1", &X_FORWARDED),
            Self::Forwarded => builder_behind("127.0.0.1", &[ProxyHeader::Forwarded]),
            Self::Sms => builder().accept_v2(true),
        }
        .build()
        .unwrap();
        serve(Router::new().fallback(echo).layer(layer)).await
    }
}

// ---- signing ----

fn v3_with(token: &str, url: &str, method: &str, body: &[u8], nonce: &str) -> String {
    support::sign_v3(token, method, url, body, nonce)
}

/// The V3 signature for `target` on this server (origin `http://{addr}`), with [`NONCE`].
fn v3(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> String {
    v3_nonce(addr, method, target, body, NONCE)
}

/// As [`v3`], with this nonce.
fn v3_nonce(addr: SocketAddr, method: &str, target: &str, body: &[u8], nonce: &str) -> String {
    v3_with(
        TOKEN,
        &format!("http://{addr}{target}"),
        method,
        body,
        nonce,
    )
}

/// The valid signature of [`post`].
fn sig(addr: SocketAddr) -> String {
    v3(addr, "POST", "/answer", BODY.as_bytes())
}

/// A V2 signature for `path` on this server, with [`NONCE`].
fn v2(addr: SocketAddr, path: &str) -> String {
    Signer::new(TOKEN)
        .sign_v2(&format!("http://{addr}{path}"), NONCE)
        .unwrap()
}

// ---- signed raw requests ----

/// A POST (or GET) to `target` with the host, a valid V3 signature of `body`, its nonce
/// ([`NONCE`]) and the form content type.
fn signed(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> Raw {
    signed_with_nonce(addr, method, target, body, NONCE)
}

/// As [`signed`], with this nonce.
fn signed_with_nonce(
    addr: SocketAddr,
    method: &str,
    target: &str,
    body: &[u8],
    nonce: &str,
) -> Raw {
    Raw::new(method, target)
        .header("host", addr.to_string())
        .header(SIG, v3_nonce(addr, method, target, body, nonce))
        .header(SIG_NONCE, nonce)
        .header("content-type", FORM_TYPE)
}

fn post(addr: SocketAddr) -> Raw {
    signed(addr, "POST", "/answer", BODY.as_bytes())
}

/// A V2-signed POST to `path`, with this content type (no V3 headers).
fn v2_post(addr: SocketAddr, path: &str, content_type: &str) -> Raw {
    Raw::new("POST", path)
        .header("host", addr.to_string())
        .header("x-plivo-signature-v2", v2(addr, path))
        .header("x-plivo-signature-v2-nonce", NONCE)
        .header("content-type", content_type)
}

fn ten_thousand_params() -> String {
    (0..10_000)
        .map(|i| format!("p{:05}=v{:05}", (i * 7919) % 10_000, i))
        .collect::<Vec<_>>()
        .join("&")
}

// ---- the table's vocabulary ----

/// A header value or request line: fixed, or computed from the server's address.
enum Value {
    Fixed(Vec<u8>),
    Of(fn(SocketAddr) -> Vec<u8>),
}

impl Value {
    fn get(&self, addr: SocketAddr) -> Vec<u8> {
        match self {
            Self::Fixed(bytes) => bytes.clone(),
            Self::Of(f) => f(addr),
        }
    }
}

/// One change to a signed request, applied in order with [`Raw`]'s builder.
enum Edit {
    /// Every header with this name removed.
    Without(&'static str),
    /// Every header with this name removed, then this one appended.
    Replace(&'static str, Value),
    /// This header appended (a second one if the name is there already).
    Add(&'static str, Value),
    /// This request line instead.
    Line(Value),
}

fn without(name: &'static str) -> Edit {
    Edit::Without(name)
}

fn replace(name: &'static str, value: impl AsRef<[u8]>) -> Edit {
    Edit::Replace(name, Value::Fixed(value.as_ref().to_vec()))
}

fn replace_by(name: &'static str, value: fn(SocketAddr) -> Vec<u8>) -> Edit {
    Edit::Replace(name, Value::Of(value))
}

fn add(name: &'static str, value: impl AsRef<[u8]>) -> Edit {
    Edit::Add(name, Value::Fixed(value.as_ref().to_vec()))
}

fn add_by(name: &'static str, value: fn(SocketAddr) -> Vec<u8>) -> Edit {
    Edit::Add(name, Value::Of(value))
}

fn line(line: impl AsRef<str>) -> Edit {
    Edit::Line(Value::Fixed(line.as_ref().as_bytes().to_vec()))
}

fn line_by(line: fn(SocketAddr) -> Vec<u8>) -> Edit {
    Edit::Line(Value::Of(line))
}

/// An HTTP/2 request's headers and body.
type H2Request = (Vec<(&'static str, String)>, Vec<u8>);

/// What a row sends, built once its server's address is known.
enum Send {
    /// [`post`] with these edits, sent with [`BODY`] (and its `Content-Length`) in one write.
    Post(Vec<Edit>),
    /// [`signed`] for this method, target and signed body, with these edits, sent with `body`
    /// (and its `Content-Length`) in one write.
    Signed {
        method: &'static str,
        target: &'static str,
        signed: &'static [u8],
        edits: Vec<Edit>,
        body: &'static [u8],
    },
    /// These bytes, in one write.
    Bytes(fn(SocketAddr) -> Vec<u8>),
    /// These steps on one connection.
    Steps(fn(SocketAddr) -> Vec<Step>),
    /// This HEAD request, in one write (its answer has no body).
    Head(fn(SocketAddr) -> Vec<u8>),
    /// An HTTP/2 (prior knowledge) POST to `/answer` with these headers and body.
    H2(fn(SocketAddr) -> H2Request),
    /// Keep-alive requests in one write on one connection: one answer per outcome.
    Pipelined(fn(SocketAddr) -> Vec<u8>),
}

/// What a row expects of one answer.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    /// 200, whatever the body.
    Accepted,
    /// 200 with this body echoed.
    Echo(Vec<u8>),
    /// The layer's refusal: this status and reason, and the body every refusal with this
    /// status has.
    Refused(u16, &'static str),
    /// This status with an empty body (hyper's own refusals, the answer to a HEAD).
    Bare(u16),
}

use Outcome::{Accepted, Bare, Refused};

fn echoed(body: impl AsRef<[u8]>) -> Outcome {
    Outcome::Echo(body.as_ref().to_vec())
}

/// One hostile shape.
struct Case {
    /// Its number in the module documentation's table.
    n: u8,
    /// Its name (the test function it was), with the variant when a shape has several.
    name: String,
    server: Server,
    send: Send,
    /// One per answer: a [`Send::Pipelined`] row reads them all off one connection; any other
    /// row sends its request again, on a fresh connection, for each further outcome.
    expect: Vec<Outcome>,
    /// Bounds on the time from sending to the (last) answer.
    within: Option<Range<Duration>>,
}

fn case(n: u8, name: impl Into<String>, server: Server, send: Send, expect: Outcome) -> Case {
    Case {
        n,
        name: name.into(),
        server,
        send,
        expect: vec![expect],
        within: None,
    }
}

/// A row against the main server.
fn main(n: u8, name: impl Into<String>, send: Send, expect: Outcome) -> Case {
    case(n, name, Server::Main, send, expect)
}

impl Case {
    fn within(mut self, bounds: Range<Duration>) -> Self {
        self.within = Some(bounds);
        self
    }

    fn then(mut self, outcome: Outcome) -> Self {
        self.expect.push(outcome);
        self
    }

    fn id(&self) -> String {
        format!("#{} {}", self.n, self.name)
    }
}

fn post_with(edits: Vec<Edit>) -> Send {
    Send::Post(edits)
}

// ---- the table ----

fn cases() -> Vec<Case> {
    use Send::{Bytes as Write, H2, Head, Pipelined, Signed, Steps};
    let mut cases = vec![
        // ---- 1-24: signature and nonce headers ----
        main(1, "s01_valid_signed_post", post_with(vec![]), echoed(BODY)),
        main(
            2,
            "s02_no_signature_headers",
            post_with(vec![without(SIG), without(SIG_NONCE)]),
            Refused(403, "missing_signature"),
        ),
        main(
            3,
            "s03_signature_without_nonce",
            post_with(vec![without(SIG_NONCE)]),
            Refused(403, "missing_nonce"),
        ),
        main(
            4,
            "s04_nonce_without_signature",
            post_with(vec![without(SIG)]),
            Refused(403, "missing_signature"),
        ),
        main(
            5,
            "s05_empty_signature",
            post_with(vec![replace(SIG, "")]),
            Refused(403, "missing_signature"),
        ),
        main(
            6,
            "s06_whitespace_signature",
            post_with(vec![replace(SIG, " \t ")]),
            Refused(403, "missing_signature"),
        ),
        main(
            7,
            "s07_empty_nonce",
            post_with(vec![replace(SIG_NONCE, "")]),
            Refused(403, "invalid_nonce"),
        ),
        main(
            8,
            "s08_nonce_with_a_tab",
            post_with(vec![replace(SIG_NONCE, "1234\t5678")]),
            Refused(403, "invalid_nonce"),
        ),
        main(
            9,
            "s09_duplicate_identical_signature",
            post_with(vec![add_by("X-Plivo-Signature-V3", |a| sig(a).into())]),
            Accepted,
        ),
        // The valid one first and second: the layer refuses to guess which one a proxy would
        // keep.
        main(
            10,
            "s10_duplicate_conflicting_signature [valid first]",
            post_with(vec![replace_by(SIG, |a| sig(a).into()), add(SIG, FORGED)]),
            Refused(403, "conflicting_headers"),
        ),
        main(
            10,
            "s10_duplicate_conflicting_signature [forged first]",
            post_with(vec![replace(SIG, FORGED), add_by(SIG, |a| sig(a).into())]),
            Refused(403, "conflicting_headers"),
        ),
        main(
            11,
            "s11_duplicate_conflicting_nonce",
            post_with(vec![add(SIG_NONCE, OTHER_NONCE)]),
            Refused(403, "conflicting_headers"),
        ),
        main(
            12,
            "s12_duplicate_identical_nonce",
            post_with(vec![add(SIG_NONCE, NONCE)]),
            Accepted,
        ),
        main(
            13,
            "s13_non_base64_signature",
            post_with(vec![replace(SIG, "!".repeat(44))]),
            Refused(403, "signature_mismatch"),
        ),
        main(
            14,
            "s14_truncated_signature",
            post_with(vec![replace_by(SIG, |a| sig(a)[..43].into())]),
            Refused(403, "signature_mismatch"),
        ),
        // 64 base64 characters (48 bytes) starting with the valid 43 characters.
        main(
            15,
            "s15_signature_of_the_wrong_length",
            post_with(vec![replace_by(SIG, |a| {
                format!("{}{}", &sig(a)[..43], "A".repeat(21)).into()
            })]),
            Refused(403, "signature_mismatch"),
        ),
        main(
            16,
            "s16_non_ascii_signature_bytes",
            post_with(vec![replace_by(SIG, |a| {
                let mut bytes = sig(a).into_bytes();
                bytes[10] = 0xC3;
                bytes[11] = 0xA9;
                bytes[20] = 0xFF;
                bytes
            })]),
            Refused(403, "signature_mismatch"),
        ),
        // The nonce is opaque bytes; the layer signs exactly what it received. `Signer` takes
        // a `&str`, so use a UTF-8 nonce.
        main(
            17,
            "s17_non_ascii_nonce_correctly_signed",
            post_with(vec![
                replace_by(SIG, |a| {
                    let url = format!("http://{a}/answer");
                    v3_with(TOKEN, &url, "POST", BODY.as_bytes(), "nonce-é-日本").into()
                }),
                replace(SIG_NONCE, "nonce-é-日本"),
            ]),
            Accepted,
        ),
        main(
            18,
            "s18_control_byte_in_signature",
            post_with(vec![replace_by(SIG, |a| {
                let mut bytes = sig(a).into_bytes();
                bytes[5] = 0x01;
                bytes
            })]),
            Bare(400),
        ),
        main(
            19,
            "s19_del_byte_in_nonce",
            post_with(vec![replace(SIG_NONCE, b"1234\x7f5678")]),
            Bare(400),
        ),
        main(
            20,
            "s20_nul_byte_in_header",
            post_with(vec![replace(SIG_NONCE, b"1234\x005678")]),
            Bare(400),
        ),
        main(
            21,
            "s21_8_kib_signature",
            post_with(vec![replace(SIG, "A".repeat(8192))]),
            Refused(403, "signature_mismatch"),
        ),
        main(
            22,
            "s22_8_kib_nonce_correctly_signed",
            post_with(vec![
                replace_by(SIG, |a| {
                    let url = format!("http://{a}/answer");
                    v3_with(TOKEN, &url, "POST", BODY.as_bytes(), &"7".repeat(8192)).into()
                }),
                replace(SIG_NONCE, "7".repeat(8192)),
            ]),
            Accepted,
        ),
        main(
            23,
            "s23_8_kib_unrelated_header",
            post_with(vec![add("x-padding", "p".repeat(8192))]),
            Accepted,
        ),
        main(
            24,
            "s24_8_kib_comma_list_with_the_valid_signature_last",
            post_with(vec![replace_by(SIG, |a| {
                let garbage = vec![FORGED; 180].join(", ");
                let list = format!("{garbage}, {}", sig(a));
                assert!(list.len() > 8192);
                list.into()
            })]),
            Accepted,
        ),
        // ---- 25-36: bodies ----
        main(
            25,
            "s25_10_mb_declared_never_sent",
            Steps(|a| {
                vec![Step::Write(
                    post(a).header("content-length", TEN_MB.to_string()).head(),
                )]
            }),
            Refused(413, "body_too_large"),
        )
        // Answered at once.
        .within(Duration::ZERO..Duration::from_secs(5)),
        main(
            26,
            "s26_10_mb_declared_and_streamed",
            Steps(|a| {
                let mut steps = vec![Step::Write(
                    post(a).header("content-length", TEN_MB.to_string()).head(),
                )];
                steps.extend(
                    (0..TEN_MB / (64 * 1024) + 1).map(|_| Step::Write(vec![b'a'; 64 * 1024])),
                );
                steps
            }),
            Refused(413, "body_too_large"),
        ),
        main(
            27,
            "s27_10_mb_chunked_without_length",
            Steps(|a| {
                let mut steps = vec![Step::Write(
                    post(a).header("transfer-encoding", "chunked").head(),
                )];
                let chunk = [b"10000\r\n".as_slice(), &[b'a'; 0x10000], b"\r\n"].concat();
                steps.extend((0..TEN_MB / 0x10000 + 1).map(|_| Step::Write(chunk.clone())));
                steps.push(Step::Write(b"0\r\n\r\n".to_vec()));
                steps
            }),
            Refused(413, "body_too_large"),
        ),
        main(
            28,
            "s28_unsigned_10_mb_declared_never_sent",
            Steps(|a| {
                let raw = Raw::new("POST", "/answer")
                    .header("host", a.to_string())
                    .header("content-length", TEN_MB.to_string());
                vec![Step::Write(raw.head())]
            }),
            Refused(403, "missing_signature"),
        ),
        main(
            29,
            "s29_chunked_valid_body_without_length",
            Steps(|a| {
                let mut steps = vec![Step::Write(
                    post(a).header("transfer-encoding", "chunked").head(),
                )];
                for piece in BODY.as_bytes().chunks(4) {
                    steps.push(Step::Write(
                        [format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat(),
                    ));
                    steps.push(Step::Sleep(Duration::from_millis(5)));
                }
                steps.push(Step::Write(b"0\r\n\r\n".to_vec()));
                steps
            }),
            echoed(BODY),
        ),
        main(
            30,
            "s30_body_aborting_mid_stream",
            Steps(|a| {
                vec![
                    Step::Write(post(a).header("content-length", "100").head()),
                    Step::Write(b"CallUUID=1".to_vec()),
                    Step::ShutdownWrite,
                ]
            }),
            Refused(400, "body_read_failed"),
        ),
        main(
            31,
            "s31_chunked_body_aborting_mid_chunk",
            Steps(|a| {
                vec![
                    Step::Write(post(a).header("transfer-encoding", "chunked").head()),
                    Step::Write(b"40\r\nCallUUID=1".to_vec()),
                    Step::ShutdownWrite,
                ]
            }),
            Refused(400, "body_read_failed"),
        ),
        main(
            32,
            "s32_malformed_chunk_size",
            Steps(|a| {
                vec![
                    Step::Write(post(a).header("transfer-encoding", "chunked").head()),
                    Step::Write(b"zz\r\nCallUUID=1\r\n0\r\n\r\n".to_vec()),
                ]
            }),
            Refused(400, "body_read_failed"),
        ),
        case(
            33,
            "s33_body_slower_than_the_timeout",
            Server::Slow,
            Steps(|a| {
                vec![
                    Step::Write(post(a).header("content-length", "100").head()),
                    Step::Write(b"CallUUID=1".to_vec()),
                ]
            }),
            Refused(408, "body_timeout"),
        )
        .within(Duration::from_millis(300)..Duration::from_secs(5)),
        // 2 s allowed; 29 bytes one by one, 10 ms apart (about 0.3 s).
        case(
            34,
            "s34_body_trickled_within_the_timeout",
            Server::Patient,
            Steps(|a| {
                let mut steps = vec![Step::Write(
                    post(a)
                        .header("content-length", BODY.len().to_string())
                        .head(),
                )];
                for byte in BODY.bytes() {
                    steps.push(Step::Write(vec![byte]));
                    steps.push(Step::Sleep(Duration::from_millis(10)));
                }
                steps
            }),
            echoed(BODY),
        ),
        main(
            35,
            "s35_content_length_not_a_number",
            Write(|a| {
                let mut bytes = post(a).header("content-length", "abc").head();
                bytes.extend_from_slice(BODY.as_bytes());
                bytes
            }),
            Bare(400),
        ),
        // Only the first 8 bytes are the body (`CallUUID`); the rest would be the next
        // request, but the connection closes after the first answer.
        main(
            36,
            "s36_content_length_shorter_than_the_body",
            Write(|a| {
                let mut bytes = post(a).header("content-length", "8").head();
                bytes.extend_from_slice(BODY.as_bytes());
                bytes
            }),
            Refused(403, "signature_mismatch"),
        ),
        // ---- 37-43: encodings and parameter counts ----
        main(
            37,
            "s37_broken_percent_escapes_correctly_signed",
            Signed {
                method: "POST",
                target: "/answer?q=%G1&r=%&s=%4",
                signed: b"a=%G1&b=%&c=%4&d=100%",
                edits: vec![],
                body: b"a=%G1&b=%&c=%4&d=100%",
            },
            Accepted,
        ),
        main(
            38,
            "s38_plus_signed_sent_as_percent_20",
            Signed {
                method: "POST",
                target: "/answer",
                signed: b"Text=a+b",
                edits: vec![],
                body: b"Text=a%20b",
            },
            Accepted,
        ),
        main(
            39,
            "s39_plus_signed_sent_as_percent_2b",
            Signed {
                method: "POST",
                target: "/answer",
                signed: b"Text=a+b",
                edits: vec![],
                body: b"Text=a%2Bb",
            },
            Refused(403, "signature_mismatch"),
        ),
        main(
            40,
            "s40_percent_2b_signed_and_sent",
            Signed {
                method: "POST",
                target: "/answer?From=%2B15551234567",
                signed: b"To=%2B15557654321&Text=1+%2B+1",
                edits: vec![],
                body: b"To=%2B15557654321&Text=1+%2B+1",
            },
            Accepted,
        ),
        main(
            41,
            "s41_escapes_of_non_utf8_bytes",
            Signed {
                method: "POST",
                target: "/answer?x=%FF%FE",
                signed: b"Text=%C3%28%FF&Other=%80",
                edits: vec![],
                body: b"Text=%C3%28%FF&Other=%80",
            },
            Accepted,
        ),
        // The body handed on intact. Measured at about 20 ms in a debug build; the bound only
        // catches a quadratic blow-up.
        main(
            42,
            "s42_10000_params_correctly_signed_and_fast",
            Write(|a| {
                let body = ten_thousand_params();
                assert!(body.len() < 1024 * 1024);
                signed(a, "POST", "/answer", body.as_bytes()).with_body(body.as_bytes())
            }),
            echoed(ten_thousand_params()),
        )
        .within(Duration::ZERO..Duration::from_secs(3)),
        main(
            43,
            "s43_10000_params_last_changed",
            Write(|a| {
                let body = ten_thousand_params();
                let raw = signed(a, "POST", "/answer", body.as_bytes());
                let mut changed = body.into_bytes();
                let last = changed.len() - 1;
                changed[last] = if changed[last] == b'0' { b'1' } else { b'0' };
                raw.with_body(&changed)
            }),
            Refused(403, "signature_mismatch"),
        ),
    ];
    // ---- 44-52: methods and content types ----
    for method in ["PUT", "DELETE", "PATCH", "OPTIONS", "FOO", "post"] {
        cases.push(main(
            44,
            format!("s44_methods_other_than_get_and_post [{method}]"),
            post_with(vec![line(format!("{method} /answer HTTP/1.1"))]),
            Refused(403, "method_not_allowed"),
        ));
    }
    cases.extend([
        main(
            45,
            "s45_head_with_a_get_signature",
            Head(|a| {
                signed(a, "GET", "/answer", b"")
                    .request_line("HEAD /answer HTTP/1.1")
                    .without("content-type")
                    .head()
            }),
            Bare(403),
        ),
        main(
            46,
            "s46_json_body_under_v3",
            Signed {
                method: "POST",
                target: "/answer",
                signed: b"",
                edits: vec![replace("content-type", "application/json")],
                body: br#"{"CallUUID":"1"}"#,
            },
            Refused(403, "unsupported_body"),
        ),
        main(
            47,
            "s47_multipart_body_under_v3",
            Signed {
                method: "POST",
                target: "/answer",
                signed: b"",
                edits: vec![replace("content-type", "multipart/form-data; boundary=xyz")],
                body: MULTIPART,
            },
            Refused(403, "unsupported_body"),
        ),
        main(
            48,
            "s48_get_with_a_body",
            Signed {
                method: "GET",
                target: "/answer?CallUUID=1",
                signed: b"",
                edits: vec![],
                body: BODY.as_bytes(),
            },
            Refused(403, "unsupported_body"),
        ),
        main(
            49,
            "s49_form_body_without_content_type",
            post_with(vec![without("content-type")]),
            Refused(403, "unsupported_body"),
        ),
        main(
            50,
            "s50_form_content_type_with_parameters_and_case",
            post_with(vec![replace(
                "content-type",
                "Application/X-WWW-Form-URLEncoded ; charset=UTF-8",
            )]),
            Accepted,
        ),
        // V2 signs only the URL and nonce: documented as the weaker scheme (README).
        case(
            51,
            "s51_json_body_under_v2",
            Server::Sms,
            Write(|a| v2_post(a, "/sms", "application/json").with_body(br#"{"any":"body"}"#)),
            echoed(r#"{"any":"body"}"#),
        ),
        case(
            52,
            "s52_v2_signature_with_a_forged_v3_header",
            Server::Sms,
            Write(|a| {
                Raw::new("POST", "/sms")
                    .header("host", a.to_string())
                    .header("x-plivo-signature-v2", v2(a, "/sms"))
                    .header("x-plivo-signature-v2-nonce", NONCE)
                    .header(SIG, FORGED)
                    .header(SIG_NONCE, NONCE)
                    .with_body(b"")
            }),
            Refused(403, "signature_mismatch"),
        ),
        // ---- 53-61: origins, proxies and request targets ----
        main(
            53,
            "s53_forged_forwarded_from_an_untrusted_peer",
            post_with(vec![
                replace_by(SIG, |_| {
                    let forged = "https://hooks.example.com/answer";
                    v3_with(TOKEN, forged, "POST", BODY.as_bytes(), NONCE).into()
                }),
                add(
                    "forwarded",
                    "for=10.0.0.1;proto=https;host=hooks.example.com",
                ),
            ]),
            Refused(403, "signature_mismatch"),
        ),
        main(
            54,
            "s54_forged_x_forwarded_from_an_untrusted_peer",
            post_with(vec![
                replace_by(SIG, |_| {
                    let forged = "https://hooks.example.com:8443/answer";
                    v3_with(TOKEN, forged, "POST", BODY.as_bytes(), NONCE).into()
                }),
                add("x-forwarded-proto", "https"),
                add("x-forwarded-host", "hooks.example.com"),
                add("x-forwarded-port", "8443"),
            ]),
            Refused(403, "signature_mismatch"),
        ),
        main(
            55,
            "s55_forged_forwarding_headers_are_ignored",
            post_with(vec![
                add("forwarded", "for=10.0.0.1;proto=https;host=evil.example"),
                add("x-forwarded-proto", "https"),
                add("x-forwarded-host", "evil.example"),
                add("x-forwarded-port", "8443"),
            ]),
            Accepted,
        ),
    ]);
    // Regression for the `fuzz/` `forwarded` target's first crash: a trusted proxy's host
    // with userinfo was taken as the authority (`http://@`).
    for host in ["@", "user@hooks.example.com"] {
        cases.push(case(
            56,
            format!("s56_forwarded_host_with_userinfo_from_a_trusted_proxy [proxied {host}]"),
            Server::Proxied,
            post_with(vec![add("x-forwarded-host", host)]),
            Refused(403, "unknown_origin"),
        ));
        cases.push(case(
            56,
            format!("s56_forwarded_host_with_userinfo_from_a_trusted_proxy [forwarded {host}]"),
            Server::Forwarded,
            post_with(vec![add("forwarded", format!("host=\"{host}\""))]),
            Refused(403, "unknown_origin"),
        ));
    }
    cases.extend([
        // And the trusted proxy's clean host is believed.
        case(
            56,
            "s56_forwarded_host_with_userinfo_from_a_trusted_proxy [proxied clean host]",
            Server::Proxied,
            post_with(vec![
                replace_by(SIG, |_| {
                    let url = "https://hooks.example.com/answer";
                    v3_with(TOKEN, url, "POST", BODY.as_bytes(), NONCE).into()
                }),
                add("x-forwarded-proto", "https"),
                add("x-forwarded-host", "hooks.example.com"),
            ]),
            Accepted,
        ),
        main(
            57,
            "s57_no_host_header",
            post_with(vec![without("host"), line("POST /answer HTTP/1.0")]),
            Refused(403, "unknown_origin"),
        ),
        // hyper lets both through; the layer refuses to pick one.
        main(
            58,
            "s58_two_host_headers",
            post_with(vec![add("host", "evil.example")]),
            Refused(403, "unknown_origin"),
        ),
        main(
            59,
            "s59_absolute_form_target",
            post_with(vec![
                line_by(|a| format!("POST http://{a}/answer?x=1 HTTP/1.1").into()),
                replace_by(SIG, |a| {
                    let target = format!("http://{a}/answer?x=1");
                    v3_with(TOKEN, &target, "POST", BODY.as_bytes(), NONCE).into()
                }),
            ]),
            Accepted,
        ),
        // Signed for the `Host` header's origin; the target's authority names another host, so
        // the two disagree and the origin cannot be known (issue 26: before, the target's
        // authority was verified, and the signature did not match it).
        main(
            60,
            "s60_absolute_form_target_naming_another_host",
            post_with(vec![line("POST http://evil.example/answer HTTP/1.1")]),
            Refused(403, "unknown_origin"),
        ),
        main(
            61,
            "s61_asterisk_form_target",
            Signed {
                method: "POST",
                target: "/answer",
                signed: BODY.as_bytes(),
                edits: vec![line("OPTIONS * HTTP/1.1")],
                body: b"",
            },
            Refused(403, "method_not_allowed"),
        ),
        // ---- 62-65: HTTP/2 ----
        main(
            62,
            "s62_http2_valid",
            H2(|a| {
                let headers = vec![
                    (SIG, sig(a)),
                    (SIG_NONCE, NONCE.to_owned()),
                    ("content-type", FORM_TYPE.to_owned()),
                ];
                (headers, BODY.into())
            }),
            echoed(BODY),
        ),
        main(
            63,
            "s63_http2_no_signature",
            H2(|_| (vec![("content-type", FORM_TYPE.to_owned())], BODY.into())),
            Refused(403, "missing_signature"),
        ),
        main(
            64,
            "s64_http2_10_mb_body",
            H2(|a| {
                let headers = vec![
                    (SIG, v3(a, "POST", "/answer", b"")),
                    (SIG_NONCE, NONCE.to_owned()),
                    ("content-type", FORM_TYPE.to_owned()),
                ];
                (headers, vec![b'a'; TEN_MB])
            }),
            Refused(413, "body_too_large"),
        ),
        main(
            65,
            "s65_http2_conflicting_signatures",
            H2(|a| {
                let headers = vec![
                    (SIG, sig(a)),
                    (SIG, FORGED.to_owned()),
                    (SIG_NONCE, NONCE.to_owned()),
                    ("content-type", FORM_TYPE.to_owned()),
                ];
                (headers, BODY.into())
            }),
            Refused(403, "conflicting_headers"),
        ),
        // ---- 66-82: replayed pieces, framing, and more ----
        main(
            66,
            "s66_valid_signature_on_the_wrong_path",
            post_with(vec![line("POST /hangup HTTP/1.1")]),
            Refused(403, "signature_mismatch"),
        ),
        main(
            67,
            "s67_path_encoded_differently",
            post_with(vec![line("POST /an%73wer HTTP/1.1")]),
            Refused(403, "signature_mismatch"),
        ),
        main(
            68,
            "s68_query_added",
            post_with(vec![line("POST /answer?Extra=1 HTTP/1.1")]),
            Refused(403, "signature_mismatch"),
        ),
        main(
            69,
            "s69_right_signature_with_another_requests_nonce",
            post_with(vec![replace(SIG_NONCE, OTHER_NONCE)]),
            Refused(403, "signature_mismatch"),
        ),
        main(
            70,
            "s70_main_account_signature_in_the_account_header",
            post_with(vec![replace_by(SIG, |a| {
                let url = format!("http://{a}/answer");
                v3_with(MAIN, &url, "POST", BODY.as_bytes(), NONCE).into()
            })]),
            Refused(403, "signature_mismatch"),
        ),
        main(
            71,
            "s71_upper_case_header_names",
            Write(|a| {
                Raw::new("POST", "/answer")
                    .header("HOST", a.to_string())
                    .header("X-PLIVO-SIGNATURE-V3", sig(a))
                    .header("X-PLIVO-SIGNATURE-V3-NONCE", NONCE)
                    .header("CONTENT-TYPE", FORM_TYPE)
                    .with_body(BODY.as_bytes())
            }),
            Accepted,
        ),
        main(
            72,
            "s72_pipelined_valid_forged_valid",
            Pipelined(|a| {
                let keep_alive = |raw: Raw, body: &[u8]| {
                    let mut bytes = raw.header("content-length", body.len().to_string()).head();
                    // `head` ends with `connection: close`; make these keep-alive.
                    let text = String::from_utf8(bytes.clone()).unwrap();
                    bytes = text.replace("connection: close\r\n", "").into_bytes();
                    bytes.extend_from_slice(body);
                    bytes
                };
                let forged = b"CallUUID=ok&From=1555&To=9999";
                let another = signed_with_nonce(a, "POST", "/answer", BODY.as_bytes(), OTHER_NONCE);
                [
                    keep_alive(post(a), BODY.as_bytes()),
                    keep_alive(post(a), forged),
                    keep_alive(another, BODY.as_bytes()),
                    keep_alive(post(a), BODY.as_bytes()),
                ]
                .concat()
            }),
            Accepted,
        )
        .then(Refused(403, "signature_mismatch"))
        .then(echoed(BODY))
        .then(Refused(403, "replayed")),
        main(
            73,
            "s73_too_many_headers",
            Write(|a| {
                let mut raw = post(a);
                for i in 0..200 {
                    raw = raw.header(&format!("x-h{i}"), "1");
                }
                raw.with_body(BODY.as_bytes())
            }),
            Bare(431),
        ),
        main(
            74,
            "s74_garbage_request_line",
            Write(|_| b"\x16\x03\x01\x02\x00garbage\r\n\r\n".to_vec()),
            Bare(400),
        ),
        // Only commas: the header is not blank, but it holds no piece that could match.
        main(
            75,
            "s75_ten_thousand_commas",
            post_with(vec![replace(SIG, ",".repeat(10_000))]),
            Refused(403, "signature_mismatch"),
        ),
        main(
            76,
            "s76_repeated_key_values_reordered",
            Signed {
                method: "POST",
                target: "/answer",
                signed: b"k=b&k=a&k=c",
                edits: vec![],
                body: b"k=c&k=a&k=b",
            },
            Accepted,
        ),
        main(
            77,
            "s77_one_mib_header_value",
            post_with(vec![replace(SIG, "A".repeat(1024 * 1024))]),
            Bare(431),
        ),
        main(
            78,
            "s78_v2_signature_on_a_v3_only_server",
            Write(|a| v2_post(a, "/answer", FORM_TYPE).with_body(BODY.as_bytes())),
            Refused(403, "signature_version_not_accepted"),
        ),
        main(
            79,
            "s79_v3_nonce_with_a_dot_correctly_signed",
            Write(|a| {
                let nonce = "com.05429567804466091622";
                signed_with_nonce(a, "POST", "/answer", BODY.as_bytes(), nonce)
                    .with_body(BODY.as_bytes())
            }),
            Refused(403, "invalid_nonce"),
        ),
        main(
            80,
            "s80_the_same_valid_request_twice",
            post_with(vec![]),
            echoed(BODY),
        )
        .then(Refused(403, "replayed")),
        main(
            81,
            "s81_a_body_labelled_compressed",
            post_with(vec![add("content-encoding", "gzip")]),
            Refused(403, "unsupported_body"),
        ),
        main(
            82,
            "s82_a_transfer_coding_besides_chunked",
            Write(|a| {
                let mut request = post(a).header("transfer-encoding", "gzip, chunked").head();
                request.extend(support::raw::chunk(BODY.as_bytes()));
                request.extend_from_slice(b"0\r\n\r\n");
                request
            }),
            Refused(403, "unsupported_body"),
        ),
    ]);
    cases
}

// ---- running the table ----

/// Builds `edits` into `raw`, in order.
fn edited(mut raw: Raw, edits: &[Edit], addr: SocketAddr) -> Raw {
    for edit in edits {
        raw = match edit {
            Edit::Without(name) => raw.without(name),
            Edit::Replace(name, value) => raw.replace(name, value.get(addr)),
            Edit::Add(name, value) => raw.header(name, value.get(addr)),
            Edit::Line(value) => {
                raw.request_line(std::str::from_utf8(&value.get(addr)).expect("a text line"))
            }
        };
    }
    raw
}

async fn h2(
    addr: SocketAddr,
    target: &str,
    headers: &[(&str, String)],
    body: impl Into<Bytes>,
) -> Reply {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{target}"));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = client
        .request(request.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    let status = response.status().as_u16();
    // The head as text, `name: value` per line, as an HTTP/1.1 head reads.
    let head = response
        .headers()
        .iter()
        .map(|(name, value)| format!("{name}: {}\r\n", String::from_utf8_lossy(value.as_bytes())))
        .collect();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        head,
        body: body.to_vec(),
    }
}

/// Sends the row's request once (for a pipelined row, all of them) and reads `count` answers,
/// checking the row's time bounds.
async fn send(case: &Case, addr: SocketAddr, count: usize) -> Vec<Reply> {
    let write = |bytes| vec![Step::Write(bytes)];
    // Built before the clock starts: the bounds are on the server.
    let (steps, head) = match &case.send {
        Send::Post(edits) => (
            write(edited(post(addr), edits, addr).with_body(BODY.as_bytes())),
            false,
        ),
        Send::Signed {
            method,
            target,
            signed: signed_body,
            edits,
            body,
        } => (
            write(edited(signed(addr, method, target, signed_body), edits, addr).with_body(body)),
            false,
        ),
        Send::Bytes(bytes) | Send::Pipelined(bytes) => (write(bytes(addr)), false),
        Send::Steps(steps) => (steps(addr), false),
        Send::Head(bytes) => (write(bytes(addr)), true),
        Send::H2(request) => {
            let (headers, body) = request(addr);
            let started = Instant::now();
            let reply = h2(addr, "/answer", &headers, body).await;
            check_time(case, started.elapsed());
            return vec![reply];
        }
    };
    let started = Instant::now();
    let replies = exchange_many(addr, steps, count, head).await;
    check_time(case, started.elapsed());
    replies
}

fn check_time(case: &Case, elapsed: Duration) {
    if let Some(bounds) = &case.within {
        assert!(
            bounds.contains(&elapsed),
            "{}: answered in {elapsed:?}, not within {bounds:?}",
            case.id()
        );
        eprintln!("{}: answered in {elapsed:?}", case.id());
    }
}

/// Asserts the exact status, and for a refusal the layer's reason and the body every refusal
/// with that status has (the same for every reason), or for a bare status an empty body.
fn check(id: &str, reply: &Reply, outcome: &Outcome) {
    let expected_status = match outcome {
        Outcome::Accepted | Outcome::Echo(_) => 200,
        Outcome::Refused(status, _) | Outcome::Bare(status) => *status,
    };
    assert_eq!(
        reply.status,
        expected_status,
        "{id}: expected {outcome:?}\n{}{}",
        reply.head,
        reply.text()
    );
    match outcome {
        Outcome::Accepted => {}
        Outcome::Echo(body) => assert!(
            reply.body == *body,
            "{id}: the body must be echoed intact ({} bytes sent, {} echoed): {}",
            body.len(),
            reply.body.len(),
            reply.text()
        ),
        Outcome::Refused(status, code) => {
            assert_eq!(
                reply.reason().as_deref(),
                Some(*code),
                "{id}: the reason\n{}",
                reply.head
            );
            assert_eq!(
                reply.text(),
                refusal_body(*status),
                "{id}: the refusal body\n{}",
                reply.head
            );
        }
        Outcome::Bare(_) => assert!(
            reply.body.is_empty(),
            "{id}: expected no body\n{}{}",
            reply.head,
            reply.text()
        ),
    }
}

/// A valid signed request (with a nonce of its own) on a fresh connection gets 200 with its
/// body echoed.
async fn still_serving(id: &str, addr: SocketAddr) {
    let nonce = fresh_nonce();
    let request = signed_with_nonce(addr, "POST", "/answer", BODY.as_bytes(), &nonce)
        .with_body(BODY.as_bytes());
    let reply = exchange_many(addr, vec![Step::Write(request)], 1, false)
        .await
        .pop()
        .unwrap();
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (200, BODY),
        "{id}: the server must keep serving valid requests"
    );
}

/// Runs one row against a fresh server of its kind, then checks that server still serves.
async fn run(case: &Case) {
    let id = case.id();
    eprintln!("{id}");
    let addr = case.server.start().await;
    if let Send::Pipelined(_) = case.send {
        let replies = send(case, addr, case.expect.len()).await;
        for (i, (reply, outcome)) in replies.iter().zip(&case.expect).enumerate() {
            check(&format!("{id}, answer {}", i + 1), reply, outcome);
        }
        still_serving(&id, addr).await;
    } else {
        for (i, outcome) in case.expect.iter().enumerate() {
            let reply = send(case, addr, 1).await.pop().unwrap();
            let id = match i {
                0 => id.clone(),
                _ => format!("{id}, sent again ({})", i + 1),
            };
            check(&id, &reply, outcome);
            still_serving(&id, addr).await;
        }
    }
}

/// Runs the rows numbered in `numbers`, in order.
async fn run_rows(numbers: RangeInclusive<u8>) {
    let cases: Vec<Case> = cases()
        .into_iter()
        .filter(|case| numbers.contains(&case.n))
        .collect();
    assert!(!cases.is_empty(), "no rows in {numbers:?}");
    for case in &cases {
        run(case).await;
    }
}

#[tokio::test]
async fn signature_and_nonce_headers_1_to_24() {
    run_rows(1..=24).await;
}

#[tokio::test]
async fn bodies_25_to_36() {
    run_rows(25..=36).await;
}

#[tokio::test]
async fn encodings_and_parameter_counts_37_to_43() {
    run_rows(37..=43).await;
}

#[tokio::test]
async fn methods_and_content_types_44_to_52() {
    run_rows(44..=52).await;
}

#[tokio::test]
async fn origins_proxies_and_targets_53_to_61() {
    run_rows(53..=61).await;
}

#[tokio::test]
async fn http2_62_to_65() {
    run_rows(62..=65).await;
}

#[tokio::test]
async fn replayed_pieces_framing_and_more_66_to_82() {
    run_rows(66..=82).await;
}

/// A status and, for the layer's refusals, the reason.
type Expected = (u16, Option<String>);

/// The module documentation's table and [`cases`] list the same shapes, in order, with the
/// same expectations: the statuses and reasons in a row's expected column are those of its
/// rows' outcomes, in order (a run of equal ones written once), and the names carry the
/// numbers.
#[test]
fn the_table_below_matches_the_cases() {
    let source = include_str!("hostile.rs");
    let documented: Vec<(u8, Vec<Expected>)> = source
        .lines()
        .filter_map(|line| line.strip_prefix("//! | "))
        .filter_map(|row| {
            let columns: Vec<&str> = row.trim_end_matches(" |").split(" | ").collect();
            let n = columns[0].parse().ok()?;
            let expected = columns.last().unwrap();
            let mut outcomes: Vec<Expected> = Vec::new();
            for word in expected.split([' ', ',', ';']) {
                if let Ok(status) = word.parse() {
                    outcomes.push((status, None));
                } else if let Some(code) = word.strip_prefix('`').and_then(|w| w.strip_suffix('`'))
                {
                    outcomes.last_mut().unwrap().1 = Some(code.to_owned());
                }
            }
            Some((n, outcomes))
        })
        .collect();
    let cases = cases();
    let numbers: Vec<u8> = documented.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        numbers,
        (1..=82).collect::<Vec<_>>(),
        "the documented numbers"
    );
    let mut at = 0;
    for (n, expected) in &documented {
        let mut outcomes: Vec<Expected> = Vec::new();
        while at < cases.len() && cases[at].n == *n {
            let case = &cases[at];
            let prefix = format!("s{n:02}_");
            assert!(
                case.name.starts_with(&prefix),
                "{}: named for its number",
                case.id()
            );
            for outcome in &case.expect {
                let outcome = match outcome {
                    Outcome::Accepted | Outcome::Echo(_) => (200, None),
                    Outcome::Refused(status, code) => (*status, Some((*code).to_owned())),
                    Outcome::Bare(status) => (*status, None),
                };
                if outcomes.last() != Some(&outcome) {
                    outcomes.push(outcome);
                }
            }
            at += 1;
        }
        assert_eq!(
            &outcomes, expected,
            "#{n}: the table's expectation and the rows'"
        );
    }
    assert_eq!(
        at,
        cases.len(),
        "rows after the last documented shape, or out of order"
    );
}
