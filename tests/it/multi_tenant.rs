//! Drives the `multi_tenant` example over TCP against a real SQLite file of tenants: each
//! tenant verified with its own tokens only, unknown tenants refused like forgeries, rotation
//! through the database, a store that cannot answer, one lookup per tenant under concurrency,
//! and no token in its logs at TRACE.

use crate::support;

use std::net::SocketAddr;
use std::time::Duration;

use tower_plivo::signature::Signer;

use support::examples::Running;
use support::tenants_db::TenantsDb;
use support::{FORM, Reply, fresh_nonce, send, sign_v3};

const ACME: &str = "acme-token-0000000000000000000001";
const ACME_NEXT: &str = "acme-token-0000000000000000000002";
const GLOBEX: &str = "globex-token-00000000000000000001";
const MAIN: &str = "main-account-token-00000000000001";
const BODY: &[u8] = b"CallUUID=c0ffee&From=15550001111&To=15550002222";

/// The example serving `db`, with these other variables.
fn start(db: &TenantsDb, env: &[(&str, &str)]) -> Running {
    let mut vars = vec![("TENANTS_DB", db.path_str())];
    vars.extend_from_slice(env);
    Running::example("multi_tenant", &vars)
}

/// The two tenants most tests use, sub-accounts of one main account.
fn acme_and_globex() -> TenantsDb {
    let db = TenantsDb::new();
    db.put("acme", ACME, Some(MAIN));
    db.put("globex", GLOBEX, Some(MAIN));
    db
}

/// Which signature header carries a request's signature.
#[derive(Clone, Copy)]
enum Header {
    Account,
    MainAccount,
}

/// A V3 POST to `path`, signed with `token` for `signed_path` (the path itself, unless a test
/// moves a signed request elsewhere).
async fn post_signed_for(
    addr: SocketAddr,
    path: &str,
    signed_path: &str,
    token: &str,
    header: Header,
) -> Reply {
    let nonce = fresh_nonce();
    let signature = sign_v3(
        token,
        "POST",
        &format!("http://{addr}{signed_path}"),
        BODY,
        &nonce,
    );
    let name = match header {
        Header::Account => "x-plivo-signature-v3",
        Header::MainAccount => "x-plivo-signature-ma-v3",
    };
    send(
        addr,
        "POST",
        path,
        &[
            (name, &signature),
            ("x-plivo-signature-v3-nonce", &nonce),
            FORM,
        ],
        BODY,
    )
    .await
}

async fn post(addr: SocketAddr, path: &str, token: &str) -> Reply {
    post_signed_for(addr, path, path, token, Header::Account).await
}

#[track_caller]
fn assert_answered(reply: &Reply, tenant: &str) {
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type").as_deref(), Some("text/plain"));
    assert_eq!(reply.text(), format!("tenant={tenant}"));
}

#[track_caller]
fn assert_forbidden(reply: &Reply) {
    assert_eq!((reply.status, reply.text().as_str()), (403, "forbidden\n"));
}

/// How many lookups the example logged for `tenant`.
fn lookups(log: &str, tenant: &str) -> usize {
    log.lines()
        .filter(|line| {
            line.contains("looking tenant up in the database")
                && line.contains(&format!("tenant=\"{tenant}\""))
        })
        .count()
}

#[tokio::test]
async fn each_tenant_verifies_with_its_own_tokens_only() {
    let db = acme_and_globex();
    let server = start(&db, &[]);
    let addr = server.addr;
    assert_answered(&post(addr, "/acme/answer", ACME).await, "acme");
    assert_answered(&post(addr, "/globex/answer", GLOBEX).await, "globex");
    // A customer signs a request for the other's route with its own token: both ways.
    assert_forbidden(&post(addr, "/globex/answer", ACME).await);
    assert_forbidden(&post(addr, "/acme/answer", GLOBEX).await);
    // A request signed for acme's route, sent to globex's, identical shape otherwise.
    let moved = post_signed_for(
        addr,
        "/globex/answer",
        "/acme/answer",
        ACME,
        Header::Account,
    )
    .await;
    assert_forbidden(&moved);
    let log = server.stop();
    let mismatches = log.lines().filter(|line| {
        line.contains("Plivo request rejected") && line.contains("signature_mismatch")
    });
    assert_eq!(mismatches.count(), 3, "{log}");
}

#[tokio::test]
async fn a_shared_main_account_token_does_not_let_one_sub_account_pass_for_the_other() {
    let db = acme_and_globex();
    let server = start(&db, &[]);
    let addr = server.addr;
    // Both tenants list the main account's token: Plivo's -Ma- signature verifies on each
    // tenant's own route, and the verified request names the token that matched.
    assert_answered(
        &post_signed_for(
            addr,
            "/acme/answer",
            "/acme/answer",
            MAIN,
            Header::MainAccount,
        )
        .await,
        "acme",
    );
    assert_answered(
        &post_signed_for(
            addr,
            "/globex/sms",
            "/globex/sms",
            MAIN,
            Header::MainAccount,
        )
        .await,
        "globex",
    );
    // The URL is signed: acme's request moved to globex's route does not verify there.
    let moved = post_signed_for(
        addr,
        "/globex/answer",
        "/acme/answer",
        MAIN,
        Header::MainAccount,
    )
    .await;
    assert_forbidden(&moved);
    server.stop();
}

#[tokio::test]
async fn an_unknown_tenant_gets_the_same_403_as_a_forgery() {
    let db = acme_and_globex();
    let server = start(&db, &[]);
    let addr = server.addr;
    let unknown = post(addr, "/initech/answer", ACME).await;
    let forged = post(addr, "/acme/answer", "not-the-token").await;
    assert_forbidden(&unknown);
    assert_forbidden(&forged);
    assert_eq!(unknown.headers.len(), forged.headers.len());
    // Case-sensitive, not decoded: neither is acme.
    assert_forbidden(&post(addr, "/ACME/answer", ACME).await);
    assert_forbidden(&post(addr, "/%61cme/answer", ACME).await);
    let log = server.stop();
    assert!(log.contains("reason=\"unknown_tenant\""), "{log}");
    assert!(
        log.contains(r#"no tenant \"initech\" in the token store"#),
        "{log}"
    );
}

#[tokio::test]
async fn only_the_two_routes_are_served_and_v2_only_on_sms() {
    let db = acme_and_globex();
    let server = start(&db, &[]);
    let addr = server.addr;
    assert_eq!(post(addr, "/acme/other", ACME).await.status, 404);
    assert_eq!(post(addr, "/acme", ACME).await.status, 404);
    assert_answered(&post(addr, "/acme/sms", ACME).await, "acme");
    // A V3 GET (Plivo's parameters in the query).
    let nonce = fresh_nonce();
    let url = format!("http://{addr}/acme/answer?CallUUID=c0ffee");
    let signature = sign_v3(ACME, "GET", &url, b"", &nonce);
    let get = send(
        addr,
        "GET",
        "/acme/answer?CallUUID=c0ffee",
        &[
            ("x-plivo-signature-v3", &signature),
            ("x-plivo-signature-v3-nonce", &nonce),
        ],
        "",
    )
    .await;
    assert_answered(&get, "acme");
    // V2 (messaging) on /sms only.
    let v2 = |path: &'static str| async move {
        let nonce = fresh_nonce();
        let signature = Signer::new(ACME)
            .sign_v2(&format!("http://{addr}{path}"), &nonce)
            .unwrap();
        send(
            addr,
            "POST",
            path,
            &[
                ("x-plivo-signature-v2", &signature),
                ("x-plivo-signature-v2-nonce", &nonce),
                FORM,
            ],
            "Text=hi",
        )
        .await
    };
    assert_answered(&v2("/acme/sms").await, "acme");
    assert_forbidden(&v2("/acme/answer").await);
    server.stop();
}

#[tokio::test]
async fn rotation_through_the_database_takes_effect_within_the_cache_time() {
    let db = TenantsDb::new();
    db.put("acme", ACME, None);
    let server = start(&db, &[("TENANT_CACHE_SECS", "1")]);
    let addr = server.addr;
    assert_answered(&post(addr, "/acme/answer", ACME).await, "acme");
    assert_forbidden(&post(addr, "/acme/answer", ACME_NEXT).await);
    // The new token added, the old one still listed: both verify.
    db.put("acme", &format!("{ACME_NEXT}, {ACME}"), None);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_answered(&post(addr, "/acme/answer", ACME_NEXT).await, "acme");
    assert_answered(&post(addr, "/acme/answer", ACME).await, "acme");
    // The old one removed: refused once the cache time has passed.
    db.put("acme", ACME_NEXT, None);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_forbidden(&post(addr, "/acme/answer", ACME).await);
    assert_answered(&post(addr, "/acme/answer", ACME_NEXT).await, "acme");
    server.stop();
}

#[tokio::test]
async fn a_store_that_cannot_answer_gives_503_then_recovers() {
    let db = acme_and_globex();
    let server = start(&db, &[]);
    let addr = server.addr;
    assert_answered(&post(addr, "/acme/answer", ACME).await, "acme");
    db.take_away();
    // A cached tenant is still served; one not in the cache gets 503, never a pass.
    assert_answered(&post(addr, "/acme/answer", ACME).await, "acme");
    let down = post(addr, "/globex/answer", GLOBEX).await;
    assert_eq!(
        (down.status, down.text().as_str()),
        (503, "service unavailable\n")
    );
    // Not remembered: the next request after recovery is answered.
    db.restore();
    assert_answered(&post(addr, "/globex/answer", GLOBEX).await, "globex");
    let log = server.stop();
    let errors: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("ERROR") && line.contains("tenant_store_unavailable"))
        .collect();
    assert_eq!(errors.len(), 1, "{log}");
    assert!(errors[0].contains("globex"), "{}", errors[0]);
}

#[tokio::test]
async fn a_request_without_signature_headers_is_refused_before_any_lookup() {
    let db = acme_and_globex();
    db.take_away();
    let server = start(&db, &[]);
    let addr = server.addr;
    // The store is down: a lookup would have answered 503.
    let unsigned = send(addr, "POST", "/acme/answer", &[FORM], BODY).await;
    assert_forbidden(&unsigned);
    let log = server.stop();
    assert_eq!(lookups(&log, "acme"), 0, "{log}");
    assert!(log.contains("reason=\"missing_signature\""), "{log}");
}

#[tokio::test]
async fn a_row_without_a_usable_token_answers_503_and_is_logged() {
    let db = TenantsDb::new();
    db.put("acme", " , ,", Some(MAIN));
    let server = start(&db, &[]);
    let reply = post(server.addr, "/acme/answer", ACME).await;
    assert_eq!(reply.status, 503);
    let log = server.stop();
    assert!(
        log.lines().any(|line| line.contains("ERROR")
            && line.contains(r#"the row of tenant \"acme\" has no usable auth token"#)),
        "{log}"
    );
}

#[tokio::test]
async fn a_hundred_concurrent_first_requests_make_one_lookup_per_tenant() {
    let db = acme_and_globex();
    let server = start(&db, &[]);
    let addr = server.addr;
    let requests = (0..100).flat_map(|_| {
        [
            tokio::spawn(async move { post(addr, "/acme/answer", ACME).await }),
            tokio::spawn(async move { post(addr, "/globex/answer", GLOBEX).await }),
        ]
    });
    let replies: Vec<Reply> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(replies.iter().all(|reply| reply.status == 200));
    let log = server.stop();
    assert_eq!(lookups(&log, "acme"), 1, "{log}");
    assert_eq!(lookups(&log, "globex"), 1, "{log}");
}

#[tokio::test]
async fn no_token_appears_in_any_log_at_trace() {
    let db = acme_and_globex();
    let server = start(&db, &[("RUST_LOG", "trace")]);
    let addr = server.addr;
    assert_answered(&post(addr, "/acme/answer", ACME).await, "acme");
    assert_forbidden(&post(addr, "/globex/answer", ACME).await);
    assert_forbidden(&post(addr, "/initech/answer", ACME).await);
    assert_answered(
        &post_signed_for(
            addr,
            "/globex/answer",
            "/globex/answer",
            MAIN,
            Header::MainAccount,
        )
        .await,
        "globex",
    );
    let log = server.stop();
    assert!(log.contains("TRACE"), "not at TRACE:\n{log}");
    for token in [ACME, GLOBEX, MAIN] {
        assert!(!log.contains(token), "a token leaked into the logs:\n{log}");
    }
}

/// `TENANTS_DB` is required: unset, the example stops at start naming it, and says how to try
/// it with a demo database instead (never an empty database that would refuse every tenant).
#[test]
fn without_tenants_db_the_example_stops_and_names_it() {
    let output = support::examples::command("multi_tenant", &[])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("TENANTS_DB is required") && stderr.contains("--demo"),
        "{stderr}"
    );
}
