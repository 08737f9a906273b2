//! The canonical messages Plivo signs: V3 (wire format §2) and V2 (wire format §3).
//!
//! This is the crate's only canonicalisation: the verifier and the [`Signer`](super::Signer)
//! both call it.

use super::form::{FormPairs, pairs_estimate};
use super::url::SignedUrl;

/// A V3 message, built once into a single buffer sized up front.
///
/// The buffer holds, in order, the decoded bytes of the components that had escapes (scratch),
/// then the message: `base`, then the rest (`?Q.B.nonce`, see [`V3Message::build`]). Keeping
/// the rest separate lets the verifier retry a root URL without its `/` by hashing another base
/// in front of the same rest.
pub(crate) struct V3Message {
    buf: Vec<u8>,
    /// Where the message (the base) starts.
    start: usize,
    /// Where the base ends and the rest starts.
    rest: usize,
}

impl V3Message {
    /// Builds the V3 message: the URL with its sorted query pairs and sorted form-body pairs,
    /// then `.` and the nonce.
    ///
    /// `form_body` is the raw `application/x-www-form-urlencoded` body of a POST, or `None` for
    /// a GET or a POST without a form body. A body that holds no pairs counts as no body.
    ///
    /// Two allocations: the buffer (decoded bytes, then the message) and the pairs of the query
    /// and body together, both sized up front (the pairs `Vec` grows only for bodies of
    /// unusually short pairs).
    pub(crate) fn build(url: &SignedUrl<'_>, form_body: Option<&[u8]>, nonce: &[u8]) -> Self {
        let query = url.query().unwrap_or_default().as_bytes();
        let body = form_body.unwrap_or_default();
        // Decoded bytes (at most the input), then the message: base, `?`, Q (at most the query
        // with one `=` added per piece), `.`, B (at most the body), `.`, nonce.
        let capacity = 2 * (query.len() + body.len())
            + url.base_len()
            + query.len().div_ceil(2)
            + 3
            + nonce.len();
        let mut buf = Vec::with_capacity(capacity);
        let mut pairs = Vec::with_capacity(pairs_estimate(query.len() + body.len()));
        let query = FormPairs::scan(query, &mut buf, &mut pairs);
        let body = FormPairs::scan(body, &mut buf, &mut pairs);
        query.sort(&buf, &mut pairs);
        body.sort(&buf, &mut pairs);

        let start = buf.len();
        url.write_base(&mut buf);
        let rest = buf.len();
        if !query.is_empty() || !body.is_empty() {
            buf.push(b'?');
        }
        query.write_query(&pairs, &mut buf);
        if !query.is_empty() && !body.is_empty() {
            buf.push(b'.');
        }
        body.write_body(&pairs, &mut buf);
        buf.push(b'.');
        buf.extend_from_slice(nonce);
        debug_assert!(buf.len() <= capacity, "the capacity is a bound");
        debug_assert_eq!(
            buf.len() - rest,
            usize::from(query.len() + body.len() > 0)
                + query.content_len()
                + (2 * query.len()).saturating_sub(1)
                + usize::from(!query.is_empty() && !body.is_empty())
                + body.content_len()
                + 1
                + nonce.len()
        );
        Self { buf, start, rest }
    }

    /// The whole message.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// The message after the URL's base: `?Q.B.nonce` (or `.nonce`).
    pub(crate) fn after_base(&self) -> &[u8] {
        &self.buf[self.rest..]
    }
}

/// The V3 message as one `Vec` (for tests and tools; the verifier hashes [`V3Message`] as is).
#[cfg(test)]
pub(crate) fn v3_message(url: &SignedUrl<'_>, form_body: Option<&[u8]>, nonce: &[u8]) -> Vec<u8> {
    V3Message::build(url, form_body, nonce).bytes().to_vec()
}

/// The V2 message, `scheme://authority path` immediately followed by the nonce, as the pieces
/// to hash in order (no buffer: neither the query nor the body is signed).
pub(crate) fn v2_parts<'a>(url: &SignedUrl<'a>, nonce: &'a [u8]) -> [&'a [u8]; 5] {
    let [scheme, separator, authority, path] = url.base_parts();
    [scheme, separator, authority, path, nonce]
}

/// The V2 message as one `Vec`.
#[cfg(test)]
pub(crate) fn v2_message(url: &SignedUrl<'_>, nonce: &[u8]) -> Vec<u8> {
    v2_parts(url, nonce).concat()
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
