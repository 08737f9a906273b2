//! The crate's example binaries, (re)built for the test that runs them: `cargo test --test it`
//! builds only the tests, so an example binary on disk may be missing or stale.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>/examples/<name>`, built once per test process with the features this test
/// was built with (so cargo reuses the library it already built, and skips the build when the
/// binary is fresh).
pub fn example_binary(name: &str) -> PathBuf {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock, PoisonError};
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    // A build that failed panicked with the lock held and recorded nothing: the next test tries
    // its own build and reports its own failure, rather than the poisoned lock (every module
    // that runs an example shares this map).
    let mut built = BUILT
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    built
        .entry(name.to_owned())
        .or_insert_with(|| build(name))
        .clone()
}

fn build(name: &str) -> PathBuf {
    // target/<profile>/deps/<test>-<hash> -> target/<profile>
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let features: Vec<&str> = [
        ("axum", cfg!(feature = "axum")),
        ("diagnosis", cfg!(feature = "diagnosis")),
        ("tonic", cfg!(feature = "tonic")),
        ("redis", cfg!(feature = "redis")),
        ("redis-cluster", cfg!(feature = "redis-cluster")),
        ("fuzzing", cfg!(feature = "fuzzing")),
        ("metrics", cfg!(feature = "metrics")),
        ("lambda", cfg!(feature = "lambda")),
    ]
    .into_iter()
    .filter_map(|(feature, on)| on.then_some(feature))
    .collect();
    let mut build = Command::new(env!("CARGO"));
    build
        .args([
            "build",
            "--quiet",
            "--example",
            name,
            "--no-default-features",
        ])
        .args(["--features", &features.join(",")])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "cargo build --example {name} failed");
    let path = profile_dir.join("examples").join(name);
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// An example binary running as a child process, serving on the address it printed first
/// (`listening on http://…` or `ws://…`, maybe followed by a space and a remark).
pub struct Running {
    child: std::process::Child,
    pub addr: std::net::SocketAddr,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    // Read as it comes, so a chatty example never blocks on a full pipe.
    stderr: std::thread::JoinHandle<String>,
}

impl Running {
    /// Starts `command` (stdout and stderr captured) and waits for its first line.
    pub fn start(mut command: Command) -> Running {
        use std::io::BufRead;
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut stderr_pipe = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            use std::io::Read;
            let mut text = Vec::new();
            let _ = stderr_pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        });
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .and_then(|url| url.split_once("://"))
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .1
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        Running {
            child,
            addr,
            stdout,
            stderr,
        }
    }

    /// The example `name` (see [`command`]).
    pub fn example(name: &str, env: &[(&str, &str)]) -> Running {
        Self::start(command(name, env))
    }

    /// The next line the example printed.
    pub fn stdout_line(&mut self) -> String {
        use std::io::BufRead;
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim().to_owned()
    }

    /// The lines the example prints at start after its address, up to the blank line that ends
    /// them (the "try it" block of `examples/shared/try_it.rs`), trimmed.
    pub fn start_up_lines(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.stdout_line();
            if line.is_empty() {
                return lines;
            }
            lines.push(line);
        }
    }

    /// Stops the example and returns what it logged on stderr.
    pub fn stop(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.stderr.join().unwrap()
    }
}

/// The variables the examples read; the tests set each one they need and clear the others, so
/// the environment the tests run in cannot change what they check.
const CONTRACT_VARIABLES: [&str; 17] = [
    "PLIVO_AUTH_TOKEN",
    "PLIVO_MAIN_AUTH_TOKEN",
    "PLIVO_PUBLIC_URL",
    "PLIVO_TRUSTED_PROXIES",
    "PLIVO_PROXY_HEADERS",
    "PLIVO_SOURCE_NETWORKS",
    "PLIVO_SIGNATURE_VERSIONS",
    "PLIVO_REPLAY_STORE",
    "PLIVO_REPLAY_TTL_SECS",
    "PLIVO_DIAGNOSE",
    "PLIVO_REPORT_ONLY",
    "TENANTS_DB",
    "TENANT_CACHE_SECS",
    "PLIVO_HEADER_READ_TIMEOUT_MS",
    "PLIVO_MAX_CONNECTIONS",
    "RUST_LOG",
    // Read by `lambda_http` in the `lambda` example.
    "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH",
];

/// The example `name` with exactly these variables of the examples' contracts set (`BIND`
/// defaults to a free port on 127.0.0.1).
pub fn command(name: &str, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(example_binary(name));
    command.env("BIND", "127.0.0.1:0");
    for var in CONTRACT_VARIABLES {
        command.env_remove(var);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command
}
