//! Running and reading the `curl` commands the examples print, exactly as a user would paste
//! them (with `curl` in a shell), or replayed with the test client when `curl` is missing.
#![allow(dead_code)]

use std::process::Command;

use super::{FORM, Reply, send};

/// Whether `curl` can be run here.
pub fn available() -> bool {
    Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// POSIX shell words for the subset the examples print: bare words and single-quoted
/// strings, where `'\''` is an escaped quote (and double-quoted ones without variables, see
/// [`shell_words_with`]).
pub fn shell_words(line: &str) -> Vec<String> {
    shell_words_with(line, &[])
}

/// As [`shell_words`], also with double-quoted strings, in which `\` escapes `"`, `\`, `$` and
/// a backquote, and `$NAME` or `${NAME}` is the value `vars` gives NAME, as the shell of a user
/// who exported it would expand it. A variable missing from `vars` panics: the test did not
/// supply what the printed command says the user must export.
pub fn shell_words_with(line: &str, vars: &[(&str, &str)]) -> Vec<String> {
    let value = |name: &str| {
        vars.iter()
            .find(|(var, _)| *var == name)
            .unwrap_or_else(|| panic!("${name} is not supplied, in {line}"))
            .1
    };
    let mut words = Vec::new();
    let mut current: Option<String> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let word = current.get_or_insert_with(String::new);
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                let word = current.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            let escaped = chars.next().unwrap();
                            if !matches!(escaped, '"' | '\\' | '$' | '`') {
                                word.push('\\');
                            }
                            word.push(escaped);
                        }
                        '$' => {
                            let braced = chars.next_if_eq(&'{').is_some();
                            let mut name = String::new();
                            while let Some(c) =
                                chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_')
                            {
                                name.push(c);
                            }
                            if braced {
                                assert_eq!(chars.next(), Some('}'), "${{{name} in {line}");
                            }
                            word.push_str(value(&name));
                        }
                        c => word.push(c),
                    }
                }
            }
            '\\' => current
                .get_or_insert_with(String::new)
                .push(chars.next().unwrap()),
            ' ' => words.extend(current.take()),
            c => current.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(current);
    words
}

/// What a printed `curl` command asks for.
#[derive(Debug)]
pub struct Curl {
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// The body (`--data` / `--data-raw`), which makes it a POST.
    pub data: Option<String>,
}

impl Curl {
    /// Reads a printed command: `curl [-i] URL (-H 'name: value')* [--data[-raw] BODY]`.
    pub fn parse(line: &str) -> Self {
        let mut words = shell_words(line).into_iter();
        assert_eq!(words.next().as_deref(), Some("curl"), "{line}");
        let (mut url, mut headers, mut data) = (None, Vec::new(), None);
        while let Some(word) = words.next() {
            match word.as_str() {
                "-i" => {}
                "-H" => {
                    let header = words.next().unwrap();
                    let (name, value) = header.split_once(": ").unwrap();
                    headers.push((name.to_owned(), value.to_owned()));
                }
                "--data" | "--data-raw" => data = Some(words.next().unwrap()),
                w if w.starts_with("http://") && url.is_none() => url = Some(w.to_owned()),
                other => panic!("unexpected word {other:?} in {line}"),
            }
        }
        Self {
            url: url.expect("a URL"),
            headers,
            data,
        }
    }
}

/// Sends what the command asks for with the test client (as curl would: a POST with the form
/// content type when there is data and no content type given).
pub async fn replay(line: &str) -> Reply {
    let curl = Curl::parse(line);
    let rest = curl.url.strip_prefix("http://").unwrap();
    let (authority, target) = rest.split_at(rest.find('/').unwrap());
    let mut headers: Vec<(&str, &str)> = curl
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    if curl.data.is_some()
        && !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(FORM.0))
    {
        headers.push(FORM);
    }
    let method = if curl.data.is_some() { "POST" } else { "GET" };
    send(
        authority.parse().unwrap(),
        method,
        target,
        &headers,
        curl.data.unwrap_or_default(),
    )
    .await
}

/// What `curl -i` printed: the status, the head's lines, the body.
#[derive(Debug)]
pub struct CurlReply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl CurlReply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (header, value) = line.split_once(':')?;
            header
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }
}

/// Executes the printed command with `sh`, exactly as a user pasting it would (adding `-s -i`
/// and a time limit, so a regression fails instead of hanging).
pub async fn run(line: &str) -> CurlReply {
    // tokio's `Command`, not std's: the server may run on this test's runtime, and a blocking
    // wait here would starve it.
    let output = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{line} -s -i --max-time 30"))
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let raw = output.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    CurlReply {
        status,
        head,
        body: String::from_utf8_lossy(&raw[split + 4..]).into_owned(),
    }
}
