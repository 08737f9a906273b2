//! Message building (SPEC §2, §3), differentially and end to end: for an arbitrary URL, body,
//! nonce and token, the `Signer`'s V3 and V2 tags equal the reference message's tags, a URL is
//! refused exactly when the reference cannot split it, and whatever the `Signer` signs, the
//! `Verifier` accepts (and refuses under another nonce).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tower_plivo::AuthTokens;
use tower_plivo::signature::{
    Method, SignatureHeaders, SignedRequest, SignedUrl, Signer, Verifier,
};
use tower_plivo_fuzz::{parse_url, sign, v2_message, v3_message};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    post: bool,
    url: &'a str,
    body: &'a [u8],
    nonce: &'a str,
    token: &'a str,
}

fuzz_target!(|input: Input<'_>| {
    let Input {
        post,
        url,
        body,
        nonce,
        token,
    } = input;
    let method = if post { Method::Post } else { Method::Get };
    let signer = Signer::new(token);
    let reference = parse_url(url);
    let v3 = signer.sign_v3(method, url, body, nonce);
    let v2 = signer.sign_v2(url, nonce);
    assert_eq!(
        SignedUrl::parse(url).is_ok(),
        reference.is_some(),
        "{url:?}"
    );
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
    let verifier = Verifier::new(tokens);
    let request = SignedRequest {
        method,
        url: SignedUrl::parse(url).expect("parsed above"),
        content_type: Some(b"application/x-www-form-urlencoded"),
        body: if post { body } else { b"" },
    };
    for (v3_header, v2_header) in [(Some(v3.as_bytes()), None), (None, Some(v2.as_bytes()))] {
        let headers = SignatureHeaders {
            v3_signature: v3_header,
            v3_nonce: v3_header.map(|_| nonce.as_bytes()),
            v2_signature: v2_header,
            v2_nonce: v2_header.map(|_| nonce.as_bytes()),
            ..Default::default()
        };
        let Ok(claim) = headers.claim() else {
            // Only an empty nonce or one with control bytes is refused here.
            assert!(nonce.is_empty() || nonce.bytes().any(|b| b.is_ascii_control()));
            continue;
        };
        assert!(
            verifier.verify(&claim, &request).is_ok(),
            "{url:?} {nonce:?}"
        );
        let other = format!("{nonce}0");
        let headers = SignatureHeaders {
            v3_nonce: v3_header.map(|_| other.as_bytes()),
            v2_nonce: v2_header.map(|_| other.as_bytes()),
            ..headers
        };
        let claim = headers.claim().expect("same nonce plus a digit");
        assert!(
            verifier.verify(&claim, &request).is_err(),
            "{url:?} {nonce:?}"
        );
    }
});
