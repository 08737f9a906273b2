//! Reading the public scheme and host from forwarding headers sent by a trusted proxy:
//! RFC 7239 `Forwarded`, and `X-Forwarded-Proto` / `-Host` / `-Port`.

use std::net::IpAddr;

use http::HeaderMap;
use http::header::FORWARDED;

use super::cidr::Cidr;

/// What trusted proxies say about the request Plivo made.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Forwarded {
    pub(crate) proto: Option<String>,
    pub(crate) host: Option<String>,
    pub(crate) port: Option<u16>,
}

/// Reads the forwarding headers of a request whose TCP peer is a trusted proxy.
///
/// `Forwarded` wins when present: walking from its rightmost element (added by our peer), each
/// element whose `for=` is itself a trusted proxy lets us trust the element to its left; `proto`
/// and `host` come from the outermost trusted element that has them. Otherwise
/// `X-Forwarded-Proto`, `-Host` and `-Port` give their rightmost value (the nearest proxy's),
/// never a client-supplied first one.
pub(crate) fn read(headers: &HeaderMap, trusted: &[Cidr]) -> Forwarded {
    if headers.contains_key(FORWARDED) {
        return read_forwarded(headers, trusted);
    }
    Forwarded {
        proto: rightmost(headers, "x-forwarded-proto").map(str::to_ascii_lowercase),
        host: rightmost(headers, "x-forwarded-host").map(str::to_owned),
        port: rightmost(headers, "x-forwarded-port").and_then(|p| p.parse().ok()),
    }
}

/// Whether the request carries any forwarding header.
pub(crate) fn present(headers: &HeaderMap) -> bool {
    headers.contains_key(FORWARDED)
        || headers.contains_key("x-forwarded-proto")
        || headers.contains_key("x-forwarded-host")
        || headers.contains_key("x-forwarded-port")
}

fn rightmost<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .rfind(|piece| !piece.is_empty())
}

/// One `Forwarded` element's parameters that matter here.
#[derive(Debug, Default, PartialEq, Eq)]
struct Element {
    for_ip: Option<IpAddr>,
    proto: Option<String>,
    host: Option<String>,
}

fn read_forwarded(headers: &HeaderMap, trusted: &[Cidr]) -> Forwarded {
    let mut elements = Vec::new();
    for value in headers.get_all(FORWARDED) {
        match value.to_str().ok().and_then(parse_elements) {
            Some(mut parsed) => elements.append(&mut parsed),
            // A line we cannot read breaks the chain: keep only what came after it.
            None => elements.clear(),
        }
    }
    let mut result = Forwarded::default();
    // From the nearest element outwards; later (outer) values replace nearer ones.
    for element in elements.into_iter().rev() {
        if element.proto.is_some() {
            result.proto = element.proto;
        }
        if element.host.is_some() {
            result.host = element.host;
        }
        let next_hop_trusted = element
            .for_ip
            .is_some_and(|ip| trusted.iter().any(|cidr| cidr.contains(ip)));
        if !next_hop_trusted {
            break;
        }
    }
    result
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
    if let Some(bracketed) = node.strip_prefix('[') {
        return bracketed.split_once(']')?.0.parse().ok();
    }
    let host = match node.split_once(':') {
        Some((host, port)) if !port.contains(':') => host,
        _ => node,
    };
    host.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn trusted(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| c.parse().unwrap()).collect()
    }

    #[test]
    fn x_forwarded_takes_rightmost() {
        let read = read(
            &headers(&[
                ("x-forwarded-proto", "http, HTTPS"),
                ("x-forwarded-host", "evil.example"),
                ("x-forwarded-host", "hooks.example.com"),
                ("x-forwarded-port", "8443"),
            ]),
            &[],
        );
        assert_eq!(
            read,
            Forwarded {
                proto: Some("https".into()),
                host: Some("hooks.example.com".into()),
                port: Some(8443)
            }
        );
    }

    #[test]
    fn forwarded_single_hop() {
        let read = read(
            &headers(&[(
                "forwarded",
                "for=203.0.113.7;proto=https;host=hooks.example.com",
            )]),
            &trusted(&["10.0.0.0/8"]),
        );
        assert_eq!(read.proto.as_deref(), Some("https"));
        assert_eq!(read.host.as_deref(), Some("hooks.example.com"));
    }

    #[test]
    fn forwarded_walks_trusted_hops_only() {
        // client (forged first element) -> edge 10.0.0.1 -> inner 10.0.0.2 -> us
        let value = "for=1.2.3.4;proto=http;host=forged.example, \
                     for=198.51.100.9;proto=https;host=hooks.example.com, \
                     for=10.0.0.1;proto=http;host=internal:8080";
        let read = read(&headers(&[("forwarded", value)]), &trusted(&["10.0.0.0/8"]));
        assert_eq!(read.proto.as_deref(), Some("https"));
        assert_eq!(read.host.as_deref(), Some("hooks.example.com"));
    }

    #[test]
    fn forwarded_untrusted_inner_hop_stops_the_walk() {
        let value =
            "for=1.2.3.4;proto=https;host=forged.example, for=198.51.100.9;proto=http;host=real";
        let read = read(&headers(&[("forwarded", value)]), &trusted(&["10.0.0.0/8"]));
        assert_eq!(read.host.as_deref(), Some("real"));
        assert_eq!(read.proto.as_deref(), Some("http"));
    }

    #[test]
    fn forwarded_quoted_ipv6_and_several_lines() {
        let read = read(
            &headers(&[
                (
                    "forwarded",
                    r#"for="[2001:db8::1]:4711";proto=https;host="hooks.example.com""#,
                ),
                ("forwarded", r#"for="[fd00::5]""#),
            ]),
            &trusted(&["fd00::/8"]),
        );
        assert_eq!(read.host.as_deref(), Some("hooks.example.com"));
        assert_eq!(read.proto.as_deref(), Some("https"));
    }

    #[test]
    fn unknown_nearest_hop_is_not_skipped() {
        let value = "for=10.0.0.9;proto=https;host=forged.example, for=unknown;host=near";
        let read = read(&headers(&[("forwarded", value)]), &trusted(&["10.0.0.0/8"]));
        assert_eq!(read.host.as_deref(), Some("near"));
        assert_eq!(read.proto, None);
    }

    #[test]
    fn node_ips() {
        assert_eq!(node_ip("192.0.2.43:47011"), "192.0.2.43".parse().ok());
        assert_eq!(node_ip("[2001:db8::1]:4711"), "2001:db8::1".parse().ok());
        assert_eq!(node_ip("unknown"), None);
        assert_eq!(node_ip("_hidden"), None);
    }

    #[test]
    fn malformed_forwarded_is_ignored() {
        let read = read(&headers(&[("forwarded", "for=\"unterminated;host=x")]), &[]);
        assert_eq!(read, Forwarded::default());
    }
}
