//! Signature-header parsing (SPEC §5): the six headers' claim never panics and follows the
//! rules; the list parser keeps exactly the pieces the reference keeps; a valid signature
//! anywhere in a list of garbage verifies, and garbage alone never does.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tower_plivo::signature::{
    Method, SignatureHeaders, SignedRequest, SignedUrl, Signer, Verifier, Version,
};
use tower_plivo::{AuthTokens, Rejection};

const TOKEN: &str = "MAFUZZTOKEN";
const URL: &str = "https://h.example/answer";

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    v3_signature: Option<&'a [u8]>,
    v3_main_account_signature: Option<&'a [u8]>,
    v3_nonce: Option<&'a [u8]>,
    v2_signature: Option<&'a [u8]>,
    v2_main_account_signature: Option<&'a [u8]>,
    v2_nonce: Option<&'a [u8]>,
    list: &'a [u8],
    position: u8,
}

fuzz_target!(|input: Input<'_>| {
    let headers = SignatureHeaders {
        v3_signature: input.v3_signature,
        v3_main_account_signature: input.v3_main_account_signature,
        v3_nonce: input.v3_nonce,
        v2_signature: input.v2_signature,
        v2_main_account_signature: input.v2_main_account_signature,
        v2_nonce: input.v2_nonce,
    };
    let any_v3 = [
        input.v3_signature,
        input.v3_main_account_signature,
        input.v3_nonce,
    ]
    .iter()
    .any(Option::is_some);
    match headers.claim() {
        Ok(claim) => {
            assert_eq!(claim.version() == Version::V3, any_v3, "downgrade rule");
            assert!(!claim.nonce().is_empty());
            assert!(!claim.nonce().iter().any(u8::is_ascii_control));
        }
        Err(rejection) => assert!(matches!(
            rejection,
            Rejection::MissingSignature | Rejection::MissingNonce | Rejection::InvalidNonce
        )),
    }

    let list = input.list;
    assert_eq!(
        tower_plivo::fuzzing::signature_pieces(list),
        tower_plivo_fuzz::signature_pieces(list),
        "{list:?}"
    );

    // The valid signature spliced into the garbage at a comma boundary verifies; the garbage
    // alone does not (it cannot hold the tag: the fuzzer never sees it).
    let signer = Signer::new(TOKEN);
    let good = signer
        .sign_v3(Method::Get, URL, b"", "7")
        .expect("valid URL");
    let verifier = Verifier::new(AuthTokens::new([TOKEN], None::<&str>).expect("valid token"));
    let request = SignedRequest {
        method: Method::Get,
        url: SignedUrl::parse(URL).expect("valid URL"),
        content_type: None,
        body: b"",
    };
    let at = usize::from(input.position).min(list.len());
    let mut spliced = list[..at].to_vec();
    spliced.extend_from_slice(b",");
    spliced.extend_from_slice(good.as_bytes());
    spliced.extend_from_slice(b",");
    spliced.extend_from_slice(&list[at..]);
    let verify = |header: &[u8]| {
        let headers = SignatureHeaders {
            v3_signature: Some(header),
            v3_nonce: Some(b"7"),
            ..Default::default()
        };
        headers
            .claim()
            .and_then(|claim| verifier.verify(&claim, &request))
    };
    assert!(verify(&spliced).is_ok(), "{spliced:?}");
    if !list.windows(44).any(|w| w == good.as_bytes()) {
        assert!(verify(list).is_err(), "{list:?}");
    }
});
