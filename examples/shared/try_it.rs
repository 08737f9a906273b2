//! The "try it" block the servers among the examples print at start: `cargo run --example sign`
//! commands that sign a request as Plivo would and send it to the example's own address, one
//! that gets through and one that is refused. Also the shell quoting those commands and the
//! `sign` example's own `curl` lines share.
//!
//! Standard library only: `sign` includes this file too, and stays dependency-free.
#![allow(dead_code)] // each example uses a different part

use std::net::SocketAddr;

/// The form the printed commands post: an inbound call, as Plivo sends to an answer URL.
pub const DEMO_CALL: &str =
    "CallUUID=4c8e3f2a-demo&From=14155550100&To=14155550199&Direction=inbound";

/// The token the "gets 403" commands sign with: no example knows it, so the signature does not
/// match, whatever the example's own token is.
pub const UNKNOWN_TOKEN: &str = "MAnotTHEtokenTHISserverKNOWS0000";

/// POSIX shell single quoting: everything is literal inside `'...'`, and an embedded `'` is
/// closed, escaped and reopened as `'\''`.
pub fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// One argument of a printed command, already quoted for a POSIX shell.
#[derive(Clone, Debug)]
pub struct ShellWord(String);

impl ShellWord {
    /// Text passed as it is.
    pub fn literal(text: &str) -> Self {
        Self(quote(text))
    }

    /// `before`, the value of the shell variable `variable`, then `after`: for what the example
    /// must not print (a user's token) or cannot know (a tenant's name), which the user exports
    /// in the shell that runs the command.
    pub fn with_variable(before: &str, variable: &str, after: &str) -> Self {
        // Inside double quotes only `"`, `\`, `$` and backquote are special.
        let escape = |text: &str| {
            text.chars().fold(String::new(), |mut out, c| {
                if matches!(c, '"' | '\\' | '$' | '`') {
                    out.push('\\');
                }
                out.push(c);
                out
            })
        };
        // `${NAME}` only where a name character follows, which would otherwise join the name.
        let joins = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let reference = if joins {
            format!("${{{variable}}}")
        } else {
            format!("${variable}")
        };
        Self(format!(
            "\"{}{reference}{}\"",
            escape(before),
            escape(after)
        ))
    }
}

/// The start-up block: a notice saying which token the commands sign with, then each command
/// under a line saying what it gets. Printed on stdout (logs go to stderr), ending with a blank
/// line.
pub struct TryIt {
    /// Where the commands send: the address the example listens on.
    to: String,
    /// The `--token` argument of the commands that get through.
    token: ShellWord,
    lines: Vec<String>,
}

impl TryIt {
    /// Commands signed with the examples' public demo token, which is printed: it is in the
    /// source, so showing it reveals nothing, and a user can sign requests of their own with it.
    /// `real_setting` is the variable that replaces it with real tokens.
    pub fn demo_token(token: &str, real_setting: &str, listening: SocketAddr) -> Self {
        let mut try_it = Self::new(ShellWord::literal(token), listening);
        try_it.lines.push(format!(
            "demo token in use: {token} (public, in examples/shared/demo.rs; set {real_setting} \
             for real traffic)"
        ));
        try_it
    }

    /// Commands signed with the demo token when the example uses it (`Some`), else with the
    /// user's own token, read from `$PLIVO_AUTH_TOKEN` in the shell that runs them.
    pub fn demo_or_user_token(demo_token: Option<&str>, listening: SocketAddr) -> Self {
        match demo_token {
            Some(token) => Self::demo_token(token, "PLIVO_AUTH_TOKEN", listening),
            None => Self::token_variable(
                "PLIVO_AUTH_TOKEN",
                "your token is in use: the commands below sign with $PLIVO_AUTH_TOKEN (export it \
                 in the shell you run them from; it is never printed)",
                listening,
            ),
        }
    }

    /// Commands whose token is the user's, read from the shell `variable` when the command
    /// runs: this example never prints a user's token. `notice` says where the value comes from.
    pub fn token_variable(variable: &str, notice: &str, listening: SocketAddr) -> Self {
        let mut try_it = Self::new(ShellWord::with_variable("", variable, ""), listening);
        try_it.lines.push(notice.to_owned());
        try_it
    }

    fn new(token: ShellWord, listening: SocketAddr) -> Self {
        Self {
            to: format!("http://{listening}"),
            token,
            lines: Vec::new(),
        }
    }

    /// A request signed for `url` (the URL Plivo calls: `http(s)://…`, or `ws(s)://…` for an
    /// audio stream) and sent to this example, posting `data` as a form if given. `outcome`
    /// says what it gets, e.g. "a call to the answer URL gets 200".
    pub fn signed(&mut self, outcome: &str, url: ShellWord, data: Option<&str>) -> &mut Self {
        let command = self.sign_command(&self.token, &url, data);
        self.command(outcome, &command)
    }

    /// The same request signed with a token the example does not know: it gets 403.
    pub fn unknown_token(&mut self, url: ShellWord, data: Option<&str>) -> &mut Self {
        let command = self.sign_command(&ShellWord::literal(UNKNOWN_TOKEN), &url, data);
        self.command(
            "the same, signed with a token this server does not know, gets 403:",
            &command,
        )
    }

    /// Any other ready command (a `curl` or `websocat` line), under `outcome`.
    pub fn command(&mut self, outcome: &str, command: &str) -> &mut Self {
        self.lines.push(outcome.to_owned());
        self.lines.push(format!("  {command}"));
        self
    }

    /// A line of explanation, as it is.
    pub fn note(&mut self, text: &str) -> &mut Self {
        self.lines.push(text.to_owned());
        self
    }

    /// Prints the block, then a blank line that sets it apart from what follows.
    pub fn print(&self) {
        for line in &self.lines {
            println!("{line}");
        }
        println!();
    }

    /// `cargo run --example sign -- --token … --url … --to … [--data …]`: signed for `url`, sent
    /// to the example (the request target is `url`'s path and query, the `Host` its authority).
    fn sign_command(&self, token: &ShellWord, url: &ShellWord, data: Option<&str>) -> String {
        let mut command = format!(
            "cargo run --example sign -- --token {} --url {} --to {}",
            token.0,
            url.0,
            quote(&self.to)
        );
        if let Some(data) = data {
            command.push_str(" --data ");
            command.push_str(&quote(data));
        }
        command
    }
}
