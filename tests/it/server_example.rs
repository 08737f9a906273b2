//! Drives the compiled `server` example exactly as its contract says (environment variables in,
//! HTTP over TCP, one log line per request on stderr), like a test outside the repo would.

use crate::support;

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use tower_plivo::signature::Signer;

use support::{FORM, send};

const SPEAK_XML: &str = r#"<Response><Speak loop="3">Hello, from Plivo</Speak></Response>"#;
const NONCE: &str = "98765432109876543210";

/// The `server` example running, with the lines it printed after its address in demo mode.
struct Server {
    running: support::examples::Running,
    addr: SocketAddr,
    stdout_lines: Vec<String>,
}

impl Server {
    fn start(env: &[(&str, &str)]) -> Server {
        let mut running = support::examples::Running::start(command_with(env));
        let demo = !env.iter().any(|(name, _)| *name == "PLIVO_AUTH_TOKEN");
        // The demo mode prints the demo token and commands to try after the address.
        let stdout_lines = if demo {
            running.start_up_lines()
        } else {
            Vec::new()
        };
        Server {
            addr: running.addr,
            running,
            stdout_lines,
        }
    }

    /// Stops the server and returns what it logged on stderr.
    fn stop(self) -> String {
        self.running.stop()
    }
}

/// The `server` example with exactly these variables of its contract set.
fn command_with(env: &[(&str, &str)]) -> Command {
    support::examples::command("server", env)
}

/// Runs the example with a configuration it must refuse; returns its exit status and stderr.
/// A server that starts instead is killed after 10 s and reported as such.
fn refused_at_start(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = command_with(env)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("{env:?}: the server started instead of refusing the configuration");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code(), stderr)
}

/// The demo's stream command opens the `/stream` WebSocket (verified before the 101), which
/// echoes text and binary messages; the same upgrade without its signature gets 403.
#[tokio::test]
async fn demo_mode_prints_a_websocat_that_opens_the_echo_stream() {
    use support::websocket::{assert_echoes, connect, request_from_websocat};
    let server = Server::start(&[]);
    let websocat = server
        .stdout_lines
        .iter()
        .find(|line| line.starts_with("websocat"))
        .expect("the demo prints a websocat command")
        .clone();
    let mut client = connect(request_from_websocat(&websocat))
        .await
        .expect("the printed stream command opens");
    assert_echoes(&mut client).await;
    drop(client);
    let unsigned = request_from_websocat(&format!("websocat ws://{}/stream", server.addr));
    match connect(unsigned).await {
        Ok(_) => panic!("an unsigned upgrade was accepted"),
        Err(refused) => assert_eq!(refused.status, 403),
    }
    // Once used, the printed command is a replay.
    let replayed = connect(request_from_websocat(&websocat)).await;
    assert!(
        matches!(&replayed, Err(r) if r.status == 403),
        "replayed: {:?}",
        replayed.as_ref().err()
    );
    let stderr = server.stop();
    assert!(
        stderr.contains("stream_url_form=\"http_scheme\""),
        "{stderr}"
    );
}

#[tokio::test]
async fn demo_mode_prints_a_curl_that_passes_and_one_that_fails() {
    let server = Server::start(&[]);
    let ok = server
        .stdout_lines
        .iter()
        .find(|l| l.starts_with("curl") && !l.contains("14155550666"))
        .unwrap()
        .clone();
    let bad = server
        .stdout_lines
        .iter()
        .find(|l| l.starts_with("curl") && l.contains("14155550666"))
        .unwrap()
        .clone();
    assert!(
        ok.contains(&server.addr.to_string()),
        "aimed at the bound address: {ok}"
    );
    assert_eq!(support::curl::replay(&bad).await.status, 403);
    if support::curl::available() {
        // The commands exactly as printed, in a shell.
        for (line, expected) in [(&ok, 200), (&bad, 403)] {
            assert_eq!(support::curl::run(line).await.status, expected, "{line}");
        }
    } else {
        assert_eq!(support::curl::replay(&ok).await.status, 200);
    }
    // Replay protection is on by default: the same signed request again is refused.
    assert_eq!(support::curl::replay(&ok).await.status, 403);
    let stderr = server.stop();
    assert!(
        !stderr.contains("MAdemoTOKEN"),
        "the demo token must not be logged"
    );
}

#[tokio::test]
async fn contract_routes_tokens_and_log_lines() {
    let tokens = "MAfirstTOKENeeeeeeeeeeeeeeeeeeeeee,MAsecondTOKENffffffffffffffffffffff";
    let main = "MAmainTOKENgggggggggggggggggggggggg";
    let server = Server::start(&[
        ("PLIVO_AUTH_TOKEN", tokens),
        ("PLIVO_MAIN_AUTH_TOKEN", main),
    ]);
    let addr = server.addr;
    let origin = format!("http://{addr}");
    // Each accepted request gets its own nonce, as from Plivo: replay protection is on.
    let counter = std::cell::Cell::new(0u64);
    let sign = |token: &str, method: &str, target: &str, body: &str| {
        counter.set(counter.get() + 1);
        let nonce = format!("{:020}", counter.get());
        let signature = support::sign_v3(
            token,
            method,
            &format!("{origin}{target}"),
            body.as_bytes(),
            &nonce,
        );
        (signature, nonce)
    };
    let second = "MAsecondTOKENffffffffffffffffffffff";

    let mut requests = 0;
    // Unverified requests to any path: 403.
    for (method, target) in [
        ("GET", "/"),
        ("POST", "/speak/"),
        ("GET", "/speak/"),
        ("POST", "/anything/else"),
    ] {
        assert_eq!(
            send(addr, method, target, &[], "").await.status,
            403,
            "{method} {target}"
        );
        requests += 1;
    }
    // GET and POST /speak/: the XML.
    let (get_sig, get_nonce) = sign(second, "GET", "/speak/?CallUUID=1", "");
    let reply = send(
        addr,
        "GET",
        "/speak/?CallUUID=1",
        &[
            ("X-Plivo-Signature-V3", &get_sig),
            ("X-Plivo-Signature-V3-Nonce", &get_nonce),
        ],
        "",
    )
    .await;
    assert_eq!(
        (
            reply.status,
            reply.header("content-type").as_deref(),
            reply.text().as_str()
        ),
        (200, Some("text/xml"), SPEAK_XML)
    );
    let body = "CallUUID=1&From=2";
    let (post_sig, post_nonce) = sign(main, "POST", "/speak/", body);
    let reply = send(
        addr,
        "POST",
        "/speak/",
        &[
            ("X-Plivo-Signature-Ma-V3", &post_sig),
            ("X-Plivo-Signature-V3-Nonce", &post_nonce),
            FORM,
        ],
        body,
    )
    .await;
    assert_eq!((reply.status, reply.text().as_str()), (200, SPEAK_XML));
    // Other verified requests: the body echoed as text/plain (empty for GET).
    let body = "Text=h%C3%A9llo&To=1&To=2";
    let (sig, nonce) = sign(
        "MAfirstTOKENeeeeeeeeeeeeeeeeeeeeee",
        "POST",
        "/sms/in",
        body,
    );
    let reply = send(
        addr,
        "POST",
        "/sms/in",
        &[
            ("X-Plivo-Signature-V3", &sig),
            ("X-Plivo-Signature-V3-Nonce", &nonce),
            FORM,
        ],
        body,
    )
    .await;
    assert_eq!(
        (
            reply.status,
            reply.header("content-type").as_deref(),
            reply.text().as_str()
        ),
        (200, Some("text/plain"), body)
    );
    let (sig, nonce) = sign(second, "GET", "/x?y=1", "");
    let reply = send(
        addr,
        "GET",
        "/x?y=1",
        &[
            ("X-Plivo-Signature-V3", &sig),
            ("X-Plivo-Signature-V3-Nonce", &nonce),
        ],
        "",
    )
    .await;
    assert_eq!((reply.status, reply.text().as_str()), (200, ""));
    requests += 4;

    let stderr = server.stop();
    // One line per request, and for a refusal at most one line of the doctor's (on by default).
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("tower_plivo") && !l.contains("tower_plivo::doctor"))
        .collect();
    assert_eq!(lines.len(), requests, "one log line per request:\n{stderr}");
    let refusals = lines.iter().filter(|l| l.contains("rejected")).count();
    let doctor = stderr
        .lines()
        .filter(|l| l.contains("tower_plivo::doctor"))
        .count();
    assert!(doctor <= refusals, "{stderr}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("verdict=\"accepted\""))
            .count(),
        4,
        "{stderr}"
    );
    assert!(
        lines
            .iter()
            .filter(|l| l.contains("verdict=\"rejected\""))
            .all(|l| l.contains("reason="))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("url={origin}/sms/in"))),
        "{stderr}"
    );
    for secret in tokens.split(',').chain([main]) {
        assert!(!stderr.contains(secret), "a token leaked into the log");
    }
}

#[tokio::test]
async fn public_url_and_trusted_proxies() {
    let token = "MApublicURLtokenhhhhhhhhhhhhhhhhhhh";
    let body = "CallUUID=9";
    let sig = Signer::new(token)
        .sign_v3_post("https://hooks.example.com/answer", body.as_bytes(), NONCE)
        .unwrap();
    let headers = [
        ("X-Plivo-Signature-V3", sig.as_str()),
        ("X-Plivo-Signature-V3-Nonce", NONCE),
        FORM,
    ];
    let forwarded = [
        headers[0],
        headers[1],
        FORM,
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "hooks.example.com"),
    ];

    let server = Server::start(&[
        ("PLIVO_AUTH_TOKEN", token),
        ("PLIVO_PUBLIC_URL", "https://hooks.example.com"),
    ]);
    assert_eq!(
        send(server.addr, "POST", "/answer", &headers, body)
            .await
            .status,
        200
    );
    server.stop();

    // By default a trusted proxy is believed for X-Forwarded-Proto alone: the host it
    // forwards is not believed unless named.
    let server = Server::start(&[
        ("PLIVO_AUTH_TOKEN", token),
        ("PLIVO_TRUSTED_PROXIES", "127.0.0.1/32,::1"),
    ]);
    assert_eq!(
        send(server.addr, "POST", "/answer", &forwarded, body)
            .await
            .status,
        403
    );
    server.stop();

    let server = Server::start(&[
        ("PLIVO_AUTH_TOKEN", token),
        ("PLIVO_TRUSTED_PROXIES", "127.0.0.1/32,::1"),
        ("PLIVO_PROXY_HEADERS", "X-Forwarded-Proto, x-forwarded-host"),
    ]);
    assert_eq!(
        send(server.addr, "POST", "/answer", &forwarded, body)
            .await
            .status,
        200
    );
    assert_eq!(
        send(server.addr, "POST", "/answer", &headers, body)
            .await
            .status,
        403
    );
    server.stop();

    let server = Server::start(&[
        ("PLIVO_AUTH_TOKEN", token),
        ("PLIVO_TRUSTED_PROXIES", "10.0.0.0/8"),
        ("PLIVO_PROXY_HEADERS", "x-forwarded-proto,x-forwarded-host"),
    ]);
    assert_eq!(
        send(server.addr, "POST", "/answer", &forwarded, body)
            .await
            .status,
        403,
        "untrusted peer"
    );
    server.stop();

    // No policy variable: http:// + Host.
    let server = Server::start(&[("PLIVO_AUTH_TOKEN", token)]);
    let with_host = [headers[0], headers[1], FORM, ("host", "hooks.example.com")];
    assert_eq!(
        send(server.addr, "POST", "/answer", &with_host, body)
            .await
            .status,
        403,
        "https was signed"
    );
    let sig = Signer::new(token)
        .sign_v3_post("http://hooks.example.com/answer", body.as_bytes(), NONCE)
        .unwrap();
    let with_host = [
        ("X-Plivo-Signature-V3", sig.as_str()),
        headers[1],
        FORM,
        ("host", "hooks.example.com"),
    ];
    assert_eq!(
        send(server.addr, "POST", "/answer", &with_host, body)
            .await
            .status,
        200
    );
    server.stop();
}

/// A proxy in front strips `/plivo`: the prefix comes back from `PLIVO_PUBLIC_URL`, or from the
/// trusted proxy's `X-Forwarded-Prefix` named in `PLIVO_PROXY_HEADERS`.
#[tokio::test]
async fn a_stripped_path_prefix_from_the_public_url_or_the_proxy() {
    let token = "MAprefixURLtokenqqqqqqqqqqqqqqqqqqq";
    let body = "CallUUID=10";
    let sig = Signer::new(token)
        .sign_v3_post(
            "https://hooks.example.com/plivo/answer",
            body.as_bytes(),
            NONCE,
        )
        .unwrap();
    let signed = [
        ("X-Plivo-Signature-V3", sig.as_str()),
        ("X-Plivo-Signature-V3-Nonce", NONCE),
        FORM,
        ("host", "hooks.example.com"),
    ];
    let server = Server::start(&[
        ("PLIVO_AUTH_TOKEN", token),
        ("PLIVO_PUBLIC_URL", "https://hooks.example.com/plivo/"),
        ("PLIVO_REPLAY_STORE", "off"),
    ]);
    let status = |reply: support::Reply| reply.status;
    assert_eq!(
        status(send(server.addr, "POST", "/answer", &signed, body).await),
        200
    );
    let doubled = send(server.addr, "POST", "/plivo/answer", &signed, body).await;
    assert_eq!(status(doubled), 403);
    server.stop();

    let server = Server::start(&[
        ("PLIVO_AUTH_TOKEN", token),
        ("PLIVO_TRUSTED_PROXIES", "127.0.0.1/32,::1"),
        (
            "PLIVO_PROXY_HEADERS",
            "x-forwarded-proto,x-forwarded-prefix",
        ),
        ("PLIVO_REPLAY_STORE", "off"),
    ]);
    let mut forwarded = signed.to_vec();
    forwarded.extend([
        ("x-forwarded-proto", "https"),
        ("x-forwarded-prefix", "/plivo"),
    ]);
    assert_eq!(
        status(send(server.addr, "POST", "/answer", &forwarded, body).await),
        200
    );
    assert_eq!(
        status(send(server.addr, "POST", "/answer", &signed, body).await),
        403
    );
    server.stop();

    // With a fixed public URL, nothing reads a forwarded prefix: the server refuses to start.
    let (code, stderr) = refused_at_start(&[
        ("PLIVO_AUTH_TOKEN", token),
        ("PLIVO_PUBLIC_URL", "https://hooks.example.com/plivo"),
        ("PLIVO_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("PLIVO_PROXY_HEADERS", "x-forwarded-prefix"),
    ]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("PLIVO_PROXY_HEADERS"), "{stderr}");
}

#[tokio::test]
async fn signature_versions_source_networks_and_proxies_that_find_the_client() {
    let token = "MAversionsTOKENnnnnnnnnnnnnnnnnnnnn";
    let v2 = |addr: SocketAddr, nonce: &str| {
        let sig = Signer::new(token)
            .sign_v2(&format!("http://{addr}/sms"), nonce)
            .unwrap();
        [
            ("X-Plivo-Signature-V2".to_owned(), sig),
            ("X-Plivo-Signature-V2-Nonce".to_owned(), nonce.to_owned()),
        ]
    };
    let post = |addr: SocketAddr, headers: [(String, String); 2]| async move {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        send(addr, "POST", "/sms", &headers, "Text=hi").await.status
    };
    // V3 only by default.
    let server = Server::start(&[("PLIVO_AUTH_TOKEN", token)]);
    assert_eq!(post(server.addr, v2(server.addr, "1")).await, 403);
    let stderr = server.stop();
    assert!(
        stderr.contains("signature_version_not_accepted") && stderr.contains("accept_v2"),
        "the log line says how to enable V2: {stderr}"
    );
    // `v3,v2` in any order and case.
    for versions in ["v3,v2", "V2, v3"] {
        let server = Server::start(&[
            ("PLIVO_AUTH_TOKEN", token),
            ("PLIVO_SIGNATURE_VERSIONS", versions),
        ]);
        assert_eq!(
            post(server.addr, v2(server.addr, "2")).await,
            200,
            "{versions}"
        );
        server.stop();
    }

    // Signed for the public URL, each with its own nonce.
    let post_v3 =
        |addr: SocketAddr, nonce: &'static str, extra: &'static [(&'static str, &'static str)]| {
            let sig = Signer::new(token)
                .sign_v3_post("https://hooks.example.com/answer", b"CallUUID=1", nonce)
                .unwrap();
            async move {
                let mut headers = vec![
                    ("X-Plivo-Signature-V3", sig.as_str()),
                    ("X-Plivo-Signature-V3-Nonce", nonce),
                    FORM,
                ];
                headers.extend_from_slice(extra);
                send(addr, "POST", "/answer", &headers, "CallUUID=1")
                    .await
                    .status
            }
        };
    // Source networks: the test client is 127.0.0.1.
    let public = ("PLIVO_PUBLIC_URL", "https://hooks.example.com");
    let server = Server::start(&[
        ("PLIVO_AUTH_TOKEN", token),
        public,
        ("PLIVO_SOURCE_NETWORKS", "127.0.0.0/8"),
    ]);
    assert_eq!(post_v3(server.addr, "3", &[]).await, 200);
    server.stop();
    let server = Server::start(&[
        ("PLIVO_AUTH_TOKEN", token),
        public,
        ("PLIVO_SOURCE_NETWORKS", "203.0.113.0/24"),
    ]);
    assert_eq!(post_v3(server.addr, "4", &[]).await, 403);
    let stderr = server.stop();
    assert!(stderr.contains("source_not_allowed"), "{stderr}");
    // A fixed public URL with trusted proxies that only find the client: the test client is
    // the "proxy", and the client behind it comes from X-Forwarded-For.
    let behind = [
        ("PLIVO_AUTH_TOKEN", token),
        public,
        ("PLIVO_TRUSTED_PROXIES", "127.0.0.1"),
        ("PLIVO_PROXY_HEADERS", "x-forwarded-for"),
        ("PLIVO_SOURCE_NETWORKS", "203.0.113.0/24"),
    ];
    let server = Server::start(&behind);
    assert_eq!(
        post_v3(
            server.addr,
            "5",
            &[("x-forwarded-for", "198.51.100.1, 203.0.113.7")]
        )
        .await,
        200
    );
    assert_eq!(
        post_v3(
            server.addr,
            "6",
            &[("x-forwarded-for", "203.0.113.7, 198.51.100.1")]
        )
        .await,
        403,
        "the rightmost untrusted entry is the client"
    );
    server.stop();
}

#[test]
fn every_invalid_value_stops_the_server_naming_its_variable() {
    let token = ("PLIVO_AUTH_TOKEN", "MAinvalidTOKENoooooooooooooooooooo");
    for (env, variable) in [
        (
            vec![("PLIVO_SIGNATURE_VERSIONS", "v2")],
            "PLIVO_SIGNATURE_VERSIONS",
        ),
        (
            vec![("PLIVO_SIGNATURE_VERSIONS", "v3,v4")],
            "PLIVO_SIGNATURE_VERSIONS",
        ),
        (
            vec![("PLIVO_PROXY_HEADERS", "x-forwarded-proto")],
            "PLIVO_PROXY_HEADERS",
        ),
        (
            vec![
                ("PLIVO_TRUSTED_PROXIES", "127.0.0.1"),
                ("PLIVO_PROXY_HEADERS", "x-real-ip"),
            ],
            "PLIVO_PROXY_HEADERS",
        ),
        (
            vec![
                ("PLIVO_TRUSTED_PROXIES", "127.0.0.1"),
                ("PLIVO_PROXY_HEADERS", "forwarded,x-forwarded-proto"),
            ],
            "PLIVO_PROXY_HEADERS",
        ),
        (
            vec![
                ("PLIVO_PUBLIC_URL", "https://hooks.example.com"),
                ("PLIVO_TRUSTED_PROXIES", "127.0.0.1"),
                ("PLIVO_PROXY_HEADERS", "x-forwarded-host"),
                ("PLIVO_SOURCE_NETWORKS", "203.0.113.0/24"),
            ],
            "PLIVO_PROXY_HEADERS",
        ),
        (
            vec![
                ("PLIVO_PUBLIC_URL", "https://hooks.example.com"),
                ("PLIVO_TRUSTED_PROXIES", "127.0.0.1"),
            ],
            "PLIVO_TRUSTED_PROXIES",
        ),
        (
            vec![("PLIVO_TRUSTED_PROXIES", "10.0.0.0/33")],
            "PLIVO_TRUSTED_PROXIES",
        ),
        (
            vec![("PLIVO_SOURCE_NETWORKS", "nope")],
            "PLIVO_SOURCE_NETWORKS",
        ),
        (
            vec![("PLIVO_PUBLIC_URL", "hooks.example.com")],
            "PLIVO_PUBLIC_URL",
        ),
        (vec![("PLIVO_REPLAY_STORE", "disk")], "PLIVO_REPLAY_STORE"),
        // Cluster seed lists, refused with or without `--features redis-cluster`.
        (
            vec![("PLIVO_REPLAY_STORE", "redis-cluster://")],
            "PLIVO_REPLAY_STORE",
        ),
        (
            vec![(
                "PLIVO_REPLAY_STORE",
                "redis-cluster://127.0.0.1:7000,,127.0.0.1:7001",
            )],
            "PLIVO_REPLAY_STORE",
        ),
        (
            vec![(
                "PLIVO_REPLAY_STORE",
                "redis-cluster://u:p@127.0.0.1:7000,u:p@127.0.0.1:7001",
            )],
            "PLIVO_REPLAY_STORE",
        ),
        (
            vec![("PLIVO_REPLAY_STORE", "redis-cluster://127.0.0.1:7000/1")],
            "PLIVO_REPLAY_STORE",
        ),
        (
            vec![("PLIVO_REPLAY_STORE", "redis-cluster://127.0.0.1:notaport")],
            "PLIVO_REPLAY_STORE",
        ),
        (
            vec![("PLIVO_REPLAY_TTL_SECS", "soon")],
            "PLIVO_REPLAY_TTL_SECS",
        ),
        (
            vec![("PLIVO_REPLAY_TTL_SECS", "0")],
            "PLIVO_REPLAY_TTL_SECS",
        ),
        (
            vec![("PLIVO_TRUSTED_PROXIES", ",")],
            "PLIVO_TRUSTED_PROXIES",
        ),
        (
            vec![("PLIVO_SOURCE_NETWORKS", " , ")],
            "PLIVO_SOURCE_NETWORKS",
        ),
        (vec![("PLIVO_DIAGNOSE", "yes")], "PLIVO_DIAGNOSE"),
        (vec![("PLIVO_REPORT_ONLY", "2")], "PLIVO_REPORT_ONLY"),
        (
            vec![("PLIVO_HEADER_READ_TIMEOUT_MS", "soon")],
            "PLIVO_HEADER_READ_TIMEOUT_MS",
        ),
        (
            vec![("PLIVO_HEADER_READ_TIMEOUT_MS", "0")],
            "PLIVO_HEADER_READ_TIMEOUT_MS",
        ),
        (
            vec![("PLIVO_MAX_CONNECTIONS", "0")],
            "PLIVO_MAX_CONNECTIONS",
        ),
        (
            vec![("PLIVO_MAX_CONNECTIONS", "-1")],
            "PLIVO_MAX_CONNECTIONS",
        ),
        (vec![("BIND", "not an address")], "BIND"),
    ] {
        let mut env = env;
        env.push(token);
        let (status, stderr) = refused_at_start(&env);
        assert!(
            matches!(status, Some(code) if code != 0),
            "{env:?}: {status:?}"
        );
        assert!(
            stderr.contains(&format!("{variable}:")),
            "{env:?}: the message must name {variable}: {stderr}"
        );
    }
}

#[test]
fn a_refused_replay_store_never_shows_its_password() {
    for value in [
        "rediss-clustre://plivo:hunter2@127.0.0.1:7000",
        "redis-cluster://plivo:hunter2@127.0.0.1:notaport",
    ] {
        let (status, stderr) = refused_at_start(&[
            ("PLIVO_AUTH_TOKEN", "MAinvalidTOKENoooooooooooooooooooo"),
            ("PLIVO_REPLAY_STORE", value),
        ]);
        assert!(
            matches!(status, Some(code) if code != 0),
            "{value}: {status:?}"
        );
        assert!(stderr.contains("PLIVO_REPLAY_STORE:"), "{value}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{value}: {stderr}");
    }
}

/// Seed nodes that are down: the server starts (the store connects lazily), and a signed
/// request gets 503, which Plivo retries.
#[cfg(feature = "redis-cluster")]
#[tokio::test]
async fn a_redis_cluster_store_starts_while_its_nodes_are_down_and_answers_503() {
    let token = "MAclusterTOKENhhhhhhhhhhhhhhhhhhhhh";
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let store = format!(
        "redis-cluster://plivo:secret@127.0.0.1:{},127.0.0.1:{}",
        free(),
        free()
    );
    let server = Server::start(&[("PLIVO_AUTH_TOKEN", token), ("PLIVO_REPLAY_STORE", &store)]);
    let signature = support::sign_v3(
        token,
        "POST",
        &format!("http://{}/answer", server.addr),
        b"CallUUID=1",
        NONCE,
    );
    let reply = send(
        server.addr,
        "POST",
        "/answer",
        &[
            FORM,
            ("X-Plivo-Signature-V3", signature.as_str()),
            ("X-Plivo-Signature-V3-Nonce", NONCE),
        ],
        "CallUUID=1",
    )
    .await;
    assert_eq!(reply.status, 503);
    let log = server.stop();
    assert!(!log.contains("secret"), "{log}");
}

#[tokio::test]
async fn the_doctor_is_on_by_default_and_names_the_fix_on_stderr() {
    let token = "MAdiagnoseTOKENllllllllllllllllllll";
    let server = Server::start(&[
        ("PLIVO_AUTH_TOKEN", token),
        ("PLIVO_PUBLIC_URL", "http://hooks.example.com"),
    ]);
    // Plivo called https (TLS ends at a proxy); the configured public URL says http.
    let sig = Signer::new(token)
        .sign_v3_post("https://hooks.example.com/answer", b"CallUUID=1", NONCE)
        .unwrap();
    let headers = [
        ("X-Plivo-Signature-V3", sig.as_str()),
        ("X-Plivo-Signature-V3-Nonce", NONCE),
        FORM,
    ];
    assert_eq!(
        send(server.addr, "POST", "/answer", &headers, "CallUUID=1")
            .await
            .status,
        403
    );
    // The doctor logs from its own thread, after the answer.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let stderr = server.stop();
    assert!(
        stderr.contains("signature doctor") && stderr.contains("finding=\"scheme\""),
        "{stderr}"
    );
    // The fix in the library's terms (PLIVO_PUBLIC_URL sets `UrlPolicy::public_base`).
    assert!(
        stderr.contains("UrlPolicy::public_base(\"https://hooks.example.com\")"),
        "{stderr}"
    );
    assert!(!stderr.contains(token));
}

// The example needs the `metrics` feature (it exports through the `metrics` facade).
#[cfg(feature = "metrics")]
#[tokio::test]
async fn metrics_example_counts_verdicts() {
    let metrics_example = support::examples::Running::example(
        "metrics",
        &[("PLIVO_AUTH_TOKEN", "MAmetricsTOKENmmmmmmmmmmmmmmmmmmmm")],
    );
    let addr = metrics_example.addr;
    assert_eq!(
        send(addr, "POST", "/plivo/answer", &[], "").await.status,
        403
    );
    let sig = Signer::new("MAmetricsTOKENmmmmmmmmmmmmmmmmmmmm")
        .sign_v3_post(&format!("http://{addr}/plivo/answer"), b"", NONCE)
        .unwrap();
    let signed = [
        ("X-Plivo-Signature-V3", sig.as_str()),
        ("X-Plivo-Signature-V3-Nonce", NONCE),
    ];
    assert_eq!(
        send(addr, "POST", "/plivo/answer", &signed, "")
            .await
            .status,
        200
    );
    let metrics = send(addr, "GET", "/metrics", &[], "").await.text();
    metrics_example.stop();
    assert!(
        metrics.contains("plivo_webhook_requests_total{verdict=\"accepted\",reason=\"none\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "plivo_webhook_requests_total{verdict=\"rejected\",reason=\"missing_signature\"} 1"
        ),
        "{metrics}"
    );
    // The signed request's verification, timed (the unsigned one never got that far).
    assert!(
        metrics.contains("plivo_webhook_verify_duration_seconds_count{version=\"v3\"} 1"),
        "{metrics}"
    );
}
