//! Running the `cargo run --example sign -- …` commands the examples print, with the built
//! `sign` binary and exactly the printed arguments, as a user pasting them would.
#![allow(dead_code)]

use std::process::Command;

use super::curl::shell_words_with;
use super::examples::example_binary;

/// What every printed `sign` command starts with.
const PREFIX: [&str; 5] = ["cargo", "run", "--example", "sign", "--"];

/// A command an example printed, under the line that says what it gets.
#[derive(Debug)]
pub struct Printed {
    /// The line above the command, e.g. `… gets 200 …:`.
    pub outcome: String,
    pub command: String,
}

impl Printed {
    /// The status the outcome line promises: the number after its `gets `.
    pub fn promised_status(&self) -> u16 {
        let after = self
            .outcome
            .split_once("gets ")
            .unwrap_or_else(|| panic!("no `gets NNN` in {:?}", self.outcome))
            .1;
        after[..3].parse().unwrap()
    }
}

/// The `sign` commands among an example's start-up lines, each with the line above it.
pub fn printed_sign_commands(lines: &[String]) -> Vec<Printed> {
    lines
        .windows(2)
        .filter(|pair| pair[1].starts_with("cargo run --example sign -- "))
        .map(|pair| Printed {
            outcome: pair[0].clone(),
            command: pair[1].clone(),
        })
        .collect()
}

/// The arguments after `cargo run --example sign --`, shell variables taken from `vars`.
pub fn arguments(line: &str, vars: &[(&str, &str)]) -> Vec<String> {
    let words = shell_words_with(line, vars);
    assert_eq!(words[..PREFIX.len()], PREFIX, "{line}");
    words[PREFIX.len()..].to_vec()
}

/// The value after `flag` among `args`.
pub fn flag<'a>(args: &'a [String], flag: &str) -> &'a str {
    let at = args
        .iter()
        .position(|arg| arg == flag)
        .unwrap_or_else(|| panic!("{flag} in {args:?}"));
    &args[at + 1]
}

/// One run of `sign --to …`: its exit code, and the response it printed.
#[derive(Debug)]
pub struct Sent {
    pub exit: Option<i32>,
    /// The response's status (0 if `sign` printed none).
    pub status: u16,
    /// What `sign` printed after the status line: the response body.
    pub body: String,
    pub stderr: String,
}

/// Runs the `sign` binary with `args`, no `PLIVO_AUTH_TOKEN` in its environment (a printed
/// command must carry its token, or name the variable it comes from).
pub fn run(args: &[impl AsRef<std::ffi::OsStr>]) -> Sent {
    let output = Command::new(example_binary("sign"))
        .args(args)
        .env_remove("PLIVO_AUTH_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let (status_line, body) = stdout.split_once('\n').unwrap_or((&stdout, ""));
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .map_or(0, |code| code.parse().unwrap());
    Sent {
        exit: output.status.code(),
        status,
        body: body.to_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a printed command (variables from `vars`) and asserts that it gets the status its
/// outcome line promises, with `sign`'s exit code to match: 0 for 2xx or 101, 1 otherwise.
#[track_caller]
pub fn assert_gets_what_it_promises(printed: &Printed, vars: &[(&str, &str)]) -> Sent {
    let sent = run(&arguments(&printed.command, vars));
    let promised = printed.promised_status();
    let exit = if promised == 101 || (200..300).contains(&promised) {
        0
    } else {
        1
    };
    assert_eq!(
        (sent.status, sent.exit),
        (promised, Some(exit)),
        "{}\n{}\n{sent:?}",
        printed.outcome,
        printed.command
    );
    sent
}
