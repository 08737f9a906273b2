//! The loop a new user follows: start an example, copy a command it prints, run it, see 200 (101
//! for a stream), then the one that gets 403. Each example binary runs as a child process, and
//! each printed `sign` command runs as the built `sign` binary with exactly the printed
//! arguments, over real TCP to the address the example printed.

use crate::support;

use support::examples::Running;
use support::sign::{
    Printed, arguments, assert_gets_what_it_promises, flag, printed_sign_commands, run,
};
use support::tenants_db::TenantsDb;

/// The token the examples use when `PLIVO_AUTH_TOKEN` is unset (examples/shared/demo.rs).
const DEMO_TOKEN: &str = "MAdemoTOKENdoNOTuseINproduction0";
/// The form the printed commands post (examples/shared/try_it.rs).
const DEMO_CALL: &str = "CallUUID=4c8e3f2a-demo&From=14155550100&To=14155550199&Direction=inbound";
const SPEAK_XML: &str = r#"<Response><Speak loop="3">Hello, from Plivo</Speak></Response>"#;
/// A user's token: the examples must never print it.
const USER_TOKEN: &str = "MAuserTOKENneverPRINTED000000000";

/// Starts the example `name`, reads what it prints at start, and checks the `sign` commands in
/// it: their statuses are `promised` in order, each is aimed at the bound address, and each gets
/// what it promises when run (shell variables from `vars`). Returns the example, its start-up
/// lines, and what each command got.
fn run_printed_commands(
    name: &str,
    env: &[(&str, &str)],
    vars: &[(&str, &str)],
    promised: &[u16],
) -> (Running, Vec<String>, Vec<support::sign::Sent>) {
    run_printed_commands_of(Running::example(name, env), vars, promised)
}

/// As [`run_printed_commands`], for an example already started.
fn run_printed_commands_of(
    mut example: Running,
    vars: &[(&str, &str)],
    promised: &[u16],
) -> (Running, Vec<String>, Vec<support::sign::Sent>) {
    let lines = example.start_up_lines();
    let commands = printed_sign_commands(&lines);
    assert_eq!(
        commands
            .iter()
            .map(Printed::promised_status)
            .collect::<Vec<_>>(),
        promised,
        "{lines:#?}"
    );
    let to = format!("http://{}", example.addr);
    let sent = commands
        .iter()
        .map(|printed| {
            assert_eq!(flag(&arguments(&printed.command, vars), "--to"), to);
            assert_gets_what_it_promises(printed, vars)
        })
        .collect();
    (example, lines, sent)
}

/// The `--url` of the first printed `sign` command.
fn first_signed_url(lines: &[String], vars: &[(&str, &str)]) -> String {
    let commands = printed_sign_commands(lines);
    flag(&arguments(&commands[0].command, vars), "--url").to_owned()
}

#[test]
fn server_prints_its_demo_token_and_sign_commands_for_its_own_address() {
    let (server, lines, sent) = run_printed_commands("server", &[], &[], &[200, 403]);
    assert!(
        lines[0].starts_with(&format!("demo token in use: {DEMO_TOKEN} ")),
        "{lines:#?}"
    );
    assert_eq!(
        first_signed_url(&lines, &[]),
        format!("http://{}/speak/", server.addr)
    );
    assert_eq!(sent[0].body, format!("{SPEAK_XML}\n"));
    assert_eq!(sent[1].body, "forbidden\n");
    // Each run signs with a new nonce: running the command again is not a replay.
    let again = &printed_sign_commands(&lines)[0];
    assert_gets_what_it_promises(again, &[]);
    // The curl and websocat lines are still there, after the sign commands.
    assert!(lines.iter().any(|line| line.starts_with("curl -i ")));
    assert!(lines.iter().any(|line| line.starts_with("websocat ")));
    server.stop();
}

/// With `PLIVO_PUBLIC_URL`, the command signs for the public URL (what Plivo calls) and sends to
/// the bound plain-http address: what `curl --connect-to` could not do without TLS.
#[test]
fn server_with_a_public_url_prints_commands_signed_for_it_and_sent_to_the_bound_address() {
    let env = [("PLIVO_PUBLIC_URL", "https://hooks.example.com")];
    let (server, lines, _) = run_printed_commands("server", &env, &[], &[200, 403]);
    assert_eq!(
        first_signed_url(&lines, &[]),
        "https://hooks.example.com/speak/"
    );
    server.stop();
}

#[test]
fn hyper_prints_the_demo_token_or_reads_the_users_from_the_shell() {
    let (hyper, lines, sent) = run_printed_commands("hyper", &[], &[], &[200, 403]);
    assert!(lines[0].contains(DEMO_TOKEN), "{lines:#?}");
    assert_eq!(sent[0].body, format!("{DEMO_CALL}\n"), "the body echoed");
    hyper.stop();

    // The user's token: the commands name the variable, the user's shell has it.
    let (hyper, lines, _) = run_printed_commands(
        "hyper",
        &[("PLIVO_AUTH_TOKEN", USER_TOKEN)],
        &[("PLIVO_AUTH_TOKEN", USER_TOKEN)],
        &[200, 403],
    );
    assert!(
        !lines
            .iter()
            .any(|line| line.contains(USER_TOKEN) || line.contains(DEMO_TOKEN)),
        "{lines:#?}"
    );
    hyper.stop();
}

#[cfg(feature = "tonic")]
#[test]
fn tonic_prints_commands_for_its_webhook_route_next_to_grpc() {
    let (tonic, lines, sent) = run_printed_commands("tonic", &[], &[], &[200, 403]);
    assert!(lines[0].contains(DEMO_TOKEN), "{lines:#?}");
    assert_eq!(
        first_signed_url(&lines, &[]),
        format!("http://{}/plivo/answer", tonic.addr)
    );
    assert!(sent[0].body.starts_with("<Response>"), "{:?}", sent[0]);
    tonic.stop();
}

#[test]
fn stream_prints_the_answer_webhook_and_the_stream_upgrade() {
    // Without a public URL, the origin is the bound address (BIND asks for port 0 here).
    let (stream, lines, sent) = run_printed_commands("stream", &[], &[], &[200, 101, 403]);
    assert!(lines[0].contains(DEMO_TOKEN), "{lines:#?}");
    assert!(sent[0].body.contains("<Stream "), "{:?}", sent[0]);
    stream.stop();

    // Behind a public https URL: the stream is signed as dialled at wss://, sent over plain http.
    let (stream, lines, _) = run_printed_commands(
        "stream",
        &[
            ("PLIVO_AUTH_TOKEN", USER_TOKEN),
            ("PLIVO_PUBLIC_URL", "https://hooks.example.com"),
        ],
        &[("PLIVO_AUTH_TOKEN", USER_TOKEN)],
        &[200, 101, 403],
    );
    let stream_command = &printed_sign_commands(&lines)[1];
    let args = arguments(&stream_command.command, &[("PLIVO_AUTH_TOKEN", USER_TOKEN)]);
    assert_eq!(flag(&args, "--url"), "wss://hooks.example.com/stream");
    assert!(!lines.iter().any(|line| line.contains(USER_TOKEN)));
    stream.stop();
}

#[test]
fn multi_tenant_with_demo_serves_a_demo_tenant_it_can_print() {
    let mut command = support::examples::command("multi_tenant", &[]);
    command.arg("--demo");
    let (example, lines, sent) = run_printed_commands_of(Running::start(command), &[], &[200, 403]);
    let demo_db = lines
        .iter()
        .find_map(|line| line.strip_prefix("--demo: serving a demo database, "))
        .and_then(|rest| rest.split_once(", with one tenant"))
        .map(|(path, _)| path.to_owned())
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert!(lines.iter().any(|line| line.contains(DEMO_TOKEN)));
    assert_eq!(sent[0].body, "tenant=demo\n");
    example.stop();
    // Killed, the example could not remove its database: the test does.
    std::fs::remove_file(demo_db).unwrap();
}

/// With the user's database, the commands are templates: the tenant and its token come from the
/// user's shell, never from the example's output.
#[test]
fn multi_tenant_with_a_users_database_prints_templates_without_tokens() {
    let token = "acme-token-0000000000000000000009";
    let db = TenantsDb::new();
    db.put("acme", token, None);
    let vars = [("TENANT", "acme"), ("TOKEN", token)];
    let (example, lines, sent) = run_printed_commands(
        "multi_tenant",
        &[("TENANTS_DB", db.path_str())],
        &vars,
        &[200, 403],
    );
    assert_eq!(sent[0].body, "tenant=acme\n");
    assert_eq!(
        first_signed_url(&lines, &vars),
        format!("http://{}/acme/answer", example.addr)
    );
    assert!(
        !lines
            .iter()
            .any(|line| line.contains(token) || line.contains(DEMO_TOKEN)),
        "{lines:#?}"
    );
    example.stop();
}

/// `sign --to` itself: the Host is the signed URL's (a server that takes its origin from `Host`
/// verifies the public host), a GET's data goes in the query, a path in `--to` is sent instead
/// of the signed one, TLS is refused with a pointer to curl, and no answer is exit 1.
#[test]
fn sign_to_sends_the_signed_host_and_path_and_says_what_it_cannot_do() {
    let server = Running::example("server", &[("PLIVO_AUTH_TOKEN", DEMO_TOKEN)]);
    let origin = format!("http://{}", server.addr);
    let sign = |to: &str, args: &[&str]| {
        let mut all = vec!["--token", DEMO_TOKEN, "--to", to];
        all.extend_from_slice(args);
        run(&all)
    };
    // The server's origin is `http://` + Host: it verifies the public host sign sends.
    let public = sign(
        &origin,
        &["--url", "http://hooks.example.com/speak/", "--data", "a=1"],
    );
    assert_eq!((public.status, public.exit), (200, Some(0)), "{public:?}");
    assert!(
        public.stderr.contains("(Host: hooks.example.com)"),
        "{public:?}"
    );
    let get = sign(
        &origin,
        &[
            "--method",
            "GET",
            "--url",
            "http://hooks.example.com/echo?x=1",
            "--data",
            "y=2",
        ],
    );
    assert_eq!((get.status, get.exit), (200, Some(0)), "{get:?}");
    assert!(get.stderr.contains("sent GET /echo?x=1&y=2 "), "{get:?}");
    // A path in --to is sent instead of the signed one: the server verifies what it got.
    let moved = sign(
        &format!("{origin}/elsewhere"),
        &["--url", &format!("{origin}/speak/")],
    );
    assert_eq!((moved.status, moved.exit), (403, Some(1)), "{moved:?}");
    server.stop();

    for (url, to, hint) in [
        ("https://hooks.example.com/a", "https://127.0.0.1:1", "curl"),
        (
            "wss://hooks.example.com/stream",
            "https://127.0.0.1:1",
            "websocat",
        ),
        (
            "wss://hooks.example.com/stream",
            "ws://127.0.0.1:1/stream",
            "--to http://127.0.0.1:1/stream",
        ),
    ] {
        let refused = run(&["--token", "t", "--url", url, "--to", to]);
        assert_eq!(refused.exit, Some(2), "{refused:?}");
        let first = refused.stderr.lines().next().unwrap_or_default();
        assert!(first.contains(hint), "{url} --to {to}: {first}");
    }

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unanswered = run(&["--token", "t", "--url", "http://h/a", "--to", &nobody]);
    assert_eq!(
        (unanswered.status, unanswered.exit),
        (0, Some(1)),
        "{unanswered:?}"
    );
    assert!(
        unanswered.stderr.contains("cannot connect"),
        "{unanswered:?}"
    );
}
