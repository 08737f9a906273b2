//! Signature-header parsing (docs/wire-format.md, comparison): the six headers' claim never
//! panics and follows the
//! rules; the list parser keeps exactly the pieces the reference keeps; a valid signature
//! anywhere in a list of garbage verifies, and garbage alone never does.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tower_plivo::SignatureVersion;
use tower_plivo::signature::{
    AuthTokens, SignatureHeaders, SignedRequest, SignedUrl, Signer, V2_MAIN_ACCOUNT_SIGNATURE,
    V2_NONCE, V2_SIGNATURE, V3_MAIN_ACCOUNT_SIGNATURE, V3_NONCE, V3_SIGNATURE, Verifier,
    VerifyError,
};

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
    let headers = SignatureHeaders::from_lookup(|name| match name {
        V3_SIGNATURE => input.v3_signature,
        V3_MAIN_ACCOUNT_SIGNATURE => input.v3_main_account_signature,
        V3_NONCE => input.v3_nonce,
        V2_SIGNATURE => input.v2_signature,
        V2_MAIN_ACCOUNT_SIGNATURE => input.v2_main_account_signature,
        V2_NONCE => input.v2_nonce,
        _ => None,
    });
    let any_v3 = [
        input.v3_signature,
        input.v3_main_account_signature,
        input.v3_nonce,
    ]
    .iter()
    .any(Option::is_some);
    match tower_plivo::fuzzing::claim(&headers) {
        Ok((version, nonce)) => {
            assert_eq!(version == SignatureVersion::V3, any_v3, "downgrade rule");
            assert!(!nonce.is_empty());
            assert!(
                !nonce
                    .iter()
                    .any(|b| b.is_ascii_control() || b".?/#".contains(b))
            );
        }
        Err(error) => assert!(matches!(
            error,
            VerifyError::MissingSignature | VerifyError::MissingNonce | VerifyError::InvalidNonce
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
    let good = signer.sign_v3_get(URL, "7").expect("valid URL");
    let verifier = Verifier::new(AuthTokens::new([TOKEN], None::<&str>).expect("valid token"));
    let request = SignedRequest::get(SignedUrl::parse(URL).expect("valid URL"));
    let at = usize::from(input.position).min(list.len());
    let mut spliced = list[..at].to_vec();
    spliced.extend_from_slice(b",");
    spliced.extend_from_slice(good.as_bytes());
    spliced.extend_from_slice(b",");
    spliced.extend_from_slice(&list[at..]);
    let verify = |header: &[u8]| {
        let headers = SignatureHeaders::from_lookup(|name| match name {
            V3_SIGNATURE => Some(header),
            V3_NONCE => Some(&b"7"[..]),
            _ => None,
        });
        verifier.verify(&headers, &request)
    };
    assert!(verify(&spliced).is_ok(), "{spliced:?}");
    if !list.windows(44).any(|w| w == good.as_bytes()) {
        assert!(verify(list).is_err(), "{list:?}");
    }
});
