//! Replays every fixture generated with the official Plivo Python SDK
//! (`tests/fixtures/generate_sdk_fixtures.py` → `tests/fixtures/sdk_fixtures.json`) through the
//! layer in front of a real axum server over TCP: each must be accepted or refused exactly as
//! the fixture says, accepted ones by the token it names and with the body handed on intact.

use crate::support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use serde_json::Value;
use tower_plivo::{PlivoSignatureLayer, UrlPolicy};

use support::{echo, send, serve};

const FIXTURES: &str = include_str!("../fixtures/sdk_fixtures.json");

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_sdk_fixture_replays_through_the_layer() {
    let data: Value = serde_json::from_str(FIXTURES).unwrap();
    let account_tokens = strings(&data["auth_tokens"]);
    let main_token = data["main_token"].as_str().unwrap().to_owned();
    let cases = data["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 500,
        "expected at least 500 fixtures, found {}",
        cases.len()
    );

    // One server per public origin the fixtures were signed for and signature version: V3
    // fixtures go to a voice route (the default, V3 only), V2 ones to a messaging route that
    // accepts V2.
    let mut servers: BTreeMap<(String, bool), SocketAddr> = BTreeMap::new();
    let (mut accepted, mut refused) = (0, 0);
    let mut failures = Vec::new();
    for case in cases {
        let origin = case["origin"].as_str().unwrap();
        let id = case["id"].as_str().unwrap();
        let v2 = id.starts_with("v2-");
        let key = (origin.to_owned(), v2);
        if !servers.contains_key(&key) {
            let layer = PlivoSignatureLayer::builder()
                .auth_tokens(account_tokens.iter().cloned())
                .main_account_token(main_token.clone())
                .url_policy(UrlPolicy::public_base(origin).unwrap())
                .accept_v2(v2)
                .build()
                .unwrap();
            let addr = serve(Router::new().fallback(echo).layer(layer)).await;
            servers.insert(key.clone(), addr);
        }
        let addr = servers[&key];
        let method = case["method"].as_str().unwrap();
        let target = case["target"].as_str().unwrap();
        let body = case["body"].as_str().unwrap().to_owned();
        let mut headers: Vec<(String, String)> = case["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| {
                (
                    pair[0].as_str().unwrap().to_owned(),
                    pair[1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        if let Some(content_type) = case["content_type"].as_str() {
            headers.push(("content-type".into(), content_type.into()));
        }
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let expect_accept = case["expect"].as_str().unwrap() == "accept";
        // A copy that still verifies signs the same message as its source, which the same
        // server accepted before it: replay protection refuses it there. Its signature must
        // still verify, so it is also sent to a server that has not seen its source.
        let same_message_as_an_accepted_one = expect_accept && case["copy_of"].is_string();
        if same_message_as_an_accepted_one {
            let reply = send(addr, method, target, &headers, body.clone()).await;
            if (reply.status, reply.reason().as_deref()) != (403, Some("replayed")) {
                failures.push(format!(
                    "{id}: the same signed message as {} was not refused as a replay: {} {:?}",
                    case["copy_of"],
                    reply.status,
                    reply.reason()
                ));
            }
        }
        let addr = if same_message_as_an_accepted_one {
            let layer = PlivoSignatureLayer::builder()
                .auth_tokens(account_tokens.iter().cloned())
                .main_account_token(main_token.clone())
                .url_policy(UrlPolicy::public_base(origin).unwrap())
                .accept_v2(v2)
                .build()
                .unwrap();
            serve(Router::new().fallback(echo).layer(layer)).await
        } else {
            addr
        };
        let reply = send(addr, method, target, &headers, body.clone()).await;

        let outcome = if expect_accept {
            accepted += 1;
            let token = case["expected_token"].as_str();
            if reply.status != 200 {
                Some(format!(
                    "expected 200, got {} {}",
                    reply.status,
                    reply.text().trim()
                ))
            } else if reply.header("x-verified-token").as_deref() != token {
                Some(format!(
                    "verified by {:?}, expected {token:?}",
                    reply.header("x-verified-token")
                ))
            } else if reply.text() != body {
                Some("body not handed on intact".to_owned())
            } else {
                None
            }
        } else {
            refused += 1;
            // Refused for what the request says, never as a replay: a replay would mean the
            // signature verified where the SDK says it must not.
            (reply.status != 403 || reply.reason().as_deref() == Some("replayed"))
                .then(|| format!("expected 403, got {} {:?}", reply.status, reply.reason()))
        };
        if let Some(problem) = outcome {
            failures.push(format!(
                "{id} ({}): {problem}",
                case["description"].as_str().unwrap_or("")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    println!(
        "replayed {} fixtures: {accepted} accepted, {refused} refused, {} origins",
        cases.len(),
        servers.len()
    );
}
