//! Signs a request the way Plivo does and prints a ready-to-run `curl` command carrying the
//! signature headers, to try a server guarded by `PlivoSignatureLayer` by hand. Given a
//! `wss://` or `ws://` URL, signs an audio-stream upgrade instead and prints a `websocat`
//! command. With `--to http://HOST:PORT`, sends the signed request there itself and prints the
//! response: signed for the public URL Plivo calls, sent to a local plain-http server.
//!
//! ```text
//! cargo run --example sign -- --token TOKEN --url URL [--method GET|POST] [--data 'a=1&b=2']
//!     [--v2] [--main-account] [--nonce N] [--to http://HOST:PORT]
//! cargo run --example sign -- --token TOKEN --url ws://127.0.0.1:3000/stream
//! cargo run --example sign -- --token TOKEN --url https://hooks.example.com/answer \
//!     --to http://127.0.0.1:3000 --data 'CallUUID=1'
//! ```
//!
//! The token comes from `--token` or, if that is absent, from `PLIVO_AUTH_TOKEN`. The printed
//! command contains signatures, never the token. Only the standard library and the crate's own
//! `Signer` are used (the request `--to` sends goes over a bare `std::net::TcpStream`), so the
//! signature is made by the same canonicalisation the layer verifies.

#[path = "shared/try_it.rs"]
mod try_it;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tower_plivo::signature::Signer;

// The six signature headers (wire format §1), as Plivo spells them on the wire.
const V3_SIGNATURE: &str = "X-Plivo-Signature-V3";
const V3_MAIN_ACCOUNT_SIGNATURE: &str = "X-Plivo-Signature-Ma-V3";
const V3_NONCE: &str = "X-Plivo-Signature-V3-Nonce";
const V2_SIGNATURE: &str = "X-Plivo-Signature-V2";
const V2_MAIN_ACCOUNT_SIGNATURE: &str = "X-Plivo-Signature-Ma-V2";
const V2_NONCE: &str = "X-Plivo-Signature-V2-Nonce";

use try_it::quote;

const USAGE: &str = "\
Signs a request the way Plivo does, then prints a curl command carrying the signature, or with
--to sends the request itself and prints the response.

usage: sign --token TOKEN --url URL [options]

  --token TOKEN     auth token to sign with (default: $PLIVO_AUTH_TOKEN)
  --url URL         the URL Plivo calls, with any query (http:// or https://): what is
                    signed; a wss:// or ws:// URL is an audio stream: its upgrade is signed
                    (a V3 GET over the same URL with http://) and a websocat command printed
  --to URL          send the signed request to this plain http:// address instead of
                    printing a command, e.g. --to http://127.0.0.1:3000 for the local server
                    behind the public --url; the request keeps --url's path and query (a
                    path in --to is sent instead, as a proxy that rewrites paths would) and
                    its Host header is --url's host; prints the response's status line and
                    body (a stream: sends the upgrade, prints the status line, 101
                    expected, and closes)
  --method M        GET or POST (default POST)
  --data FORM       form parameters, e.g. 'From=14155550100&To=14155550199';
                    POST: sent as an application/x-www-form-urlencoded body;
                    GET: appended to the URL's query (Plivo sends GET parameters there)
  --v2              sign with V2 (X-Plivo-Signature-V2: URL and nonce only) instead of V3
  --main-account    the token is the main account's: use the -Ma- signature header
  --nonce N         nonce to sign with (default: 20 digits derived from the clock, so each
                    run is a new request, not a replay)
  -h, --help        this text

Without --to, the printed command calls --url itself: run it where --url reaches your server.
When Plivo calls an https:// URL whose TLS ends at a proxy or tunnel in front of a plain-http
server, use --to with the server's own address: curl cannot send an https:// URL to a plain
http port. --to speaks HTTP/1.1 without TLS: to reach an https:// (wss://) server, leave --to
out and run the printed curl (websocat) command.

exit status: 0 when signed (with --to: the response was 2xx, or 101 for a stream); 1 with --to
when the response was anything else or none came; 2 for a usage error.
";

/// What the command line asked for.
struct Options {
    token: String,
    url: String,
    method: Method,
    data: Option<String>,
    v2: bool,
    main_account: bool,
    nonce: String,
    /// Where to send the request (`--to`, checked to be `http://`); `None`: print a command.
    to: Option<String>,
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1).collect()) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("sign: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let request = match sign(&options) {
        Ok(request) => request,
        Err(message) => {
            eprintln!("sign: {message}");
            return ExitCode::from(2);
        }
    };
    let Some(to) = &options.to else {
        println!("{}", request.command());
        return ExitCode::SUCCESS;
    };
    match request.send(to) {
        Ok(response) => {
            println!("{}", response.status_line);
            let body = String::from_utf8_lossy(&response.body);
            print!("{body}");
            if !body.is_empty() && !body.ends_with('\n') {
                println!();
            }
            // A stream is only open on 101; any other answer, 2xx included, did not upgrade.
            let succeeded = if request.stream {
                response.status == 101
            } else {
                (200..300).contains(&response.status)
            };
            if succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(message) => {
            eprintln!("sign: {message}");
            ExitCode::from(1)
        }
    }
}

/// Parses `--flag value` and `--flag=value` by hand: the example stays dependency-free.
/// `None` means help was asked for.
fn parse(args: Vec<String>) -> Result<Option<Options>, String> {
    let mut token = None;
    let mut url = None;
    let mut method = None;
    let mut data = None;
    let mut v2 = false;
    let mut main_account = false;
    let mut nonce = None;
    let mut to = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--token" => token = Some(value("--token")?),
            "--url" => url = Some(value("--url")?),
            "--method" => {
                let text = value("--method")?;
                method = Some(match text.to_ascii_uppercase().as_str() {
                    "GET" => Method::Get,
                    "POST" => Method::Post,
                    _ => return Err(format!("--method must be GET or POST, not {text:?}")),
                });
            }
            "--data" => data = Some(value("--data")?),
            "--nonce" => nonce = Some(value("--nonce")?),
            "--to" => to = Some(value("--to")?),
            "--v2" | "--main-account" if inline.is_some() => {
                return Err(format!("{flag} takes no value"));
            }
            "-h" | "--help" => return Ok(None),
            "--v2" => v2 = true,
            "--main-account" => main_account = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let token = token
        .or_else(|| std::env::var("PLIVO_AUTH_TOKEN").ok())
        .filter(|t| !t.is_empty())
        .ok_or("no token: pass --token or set PLIVO_AUTH_TOKEN")?;
    let url = url.ok_or("--url is required")?;
    let nonce = nonce.unwrap_or_else(clock_nonce);
    // The nonce travels in a header: refuse what a header cannot carry rather than print a
    // command that curl would mangle.
    if nonce.is_empty() || !nonce.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("--nonce must be visible ASCII, not {nonce:?}"));
    }
    // The layer refuses a nonce that could carry part of a message (see `Rejection::InvalidNonce`).
    if nonce.contains(['.', '/', '?', '#']) {
        return Err(format!(
            "--nonce must not contain '.', '/', '?' or '#' (the layer refuses it), not {nonce:?}"
        ));
    }
    // An audio stream is a V3 GET upgrade without a body.
    let stream = is_stream_url(&url);
    if stream && (v2 || data.is_some() || method == Some(Method::Post)) {
        return Err(
            "a wss:// or ws:// URL is an audio stream: Plivo signs its upgrade as a V3 GET \
             without a body (no --v2, --data or --method POST)"
                .to_owned(),
        );
    }
    if let Some(to) = &to {
        check_to(to, stream)?;
    }
    let method = match (method, stream) {
        (Some(method), _) => method,
        (None, true) => Method::Get,
        (None, false) => Method::Post,
    };
    Ok(Some(Options {
        token,
        url,
        method,
        data,
        v2,
        main_account,
        nonce,
        to,
    }))
}

/// `--to` must name a plain-http server: `sign` has no TLS (the standard library has none).
fn check_to(to: &str, stream: bool) -> Result<(), String> {
    let printed = if stream { "websocat" } else { "curl" };
    let parsed = Url::parse(to)
        .ok_or_else(|| format!("--to must be an http://HOST:PORT address, not {to:?}"))?;
    match parsed.scheme().to_ascii_lowercase().as_str() {
        "http" => {}
        "https" | "wss" => {
            return Err(format!(
                "--to {to}: sign sends plain HTTP only (no TLS); to reach an {} server, leave \
                 --to out and run the {printed} command sign prints",
                parsed.scheme()
            ));
        }
        "ws" => {
            return Err(format!(
                "--to {to}: a stream's upgrade is an HTTP request: write --to http://{}{}",
                parsed.authority(),
                parsed.path()
            ));
        }
        other => return Err(format!("--to must be an http:// address, not {other}://")),
    }
    if parsed.query().is_some() {
        return Err(format!(
            "--to {to}: no query here: the query sent is --url's, which is the one signed"
        ));
    }
    Ok(())
}

/// The two methods Plivo signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// Whether `url` is an audio stream's (`wss://` or `ws://`).
fn is_stream_url(url: &str) -> bool {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    scheme.eq_ignore_ascii_case("wss") || scheme.eq_ignore_ascii_case("ws")
}

/// A request signed as Plivo signs it, to print as a command or to send.
struct Outgoing {
    method: Method,
    /// The URL signed: `--url`, with a GET's `--data` in its query.
    url: String,
    /// A POST's form body (empty for a GET).
    body: String,
    /// The signature and nonce headers, names as Plivo's requests show them.
    headers: [(String, String); 2],
    /// An audio-stream upgrade (`--url` is `ws://` or `wss://`).
    stream: bool,
}

/// Signs the request `options` describe.
fn sign(options: &Options) -> Result<Outgoing, String> {
    let stream = is_stream_url(&options.url);
    let data = options.data.as_deref().filter(|d| !d.is_empty());
    let (url, body) = match options.method {
        // A stream's URL is signed as dialled (`sign_stream` turns it into its http:// form).
        _ if stream => (options.url.clone(), ""),
        // Plivo sends GET parameters in the query string, so that is where they are signed.
        Method::Get => (with_query(&options.url, data), ""),
        Method::Post => (options.url.clone(), data.unwrap_or("")),
    };
    let signer = Signer::new(&options.token);
    let signature = if stream {
        signer.sign_stream(&url, &options.nonce)
    } else if options.v2 {
        signer.sign_v2(&url, &options.nonce)
    } else {
        match options.method {
            Method::Get => signer.sign_v3_get(&url, &options.nonce),
            Method::Post => signer.sign_v3_post(&url, body.as_bytes(), &options.nonce),
        }
    }
    .map_err(|error| format!("cannot sign {url:?}: {error}"))?;
    let (signature_header, nonce_header) = match (options.v2, options.main_account) {
        (false, false) => (V3_SIGNATURE, V3_NONCE),
        (false, true) => (V3_MAIN_ACCOUNT_SIGNATURE, V3_NONCE),
        (true, false) => (V2_SIGNATURE, V2_NONCE),
        (true, true) => (V2_MAIN_ACCOUNT_SIGNATURE, V2_NONCE),
    };
    Ok(Outgoing {
        method: options.method,
        url,
        body: body.to_owned(),
        headers: [
            (signature_header.to_owned(), signature),
            (nonce_header.to_owned(), options.nonce.clone()),
        ],
        stream,
    })
}

/// The form content type: V3 signs a POST's body only as a form.
const FORM: &str = "application/x-www-form-urlencoded";

impl Outgoing {
    /// One shell-safe command line: `curl`, or `websocat` for an audio stream.
    fn command(&self) -> String {
        let mut command = if self.stream {
            String::from("websocat")
        } else {
            format!("curl -i {}", quote(&self.url))
        };
        for (name, value) in &self.headers {
            write!(command, " -H {}", quote(&format!("{name}: {value}")))
                .expect("writing to a String");
        }
        if self.stream {
            write!(command, " {}", quote(&self.url)).expect("writing to a String");
        } else if self.method == Method::Post {
            // `--data-raw`, not `--data`: a body starting with `@` must stay a body, not name a
            // file. The content type is spelled out because V3 signs the body only as a form.
            write!(
                command,
                " -H {} --data-raw {}",
                quote(&format!("Content-Type: {FORM}")),
                quote(&self.body)
            )
            .expect("writing to a String");
        }
        command
    }

    /// Sends the request to the plain-http server `to` over one HTTP/1.1 connection and reads
    /// its answer (for a stream, the upgrade's answer only, then the connection is closed).
    fn send(&self, to: &str) -> Result<Response, String> {
        let signed =
            Url::parse(&self.url).ok_or("--url: not an absolute URL (scheme://host...)")?;
        let server = Url::parse(to).ok_or("--to: not an absolute URL (scheme://host...)")?;
        // The target Plivo would request: the signed URL's path and query, unless `--to` names
        // another path (a proxy that rewrites it). A bare `/` is taken as no path: a habit when
        // writing an address, not a request for the root.
        let path = match server.path() {
            "" | "/" => signed.path(),
            path => path,
        };
        let mut target = if path.is_empty() { "/" } else { path }.to_owned();
        if let Some(query) = signed.query() {
            target.push('?');
            target.push_str(query);
        }
        // The Host the public URL carries, so a server that takes its origin from `Host`
        // verifies the URL Plivo signed, not the address the request was sent to.
        let host = signed.authority();
        for (what, text) in [("the request target", target.as_str()), ("the host", host)] {
            if !text.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "{what} {text:?} has spaces or non-ASCII characters: percent-encode them"
                ));
            }
        }

        let mut head = format!(
            "{} {target} HTTP/1.1\r\nHost: {host}\r\n",
            self.method.as_str()
        );
        for (name, value) in &self.headers {
            write!(head, "{name}: {value}\r\n").expect("writing to a String");
        }
        if self.stream {
            write!(
                head,
                "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: {}\r\n",
                websocket_key()
            )
            .expect("writing to a String");
        } else {
            if self.method == Method::Post {
                write!(
                    head,
                    "Content-Type: {FORM}\r\nContent-Length: {}\r\n",
                    self.body.len()
                )
                .expect("writing to a String");
            }
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");

        let address = with_default_port(server.authority());
        let mut connection = connect(&address)?;
        let io = |e: std::io::Error| format!("{address}: {e}");
        connection.write_all(head.as_bytes()).map_err(io)?;
        connection.write_all(self.body.as_bytes()).map_err(io)?;
        eprintln!(
            "sent {} {target} to {address} (Host: {host}), signed for {}",
            self.method.as_str(),
            self.url
        );
        read_response(&mut BufReader::new(connection)).map_err(io)
    }
}

/// `host:port`, with port 80 (plain http's) when the authority has none.
fn with_default_port(authority: &str) -> String {
    let has_port = authority.rsplit_once(':').is_some_and(|(host, port)| {
        !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            // `[::1]` alone has colons but no port; `[::1]:3000` has one.
            && (host.ends_with(']') || !host.contains(':'))
    });
    if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    }
}

/// How long `sign` waits to connect, and then for each read or write: a server that never
/// answers fails the run instead of hanging it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to the first of `address`'s addresses that accepts one.
fn connect(address: &str) -> Result<TcpStream, String> {
    let mut last_error = None;
    let candidates = address
        .to_socket_addrs()
        .map_err(|e| format!("{address}: {e}"))?;
    for candidate in candidates {
        match TcpStream::connect_timeout(&candidate, CONNECT_TIMEOUT) {
            Ok(connection) => {
                let io = |e: std::io::Error| format!("{address}: {e}");
                connection.set_read_timeout(Some(IO_TIMEOUT)).map_err(io)?;
                connection.set_write_timeout(Some(IO_TIMEOUT)).map_err(io)?;
                return Ok(connection);
            }
            Err(error) => last_error = Some(error),
        }
    }
    Err(match last_error {
        Some(error) => format!("cannot connect to {address}: {error}"),
        None => format!("{address} has no address"),
    })
}

/// A server's answer, as `sign` reports it.
struct Response {
    /// `HTTP/1.1 200 OK`, without its line end.
    status_line: String,
    status: u16,
    body: Vec<u8>,
}

/// Reads one response: the head, then the body by `Content-Length`, chunks, or until the server
/// closes. A `101` has no body here: what follows it is the WebSocket, which `sign` closes.
fn read_response(reader: &mut impl BufRead) -> std::io::Result<Response> {
    let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    loop {
        let status_line = read_line(reader)?;
        if status_line.is_empty() {
            return Err(invalid(
                "the server closed the connection without answering".into(),
            ));
        }
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .filter(|_| status_line.starts_with("HTTP/"))
            .ok_or_else(|| invalid(format!("not an HTTP response: {status_line:?}")))?;
        let mut content_length = None;
        let mut chunked = false;
        loop {
            let line = read_line(reader)?;
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            }
        }
        // An interim answer (`100 Continue`) is followed by the real one.
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let body = if status == 101 || status == 204 || status == 304 {
            Vec::new()
        } else if chunked {
            read_chunks(reader)?
        } else if let Some(length) = content_length {
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            body
        } else {
            let mut body = Vec::new();
            reader.read_to_end(&mut body)?;
            body
        };
        return Ok(Response {
            status_line,
            status,
            body,
        });
    }
}

/// One line of a response head, without its line end (empty at the end of the head, or when the
/// connection closed).
fn read_line(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    Ok(String::from_utf8_lossy(&line)
        .trim_end_matches(['\r', '\n'])
        .to_owned())
}

/// A `Transfer-Encoding: chunked` body, decoded.
fn read_chunks(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("bad chunk size {line:?}"),
            )
        })?;
        if size == 0 {
            // Trailers, up to the blank line that ends the body.
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        read_line(reader)?; // the CRLF after the chunk
    }
}

/// `url` with `data` appended to its query (before any fragment, which curl drops anyway).
fn with_query(url: &str, data: Option<&str>) -> String {
    let Some(data) = data else {
        return url.to_owned();
    };
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (url, None),
    };
    let separator = match before_fragment.split_once('?') {
        None => "?",
        Some((_, "")) => "",
        Some((_, query)) if query.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut out = format!("{before_fragment}{separator}{data}");
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// An absolute URL's pieces as written: `scheme://authority path ?query` (userinfo and
/// fragment dropped; nothing normalised).
struct Url<'a> {
    scheme: &'a str,
    authority: &'a str,
    path: &'a str,
    query: Option<&'a str>,
}

impl<'a> Url<'a> {
    fn parse(url: &'a str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = rest[..end].rsplit('@').next().unwrap_or_default();
        let (path, query) = match rest[end..].split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (&rest[end..], None),
        };
        (valid_scheme && !authority.is_empty()).then_some(Self {
            scheme,
            authority,
            path,
            query,
        })
    }

    fn scheme(&self) -> &'a str {
        self.scheme
    }

    fn authority(&self) -> &'a str {
        self.authority
    }

    fn path(&self) -> &'a str {
        self.path
    }

    fn query(&self) -> Option<&'a str> {
        self.query
    }
}

/// 20 decimal digits, like Plivo's nonces, mixed from the clock and the process id. Not
/// cryptographic: a nonce only has to differ between requests, and a test can pass `--nonce`.
fn clock_nonce() -> String {
    format!("{:020}", clock_bits() % 10u128.pow(20))
}

/// A `Sec-WebSocket-Key`: 16 bytes, base64. The key only guards against caches answering an
/// upgrade, so bits from the clock do; `sign` closes the socket after the `101` anyway.
fn websocket_key() -> String {
    base64(&clock_bits().to_be_bytes())
}

/// 128 bits mixed from the clock and the process id.
fn clock_bits() -> u128 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let high = splitmix64(nanos as u64 ^ u64::from(std::process::id()));
    let low = splitmix64(high ^ (nanos >> 64) as u64);
    u128::from(high) << 64 | u128::from(low)
}

/// Standard base64 with padding (RFC 4648), what `Sec-WebSocket-Key` is written in.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let bits = chunk.iter().enumerate().fold(0u32, |bits, (i, byte)| {
            bits | u32::from(*byte) << (16 - 8 * i)
        });
        // n bytes make n + 1 characters; `=` pads the group to four.
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(bits >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One step of SplitMix64: spreads nearby clock readings over all 64 bits.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
