//! Reading forwarding headers: RFC 7239 `Forwarded` (walked element by element from the
//! nearest hop) and the `X-Forwarded-*` family (their rightmost value). Which of them are
//! believed, and from whom, is decided in `proxies.rs`.

use std::net::IpAddr;

use http::HeaderMap;
use http::header::FORWARDED;

#[cfg(feature = "diagnosis")]
use super::ProxyHeader;
#[cfg(feature = "diagnosis")]
use super::prefix::path_prefix;
use crate::rejection::Rejection;

/// The rightmost non-empty comma-separated value of `name` across all its lines (the nearest
/// proxy's, never a client-supplied first one). A value that is not visible ASCII refuses the
/// request: the header was named as one the user's proxy writes.
pub(crate) fn rightmost<'a>(
    headers: &'a HeaderMap,
    name: &str,
) -> Result<Option<&'a str>, Rejection> {
    let mut last = None;
    for value in headers.get_all(name) {
        let value = value.to_str().map_err(|_| Rejection::UnknownOrigin)?;
        if let Some(piece) = value
            .split(',')
            .map(str::trim)
            .rfind(|piece| !piece.is_empty())
        {
            last = Some(piece);
        }
    }
    Ok(last)
}

/// The one value of `name`: `None` when it is absent; refused when it arrives on several lines
/// or as a comma-separated list (which of several a proxy meant cannot be known), or is not
/// visible ASCII.
pub(crate) fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Rejection> {
    let mut lines = headers.get_all(name).iter();
    let Some(value) = lines.next() else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| Rejection::UnknownOrigin)?;
    if lines.next().is_some() || value.contains(',') {
        return Err(Rejection::UnknownOrigin);
    }
    Ok(Some(value.trim()))
}

/// The client in `X-Forwarded-For`: walking from the right, the first address that is not a
/// trusted proxy. `None` when the header is absent or empty (the peer is then the client);
/// `Some(None)` when an entry on the way cannot be read, or when every entry is a trusted proxy
/// (the leftmost entry is the one the client wrote, so it cannot be believed).
pub(crate) fn client_in_x_forwarded_for(
    headers: &HeaderMap,
    trusts: impl Fn(IpAddr) -> bool,
) -> Option<Option<IpAddr>> {
    let mut entries = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return Some(None);
        };
        entries.extend(value.split(',').map(str::trim).filter(|e| !e.is_empty()));
    }
    if entries.is_empty() {
        return None;
    }
    for entry in entries.iter().rev() {
        let Some(ip) = node_ip(entry) else {
            return Some(None);
        };
        if !trusts(ip) {
            return Some(Some(ip));
        }
    }
    Some(None)
}

/// What the URL forwarding headers say, whoever sent them: the rightmost `X-Forwarded-Proto`,
/// `X-Forwarded-Host` and `X-Forwarded-Port`, each `Forwarded` element's `proto` and `host`,
/// and a readable `X-Forwarded-Prefix` (as verified, without its trailing `/`).
/// Only refusals' descriptions read these (the doctor tries the URLs they name); nothing is
/// verified with them.
#[derive(Debug, Default, PartialEq, Eq)]
#[cfg(feature = "diagnosis")]
pub(crate) struct Claimed {
    pub(crate) schemes: Vec<String>,
    pub(crate) hosts: Vec<String>,
    pub(crate) ports: Vec<String>,
    pub(crate) prefixes: Vec<String>,
}

#[cfg(feature = "diagnosis")]
pub(crate) fn claimed(headers: &HeaderMap) -> Claimed {
    let mut all = Claimed::default();
    for header in [
        ProxyHeader::XForwardedProto,
        ProxyHeader::XForwardedHost,
        ProxyHeader::XForwardedPort,
        ProxyHeader::Forwarded,
        ProxyHeader::XForwardedPrefix,
    ] {
        let one = claimed_by(headers, header);
        for (values, more) in [
            (&mut all.schemes, one.schemes),
            (&mut all.hosts, one.hosts),
            (&mut all.ports, one.ports),
            (&mut all.prefixes, one.prefixes),
        ] {
            for value in more {
                if !values.contains(&value) {
                    values.push(value);
                }
            }
        }
    }
    all
}

/// What one forwarding header says about the URL, whoever sent it.
#[cfg(feature = "diagnosis")]
pub(crate) fn claimed_by(headers: &HeaderMap, header: ProxyHeader) -> Claimed {
    let last = || {
        rightmost(headers, header.name())
            .ok()
            .flatten()
            .map(str::to_owned)
            .into_iter()
            .collect()
    };
    match header {
        ProxyHeader::XForwardedProto => Claimed {
            schemes: last(),
            ..Claimed::default()
        },
        ProxyHeader::XForwardedHost => Claimed {
            hosts: last(),
            ..Claimed::default()
        },
        ProxyHeader::XForwardedPort => Claimed {
            ports: last(),
            ..Claimed::default()
        },
        ProxyHeader::Forwarded => {
            let mut claimed = Claimed::default();
            if let Ok(chain) = chain(headers) {
                for element in chain.elements {
                    claimed.schemes.extend(element.proto);
                    claimed.hosts.extend(element.host);
                }
            }
            claimed
        }
        ProxyHeader::XForwardedPrefix => Claimed {
            prefixes: single(headers, header.name())
                .ok()
                .flatten()
                .and_then(path_prefix)
                .map(str::to_owned)
                .into_iter()
                .collect(),
            ..Claimed::default()
        },
        ProxyHeader::XForwardedFor => Claimed::default(),
    }
}

/// The elements of every `Forwarded` line after the last one that could not be read, in order
/// (the nearest hop's last): the chain goes no further left than what could be read.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Chain {
    elements: Vec<Element>,
}

/// One `Forwarded` element's parameters that matter here.
#[derive(Debug, Default, PartialEq, Eq)]
struct Element {
    for_ip: Option<IpAddr>,
    proto: Option<String>,
    host: Option<String>,
}

/// Parses the `Forwarded` lines. A line that cannot be read ends the chain there (only what
/// follows it is kept); when it is the last line, the nearest hop's element is lost and the
/// whole header is unreadable (`Err`).
pub(crate) fn chain(headers: &HeaderMap) -> Result<Chain, ()> {
    let mut chain = Chain::default();
    let mut last_line_read = true;
    for value in headers.get_all(FORWARDED) {
        match value.to_str().ok().and_then(parse_elements) {
            Some(mut parsed) => {
                chain.elements.append(&mut parsed);
                last_line_read = true;
            }
            None => {
                chain.elements.clear();
                last_line_read = false;
            }
        }
    }
    if last_line_read { Ok(chain) } else { Err(()) }
}

impl Chain {
    /// `proto` and `host` as the outermost trusted hop saw them: walking from the nearest
    /// element (written by our peer, a trusted proxy), each element whose `for=` is a trusted
    /// proxy lets us trust the element to its left; each parameter comes from the outermost
    /// trusted element that has it.
    pub(crate) fn url(&self, trusts: impl Fn(IpAddr) -> bool) -> (Option<String>, Option<String>) {
        let (mut proto, mut host) = (None, None);
        for element in self.elements.iter().rev() {
            if element.proto.is_some() {
                proto.clone_from(&element.proto);
            }
            if element.host.is_some() {
                host.clone_from(&element.host);
            }
            if !element.for_ip.is_some_and(&trusts) {
                break;
            }
        }
        (proto, host)
    }

    /// The client: walking from the nearest element, the first `for=` that is not a trusted
    /// proxy. `None` when a `for=` on the way is missing or obfuscated, or when no untrusted
    /// address is found (the chain is broken, or every hop is a trusted proxy: the leftmost
    /// element is the one the client wrote).
    pub(crate) fn client(&self, trusts: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
        self.elements
            .iter()
            .rev()
            .map(|element| element.for_ip)
            .find(|ip| !ip.is_some_and(&trusts))
            .flatten()
    }
}

/// Parses one `Forwarded` header line into elements; `None` when it is malformed.
fn parse_elements(line: &str) -> Option<Vec<Element>> {
    let mut elements = vec![Element::default()];
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        if rest.is_empty() {
            break;
        }
        let eq = rest.find('=')?;
        let name = rest[..eq].trim();
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return None;
        }
        rest = &rest[eq + 1..];
        let (value, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let (value, after) = split_quoted(quoted)?;
            (value, after)
        } else {
            let end = rest.find([';', ',']).unwrap_or(rest.len());
            let value = rest[..end].trim_end();
            if value.is_empty() || !value.bytes().all(is_token_byte) {
                return None;
            }
            (value.to_owned(), &rest[end..])
        };
        let element = elements.last_mut().expect("never empty");
        match name.to_ascii_lowercase().as_str() {
            "for" => element.for_ip = node_ip(&value),
            "proto" => element.proto = Some(value.to_ascii_lowercase()),
            "host" => element.host = Some(value),
            _ => {}
        }
        rest = after.trim_start_matches([' ', '\t']);
        match rest.as_bytes().first() {
            None => break,
            Some(b';') => rest = &rest[1..],
            Some(b',') => {
                rest = &rest[1..];
                elements.push(Element::default());
            }
            Some(_) => return None,
        }
    }
    // An element with no `for=` we can read (including an empty one) ends the walk of trusted
    // hops, so it is kept: dropping it would let the element before it be trusted.
    Some(elements)
}

/// Splits a quoted-string (after its opening quote) into its unescaped value and what follows
/// the closing quote.
fn split_quoted(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[at + 1..])),
            '\\' => value.push(chars.next()?.1),
            c => value.push(c),
        }
    }
    None
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:[]".contains(&b)
}

/// The IP in a `for=` node: `192.0.2.43`, `192.0.2.43:47011`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711`. Obfuscated identifiers and `unknown` give `None`.
fn node_ip(node: &str) -> Option<IpAddr> {
    let is_port = |port: &str| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    if let Some(bracketed) = node.strip_prefix('[') {
        let (ip, after) = bracketed.split_once(']')?;
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
        return if port_ok { ip.parse().ok() } else { None };
    }
    let host = match node.split_once(':') {
        Some((host, port)) if !port.contains(':') => is_port(port).then_some(host)?,
        _ => node,
    };
    host.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url_policy::test_headers as headers;

    fn trusted(ip: IpAddr) -> bool {
        matches!(ip, IpAddr::V4(v4) if v4.octets()[0] == 10)
            || matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xff00 == 0xfd00)
    }

    fn url_of(value: &str) -> (Option<String>, Option<String>) {
        chain(&headers(&[("forwarded", value)]))
            .unwrap()
            .url(trusted)
    }

    #[test]
    fn rightmost_values() {
        let sent = headers(&[
            ("x-forwarded-proto", "http, HTTPS"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-host", "hooks.example.com, "),
        ]);
        assert_eq!(rightmost(&sent, "x-forwarded-proto"), Ok(Some("HTTPS")));
        assert_eq!(
            rightmost(&sent, "x-forwarded-host"),
            Ok(Some("hooks.example.com"))
        );
        assert_eq!(rightmost(&sent, "x-forwarded-port"), Ok(None));
        let mut opaque = HeaderMap::new();
        opaque.insert(
            "x-forwarded-host",
            http::HeaderValue::from_bytes(b"h\xffst").unwrap(),
        );
        assert_eq!(
            rightmost(&opaque, "x-forwarded-host"),
            Err(Rejection::UnknownOrigin)
        );
    }

    #[test]
    fn forwarded_single_hop() {
        assert_eq!(
            url_of("for=203.0.113.7;proto=https;host=hooks.example.com"),
            (Some("https".into()), Some("hooks.example.com".into()))
        );
    }

    #[test]
    fn forwarded_walks_trusted_hops_only() {
        // client (forged first element) -> edge 10.0.0.1 -> inner 10.0.0.2 -> us
        let value = "for=1.2.3.4;proto=http;host=forged.example, \
                     for=198.51.100.9;proto=https;host=hooks.example.com, \
                     for=10.0.0.1;proto=http;host=internal:8080";
        assert_eq!(
            url_of(value),
            (Some("https".into()), Some("hooks.example.com".into()))
        );
    }

    #[test]
    fn forwarded_untrusted_inner_hop_stops_the_walk() {
        let value =
            "for=1.2.3.4;proto=https;host=forged.example, for=198.51.100.9;proto=http;host=real";
        assert_eq!(url_of(value), (Some("http".into()), Some("real".into())));
    }

    #[test]
    fn forwarded_quoted_ipv6_and_several_lines() {
        let sent = headers(&[
            (
                "forwarded",
                r#"for="[2001:db8::1]:4711";proto=https;host="hooks.example.com""#,
            ),
            ("forwarded", r#"for="[fd00::5]""#),
        ]);
        let chain = chain(&sent).unwrap();
        assert_eq!(
            chain.url(trusted),
            (Some("https".into()), Some("hooks.example.com".into()))
        );
        assert_eq!(chain.client(trusted), "2001:db8::1".parse().ok());
    }

    #[test]
    fn unknown_nearest_hop_is_not_skipped() {
        let value = "for=10.0.0.9;proto=https;host=forged.example, for=unknown;host=near";
        assert_eq!(url_of(value), (None, Some("near".into())));
        assert_eq!(
            chain(&headers(&[("forwarded", value)]))
                .unwrap()
                .client(trusted),
            None
        );
    }

    #[test]
    fn node_ips() {
        assert_eq!(node_ip("192.0.2.43:47011"), "192.0.2.43".parse().ok());
        assert_eq!(node_ip("[2001:db8::1]:4711"), "2001:db8::1".parse().ok());
        assert_eq!(node_ip("2001:db8::1"), "2001:db8::1".parse().ok());
        assert_eq!(node_ip("unknown"), None);
        assert_eq!(node_ip("_hidden"), None);
        assert_eq!(node_ip("[2001:db8::1]x"), None);
        assert_eq!(node_ip("192.0.2.43:port"), None);
    }

    #[test]
    fn a_malformed_line_breaks_the_chain() {
        // The nearest line unreadable: nothing can be believed.
        assert_eq!(
            chain(&headers(&[("forwarded", "for=\"unterminated;host=x")])),
            Err(())
        );
        // An earlier line unreadable: only what follows it is kept, and the walk ends there.
        let sent = headers(&[
            ("forwarded", "for=\"unterminated;host=x"),
            (
                "forwarded",
                "for=10.0.0.1;proto=https;host=hooks.example.com",
            ),
        ]);
        let chain = chain(&sent).unwrap();
        assert_eq!(
            chain.url(trusted),
            (Some("https".into()), Some("hooks.example.com".into()))
        );
        assert_eq!(chain.client(trusted), None);
    }

    #[test]
    fn x_forwarded_for_absent_or_empty_says_nothing() {
        assert_eq!(client_in_x_forwarded_for(&HeaderMap::new(), trusted), None);
        assert_eq!(
            client_in_x_forwarded_for(&headers(&[("x-forwarded-for", " , ")]), trusted),
            None
        );
    }
}
