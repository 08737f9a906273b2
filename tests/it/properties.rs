//! Property tests (proptest) over the public signing and verification API:
//!
//! 1. **Round trips**: whatever `Signer` signs (any method, scheme, host, port, path, query
//!    and body parameters with any bytes in any encoding, any nonce, one of several tokens,
//!    account or main-account header, plain or in a comma list with garbage), `Verifier`
//!    accepts, naming the token that signed; V2 likewise.
//! 2. **Single-byte changes**: changing one byte of a signed request's path, query, body,
//!    nonce or signature is rejected, *unless the change leaves the canonical message (wire format §2)
//!    unchanged*. Some changes legitimately do: `+` and `%20` and a raw space all decode to a
//!    space, `%2b` and `%2B` are the same escape, a piece that becomes empty is skipped, and
//!    so on. So each mutated request's canonical message is computed with the plain reference
//!    implementation of the wire format in `tests/support/reference.rs` (the one the fuzzers
//!    compare against):
//!    if it changed, the verifier must reject; if it did not, the verifier must still accept.
//!    A changed signature byte is always rejected (strict base64: no two encodings of one
//!    tag).
//! 3. **Parsers never panic** on arbitrary bytes: form pairs (and agree with the reference),
//!    signature headers, URL splitting, and `Forwarded` / `X-Forwarded-*` through a whole
//!    layer request (where, from an untrusted peer, they never change the verdict).
//!
//! Case counts (512 to 4096 per property) are set so the file runs in about 15 s in a debug
//! build.

use crate::support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::LazyLock;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use proptest::prelude::*;
use tower::{Layer, Service, ServiceExt};
use tower_plivo::service::RequestBody;
use tower_plivo::signature::{AuthTokens, Signer, Verifier};
use tower_plivo::{PeerAddr, PlivoSignatureLayer, ProxyHeader, Rejection, TokenId};

use support::reference;
use support::{
    V2_MAIN_ACCOUNT_SIGNATURE, V2_NONCE, V2_SIGNATURE, V3_MAIN_ACCOUNT_SIGNATURE, V3_NONCE,
    V3_SIGNATURE,
};

// ---- generators ----

/// Auth tokens: visible ASCII (no surrounding whitespace, which `AuthTokens` refuses).
fn token() -> impl Strategy<Value = String> {
    "[!-~]{1,40}"
}

/// Nonces a request may carry: visible ASCII without `.`, `/`, `?` or `#` (refused, see
/// `a_nonce_with_a_dot_is_refused_even_when_signed`).
fn nonce() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{20}",
        "[!-\"$-\\-0->@-~]{1,30}",
        "[!-\"$-\\-0->@-~ ]{0,10}[a-z]"
    ]
}

/// Bytes that exercise the form rules (separators, escapes, hex digits, UTF-8) more often
/// than uniform bytes would.
fn form_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(b"&=+% 09aAfFgG.~\xC3\xA9\x00\xFF".to_vec()),
        1 => any::<u8>(),
    ]
}

/// A key or value as raw bytes.
fn component() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(form_byte(), 0..8)
}

/// How a component is put on the wire: which bytes are escaped, how a space is written, and
/// the case of hex digits. All of these encode the same bytes.
#[derive(Clone, Copy, Debug)]
struct Encoding {
    escape_everything: bool,
    space_as_plus: bool,
    lower_hex: bool,
}

fn encoding() -> impl Strategy<Value = Encoding> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(a, b, c)| Encoding {
        escape_everything: a,
        space_as_plus: b,
        lower_hex: c,
    })
}

fn encode(bytes: &[u8], how: Encoding) -> String {
    let mut out = String::new();
    for &b in bytes {
        let plain = b.is_ascii_alphanumeric() || b"-._~".contains(&b);
        if plain && !how.escape_everything {
            out.push(char::from(b));
        } else if b == b' ' && how.space_as_plus {
            out.push('+');
        } else if how.lower_hex {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A byte a header value can hold: tab, visible ASCII and space, and obs-text (0x80 and up).
fn header_byte() -> impl Strategy<Value = u8> {
    prop_oneof![Just(b'\t'), 0x20u8..=0x7e, 0x80u8..=0xff]
}

/// `k=v&k=v...` from arbitrary pairs, each encoded its own way, with occasional empty pieces.
fn form() -> impl Strategy<Value = String> {
    prop::collection::vec((component(), component(), encoding(), 0..4u8), 0..10).prop_map(|pairs| {
        let mut out = String::new();
        for (key, value, how, noise) in pairs {
            if !out.is_empty() {
                out.push('&');
            }
            if noise == 0 {
                out.push('&');
            }
            out.push_str(&encode(&key, how));
            out.push('=');
            out.push_str(&encode(&value, how));
        }
        out
    })
}

/// A URL's pieces as the layer has them (no userinfo, no fragment).
#[derive(Clone, Debug)]
struct Target {
    scheme: String,
    authority: String,
    path: String,
    query: Option<String>,
}

impl Target {
    /// The URL the verifier is given: the pieces as they are.
    fn url(&self) -> String {
        self.text("", "")
    }

    fn reference(&self) -> reference::Url<'_> {
        reference::Url {
            scheme: &self.scheme,
            authority: &self.authority,
            path: &self.path,
            query: self.query.as_deref(),
        }
    }

    /// The URL text given to the `Signer`, with userinfo and a fragment it must drop.
    fn text(&self, userinfo: &str, fragment: &str) -> String {
        let mut url = format!(
            "{}://{userinfo}{}{}",
            self.scheme, self.authority, self.path
        );
        if let Some(query) = &self.query {
            url.push('?');
            url.push_str(query);
        }
        url.push_str(fragment);
        url
    }
}

fn target() -> impl Strategy<Value = Target> {
    let scheme = prop_oneof!["https", "http", "[a-z][a-z0-9+.-]{0,6}"];
    let authority = "[a-zA-Z0-9.-]{1,20}(:[0-9]{1,5})?|\\[[0-9a-f:]{2,12}\\](:[0-9]{1,5})?";
    let path = prop_oneof![
        Just(String::new()),
        Just("/".to_owned()),
        "(/[a-zA-Z0-9._~!$&'()*+,;=:@%-]{0,10}){1,4}",
    ];
    let query = prop::option::of(form());
    (scheme, authority, path, query).prop_map(|(scheme, authority, path, query)| Target {
        scheme,
        authority,
        path,
        query,
    })
}

#[derive(Clone, Debug)]
struct Signed {
    /// "GET" or "POST".
    method: &'static str,
    target: Target,
    body: Vec<u8>,
    nonce: String,
    tokens: Vec<String>,
    signer: usize,
    main_account: bool,
    garbage: Vec<String>,
}

fn signed() -> impl Strategy<Value = Signed> {
    (
        any::<bool>(),
        target(),
        form(),
        nonce(),
        prop::collection::vec(token(), 1..4),
        any::<prop::sample::Index>(),
        any::<bool>(),
        prop::collection::vec("[ -+--~]{0,50}", 0..3),
    )
        .prop_map(
            |(post, target, body, nonce, tokens, signer, main_account, garbage)| Signed {
                method: if post { "POST" } else { "GET" },
                target,
                body: if post { body.into_bytes() } else { Vec::new() },
                nonce,
                signer: signer.index(tokens.len()),
                tokens,
                main_account,
                garbage,
            },
        )
}

impl Signed {
    fn token(&self) -> &str {
        &self.tokens[self.signer]
    }

    /// The verifier: the tokens as account tokens, or the signing token as the main account's
    /// (with the others as account tokens).
    fn verifier(&self) -> Verifier {
        let tokens = if self.main_account {
            let others: Vec<&String> = self.tokens.iter().filter(|t| *t != self.token()).collect();
            AuthTokens::new(others, Some(self.token()))
        } else {
            AuthTokens::new(&self.tokens, None::<&str>)
        };
        Verifier::new(tokens.unwrap()).accept_v2(true)
    }

    fn v3_signature(&self) -> String {
        let url = self.target.text("user:pw@", "#fragment");
        support::sign_v3(self.token(), self.method, &url, &self.body, &self.nonce)
    }

    /// The signature header: the signature alone, or inside a comma list of garbage.
    fn header(&self, signature: &str) -> String {
        if self.garbage.is_empty() {
            return signature.to_owned();
        }
        let mut pieces = self.garbage.clone();
        pieces.insert(pieces.len() / 2, format!(" {signature}\t"));
        pieces.join(",")
    }

    fn verify_v3(
        &self,
        target: &Target,
        body: &[u8],
        nonce: &[u8],
        header: &[u8],
    ) -> Option<Result<TokenId, Rejection>> {
        let signature_header = if self.main_account {
            V3_MAIN_ACCOUNT_SIGNATURE
        } else {
            V3_SIGNATURE
        };
        let pairs = [(signature_header, header), (V3_NONCE, nonce)];
        // `None`: a value no header can hold (a control byte), which never reaches a verifier
        // over HTTP (the fuzz target `signature_header` feeds the claim raw bytes).
        let headers = support::request_headers(self.method, &pairs)?;
        let method = http::Method::from_bytes(self.method.as_bytes()).unwrap();
        let verdict = self
            .verifier()
            .verify(&method, &target.url(), &headers, body);
        Some(verdict.map(|(version, token)| {
            assert_eq!(version, tower_plivo::SignatureVersion::V3);
            token
        }))
    }

    /// The canonical V3 message for these pieces, by the reference implementation.
    fn message(&self, target: &Target, body: &[u8], nonce: &[u8]) -> Vec<u8> {
        let form = (self.method == "POST").then_some(body);
        reference::v3_message(&target.reference(), form, nonce)
    }

    fn expected_token(&self) -> TokenId {
        if self.main_account {
            TokenId::MainAccount(0)
        } else {
            let first = self.tokens.iter().position(|t| t == self.token()).unwrap();
            TokenId::Account(first)
        }
    }
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Shrinking a failure can take long; the first failure is what matters in CI.
        max_shrink_iters: 2048,
        // The mutation property skips cases with nothing to change (no query, an empty path,
        // a GET's body): about a quarter of them.
        max_global_rejects: cases * 2,
        ..ProptestConfig::default()
    }
}

// ---- 1. round trips ----

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn v3_round_trip(s in signed()) {
        let signature = s.v3_signature();
        prop_assert_eq!(signature.len(), 44);
        let header = s.header(&signature);
        let verdict = s.verify_v3(&s.target, &s.body, s.nonce.as_bytes(), header.as_bytes());
        prop_assert_eq!(verdict, Some(Ok(s.expected_token())));
    }

    #[test]
    fn v2_round_trip(s in signed()) {
        let url = s.target.text("", "");
        let signature = Signer::new(s.token()).sign_v2(&url, &s.nonce).unwrap();
        let header = s.header(&signature);
        let signature_header = if s.main_account { V2_MAIN_ACCOUNT_SIGNATURE } else { V2_SIGNATURE };
        let mut headers = support::request_headers("POST", &[
            (signature_header, header.as_bytes()),
            (V2_NONCE, s.nonce.as_bytes()),
        ]).unwrap();
        // V2 covers neither the query nor the body: any body, even JSON, is accepted.
        headers.insert("content-type", http::HeaderValue::from_static("application/json"));
        let json = b"{\"not\":\"covered\"}";
        prop_assert_eq!(
            s.verifier().verify(&http::Method::POST, &s.target.url(), &headers, json),
            Ok((tower_plivo::SignatureVersion::V2, s.expected_token()))
        );
    }

    /// A nonce holding `.`, `/`, `?` or `#` could carry part of a signed message (the tail of
    /// a V3 value, the rest of a V3 message under V2 headers, the end of a path): refused in
    /// both versions, even when the signature over it is right.
    #[test]
    fn a_nonce_with_a_dot_is_refused_even_when_signed(
        s in signed(),
        before in "[0-9a-z]{0,10}",
        structure in prop::sample::select(vec!['.', '/', '?', '#']),
        after in "[0-9a-z]{0,10}",
    ) {
        let s = Signed { nonce: format!("{before}{structure}{after}"), ..s };
        let header = s.header(&s.v3_signature());
        let verdict = s.verify_v3(&s.target, &s.body, s.nonce.as_bytes(), header.as_bytes());
        prop_assert_eq!(verdict, Some(Err(Rejection::InvalidNonce)));
        let v2 = [(V2_SIGNATURE, &b"sig"[..]), (V2_NONCE, s.nonce.as_bytes())];
        let verdict = support::pure_verify(&s.verifier(), "GET", &s.target.url(), &v2, b"");
        prop_assert_eq!(verdict, Err(Rejection::InvalidNonce));
    }

    /// The crate's canonicalisation equals the reference one (equal tags).
    #[test]
    fn signer_agrees_with_the_reference(s in signed()) {
        let expected = reference::sign(s.token(), &s.message(&s.target, &s.body, s.nonce.as_bytes()));
        prop_assert_eq!(s.v3_signature(), expected);
    }
}

// ---- 2. single-byte changes ----

#[derive(Clone, Copy, Debug)]
enum Part {
    Path,
    Query,
    Body,
    Nonce,
    Signature,
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        Just(Part::Path),
        Just(Part::Query),
        Just(Part::Body),
        Just(Part::Nonce),
        Just(Part::Signature),
    ]
}

/// Replaces one byte: with `byte` (ASCII for the parts that are text: path, query, nonce, and
/// the base64 signature; any byte for the body), or, when `twist` is set, with the byte most
/// likely to be *equivalent* (`+` and space swapped, a letter's case swapped, which is
/// equivalent inside a `%XX` escape), so both branches of the property are exercised.
fn replace(
    bytes: &mut [u8],
    index: prop::sample::Index,
    byte: u8,
    ascii: bool,
    twist: bool,
) -> bool {
    if bytes.is_empty() {
        return false;
    }
    let at = index.index(bytes.len());
    let byte = match bytes[at] {
        b'+' if twist => b' ',
        b' ' if twist => b'+',
        letter if twist && letter.is_ascii_alphabetic() => letter ^ 0x20,
        _ if ascii => byte & 0x7F,
        _ => byte,
    };
    if bytes[at] == byte {
        return false;
    }
    bytes[at] = byte;
    true
}

proptest! {
    #![proptest_config(config(4096))]

    #[test]
    fn a_single_byte_change_is_rejected_unless_the_message_is_the_same(
        s in signed(),
        part in part(),
        index in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        twist in any::<bool>(),
    ) {
        let signature = s.v3_signature();
        let mut target = s.target.clone();
        let mut body = s.body.clone();
        let mut nonce = s.nonce.clone().into_bytes();
        let mut header = signature.clone().into_bytes();
        let changed = match part {
            Part::Path => {
                let mut path = target.path.clone().into_bytes();
                let changed = replace(&mut path, index, byte, true, twist);
                target.path = String::from_utf8(path).unwrap();
                changed
            }
            Part::Query => match &target.query {
                Some(query) => {
                    let mut query = query.clone().into_bytes();
                    let changed = replace(&mut query, index, byte, true, twist);
                    target.query = Some(String::from_utf8(query).unwrap());
                    changed
                }
                None => false,
            },
            Part::Body => replace(&mut body, index, byte, false, twist),
            Part::Nonce => replace(&mut nonce, index, byte, true, twist),
            Part::Signature => replace(&mut header, index, byte, true, twist),
        };
        prop_assume!(changed);
        let verdict = s.verify_v3(&target, &body, &nonce, &header);
        prop_assume!(verdict.is_some());
        let verdict = verdict.unwrap();
        match part {
            Part::Signature => prop_assert!(verdict.is_err(), "{:?}", header),
            _ => {
                let original = s.message(&s.target, &s.body, s.nonce.as_bytes());
                let mutated = s.message(&target, &body, &nonce);
                // The verifier also tries a root path `/` as the empty path (same request line).
                let root_alias = target.path == "/" && {
                    let bare = Target { path: String::new(), ..target.clone() };
                    s.message(&bare, &body, &nonce) == original
                };
                let nonce_ok = !nonce.iter().any(u8::is_ascii_control);
                if (mutated == original || root_alias) && nonce_ok {
                    prop_assert_eq!(verdict, Ok(s.expected_token()), "equivalent change");
                } else {
                    prop_assert!(verdict.is_err(), "changed message accepted: {:?}", part);
                }
            }
        }
    }
}

/// The equivalences the mutation test relies on, spelled out: these changes keep the
/// canonical message and so must still verify.
#[test]
fn documented_equivalences_verify() {
    let token = "token";
    let verifier = Verifier::new(AuthTokens::new([token], None::<&str>).unwrap());
    let signer = Signer::new(token);
    let signed = |query: &str, body: &str| {
        signer
            .sign_v3_post(
                &format!("https://h.example/p?{query}"),
                body.as_bytes(),
                "1",
            )
            .unwrap()
    };
    let verify = |query: &str, body: &str, signature: &str| {
        let pairs = [(V3_SIGNATURE, signature.as_bytes()), (V3_NONCE, &b"1"[..])];
        let url = format!("https://h.example/p?{query}");
        support::pure_verify(&verifier, "POST", &url, &pairs, body.as_bytes()).is_ok()
    };
    let signature = signed("a=x+y&b=%2b", "c=1&d=%7E");
    for (query, body) in [
        ("a=x%20y&b=%2B", "c=1&d=%7E"), // `+` ≡ `%20`; hex case
        ("b=%2b&a=x+y", "d=%7e&c=1"),   // order of pairs
        ("a=x y&&b=%2b&", "c=1&&d=~"),  // raw space; empty pieces; needless escape
        ("a=x+y&b=%2b", "c=%31&d=%7E"), // escaped digit
    ] {
        assert!(verify(query, body, &signature), "{query} {body}");
    }
    for (query, body) in [
        ("a=x%2By&b=%2b", "c=1&d=%7E"), // `%2B` is a plus, not a space
        ("a=x+y&b=%2b", "c=1&d=%7F"),
        ("a=x+y&b=%2b", "c=1&d=%7E&d="), // an extra blank value is signed
    ] {
        assert!(!verify(query, body, &signature), "{query} {body}");
    }
}

// ---- 3. parsers never panic ----

proptest! {
    #![proptest_config(config(2048))]

    /// Form pairs: arbitrary body bytes and query text give the reference's message.
    #[test]
    fn form_pairs_match_the_reference(
        body in prop::collection::vec(form_byte(), 0..200),
        query in prop::collection::vec(form_byte(), 0..100),
    ) {
        let query = String::from_utf8_lossy(&query).replace('#', "");
        let url = format!("https://h.example/p?{query}");
        let parts = reference::Url { scheme: "https", authority: "h.example", path: "/p", query: Some(&query) };
        let signer = Signer::new("t");
        let post = reference::sign("t", &reference::v3_message(&parts, Some(&body[..]), b"n"));
        prop_assert_eq!(signer.sign_v3_post(&url, &body, "n").unwrap(), post);
        let get = reference::sign("t", &reference::v3_message(&parts, None, b"n"));
        prop_assert_eq!(signer.sign_v3_get(&url, "n").unwrap(), get);
    }

    #[test]
    fn signature_headers_never_panic(
        values in prop::collection::vec(prop::option::of(prop::collection::vec(header_byte(), 0..60)), 6),
        body in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let names = [
            V3_SIGNATURE,
            V3_MAIN_ACCOUNT_SIGNATURE,
            V3_NONCE,
            V2_SIGNATURE,
            V2_MAIN_ACCOUNT_SIGNATURE,
            V2_NONCE,
        ];
        let pairs: Vec<(&str, &[u8])> = names
            .iter()
            .zip(&values)
            .filter_map(|(name, value)| Some((*name, value.as_deref()?)))
            .collect();
        // Bytes no header value can hold never reach a verifier over HTTP (the fuzz target
        // `signature_header` feeds the claim raw bytes).
        let headers = support::request_headers("POST", &pairs);
        prop_assume!(headers.is_some());
        let headers = headers.unwrap();
        let verifier = Verifier::new(AuthTokens::new(["a"], Some("m")).unwrap()).accept_v2(true);
        // Garbage never verifies, and every refusal is a typed reason, never a panic.
        let verdict = verifier.verify(&http::Method::POST, "https://h/", &headers, &body);
        prop_assert!(matches!(
            verdict,
            Err(Rejection::SignatureMismatch
                | Rejection::UnsupportedBody
                | Rejection::MissingSignature
                | Rejection::MissingNonce
                | Rejection::InvalidNonce)
        ), "{:?}", verdict);
    }

    #[test]
    /// The crate splits any URL as the reference does: a URL the reference cannot split is
    /// refused by the `Signer`, and any other is signed over the reference's pieces (V2 over
    /// `scheme://authority path`, V3 with the query too), so a piece split differently would
    /// change a signature.
    fn url_splitting_agrees_with_the_reference(url in prop_oneof![
        any::<String>(),
        "[a-z+.-]{0,5}://[^/?#]{0,12}[/?#@:a-z%]{0,20}",
    ]) {
        let reference = reference::parse_url(&url);
        let signer = Signer::new("t");
        match (signer.sign_v2(&url, "n"), signer.sign_v3_get(&url, "n")) {
            (Ok(v2), Ok(v3)) => {
                let parts = reference.expect("the reference splits it too");
                prop_assert!(!parts.authority.is_empty() && !parts.authority.contains(['@', '/', '?', '#']));
                prop_assert_eq!(v2, reference::sign("t", &reference::v2_message(&parts, b"n")));
                prop_assert_eq!(v3, reference::sign("t", &reference::v3_message(&parts, None, b"n")));
            }
            (Err(_), Err(_)) => prop_assert!(reference.is_none()),
            (v2, v3) => prop_assert!(false, "the two signers split {url:?} differently: {v2:?} {v3:?}"),
        }
    }
}

// ---- Forwarded / X-Forwarded-* through a layer request ----

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
});

const LAYER_TOKEN: &str = "MAforwardedPROPERTYtoken";

/// Trusted proxies at these networks that set the `X-Forwarded-*` URL headers, and others that
/// set `Forwarded` (the two families cannot be named together).
static LAYERS: LazyLock<[PlivoSignatureLayer; 2]> = LazyLock::new(|| {
    let layer = |headers: &[ProxyHeader]| {
        PlivoSignatureLayer::builder()
            .auth_token(LAYER_TOKEN)
            .url_policy(tower_plivo::UrlPolicy::from_request(
                tower_plivo::Scheme::Http,
            ))
            .trusted_proxies(["10.0.0.0/8", "fd00::/8"])
            .proxy_headers(headers.iter().copied())
            .build()
            .unwrap()
    };
    [
        layer(&[
            ProxyHeader::XForwardedProto,
            ProxyHeader::XForwardedHost,
            ProxyHeader::XForwardedPort,
        ]),
        layer(&[ProxyHeader::Forwarded]),
    ]
});

/// Sends one request through a layer to a handler that answers 200; returns the status and
/// the layer's reason when it refused.
fn through_layer(
    layer: &PlivoSignatureLayer,
    request: Request<Full<Bytes>>,
) -> (u16, Option<Rejection>) {
    RUNTIME.block_on(async {
        let handler = tower::service_fn(|_: Request<RequestBody<Full<Bytes>>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        });
        let mut service = layer.layer(handler);
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        let status = response.status().as_u16();
        let rejection = response.extensions().get::<Rejection>().copied();
        (status, rejection)
    })
}

/// A fresh nonce per request (replay protection is on).
fn next_nonce() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{:020}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

fn forwarding_header() -> impl Strategy<Value = (&'static str, Vec<u8>)> {
    let name = prop::sample::select(vec![
        "forwarded",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-port",
    ]);
    let value = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        prop::collection::vec(
            prop::sample::select(b"for=host=proto=https;,\"[]:10.0.0.1fd00::1 @\\=".to_vec()),
            0..60
        ),
        "(for=[0-9.:\\[\\]a-f]{0,15};)?(proto=https?;)?(host=\"?[a-z.:@]{0,15}\"?)?(, ?)?"
            .prop_map(String::into_bytes),
    ];
    (name, value)
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn forwarding_headers_never_panic_and_never_count_from_untrusted_peers(
        headers in prop::collection::vec(forwarding_header(), 0..6),
        trusted_peer in any::<bool>(),
        get in any::<bool>(),
        forwarded_family in any::<bool>(),
    ) {
        // Signed for the URL the request names in `Host`, as a direct call would be.
        let host = "hooks.example.com:8080";
        let target = "/answer?CallUUID=1";
        let nonce = next_nonce();
        let method = if get { "GET" } else { "POST" };
        let signature = support::sign_v3(LAYER_TOKEN, method, &format!("http://{host}{target}"), b"", &nonce);
        let peer: SocketAddr = if trusted_peer { "10.1.2.3:5000" } else { "203.0.113.9:5000" }
            .parse()
            .unwrap();
        let mut request = Request::builder()
            .method(if get { "GET" } else { "POST" })
            .uri(target)
            .header("host", host)
            .header("x-plivo-signature-v3", &signature)
            .header("x-plivo-signature-v3-nonce", &nonce)
            .body(Full::new(Bytes::new()))
            .unwrap();
        for (name, value) in &headers {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                request.headers_mut().append(*name, value);
            }
        }
        request.extensions_mut().insert(PeerAddr(peer));
        let layer = &LAYERS[usize::from(forwarded_family)];
        let (status, rejection) = through_layer(layer, request);
        if trusted_peer {
            // Believed: the origin may change (so the signature no longer matches) or be
            // refused, but nothing else.
            prop_assert!(
                status == 200
                    || (status == 403
                        && matches!(
                            rejection,
                            Some(Rejection::SignatureMismatch | Rejection::UnknownOrigin)
                        )),
                "{} {:?}", status, rejection
            );
        } else {
            prop_assert_eq!((status, rejection), (200, None), "ignored from an untrusted peer");
        }
    }
}

// ---- body frames through a layer ----

/// A request body that arrives in these frames, each ready on its own poll.
struct Frames(std::collections::VecDeque<Bytes>);

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        std::task::Poll::Ready(
            self.0
                .pop_front()
                .map(|data| Ok(http_body::Frame::data(data))),
        )
    }
}

const FRAME_LIMIT: usize = 1024;

static LIMITED: LazyLock<PlivoSignatureLayer> = LazyLock::new(|| {
    PlivoSignatureLayer::builder()
        .auth_token(LAYER_TOKEN)
        .url_policy(tower_plivo::UrlPolicy::public_base("https://hooks.example.com").unwrap())
        .body_limit(FRAME_LIMIT)
        .build()
        .unwrap()
});

proptest! {
    #![proptest_config(config(512))]

    /// Whatever frames a body arrives in, a body within the limit reaches the handler whole and
    /// verifies, and one over it is refused with 413: every byte is counted once.
    #[test]
    fn a_body_in_any_frames_is_read_whole_or_refused_at_the_limit(
        overshoot in -3i64..=3,
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let len = (FRAME_LIMIT as i64 + overshoot) as usize;
        let body = format!("k={}", "a".repeat(len - 2));
        let mut at: Vec<usize> = cuts.iter().map(|cut| cut.index(len)).collect();
        at.extend([0, len]);
        at.sort_unstable();
        at.dedup();
        let frames = at.windows(2).map(|w| Bytes::copy_from_slice(&body.as_bytes()[w[0]..w[1]])).collect();
        let nonce = next_nonce();
        let signature = Signer::new(LAYER_TOKEN)
            .sign_v3_post("https://hooks.example.com/answer", body.as_bytes(), &nonce)
            .unwrap();
        let request = Request::post("/answer")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-plivo-signature-v3", &signature)
            .header("x-plivo-signature-v3-nonce", &nonce)
            .body(Frames(frames))
            .unwrap();
        let (status, received) = RUNTIME.block_on(async {
            let handler = tower::service_fn(|request: Request<RequestBody<Frames>>| async move {
                let body = http_body_util::BodyExt::collect(request.into_body()).await.unwrap().to_bytes();
                Ok::<_, Infallible>(Response::new(Full::new(body)))
            });
            let response = LIMITED.layer(handler).oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
            (status, body)
        });
        if len <= FRAME_LIMIT {
            prop_assert_eq!(status, 200);
            prop_assert_eq!(received, body.as_bytes());
        } else {
            prop_assert_eq!(status, 413);
        }
    }
}
