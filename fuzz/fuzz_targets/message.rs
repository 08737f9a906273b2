//! Message building (docs/wire-format.md, the V3 and V2 messages), differentially and end to end: for an arbitrary URL, body,
//! nonce and token, the `Signer`'s V3 and V2 tags equal the reference message's tags, a URL is
//! refused exactly when the reference cannot split it, and whatever the `Signer` signs, the
//! `Verifier` accepts (and refuses under another nonce).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tower_plivo::signature::{
    AuthTokens, SignatureHeaders, SignedRequest, SignedUrl, Signer, V2_NONCE, V2_SIGNATURE,
    V3_NONCE, V3_SIGNATURE, Verifier, VerifyError,
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
    let signer = Signer::new(token);
    let reference = parse_url(url);
    let v3 = match post {
        true => signer.sign_v3_post(url, body, nonce),
        false => signer.sign_v3_get(url, nonce),
    };
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
    let verifier = Verifier::new(tokens).accept_v2(true);
    let url = SignedUrl::parse(url).expect("parsed above");
    let request = match post {
        true => SignedRequest::post(url, Some(b"application/x-www-form-urlencoded"), body),
        false => SignedRequest::get(url),
    };
    let headers = |signature_header: &'static str, signature: &str, nonce_header, nonce: &str| {
        let (signature, nonce) = (signature.as_bytes().to_vec(), nonce.as_bytes().to_vec());
        move |verifier: &Verifier, request: &SignedRequest<'_>| {
            let headers = SignatureHeaders::from_lookup(|name| {
                (name == signature_header)
                    .then_some(&signature[..])
                    .or((name == nonce_header).then_some(&nonce[..]))
            });
            verifier.verify(&headers, request)
        }
    };
    let other = format!("{nonce}0");
    for (signature_header, signature, nonce_header, version) in [
        (V3_SIGNATURE, &v3, V3_NONCE, tower_plivo::SignatureVersion::V3),
        (V2_SIGNATURE, &v2, V2_NONCE, tower_plivo::SignatureVersion::V2),
    ] {
        let verdict =
            headers(signature_header, signature, nonce_header, nonce)(&verifier, &request);
        if verdict == Err(VerifyError::InvalidNonce) {
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
            Ok((version, tower_plivo::TokenId::Account(0))),
            "{url:?} {nonce:?}"
        );
        let verdict =
            headers(signature_header, signature, nonce_header, &other)(&verifier, &request);
        assert!(verdict.is_err(), "{url:?} {nonce:?}");
    }
});
