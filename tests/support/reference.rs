//! The wire format's rules (docs/wire-format.md) written as plainly as possible (split,
//! decode, sort, join): the one reference implementation the crate's optimised code is
//! compared with, by the unit tests, the property tests, the benches and the fuzz targets.
//! Through the public `Signer`, equal HMAC-SHA256 tags mean equal messages.
#![allow(dead_code)] // each user takes what it compares

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// `+` becomes a space, `%XX` (two hex digits) the byte XX; anything else stays as written.
pub fn decode(component: &[u8]) -> Vec<u8> {
    let hex = |d: Option<&u8>| d.and_then(|d| char::from(*d).to_digit(16));
    let mut out = Vec::with_capacity(component.len());
    let mut i = 0;
    while i < component.len() {
        match component[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(component.get(i + 1)), hex(component.get(i + 2))) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}

/// Wire format §2, step 2: split on `&`, skip empty pieces, split at the first `=`, decode both sides.
pub fn pairs(raw: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw.split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.iter().position(|&b| b == b'=') {
            Some(at) => (decode(&piece[..at]), decode(&piece[at + 1..])),
            None => (decode(piece), Vec::new()),
        })
        .collect()
}

/// A URL split as `SignedUrl::parse` documents it: `scheme://[userinfo@]authority path [?query]
/// [#fragment]`, fragment and userinfo dropped.
pub struct Url<'a> {
    pub scheme: &'a str,
    pub authority: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
}

pub fn parse_url(url: &str) -> Option<Url<'_>> {
    let at = url.find("://")?;
    let scheme = &url[..at];
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    let mut rest = &url[at + 3..];
    if let Some(hash) = rest.find('#') {
        rest = &rest[..hash];
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let mut authority = &rest[..end];
    if let Some(userinfo_end) = authority.rfind('@') {
        authority = &authority[userinfo_end + 1..];
    }
    if authority.is_empty() {
        return None;
    }
    let rest = &rest[end..];
    let (path, query) = match rest.find('?') {
        Some(q) => (&rest[..q], Some(&rest[q + 1..])),
        None => (rest, None),
    };
    Some(Url {
        scheme,
        authority,
        path,
        query,
    })
}

/// Wire format §2: the V3 message. `form_body` is `Some` for a POST (possibly empty), `None` for GET.
pub fn v3_message(url: &Url<'_>, form_body: Option<&[u8]>, nonce: &[u8]) -> Vec<u8> {
    let mut query = url.query.map(|q| pairs(q.as_bytes())).unwrap_or_default();
    let mut body = form_body.map(pairs).unwrap_or_default();
    query.sort();
    body.sort();
    let q: Vec<Vec<u8>> = query
        .iter()
        .map(|(k, v)| [k.as_slice(), b"=", v.as_slice()].concat())
        .collect();
    let q = q.join(&b"&"[..]);
    let b: Vec<u8> = body
        .iter()
        .flat_map(|(k, v)| k.iter().chain(v.iter()).copied())
        .collect();
    let mut message = format!("{}://{}{}", url.scheme, url.authority, url.path).into_bytes();
    match (body.is_empty(), q.is_empty()) {
        (true, true) => {}
        (true, false) => message.extend([&b"?"[..], &q].concat()),
        (false, true) => message.extend([&b"?"[..], &b].concat()),
        (false, false) => message.extend([&b"?"[..], &q, b".", &b].concat()),
    }
    message.push(b'.');
    message.extend_from_slice(nonce);
    message
}

/// Wire format §3: the V2 message.
pub fn v2_message(url: &Url<'_>, nonce: &[u8]) -> Vec<u8> {
    let mut message = format!("{}://{}{}", url.scheme, url.authority, url.path).into_bytes();
    message.extend_from_slice(nonce);
    message
}

/// HMAC-SHA256 of `message` keyed with the token's bytes, standard base64 with padding.
pub fn sign(token: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("any key length");
    mac.update(message);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Wire format §5: the pieces of a signature header that can be a tag (split on `,`, trimmed, empty
/// ignored, standard base64 *with* its `=` padding, so 44 characters, of exactly 32 bytes).
pub fn signature_pieces(header: &[u8]) -> usize {
    header
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|piece| piece.len() == 44)
        .filter(|piece| STANDARD.decode(piece).is_ok_and(|bytes| bytes.len() == 32))
        .count()
}
