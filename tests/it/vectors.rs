//! Every public vector (docs/wire-format.md), positive and negative, through the pure verifier
//! and through the layer in front of a real axum server.

use crate::support;

use axum::Router;
use tower_plivo::signature::{AuthTokens, Signer, Verifier};
use tower_plivo::{PlivoSignatureLayer, Rejection, SignatureVersion, TokenId, UrlPolicy};

use support::vectors::{ORIGIN, V2_NONCE, V2_TOKEN, V2_VECTORS, V3_NONCE, V3_TOKEN, V3_VECTORS};
use support::{
    FORM, V2_NONCE as V2_NONCE_HEADER, V2_SIGNATURE, V3_NONCE as V3_NONCE_HEADER, V3_SIGNATURE,
    echo, send, serve,
};

#[test]
fn signer_reproduces_every_v3_vector() {
    let signer = Signer::new(V3_TOKEN);
    for vector in &V3_VECTORS {
        let (target, body) = vector.wire();
        let url = format!("{ORIGIN}{target}");
        let signature = match vector.method {
            "GET" => signer.sign_v3_get(&url, V3_NONCE),
            _ => signer.sign_v3_post(&url, body.as_bytes(), V3_NONCE),
        }
        .unwrap();
        assert_eq!(
            signature, vector.signature,
            "{} {}",
            vector.method, vector.path
        );
    }
}

#[test]
fn signer_reproduces_every_v2_vector_and_the_wrong_token_differs() {
    for (url, expected) in V2_VECTORS {
        assert_eq!(
            Signer::new(V2_TOKEN).sign_v2(url, V2_NONCE).unwrap(),
            expected,
            "{url}"
        );
    }
    let wrong = Signer::new("my_auth_tokens")
        .sign_v2(V2_VECTORS[0].0, V2_NONCE)
        .unwrap();
    assert_ne!(wrong, V2_VECTORS[0].1);
}

fn pure_verify(
    tokens: &[&str],
    version_v3: bool,
    method: &str,
    url: &str,
    body: &str,
    signature: &str,
    nonce: &str,
) -> Result<TokenId, Rejection> {
    let verifier = Verifier::new(AuthTokens::new(tokens, None::<&str>).unwrap()).accept_v2(true);
    let (signature_header, nonce_header) = if version_v3 {
        (V3_SIGNATURE, V3_NONCE_HEADER)
    } else {
        (V2_SIGNATURE, V2_NONCE_HEADER)
    };
    let pairs = [
        (signature_header, signature.as_bytes()),
        (nonce_header, nonce.as_bytes()),
    ];
    let (version, token) = support::pure_verify(&verifier, method, url, &pairs, body.as_bytes())?;
    let expected = if version_v3 {
        SignatureVersion::V3
    } else {
        SignatureVersion::V2
    };
    assert_eq!(version, expected, "the version that verified");
    Ok(token)
}

/// The pure verifier, like the layer, accepts V3 only unless told otherwise: a genuine V2
/// vector is refused until V2 is accepted.
#[test]
fn the_pure_verifier_accepts_v2_only_when_told() {
    let (url, signature) = V2_VECTORS[1];
    let pairs = [
        (V2_SIGNATURE, signature.as_bytes()),
        (V2_NONCE_HEADER, V2_NONCE.as_bytes()),
    ];
    let tokens = AuthTokens::new([V2_TOKEN], None::<&str>).unwrap();
    let v3_only = Verifier::new(tokens);
    assert_eq!(
        support::pure_verify(&v3_only, "POST", url, &pairs, b""),
        Err(Rejection::SignatureVersionNotAccepted)
    );
    assert_eq!(
        support::pure_verify(&v3_only.accept_v2(true), "POST", url, &pairs, b""),
        Ok((SignatureVersion::V2, TokenId::Account(0)))
    );
}

#[test]
fn pure_verifier_accepts_vectors_and_refuses_each_mutation() {
    for vector in &V3_VECTORS {
        let (target, body) = vector.wire();
        let url = format!("{ORIGIN}{target}");
        let verify = |token: &str, url: &str, body: &str, signature: &str, nonce: &str| {
            pure_verify(&[token], true, vector.method, url, body, signature, nonce)
        };
        assert_eq!(
            verify(V3_TOKEN, &url, body, vector.signature, V3_NONCE),
            Ok(TokenId::Account(0))
        );
        let mismatch = Err(Rejection::SignatureMismatch);
        assert_eq!(
            verify(
                "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc5",
                &url,
                body,
                vector.signature,
                V3_NONCE
            ),
            mismatch
        );
        assert_eq!(
            verify(
                V3_TOKEN,
                &url.replace("https", "http"),
                body,
                vector.signature,
                V3_NONCE
            ),
            mismatch
        );
        assert_eq!(
            verify(
                V3_TOKEN,
                &url.replace(".com", ".com:443"),
                body,
                vector.signature,
                V3_NONCE
            ),
            mismatch
        );
        assert_eq!(
            verify(
                V3_TOKEN,
                &url,
                body,
                vector.signature,
                "31627761595286130199"
            ),
            mismatch
        );
        assert_eq!(
            verify(
                V3_TOKEN,
                &url.replace("StartApp", "StartAppX"),
                &body.replace("StartApp", "StartAppX"),
                vector.signature,
                V3_NONCE
            ),
            mismatch
        );
        let flipped = vector
            .signature
            .replacen('k', "K", 1)
            .replacen('U', "u", 1)
            .replacen('i', "I", 1);
        assert_ne!(flipped, vector.signature);
        assert_eq!(verify(V3_TOKEN, &url, body, &flipped, V3_NONCE), mismatch);
    }
}

#[test]
fn pure_verifier_v2_vectors() {
    for (url, signature) in V2_VECTORS {
        assert_eq!(
            pure_verify(&[V2_TOKEN], false, "POST", url, "", signature, V2_NONCE),
            Ok(TokenId::Account(0))
        );
        // V2 signs neither query nor body.
        let with_query = format!("{url}?x=1");
        assert_eq!(
            pure_verify(
                &[V2_TOKEN],
                false,
                "GET",
                &with_query,
                "",
                signature,
                V2_NONCE
            ),
            Ok(TokenId::Account(0))
        );
        assert_eq!(
            pure_verify(
                &["my_auth_tokens"],
                false,
                "POST",
                url,
                "",
                signature,
                V2_NONCE
            ),
            Err(Rejection::SignatureMismatch)
        );
    }
}

/// Replay protection is off: Plivo's published vectors share one nonce, several of them on
/// one URL (the replay key is the URL and the nonce), and they are checked here for their
/// signatures, not as traffic.
async fn v3_server() -> std::net::SocketAddr {
    let plivo = PlivoSignatureLayer::builder()
        .auth_token(V3_TOKEN)
        .url_policy(UrlPolicy::public_base(ORIGIN).unwrap())
        .without_replay_protection()
        .build()
        .unwrap();
    serve(Router::new().fallback(echo).layer(plivo)).await
}

#[tokio::test]
async fn layer_accepts_every_v3_vector_over_tcp_and_hands_the_body_on() {
    let addr = v3_server().await;
    for vector in &V3_VECTORS {
        let (target, body) = vector.wire();
        let headers = [
            ("X-Plivo-Signature-V3", vector.signature),
            ("X-Plivo-Signature-V3-Nonce", V3_NONCE),
            FORM,
        ];
        let headers = if vector.method == "GET" {
            &headers[..2]
        } else {
            &headers[..]
        };
        let reply = send(addr, vector.method, &target, headers, body).await;
        assert_eq!(
            reply.status,
            200,
            "{} {}: {}",
            vector.method,
            vector.path,
            reply.text()
        );
        assert_eq!(reply.text(), body, "body handed on byte for byte");
        assert_eq!(
            reply.header("x-verified-token").as_deref(),
            Some("account:0")
        );
        assert_eq!(
            reply.header("x-verified-url"),
            Some(format!("{ORIGIN}{target}"))
        );
    }
}

#[tokio::test]
async fn layer_refuses_mutated_v3_vectors_over_tcp() {
    let addr = v3_server().await;
    for vector in &V3_VECTORS {
        let (target, body) = vector.wire();
        let attempts: Vec<(String, String, &str, &str)> = vec![
            (
                target.replace("StartApp", "StartApp2"),
                body.replace("StartApp", "StartApp2"),
                vector.signature,
                V3_NONCE,
            ),
            (
                target.clone(),
                body.to_owned(),
                vector.signature,
                "31627761595286130190",
            ),
            (
                target.replace("signature03", "signature04"),
                body.to_owned(),
                vector.signature,
                V3_NONCE,
            ),
            (
                target.clone(),
                body.to_owned(),
                "iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e1=",
                V3_NONCE,
            ),
        ];
        for (target, body, signature, nonce) in attempts {
            let headers = [
                ("X-Plivo-Signature-V3", signature),
                ("X-Plivo-Signature-V3-Nonce", nonce),
                FORM,
            ];
            send(addr, vector.method, &target, &headers, body)
                .await
                .assert_refused(403, "signature_mismatch");
        }
    }
}

#[tokio::test]
async fn layer_v2_vectors_over_tcp() {
    // The layer sees a request line `/` for both `https://answer.url` and `https://answer.url/`:
    // they are the same request on the wire, and both signatures verify.
    for (url, signature) in V2_VECTORS {
        let origin = url.trim_end_matches('/');
        let plivo = PlivoSignatureLayer::builder()
            .auth_token(V2_TOKEN)
            .url_policy(UrlPolicy::public_base(origin).unwrap())
            .accept_v2(true)
            .build()
            .unwrap();
        let addr = serve(Router::new().fallback(echo).layer(plivo)).await;
        let good = [
            ("X-Plivo-Signature-V2", signature),
            ("X-Plivo-Signature-V2-Nonce", V2_NONCE),
        ];
        let reply = send(addr, "POST", "/", &good, "any=body").await;
        assert_eq!(reply.status, 200, "{url}");
        assert_eq!(reply.header("x-verified-version").as_deref(), Some("v2"));
        let wrong_nonce = [
            ("X-Plivo-Signature-V2", signature),
            ("X-Plivo-Signature-V2-Nonce", "12346"),
        ];
        assert_eq!(
            send(addr, "POST", "/", &wrong_nonce, "").await.status,
            403,
            "{url}"
        );
        let other_path = send(addr, "POST", "/x", &good, "").await;
        assert_eq!(other_path.status, 403, "{url}");
    }
    // The negative vector: signed with `my_auth_tokens`, verified with `my_auth_token`.
    let wrong = Signer::new("my_auth_tokens")
        .sign_v2("https://answer.url", V2_NONCE)
        .unwrap();
    let plivo = PlivoSignatureLayer::builder()
        .auth_token(V2_TOKEN)
        .url_policy(UrlPolicy::public_base("https://answer.url").unwrap())
        .accept_v2(true)
        .build()
        .unwrap();
    let addr = serve(Router::new().fallback(echo).layer(plivo)).await;
    let headers = [
        ("X-Plivo-Signature-V2", wrong.as_str()),
        ("X-Plivo-Signature-V2-Nonce", V2_NONCE),
    ];
    send(addr, "GET", "/", &headers, "")
        .await
        .assert_refused(403, "signature_mismatch");
}

/// The vectors printed in `docs/wire-format.md` are the ones the tests run: the document's
/// tables are read back and compared with `support::vectors`, so neither can drift.
#[test]
fn the_wire_format_document_prints_exactly_the_tested_vectors() {
    let document = include_str!("../../docs/wire-format.md");
    let section = document
        .split("## 8. Public vectors")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/wire-format.md has a section 8 with the public vectors");
    let rows: Vec<Vec<&str>> = section
        .lines()
        .filter(|line| {
            line.starts_with("| ") && !line.starts_with("| method") && !line.starts_with("| URL")
        })
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().trim_matches('`'))
                .collect()
        })
        .collect();
    let v3: Vec<(&str, &str, &str)> = rows
        .iter()
        .filter(|r| r.len() == 3)
        .map(|r| (r[0], r[1], r[2]))
        .collect();
    let v2: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r.len() == 2)
        .map(|r| (r[0], r[1]))
        .collect();
    let url = |path: &str| format!("{ORIGIN}{path}");
    let expected_v3: Vec<(String, String, String)> = V3_VECTORS
        .iter()
        .map(|v| (v.method.to_owned(), url(v.path), v.signature.to_owned()))
        .collect();
    let printed_v3: Vec<(String, String, String)> = v3
        .iter()
        .map(|&(method, which, signature)| {
            let path = match which {
                "A" => support::vectors::PATH_A,
                "B" => support::vectors::PATH_B,
                other => panic!("unknown URL label {other}"),
            };
            (method.to_owned(), url(path), signature.to_owned())
        })
        .collect();
    assert_eq!(printed_v3, expected_v3);
    assert_eq!(v2, V2_VECTORS.to_vec());
    let printed_params: Vec<&str> = section
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("section 8 prints P13 in a text block")
        .split("  ")
        .flat_map(str::lines)
        .map(str::trim)
        .collect();
    let params: Vec<String> = support::reference::pairs(support::vectors::P13.as_bytes())
        .into_iter()
        .map(|(key, value)| {
            format!(
                "{}={}",
                String::from_utf8_lossy(&key),
                String::from_utf8_lossy(&value)
            )
        })
        .collect();
    assert_eq!(printed_params, params);
    for needle in [
        V3_TOKEN,
        V3_NONCE,
        V2_TOKEN,
        &format!("nonce `{V2_NONCE}`"),
        &format!("URL A is `{}`", url(support::vectors::PATH_A)),
        &format!("URL B\nis `{}`", url(support::vectors::PATH_B)),
    ] {
        assert!(
            section.contains(needle),
            "section 8 does not print {needle:?}"
        );
    }
}
