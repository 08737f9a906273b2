//! Form-pair parsing (docs/wire-format.md, the V3 message), differentially: the crate's one-pass
//! parser, decoder and sort, reached through the public `Signer`, must give the same message (so
//! the same tag) as the plain split/decode/sort reference in `tests/support/reference.rs`, for
//! arbitrary bytes as a form body
//! and (as UTF-8) as a query string, and both at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_plivo::signature::Signer;
use tower_plivo_fuzz::{Url, sign, v3_message};

const TOKEN: &str = "MAFUZZTOKEN";

fuzz_target!(|data: &[u8]| {
    let signer = Signer::new(TOKEN);
    // Split the input at the first 0xFF: query text before it, body after (or all body).
    let (query_raw, body) = match data.iter().position(|&b| b == 0xFF) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&b""[..], data),
    };

    // The whole input as a POST form body.
    let url = "https://h.example/p";
    let reference = v3_message(
        &Url {
            scheme: "https",
            authority: "h.example",
            path: "/p",
            query: None,
        },
        Some(data),
        b"1",
    );
    let got = signer.sign_v3_post(url, data, "1").expect("valid URL");
    assert_eq!(got, sign(TOKEN, &reference), "body {data:?}");

    // A query string (URL text: no `#`, which would start a fragment) and a body together.
    let query: String = String::from_utf8_lossy(query_raw).replace('#', "");
    let url = format!("https://h.example/p?{query}");
    let parts = Url {
        scheme: "https",
        authority: "h.example",
        path: "/p",
        query: Some(&query),
    };
    for (post, form) in [(false, None), (true, Some(body))] {
        let reference = v3_message(&parts, form, b"2");
        let got = match post {
            true => signer.sign_v3_post(&url, body, "2"),
            false => signer.sign_v3_get(&url, "2"),
        }
        .expect("valid URL");
        assert_eq!(
            got,
            sign(TOKEN, &reference),
            "post {post} query {query:?} body {body:?}"
        );
    }
});
