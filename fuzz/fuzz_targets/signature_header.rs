//! Signature-header parsing (docs/wire-format.md, comparison): the six headers' claim never
//! panics and follows the
//! rules; the list parser keeps exactly the pieces the reference keeps; a valid signature
//! anywhere in a list of garbage verifies, and garbage alone never does.
#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tower_plivo::fuzzing::HEADER_NAMES;
use tower_plivo::signature::{AuthTokens, Signer, Verifier};
use tower_plivo::{Rejection, SignatureVersion};

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

/// The six header values in `HEADER_NAMES`' order, each given by its header's name.
fn values<'a>(value: impl Fn(&str) -> Option<&'a [u8]>) -> [Option<&'a [u8]>; 6] {
    HEADER_NAMES.map(value)
}

static VERIFIER: LazyLock<Verifier> =
    LazyLock::new(|| Verifier::new(AuthTokens::new([TOKEN], None::<&str>).expect("valid token")));
/// The valid V3 signature of a GET to `URL` with the nonce `7`.
static GOOD: LazyLock<String> =
    LazyLock::new(|| Signer::new(TOKEN).sign_v3_get(URL, "7").expect("valid URL"));

fuzz_target!(|input: Input<'_>| {
    let headers = values(|name| match name {
        "x-plivo-signature-v3" => input.v3_signature,
        "x-plivo-signature-ma-v3" => input.v3_main_account_signature,
        "x-plivo-signature-v3-nonce" => input.v3_nonce,
        "x-plivo-signature-v2" => input.v2_signature,
        "x-plivo-signature-ma-v2" => input.v2_main_account_signature,
        "x-plivo-signature-v2-nonce" => input.v2_nonce,
        _ => panic!("unknown signature header name {name:?}"),
    });
    let any_v3 = [
        input.v3_signature,
        input.v3_main_account_signature,
        input.v3_nonce,
    ]
    .iter()
    .any(Option::is_some);
    match tower_plivo::fuzzing::claim(headers) {
        Ok((version, nonce)) => {
            assert_eq!(version == SignatureVersion::V3, any_v3, "downgrade rule");
            assert!(!nonce.is_empty());
            assert!(
                !nonce
                    .iter()
                    .any(|b| b.is_ascii_control() || b".?/#".contains(b))
            );
        }
        Err(error) => assert!(
            matches!(
                error,
                Rejection::MissingSignature | Rejection::MissingNonce | Rejection::InvalidNonce
            ),
            "{error:?}"
        ),
    }

    let list = input.list;
    assert_eq!(
        tower_plivo::fuzzing::signature_pieces(list),
        tower_plivo_fuzz::signature_pieces(list),
        "{list:?}"
    );

    // The valid signature spliced into the garbage at a comma boundary verifies; the garbage
    // alone does not (it cannot hold the tag: the fuzzer never sees it).
    let good = GOOD.as_str();
    let at = usize::from(input.position).min(list.len());
    let mut spliced = list[..at].to_vec();
    spliced.extend_from_slice(b",");
    spliced.extend_from_slice(good.as_bytes());
    spliced.extend_from_slice(b",");
    spliced.extend_from_slice(&list[at..]);
    let verify = |header: &[u8]| {
        let headers = values(|name| match name {
            "x-plivo-signature-v3" => Some(header),
            "x-plivo-signature-v3-nonce" => Some(&b"7"[..]),
            _ => None,
        });
        tower_plivo::fuzzing::verify(&VERIFIER, headers, URL, None)
    };
    assert!(verify(&spliced).is_ok(), "{spliced:?}");
    if !list.windows(44).any(|w| w == good.as_bytes()) {
        assert!(verify(list).is_err(), "{list:?}");
    }
});
