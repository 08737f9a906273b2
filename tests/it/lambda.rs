//! The `lambda` example on each Lambda front door: its binary run as Lambda runs a function,
//! its real `lambda_runtime` loop fed by a local runtime API over TCP
//! (`support::lambda_runtime`), with events of the shapes API Gateway and function URLs send
//! (`tests/lambda-events/`, taken from `lambda_http`'s own test data; the README there says
//! what was changed in each). Each event is signed at run time as Plivo signs the URL it called;
//! the answer checked is the JSON the function hands back to Lambda.
//!
//! ```text
//! cargo test --features lambda --test it lambda::
//! ```
//!
//! Refusal reasons and the paths the function received are read from its log (stderr), as an
//! operator reads them in CloudWatch: a refusal's response says nothing of its reason.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::support::lambda_runtime::Function;
use crate::support::{fresh_nonce, sign_v3};

/// The function's token, and one it does not know.
const TOKEN: &str = "MAlambdaTESTtokenNOTaREALone0000";
const OTHER_TOKEN: &str = "MAanotherTOKENtheFUNCTIONlacks00";

/// What `/answer` answers.
const ANSWER_XML: &str = "<Response><Speak>Hello from AWS Lambda</Speak></Response>";

/// The form body of every event file, as Plivo sends a call's parameters.
const CALL: &str = "CallUUID=4c8e3f2a-lambda&From=%2B14155550100&To=%2B14155550199&Direction=inbound&CallStatus=ringing";

/// The REST API's and the HTTP API's execute-api origins and the function URL's origin, as the
/// event files name them (their `Host` header or `requestContext.domainName`).
const REST_ORIGIN: &str = "https://wt6mne2s9k.execute-api.us-west-2.amazonaws.com";
const HTTP_ORIGIN: &str = "https://id.execute-api.us-east-1.amazonaws.com";
const FUNCTION_URL_ORIGIN: &str = "https://id.lambda-url.eu-west-2.on.aws";
const CUSTOM_DOMAIN: &str = "https://hooks.example.com";

/// The query the HTTP API and function URL files carry (`rawQueryString`), and the REST API
/// files (`queryStringParameters`): part of the URL Plivo called, so part of what it signed.
const V2_QUERY: &str = "?parameter1=value1&parameter1=value2&parameter2=value";
const REST_QUERY: &str = "?name=me";

/// An event file of `tests/lambda-events/`.
fn event(file: &str) -> Value {
    let path = format!("{}/tests/lambda-events/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Whether the event is a REST API's (payload 1.0) rather than an HTTP API's or a function
/// URL's (2.0).
fn is_rest(event: &Value) -> bool {
    event.get("version").and_then(Value::as_str) != Some("2.0")
}

fn method(event: &Value) -> &str {
    if is_rest(event) {
        event["httpMethod"].as_str().unwrap()
    } else {
        event["requestContext"]["http"]["method"].as_str().unwrap()
    }
}

/// The event's body as sent (decoded when the event carries it in base64).
fn body(event: &Value) -> Vec<u8> {
    let Some(body) = event["body"].as_str() else {
        return Vec::new();
    };
    if event["isBase64Encoded"].as_bool() == Some(true) {
        BASE64.decode(body).unwrap()
    } else {
        body.as_bytes().to_vec()
    }
}

/// The event with another body, encoded as the event encodes its own.
fn with_body(event: &Value, body: &str) -> Value {
    let mut event = event.clone();
    event["body"] = if event["isBase64Encoded"].as_bool() == Some(true) {
        json!(BASE64.encode(body))
    } else {
        json!(body)
    };
    event
}

/// The event with these headers added (as API Gateway puts them in `headers`).
fn with_headers(event: &Value, headers: &[(&str, &str)]) -> Value {
    let mut event = event.clone();
    for (name, value) in headers {
        event["headers"][*name] = json!(value);
    }
    event
}

/// The event as Plivo sends it: V3-signed with `token` over `url`, the URL Plivo called, with
/// a fresh nonce.
fn signed_with(token: &str, event: &Value, url: &str) -> Value {
    let nonce = fresh_nonce();
    let signature = sign_v3(token, method(event), url, &body(event), &nonce);
    with_headers(
        event,
        &[
            ("X-Plivo-Signature-V3", signature.as_str()),
            ("X-Plivo-Signature-V3-Nonce", nonce.as_str()),
        ],
    )
}

fn signed(event: &Value, url: &str) -> Value {
    signed_with(TOKEN, event, url)
}

/// The function's answer: its status and body (decoded, if the answer is base64).
fn status(answer: &Value) -> u64 {
    answer["statusCode"].as_u64().unwrap()
}

fn answer_body(answer: &Value) -> String {
    let body = answer["body"].as_str().unwrap_or_default();
    if answer["isBase64Encoded"].as_bool() == Some(true) {
        String::from_utf8(BASE64.decode(body).unwrap()).unwrap()
    } else {
        body.to_owned()
    }
}

/// The JSON a REST API takes from the function (`lambda_http`'s `ApiGatewayProxyResponse`):
/// the headers in `multiValueHeaders`, a text body.
fn rest_answer(status: u16, headers: &[(&str, &str)], body: &str) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), json!([value])))
        .collect();
    json!({
        "statusCode": status,
        "headers": {},
        "multiValueHeaders": headers,
        "body": body,
        "isBase64Encoded": false,
    })
}

/// The JSON an HTTP API or a function URL takes from the function (`ApiGatewayV2httpResponse`):
/// the headers in `headers`, cookies apart, a text body.
fn http_answer(status: u16, headers: &[(&str, &str)], body: &str) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), json!(value)))
        .collect();
    json!({
        "statusCode": status,
        "headers": headers,
        "multiValueHeaders": {},
        "body": body,
        "isBase64Encoded": false,
        "cookies": [],
    })
}

/// What the function answers, as its front door takes it: Plivo XML for a verified call (axum
/// sets its length), the layer's bare 403 for a refusal (the same for every reason).
fn answered(rest: bool, status: u16) -> Value {
    let length = ANSWER_XML.len().to_string();
    let (headers, body) = match status {
        200 => (
            vec![
                ("content-type", "application/xml"),
                ("content-length", length.as_str()),
            ],
            ANSWER_XML,
        ),
        403 => (
            vec![("content-type", "text/plain; charset=utf-8")],
            "forbidden\n",
        ),
        other => panic!("no expected answer for {other}"),
    };
    if rest {
        rest_answer(status, &headers, body)
    } else {
        http_answer(status, &headers, body)
    }
}

/// The four requests every front door is tried with, on one function (one Lambda instance, so
/// one memory replay store): the event signed for `url` gets 200 and Plivo's XML; the same
/// event again is refused (replayed); with a tampered body, or signed with a token the function
/// does not know, it is refused too. The function's refusal reasons, in order, are then
/// `replayed`, `signature_mismatch`, `signature_mismatch`.
async fn genuine_replayed_forged(function: &mut Function, event: &Value, url: &str) {
    let rest = is_rest(event);
    let genuine = signed(event, url);
    assert_eq!(
        function.invoke(&genuine).await,
        answered(rest, 200),
        "{url}"
    );
    assert_eq!(
        function.invoke(&genuine).await,
        answered(rest, 403),
        "replayed"
    );
    let tampered = with_body(&genuine, &CALL.replace("14155550199", "19005550666"));
    assert_eq!(
        function.invoke(&tampered).await,
        answered(rest, 403),
        "tampered"
    );
    let unknown = signed_with(OTHER_TOKEN, event, url);
    assert_eq!(
        function.invoke(&unknown).await,
        answered(rest, 403),
        "unknown token"
    );
}

/// The refusal reasons the function logged, in order.
fn reasons(log: &str) -> Vec<String> {
    field_values(log, "reason")
}

/// The paths `/answer` logged it received, in order.
fn answered_paths(log: &str) -> Vec<String> {
    log.lines()
        .filter(|line| line.contains("answered Plivo's call"))
        .flat_map(|line| field_values(line, "path"))
        .collect()
}

/// The URLs the layer verified and accepted, in order.
fn accepted_urls(log: &str) -> Vec<String> {
    log.lines()
        .filter(|line| line.contains("Plivo request accepted"))
        .flat_map(|line| field_values(line, "url"))
        .collect()
}

/// Each `name="value"` (or `name=value`) in `text`, in order.
fn field_values(text: &str, name: &str) -> Vec<String> {
    let key = format!(" {name}=");
    let mut values = Vec::new();
    for line in text.lines() {
        for (at, _) in line.match_indices(&key) {
            let value = &line[at + key.len()..];
            values.push(match value.strip_prefix('"') {
                Some(quoted) => quoted[..quoted.find('"').unwrap()].to_owned(),
                None => value.split(' ').next().unwrap().to_owned(),
            });
        }
    }
    values
}

const REPLAYED_FORGED: [&str; 3] = ["replayed", "signature_mismatch", "signature_mismatch"];

// ---- API Gateway REST API, stage `test` ----

/// The recommended set-up: `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true` leaves the path as API
/// Gateway gave it (`/answer`, so routes do not depend on the stage), and the stage goes in
/// the public URL.
#[tokio::test]
async fn rest_api_stage_in_the_public_url_with_ignore_stage_in_path() {
    let public_url = format!("{REST_ORIGIN}/test");
    let mut function = Function::start(&[
        ("PLIVO_AUTH_TOKEN", TOKEN),
        ("PLIVO_PUBLIC_URL", &public_url),
        ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true"),
    ])
    .await;
    let plivo_called = format!("{REST_ORIGIN}/test/answer{REST_QUERY}");
    genuine_replayed_forged(&mut function, &event("rest-api-stage.json"), &plivo_called).await;
    let log = function.stop();
    assert_eq!(answered_paths(&log), ["/answer"], "{log}");
    assert_eq!(accepted_urls(&log), [plivo_called], "{log}");
    assert_eq!(reasons(&log), REPLAYED_FORGED, "{log}");
    assert!(log.contains("replay protection in memory"), "{log}");
}

/// `lambda_http`'s default puts the stage back in front of the path (`/test/answer`): then the
/// public URL is the bare origin, and the routes see the stage.
#[tokio::test]
async fn rest_api_stage_put_back_by_lambda_http() {
    let mut function = Function::start(&[
        ("PLIVO_AUTH_TOKEN", TOKEN),
        ("PLIVO_PUBLIC_URL", REST_ORIGIN),
    ])
    .await;
    let plivo_called = format!("{REST_ORIGIN}/test/answer{REST_QUERY}");
    genuine_replayed_forged(&mut function, &event("rest-api-stage.json"), &plivo_called).await;
    let log = function.stop();
    assert_eq!(answered_paths(&log), ["/test/answer"], "{log}");
    assert_eq!(accepted_urls(&log), [plivo_called], "{log}");
    assert_eq!(reasons(&log), REPLAYED_FORGED, "{log}");
}

/// The mistakes: the stage neither in the path nor in the public URL, or in both.
#[tokio::test]
async fn rest_api_stage_missing_or_doubled_is_refused() {
    let plivo_called = format!("{REST_ORIGIN}/test/answer{REST_QUERY}");
    let event = event("rest-api-stage.json");
    let doubled = format!("{REST_ORIGIN}/test");
    for (public_url, ignore_stage) in [(REST_ORIGIN, Some("true")), (doubled.as_str(), None)] {
        let mut env = vec![
            ("PLIVO_AUTH_TOKEN", TOKEN),
            ("PLIVO_PUBLIC_URL", public_url),
        ];
        env.extend(ignore_stage.map(|value| ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", value)));
        let mut function = Function::start(&env).await;
        let answer = function.invoke(&signed(&event, &plivo_called)).await;
        assert_eq!(answer, answered(true, 403), "{env:?}");
        let log = function.stop();
        assert_eq!(reasons(&log), ["signature_mismatch"], "{env:?}\n{log}");
    }
}

/// Plivo's GET callbacks carry every parameter in the query. A REST API hands the function the
/// parameters decoded (`queryStringParameters`: `From` is `+14155550100`), and `lambda_http`
/// encodes them again, in another order: the V3 message sorts and decodes the query, so the
/// signature still matches.
#[tokio::test]
async fn rest_api_get_callback_with_its_parameters_in_the_query() {
    let public_url = format!("{REST_ORIGIN}/test");
    let mut function = Function::start(&[
        ("PLIVO_AUTH_TOKEN", TOKEN),
        ("PLIVO_PUBLIC_URL", &public_url),
        ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "1"),
    ])
    .await;
    let mut get = event("rest-api-stage.json");
    get["httpMethod"] = json!("GET");
    get["requestContext"]["httpMethod"] = json!("GET");
    get.as_object_mut().unwrap().remove("body");
    get["headers"]
        .as_object_mut()
        .unwrap()
        .remove("Content-Type");
    get["queryStringParameters"] = json!({
        "name": "me",
        "CallUUID": "4c8e3f2a-lambda",
        "From": "+14155550100",
        "To": "+14155550199",
        "Direction": "inbound",
    });
    let plivo_called = format!(
        "{REST_ORIGIN}/test/answer?name=me&CallUUID=4c8e3f2a-lambda&From=%2B14155550100&To=%2B14155550199&Direction=inbound"
    );
    let genuine = signed(&get, &plivo_called);
    assert_eq!(function.invoke(&genuine).await, answered(true, 200));
    let mut tampered = genuine.clone();
    tampered["queryStringParameters"]["To"] = json!("+19005550666");
    assert_eq!(function.invoke(&tampered).await, answered(true, 403));
    let log = function.stop();
    assert_eq!(answered_paths(&log), ["/answer"], "{log}");
    assert_eq!(reasons(&log), ["signature_mismatch"], "{log}");
}

/// `PLIVO_SOURCE_NETWORKS` checks the client address the event carries
/// (`requestContext.identity.sourceIp`), never a header: an `X-Forwarded-For` naming an
/// allowed address does not let another client in.
#[tokio::test]
async fn rest_api_source_networks_check_the_events_source_ip() {
    let mut function = Function::start(&[
        ("PLIVO_AUTH_TOKEN", TOKEN),
        ("PLIVO_PUBLIC_URL", REST_ORIGIN),
        ("PLIVO_SOURCE_NETWORKS", "192.168.100.0/24"),
    ])
    .await;
    let plivo_called = format!("{REST_ORIGIN}/test/answer{REST_QUERY}");
    let allowed = event("rest-api-stage.json");
    assert_eq!(
        allowed["requestContext"]["identity"]["sourceIp"],
        "192.168.100.1"
    );
    let answer = function.invoke(&signed(&allowed, &plivo_called)).await;
    assert_eq!(answer, answered(true, 200));
    let mut outside = with_headers(&allowed, &[("X-Forwarded-For", "192.168.100.1")]);
    outside["requestContext"]["identity"]["sourceIp"] = json!("203.0.113.9");
    let answer = function.invoke(&signed(&outside, &plivo_called)).await;
    assert_eq!(answer, answered(true, 403));
    let log = function.stop();
    assert_eq!(reasons(&log), ["source_not_allowed"], "{log}");
}

// ---- API Gateway HTTP API ----

/// The `$default` stage is in no URL: the public URL is the bare origin, whatever
/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` says.
#[tokio::test]
async fn http_api_default_stage() {
    let mut function = Function::start(&[
        ("PLIVO_AUTH_TOKEN", TOKEN),
        ("PLIVO_PUBLIC_URL", HTTP_ORIGIN),
    ])
    .await;
    let plivo_called = format!("{HTTP_ORIGIN}/answer{V2_QUERY}");
    let event = event("http-api-default-stage.json");
    genuine_replayed_forged(&mut function, &event, &plivo_called).await;
    let log = function.stop();
    assert_eq!(answered_paths(&log), ["/answer"], "{log}");
    assert_eq!(accepted_urls(&log), [plivo_called], "{log}");
    assert_eq!(reasons(&log), REPLAYED_FORGED, "{log}");
}

/// A named stage is already in the HTTP API's `rawPath` (`/Prod/answer`), and `lambda_http`
/// leaves it there with or without `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`: the public URL is the
/// bare origin either way.
#[tokio::test]
async fn http_api_named_stage_stays_in_the_path() {
    let plivo_called = format!("{HTTP_ORIGIN}/Prod/answer{V2_QUERY}");
    let event = event("http-api-named-stage.json");
    for ignore_stage in [None, Some("true")] {
        let mut env = vec![
            ("PLIVO_AUTH_TOKEN", TOKEN),
            ("PLIVO_PUBLIC_URL", HTTP_ORIGIN),
        ];
        env.extend(ignore_stage.map(|value| ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", value)));
        let mut function = Function::start(&env).await;
        genuine_replayed_forged(&mut function, &event, &plivo_called).await;
        let log = function.stop();
        assert_eq!(answered_paths(&log), ["/Prod/answer"], "{env:?}\n{log}");
        assert_eq!(accepted_urls(&log), [plivo_called.as_str()], "{log}");
        assert_eq!(reasons(&log), REPLAYED_FORGED, "{log}");
    }
}

/// The stage of an HTTP API in the public URL as well is one stage too many
/// (`…/Prod/Prod/answer`): refused, and the signature doctor names the prefix.
#[tokio::test]
async fn http_api_named_stage_in_the_public_url_is_refused() {
    let public_url = format!("{HTTP_ORIGIN}/Prod");
    let mut function = Function::start(&[
        ("PLIVO_AUTH_TOKEN", TOKEN),
        ("PLIVO_PUBLIC_URL", &public_url),
        ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true"),
    ])
    .await;
    let plivo_called = format!("{HTTP_ORIGIN}/Prod/answer{V2_QUERY}");
    let answer = function
        .invoke(&signed(&event("http-api-named-stage.json"), &plivo_called))
        .await;
    assert_eq!(answer, answered(false, 403));
    if cfg!(feature = "diagnosis") {
        function.wait_for_log("prefix_not_stripped").await;
    }
    let log = function.stop();
    assert_eq!(reasons(&log), ["signature_mismatch"], "{log}");
}

// ---- Function URL ----

/// A function URL has no stage and no base path: the public URL is its origin.
#[tokio::test]
async fn function_url() {
    let mut function = Function::start(&[
        ("PLIVO_AUTH_TOKEN", TOKEN),
        ("PLIVO_PUBLIC_URL", FUNCTION_URL_ORIGIN),
        ("PLIVO_SOURCE_NETWORKS", "65.78.31.0/24"),
    ])
    .await;
    let plivo_called = format!("{FUNCTION_URL_ORIGIN}/answer{V2_QUERY}");
    genuine_replayed_forged(&mut function, &event("function-url.json"), &plivo_called).await;
    let log = function.stop();
    assert_eq!(answered_paths(&log), ["/answer"], "{log}");
    assert_eq!(accepted_urls(&log), [plivo_called], "{log}");
    assert_eq!(reasons(&log), REPLAYED_FORGED, "{log}");
}

// ---- Custom domain with a base-path mapping ----

/// A custom domain `hooks.example.com` whose base path `plivo` maps to the REST API's stage
/// `test`: the event's path keeps the base path (`/plivo/answer`) and has no stage, so
/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true` must keep `lambda_http` from adding one, and the
/// public URL is the bare custom domain.
#[tokio::test]
async fn rest_api_custom_domain_base_path() {
    let mut function = Function::start(&[
        ("PLIVO_AUTH_TOKEN", TOKEN),
        ("PLIVO_PUBLIC_URL", CUSTOM_DOMAIN),
        ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true"),
    ])
    .await;
    let plivo_called = format!("{CUSTOM_DOMAIN}/plivo/answer{REST_QUERY}");
    let event = event("rest-api-custom-domain.json");
    genuine_replayed_forged(&mut function, &event, &plivo_called).await;
    let log = function.stop();
    assert_eq!(answered_paths(&log), ["/plivo/answer"], "{log}");
    assert_eq!(accepted_urls(&log), [plivo_called], "{log}");
    assert_eq!(reasons(&log), REPLAYED_FORGED, "{log}");
}

/// The custom domain's mistakes: `lambda_http` left to add the stage (`/test/plivo/answer`),
/// or the base path in the public URL as though the mapping had removed it
/// (`…/plivo/plivo/answer`, which the signature doctor names).
#[tokio::test]
async fn rest_api_custom_domain_with_a_stage_added_or_the_base_path_twice_is_refused() {
    let plivo_called = format!("{CUSTOM_DOMAIN}/plivo/answer{REST_QUERY}");
    let event = event("rest-api-custom-domain.json");
    let with_base_path = format!("{CUSTOM_DOMAIN}/plivo");
    for (public_url, ignore_stage) in [
        (CUSTOM_DOMAIN, None),
        (with_base_path.as_str(), Some("true")),
    ] {
        let mut env = vec![
            ("PLIVO_AUTH_TOKEN", TOKEN),
            ("PLIVO_PUBLIC_URL", public_url),
        ];
        env.extend(ignore_stage.map(|value| ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", value)));
        let mut function = Function::start(&env).await;
        let answer = function.invoke(&signed(&event, &plivo_called)).await;
        assert_eq!(answer, answered(true, 403), "{env:?}");
        if ignore_stage.is_some() && cfg!(feature = "diagnosis") {
            function.wait_for_log("prefix_not_stripped").await;
        }
        let log = function.stop();
        assert_eq!(reasons(&log), ["signature_mismatch"], "{env:?}\n{log}");
    }
}

/// The same custom domain mapped (API mapping `plivo`) to an HTTP API: to its `$default` stage,
/// then to a named stage `prod` that the event's `rawPath` does not carry (set in the event
/// here), which `lambda_http` would add unless `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set.
/// (Whether an API mapping's path stays in `rawPath` is reported both ways; the other shape is
/// the next test.)
#[tokio::test]
async fn http_api_custom_domain_api_mapping() {
    let plivo_called = format!("{CUSTOM_DOMAIN}/plivo/answer{V2_QUERY}");
    let default_stage = event("http-api-custom-domain.json");
    let mut named_stage = default_stage.clone();
    named_stage["requestContext"]["stage"] = json!("prod");
    for (event, ignore_stage, verdict) in [
        (&default_stage, None, 200),
        (&named_stage, Some("true"), 200),
        (&named_stage, None, 403),
    ] {
        let mut env = vec![
            ("PLIVO_AUTH_TOKEN", TOKEN),
            ("PLIVO_PUBLIC_URL", CUSTOM_DOMAIN),
        ];
        env.extend(ignore_stage.map(|value| ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", value)));
        let mut function = Function::start(&env).await;
        if verdict == 200 {
            genuine_replayed_forged(&mut function, event, &plivo_called).await;
            let log = function.stop();
            assert_eq!(answered_paths(&log), ["/plivo/answer"], "{env:?}\n{log}");
            assert_eq!(reasons(&log), REPLAYED_FORGED, "{log}");
        } else {
            let answer = function.invoke(&signed(event, &plivo_called)).await;
            assert_eq!(answer, answered(false, 403), "{env:?}");
            let log = function.stop();
            assert_eq!(reasons(&log), ["signature_mismatch"], "{log}");
        }
    }
}

/// The other shape reported for an HTTP API's API mapping: `rawPath` without the mapping's
/// path (`/answer`), which then goes in the public URL, as for a proxy that strips a prefix.
#[tokio::test]
async fn http_api_custom_domain_api_mapping_removed_from_the_path() {
    let public_url = format!("{CUSTOM_DOMAIN}/plivo");
    let mut function = Function::start(&[
        ("PLIVO_AUTH_TOKEN", TOKEN),
        ("PLIVO_PUBLIC_URL", &public_url),
    ])
    .await;
    let mut event = event("http-api-custom-domain.json");
    event["rawPath"] = json!("/answer");
    event["requestContext"]["http"]["path"] = json!("/answer");
    let plivo_called = format!("{CUSTOM_DOMAIN}/plivo/answer{V2_QUERY}");
    genuine_replayed_forged(&mut function, &event, &plivo_called).await;
    let log = function.stop();
    assert_eq!(answered_paths(&log), ["/answer"], "{log}");
    assert_eq!(accepted_urls(&log), [plivo_called], "{log}");
    assert_eq!(reasons(&log), REPLAYED_FORGED, "{log}");
}

/// A verified call for a path the function does not route gets 404 naming the path it
/// received: what to read when the routes and the front door disagree.
#[tokio::test]
async fn a_verified_call_to_an_unrouted_path_names_the_path_received() {
    let mut function = Function::start(&[
        ("PLIVO_AUTH_TOKEN", TOKEN),
        ("PLIVO_PUBLIC_URL", HTTP_ORIGIN),
    ])
    .await;
    let mut hangup = event("http-api-default-stage.json");
    hangup["rawPath"] = json!("/calls/hangup");
    let plivo_called = format!("{HTTP_ORIGIN}/calls/hangup{V2_QUERY}");
    let answer = function.invoke(&signed(&hangup, &plivo_called)).await;
    assert_eq!(status(&answer), 404);
    assert_eq!(answer_body(&answer), "no route for /calls/hangup\n");
    function.stop();
}

// ---- Replays across instances ----

/// Lambda runs one instance per call in flight, each with its own memory: a replay that lands
/// on another instance than the original is not recognised. The reason a shared store is
/// needed, shown here so that the guide's claim is tested, not assumed.
#[tokio::test]
async fn memory_replay_protection_misses_a_replay_on_another_instance() {
    let env = [
        ("PLIVO_AUTH_TOKEN", TOKEN),
        ("PLIVO_PUBLIC_URL", FUNCTION_URL_ORIGIN),
    ];
    let mut first = Function::start(&env).await;
    let mut second = Function::start(&env).await;
    let plivo_called = format!("{FUNCTION_URL_ORIGIN}/answer{V2_QUERY}");
    let genuine = signed(&event("function-url.json"), &plivo_called);
    assert_eq!(first.invoke(&genuine).await, answered(false, 200));
    assert_eq!(first.invoke(&genuine).await, answered(false, 403));
    assert_eq!(
        second.invoke(&genuine).await,
        answered(false, 200),
        "the other instance"
    );
    assert_eq!(reasons(&first.stop()), ["replayed"]);
    second.stop();
}

/// With `PLIVO_REPLAY_STORE=redis://…` (feature `redis`), every instance shares what was seen:
/// the replay is refused on the other instance too.
#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_replay_protection_refuses_a_replay_on_another_instance() {
    let redis = crate::support::redis_node::RedisNode::start(&[]);
    let url = redis.url(None);
    let env = [
        ("PLIVO_AUTH_TOKEN", TOKEN),
        ("PLIVO_PUBLIC_URL", FUNCTION_URL_ORIGIN),
        ("PLIVO_REPLAY_STORE", url.as_str()),
    ];
    let mut first = Function::start(&env).await;
    let mut second = Function::start(&env).await;
    let plivo_called = format!("{FUNCTION_URL_ORIGIN}/answer{V2_QUERY}");
    let genuine = signed(&event("function-url.json"), &plivo_called);
    assert_eq!(first.invoke(&genuine).await, answered(false, 200));
    assert_eq!(
        second.invoke(&genuine).await,
        answered(false, 403),
        "the other instance"
    );
    first.stop();
    let log = second.stop();
    assert_eq!(reasons(&log), ["replayed"], "{log}");
    assert!(!log.contains("replay protection in memory"), "{log}");
}
