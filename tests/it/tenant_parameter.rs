//! Tenants named in the signed request: a messaging platform knows its customer by the number
//! called (`To`), a signed parameter of the body (POST) or query (GET), read once the body is.
//! Two tenants, each with its own sub-account token under one shared main-account token, over
//! real TCP. The attack: V3's body string has no separators, so a captured body re-split so that
//! `To` names the other tenant signs the same; it must verify for nobody but the tenant Plivo
//! signed for (replay protection on and off).

use crate::support;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use tower_plivo::signature::{AuthTokens, Signer};
use tower_plivo::tenants::{StoreFuture, TenantCache, TenantRequest, TokenSource};
use tower_plivo::{PlivoGuardBuilder, PlivoSignatureLayer, PlivoVerified, UrlPolicy};

use support::{
    FORM, V2_NONCE, V2_SIGNATURE, V3_MAIN_ACCOUNT_SIGNATURE, V3_NONCE, V3_SIGNATURE,
    expose_rejection, fresh_nonce, send, serve_on, sign_v3,
};

const ORIGIN: &str = "https://sms.example.com";
const ALICE: &str = "14155550199";
const ALICE_TOKEN: &str = "SAaliceSUBACCOUNTtokenaaaaaaaaaaaaaa";
const BOB: &str = "19998887777";
const BOB_TOKEN: &str = "SAbobSUBACCOUNTtokenbbbbbbbbbbbbbbbbb";
const MAIN_TOKEN: &str = "MAsharedMAINaccountTOKENmmmmmmmmmmmm";

/// Each number's own sub-account token, both under one main account; the store is slow (a
/// real database), so the request waits for its tenant after its body. Streams are named by
/// their first path segment (the head rule).
#[derive(Clone, Default)]
struct Numbers {
    lookups: Arc<AtomicUsize>,
}

impl TokenSource for Numbers {
    fn tenant<'a>(&self, request: &TenantRequest<'a>) -> Option<Cow<'a, str>> {
        request.path_segment(0).map(Cow::Borrowed)
    }

    fn tokens(&self, number: &str) -> StoreFuture<Option<AuthTokens>> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let own = match number {
            ALICE => Some(ALICE_TOKEN),
            BOB => Some(BOB_TOKEN),
            _ => None,
        };
        StoreFuture::pending(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(own.map(|own| AuthTokens::new([own], [MAIN_TOKEN]).unwrap()))
        })
    }
}

fn layer(numbers: Numbers) -> PlivoGuardBuilder<PlivoSignatureLayer> {
    let cache = TenantCache::builder(numbers)
        .tenant_from_signed_parameter("To")
        .build()
        .unwrap();
    PlivoSignatureLayer::builder()
        .tenants(cache)
        .url_policy(UrlPolicy::public_base(ORIGIN).unwrap())
}

/// Answers with the tenant that verified the request.
async fn tenant_of(request: Request) -> impl IntoResponse {
    let verified = request.extensions().get::<PlivoVerified>().cloned();
    verified.map_or_else(String::new, |v| v.tenant().unwrap_or_default().to_owned())
}

async fn server(builder: PlivoGuardBuilder<PlivoSignatureLayer>) -> SocketAddr {
    let app = Router::new()
        .fallback(tenant_of)
        .layer(builder.build().unwrap());
    serve_on("127.0.0.1:0", expose_rejection(app)).await
}

/// A POST of `body` to `/sms` with both V3 headers as Plivo sends them for `sub_token`'s
/// account: the plain one with the sub-account's token, `-Ma-` with the main account's.
struct Delivery {
    body: String,
    signature: String,
    main_signature: String,
    nonce: String,
}

impl Delivery {
    fn signed(sub_token: &str, body: &str) -> Self {
        let url = format!("{ORIGIN}/sms");
        let nonce = fresh_nonce();
        Self {
            body: body.to_owned(),
            signature: sign_v3(sub_token, "POST", &url, body.as_bytes(), &nonce),
            main_signature: sign_v3(MAIN_TOKEN, "POST", &url, body.as_bytes(), &nonce),
            nonce,
        }
    }

    /// The same headers over another body.
    fn with_body(&self, body: &str) -> Self {
        Self {
            body: body.to_owned(),
            signature: self.signature.clone(),
            main_signature: self.main_signature.clone(),
            nonce: self.nonce.clone(),
        }
    }

    async fn post(&self, addr: SocketAddr) -> (u16, String) {
        let headers = [
            (V3_SIGNATURE, self.signature.as_str()),
            (V3_MAIN_ACCOUNT_SIGNATURE, self.main_signature.as_str()),
            (V3_NONCE, self.nonce.as_str()),
            FORM,
        ];
        let reply = send(addr, "POST", "/sms", &headers, self.body.clone()).await;
        (reply.status, reply.reason().unwrap_or_else(|| reply.text()))
    }
}

#[tokio::test]
async fn the_tenant_is_the_number_called_verified_with_its_own_token() {
    let numbers = Numbers::default();
    let addr = server(layer(numbers.clone())).await;
    let to_alice = Delivery::signed(ALICE_TOKEN, &format!("From=12025550123&Text=hi&To={ALICE}"));
    assert_eq!(to_alice.post(addr).await, (200, ALICE.to_owned()));
    let to_bob = Delivery::signed(BOB_TOKEN, &format!("Text=yo&To={BOB}"));
    assert_eq!(to_bob.post(addr).await, (200, BOB.to_owned()));
    // Alice's token does not verify a message to Bob, nor the reverse.
    let crossed = Delivery::signed(ALICE_TOKEN, &format!("Text=yo&To={BOB}"));
    assert_eq!(
        crossed.post(addr).await,
        (403, "signature_mismatch".to_owned())
    );
    // Each tenant looked up once (then cached), and the crossed one from the cache.
    assert_eq!(numbers.lookups.load(Ordering::Relaxed), 2);
}

/// The re-split: Plivo signed `Text=hiTo19998887777` + `To=14155550199` (a message to Alice
/// whose text ends in Bob's number). `Text=hi` + `To=19998887777` + an empty key
/// `To14155550199` has the same V3 body string, so both signatures cover it; it names Bob.
#[tokio::test]
async fn a_body_re_split_to_name_another_tenant_verifies_for_nobody() {
    let genuine_body = format!("Text=hiTo{BOB}&To={ALICE}");
    let re_split = format!("Text=hi&To={BOB}&To{ALICE}=");
    for replay in [false, true] {
        let builder = layer(Numbers::default());
        let builder = if replay {
            builder
        } else {
            builder.without_replay_protection()
        };
        let addr = server(builder).await;
        // Sent before the genuine delivery (a captured copy raced ahead), and after it.
        let genuine = Delivery::signed(ALICE_TOKEN, &genuine_body);
        let forged = genuine.with_body(&re_split);
        assert_eq!(
            forged.post(addr).await,
            (403, "signature_mismatch".to_owned()),
            "replay protection {replay}: Bob's own token does not verify it, and the shared \
             main-account token is not read on such a route"
        );
        assert_eq!(
            genuine.post(addr).await,
            (200, ALICE.to_owned()),
            "replay {replay}"
        );
        let again = genuine.with_body(&re_split);
        assert_eq!(
            again.post(addr).await,
            (403, "signature_mismatch".to_owned())
        );
        // The genuine delivery itself, again: a replay when replay protection is on.
        let twice = genuine.post(addr).await;
        let expected = if replay {
            (403, "replayed".to_owned())
        } else {
            (200, ALICE.to_owned())
        };
        assert_eq!(twice, expected);
    }
}

#[tokio::test]
async fn a_main_account_signature_alone_verifies_no_tenant_named_in_the_body() {
    let addr = server(layer(Numbers::default())).await;
    let body = format!("Text=hi&To={ALICE}");
    let delivery = Delivery::signed(MAIN_TOKEN, &body);
    assert_eq!(
        delivery.post(addr).await,
        (403, "signature_mismatch".to_owned())
    );
}

#[tokio::test]
async fn a_missing_repeated_or_unsigned_parameter_names_no_tenant() {
    let addr = server(layer(Numbers::default())).await;
    for body in [
        "Text=hi".to_owned(),
        format!("Text=hi&To={ALICE}&To={ALICE}"),
        "Text=hi&To=".to_owned(),
        format!("Text=hi&to={ALICE}"),
        // The same key twice in two encodings, as a form extractor decodes it.
        format!("Text=hi&To={ALICE}&T%6F={BOB}"),
    ] {
        let delivery = Delivery::signed(ALICE_TOKEN, &body);
        assert_eq!(
            delivery.post(addr).await,
            (403, "unknown_tenant".to_owned()),
            "{body}"
        );
    }
    // An escaped key is the key, as the signature and a form extractor decode it.
    let escaped = Delivery::signed(ALICE_TOKEN, &format!("Text=hi&T%6F={ALICE}"));
    assert_eq!(escaped.post(addr).await, (200, ALICE.to_owned()));
    // `To ` (with a space, `+` decoded) is another key.
    let spaced = Delivery::signed(ALICE_TOKEN, &format!("To+={BOB}&To={ALICE}"));
    assert_eq!(spaced.post(addr).await, (200, ALICE.to_owned()));
    // A POST's tenant comes from its body: `To` in its query names nobody.
    let nonce = fresh_nonce();
    let url = format!("{ORIGIN}/sms?To={ALICE}");
    let signature = sign_v3(ALICE_TOKEN, "POST", &url, b"Text=hi", &nonce);
    let headers = [
        (V3_SIGNATURE, signature.as_str()),
        (V3_NONCE, nonce.as_str()),
        FORM,
    ];
    let reply = send(
        addr,
        "POST",
        &format!("/sms?To={ALICE}"),
        &headers,
        "Text=hi",
    )
    .await;
    assert_eq!(reply.reason().as_deref(), Some("unknown_tenant"));
}

#[tokio::test]
async fn a_get_names_its_tenant_in_its_query() {
    let addr = server(layer(Numbers::default())).await;
    let target = format!("/sms?Text=hi&To={BOB}");
    let nonce = fresh_nonce();
    let signature = sign_v3(BOB_TOKEN, "GET", &format!("{ORIGIN}{target}"), b"", &nonce);
    let headers = [
        (V3_SIGNATURE, signature.as_str()),
        (V3_NONCE, nonce.as_str()),
    ];
    let reply = send(addr, "GET", &target, &headers, "").await;
    assert_eq!((reply.status, reply.text()), (200, BOB.to_owned()));
}

#[tokio::test]
async fn v2_alone_is_refused_on_such_a_route_even_where_v2_is_accepted() {
    let addr = server(layer(Numbers::default()).accept_v2(true)).await;
    let nonce = fresh_nonce();
    let signature = Signer::new(ALICE_TOKEN)
        .sign_v2(&format!("{ORIGIN}/sms"), &nonce)
        .unwrap();
    let headers = [
        (V2_SIGNATURE, signature.as_str()),
        (V2_NONCE, nonce.as_str()),
        FORM,
    ];
    let reply = send(addr, "POST", "/sms", &headers, format!("To={ALICE}")).await;
    assert_eq!(
        reply.reason().as_deref(),
        Some("signature_version_not_accepted")
    );
}

#[tokio::test]
async fn the_guard_alone_waits_for_a_tenant_named_in_the_body() {
    let guard = tower_plivo::PlivoGuard::builder()
        .tenants(
            TenantCache::builder(Numbers::default())
                .tenant_from_signed_parameter("To")
                .build()
                .unwrap(),
        )
        .url_policy(UrlPolicy::public_base(ORIGIN).unwrap())
        .build()
        .unwrap();
    let delivery = Delivery::signed(BOB_TOKEN, &format!("Text=yo&To={BOB}"));
    let request = http::Request::post("/sms")
        .header(V3_SIGNATURE, &delivery.signature)
        .header(V3_NONCE, &delivery.nonce)
        .header(FORM.0, FORM.1)
        .body(())
        .unwrap();
    let head = tower_plivo::RequestHead::from(&request);
    let checked = guard.check_head(head).await.unwrap();
    let accepted = guard
        .check_body(checked, head, delivery.body.clone().into())
        .await
        .unwrap();
    assert_eq!(accepted.verified().tenant(), Some(BOB));
    assert!(guard.synchronous().is_err(), "a lookup may have to wait");
}

#[test]
fn an_empty_parameter_name_is_a_configuration_error() {
    let built = TenantCache::builder(Numbers::default())
        .tenant_from_signed_parameter("")
        .build();
    assert!(built.is_err());
}

/// A stream upgrade has no body: the source's head rule names its tenant (here the first path
/// segment), verified with that tenant's tokens.
#[tokio::test]
async fn a_stream_upgrade_has_no_body_so_the_head_rule_names_its_tenant() {
    use support::websocket::{assert_refused, connect, plivo_stream_url, upgrade_request};

    let app = Router::new()
        .nest(&format!("/{ALICE}"), support::websocket::stream_routes())
        .layer(layer(Numbers::default()).build().unwrap());
    let addr = serve_on("127.0.0.1:0", expose_rejection(app)).await;
    let target = format!("/{ALICE}/stream");
    let signed = plivo_stream_url("sms.example.com", &target);
    let alice = upgrade_request(addr, &target, &signed, ALICE_TOKEN, &fresh_nonce());
    assert!(connect(alice).await.is_ok(), "Alice's stream opens");
    let bob = upgrade_request(addr, &target, &signed, BOB_TOKEN, &fresh_nonce());
    assert_refused(connect(bob).await, "signature_mismatch");
}
