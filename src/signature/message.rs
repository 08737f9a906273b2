//! The canonical messages Plivo signs: V3 (SPEC §2) and V2 (SPEC §3).
//!
//! This is the crate's only canonicalisation: the verifier and the [`Signer`](super::Signer)
//! both call it.

use super::form::{Pair, parse_pairs, sort_pairs};
use super::url::SignedUrl;

/// Builds the V3 message: the URL with its sorted query pairs and sorted form-body pairs,
/// then `.` and the nonce.
///
/// `form_body` is the raw `application/x-www-form-urlencoded` body of a POST, or `None` for a
/// GET or a POST without a form body. A body that holds no pairs counts as no body.
pub(crate) fn v3_message(url: &SignedUrl<'_>, form_body: Option<&[u8]>, nonce: &[u8]) -> Vec<u8> {
    let mut query = url
        .query()
        .map_or_else(Vec::new, |q| parse_pairs(q.as_bytes()));
    sort_pairs(&mut query);
    let mut body = form_body.map_or_else(Vec::new, parse_pairs);
    sort_pairs(&mut body);

    let pairs_len = |pairs: &[Pair<'_>]| {
        pairs
            .iter()
            .map(|(k, v)| k.len() + v.len() + 1)
            .sum::<usize>()
    };
    let mut out = Vec::with_capacity(
        url.base_len() + 2 + pairs_len(&query) + pairs_len(&body) + 1 + nonce.len(),
    );
    url.write_base(&mut out);
    if !query.is_empty() || !body.is_empty() {
        out.push(b'?');
    }
    for (i, (key, value)) in query.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(key);
        out.push(b'=');
        out.extend_from_slice(value);
    }
    if !query.is_empty() && !body.is_empty() {
        out.push(b'.');
    }
    for (key, value) in &body {
        out.extend_from_slice(key);
        out.extend_from_slice(value);
    }
    out.push(b'.');
    out.extend_from_slice(nonce);
    out
}

/// Builds the V2 message: `scheme://authority path` immediately followed by the nonce. Neither
/// the query nor the body is signed.
pub(crate) fn v2_message(url: &SignedUrl<'_>, nonce: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(url.base_len() + nonce.len());
    url.write_base(&mut out);
    out.extend_from_slice(nonce);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v3(url: &str, body: Option<&str>) -> String {
        let url = SignedUrl::parse(url).unwrap();
        String::from_utf8(v3_message(&url, body.map(str::as_bytes), b"N")).unwrap()
    }

    #[test]
    fn assembly_cases() {
        assert_eq!(v3("https://h/p", None), "https://h/p.N");
        assert_eq!(v3("https://h/p?b=2&a=1", None), "https://h/p?a=1&b=2.N");
        assert_eq!(v3("https://h/p", Some("y=2&x=1")), "https://h/p?x1y2.N");
        assert_eq!(v3("https://h/p?q=1", Some("x=1")), "https://h/p?q=1.x1.N");
        assert_eq!(v3("https://h/p?q=1", Some("")), "https://h/p?q=1.N");
        assert_eq!(v3("https://h/p?", Some("&&")), "https://h/p.N");
    }

    #[test]
    fn repeated_keys_emit_every_value_sorted() {
        assert_eq!(v3("https://h/?k=b&k=a&k=", None), "https://h/?k=&k=a&k=b.N");
        assert_eq!(v3("https://h/", Some("k=b&k=a&k")), "https://h/?kkakb.N");
    }

    #[test]
    fn v2_is_base_and_nonce() {
        let url = SignedUrl::parse("https://example.com/answer/?x=1").unwrap();
        assert_eq!(
            v2_message(&url, b"05429567804466091622"),
            b"https://example.com/answer/05429567804466091622"
        );
    }
}
