//! Signs a request the way Plivo does and prints a ready-to-run `curl` command carrying the
//! signature headers, to try a server guarded by `PlivoSignatureLayer` by hand. Given a
//! `wss://` or `ws://` URL, signs an audio-stream upgrade instead and prints a `websocat`
//! command.
//!
//! ```text
//! cargo run --example sign -- --token TOKEN --url URL [--method GET|POST] [--data 'a=1&b=2']
//!     [--v2] [--main-account] [--nonce N]
//! cargo run --example sign -- --token TOKEN --url ws://127.0.0.1:3000/stream
//! ```
//!
//! The token comes from `--token` or, if that is absent, from `PLIVO_AUTH_TOKEN`. The printed
//! command contains signatures, never the token. Only the standard library and the crate's own
//! `Signer` are used, so the signature is made by the same canonicalisation the layer verifies.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use tower_plivo::signature::{
    Signer, V2_MAIN_ACCOUNT_SIGNATURE, V2_NONCE, V2_SIGNATURE, V3_MAIN_ACCOUNT_SIGNATURE, V3_NONCE,
    V3_SIGNATURE,
};

const USAGE: &str = "\
Prints a curl command carrying a valid Plivo signature.

usage: sign --token TOKEN --url URL [options]

  --token TOKEN     auth token to sign with (default: $PLIVO_AUTH_TOKEN)
  --url URL         the URL Plivo calls, with any query (http:// or https://); a
                    wss:// or ws:// URL is an audio stream: its upgrade is signed (a V3
                    GET over the same URL with http://) and a websocat command printed
  --method M        GET or POST (default POST)
  --data FORM       form parameters, e.g. 'From=14155550100&To=14155550199';
                    POST: sent as an application/x-www-form-urlencoded body;
                    GET: appended to the URL's query (Plivo sends GET parameters there)
  --v2              sign with V2 (X-Plivo-Signature-V2: URL and nonce only) instead of V3
  --main-account    the token is the main account's: use the -Ma- signature header
  --nonce N         nonce to sign with (default: 20 digits derived from the clock)
  -h, --help        this text

The signed URL is also the URL curl (or websocat) calls. To reach a server behind a proxy, add
curl's own options to the printed command (--connect-to, --resolve), which do not change the URL.
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
    match curl_command(&options) {
        Ok(command) => {
            println!("{command}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("sign: {message}");
            ExitCode::from(2)
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
    }))
}

/// The two methods Plivo signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

/// Whether `url` is an audio stream's (`wss://` or `ws://`).
fn is_stream_url(url: &str) -> bool {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    scheme.eq_ignore_ascii_case("wss") || scheme.eq_ignore_ascii_case("ws")
}

/// Signs the stream upgrade and renders it as one shell-safe `websocat` command line.
fn websocat_command(options: &Options) -> Result<String, String> {
    let signature = Signer::new(&options.token)
        .sign_stream(&options.url, &options.nonce)
        .map_err(|error| format!("cannot sign {:?}: {error}", options.url))?;
    let signature_header = if options.main_account {
        V3_MAIN_ACCOUNT_SIGNATURE
    } else {
        V3_SIGNATURE
    };
    let mut command = String::from("websocat");
    for header in [
        format!("{}: {signature}", canonical_case(signature_header)),
        format!("{}: {}", canonical_case(V3_NONCE), options.nonce),
    ] {
        write!(command, " -H {}", quote(&header)).expect("writing to a String");
    }
    write!(command, " {}", quote(&options.url)).expect("writing to a String");
    Ok(command)
}

/// Signs the request and renders it as one shell-safe `curl` command line (a `websocat` one for
/// an audio stream).
fn curl_command(options: &Options) -> Result<String, String> {
    if is_stream_url(&options.url) {
        return websocat_command(options);
    }
    let data = options.data.as_deref().filter(|d| !d.is_empty());
    let (url, body) = match options.method {
        // Plivo sends GET parameters in the query string, so that is where they are signed.
        Method::Get => (with_query(&options.url, data), ""),
        Method::Post => (options.url.clone(), data.unwrap_or("")),
    };
    let signer = Signer::new(&options.token);
    let signature = if options.v2 {
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

    let mut command = format!("curl -i {}", quote(&url));
    for header in [
        format!("{}: {signature}", canonical_case(signature_header)),
        format!("{}: {}", canonical_case(nonce_header), options.nonce),
    ] {
        write!(command, " -H {}", quote(&header)).expect("writing to a String");
    }
    if options.method == Method::Post {
        // `--data-raw`, not `--data`: a body starting with `@` must stay a body, not name a
        // file. The content type is spelled out because V3 signs the body only as a form.
        write!(
            command,
            " -H {} --data-raw {}",
            quote("Content-Type: application/x-www-form-urlencoded"),
            quote(body)
        )
        .expect("writing to a String");
    }
    Ok(command)
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

/// `X-Plivo-Signature-V3` rather than the lower-case constant: what Plivo's own requests show,
/// and easier to read in a terminal. Header names are case-insensitive on the wire.
fn canonical_case(name: &str) -> String {
    name.split('-')
        .map(|word| match word {
            "ma" => "Ma".to_owned(),
            word if word.len() == 2 && word.starts_with('v') => word.to_ascii_uppercase(),
            word => {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// POSIX shell single quoting: everything is literal inside `'...'`, and an embedded `'` is
/// closed, escaped and reopened as `'\''`.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// 20 decimal digits, like Plivo's nonces, mixed from the clock and the process id. Not
/// cryptographic: a nonce only has to differ between requests, and a test can pass `--nonce`.
fn clock_nonce() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let high = splitmix64(nanos as u64 ^ u64::from(std::process::id()));
    let low = splitmix64(high ^ (nanos >> 64) as u64);
    let value = (u128::from(high) << 64 | u128::from(low)) % 10u128.pow(20);
    format!("{value:020}")
}

/// One step of SplitMix64: spreads nearby clock readings over all 64 bits.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
