//! Message building (docs/wire-format.md, the V3 and V2 messages), differentially and end to end: for an arbitrary URL, body,
//! nonce and token, the `Signer`'s V3 and V2 tags equal the reference message's tags, a URL is
//! refused exactly when the reference cannot split it, and whatever the `Signer` signs, the
//! `Verifier` accepts (and refuses under another nonce).
#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tower_plivo::fuzzing::HEADER_NAMES;
use tower_plivo::signature::{AuthTokens, Signer, Verifier};
use tower_plivo::{Rejection, SignatureVersion, TokenId};
use tower_plivo_fuzz::{parse_url, sign, v2_message, v3_message};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    post: bool,
    url: &'a str,
    body: &'a [u8],
    nonce: &'a str,
    token: &'a str,
}

/// A verifier whose token does not matter: it only asks whether the URL splits.
static ANY_TOKEN: LazyLock<Verifier> = LazyLock::new(|| {
    Verifier::new(AuthTokens::new(["MAFUZZTOKEN"], None::<&str>).expect("valid token"))
});

/// Whether the verifier can split `url` (the crate's `SignedUrl::parse`): a URL it cannot
/// split is refused as `UnknownOrigin`, before any header is read.
fn splits(url: &str) -> bool {
    tower_plivo::fuzzing::verify(&ANY_TOKEN, [None; 6], url, None) != Err(Rejection::UnknownOrigin)
}

/// The slot of a signature header in `HEADER_NAMES`' order.
fn slot(name: &str) -> usize {
    HEADER_NAMES
        .iter()
        .position(|&n| n == name)
        .unwrap_or_else(|| panic!("unknown signature header name {name:?}"))
}

fuzz_target!(|input: Input<'_>| {
    let Input {
        post,
        url,
        body,
        nonce,
        token,
    } = input;
    let signer = Signer::new(token);
    let reference = parse_url(url);
    let v3 = match post {
        true => signer.sign_v3_post(url, body, nonce),
        false => signer.sign_v3_get(url, nonce),
    };
    let v2 = signer.sign_v2(url, nonce);
    assert_eq!(splits(url), reference.is_some(), "{url:?}");
    let Some(parts) = reference else {
        assert!(v3.is_err() && v2.is_err(), "{url:?}");
        return;
    };
    let form = post.then_some(body);
    let v3 = v3.expect("the reference splits it");
    let v2 = v2.expect("the reference splits it");
    assert_eq!(
        v3,
        sign(token, &v3_message(&parts, form, nonce.as_bytes())),
        "{url:?}"
    );
    assert_eq!(
        v2,
        sign(token, &v2_message(&parts, nonce.as_bytes())),
        "{url:?}"
    );

    // Round trip through the verifier, when the token and nonce are ones it accepts.
    let Ok(tokens) = AuthTokens::new([token], None::<&str>) else {
        return;
    };
    let verifier = Verifier::new(tokens).accept_v2(true);
    let request = post.then_some((Some(&b"application/x-www-form-urlencoded"[..]), body));
    // Only the signature header and its nonce header are set.
    let verify = |signature_header: &str, signature: &str, nonce_header: &str, nonce: &str| {
        let mut values = [None; 6];
        values[slot(signature_header)] = Some(signature.as_bytes());
        values[slot(nonce_header)] = Some(nonce.as_bytes());
        tower_plivo::fuzzing::verify(&verifier, values, url, request)
    };
    let other = format!("{nonce}0");
    for (signature_header, signature, nonce_header, version) in [
        (
            "x-plivo-signature-v3",
            &v3,
            "x-plivo-signature-v3-nonce",
            SignatureVersion::V3,
        ),
        (
            "x-plivo-signature-v2",
            &v2,
            "x-plivo-signature-v2-nonce",
            SignatureVersion::V2,
        ),
    ] {
        let verdict = verify(signature_header, signature, nonce_header, nonce);
        if verdict == Err(Rejection::InvalidNonce) {
            // Only an empty nonce, control bytes or a character that could carry part of a
            // message is refused here.
            assert!(
                nonce.is_empty()
                    || nonce
                        .bytes()
                        .any(|b| b.is_ascii_control() || b".?/#".contains(&b)),
                "{nonce:?}"
            );
            continue;
        }
        assert_eq!(
            verdict,
            Ok((version, TokenId::Account(0))),
            "{url:?} {nonce:?}"
        );
        let verdict = verify(signature_header, signature, nonce_header, &other);
        assert!(verdict.is_err(), "{url:?} {nonce:?}");
    }
});
