//! The canonical messages Plivo signs: V3 (wire format §2) and V2 (wire format §3).
//!
//! This is the crate's only canonicalisation: the verifier and the [`Signer`](super::Signer)
//! both call it.

use std::cell::Cell;

use super::form::{FormPairs, Pair, pairs_estimate};
use super::url::SignedUrl;

/// The buffers of the last [`V3Message`] built on this thread, kept for the next one: a
/// verification then allocates nothing once the thread has seen a body of that size, and a
/// large body does not pay for fresh pages (a buffer above glibc's mmap threshold, 128 KiB, is
/// otherwise mapped and unmapped on every call).
#[derive(Default)]
struct Buffers {
    bytes: Vec<u8>,
    pairs: Vec<Pair>,
}

/// Buffers bigger than this are dropped rather than kept: 1 MiB of message bytes (a body of
/// about 512 KiB), so a thread never holds more than a few MiB for a rare large request.
const KEEP_BYTES: usize = 1 << 20;
/// Pairs kept at most (48 bytes each).
const KEEP_PAIRS: usize = 16 * 1024;

thread_local! {
    static SPARE: Cell<Buffers> = const {
        Cell::new(Buffers {
            bytes: Vec::new(),
            pairs: Vec::new(),
        })
    };
}

impl Buffers {
    /// This thread's spare buffers (empty ones if another message holds them).
    fn take() -> Self {
        let mut buffers = SPARE.try_with(Cell::take).unwrap_or_default();
        buffers.bytes.clear();
        buffers.pairs.clear();
        buffers
    }

    /// Keeps `bytes` and `pairs` for the next message on this thread, unless too big.
    fn keep(bytes: Vec<u8>, pairs: Vec<Pair>) {
        if bytes.capacity() <= KEEP_BYTES && pairs.capacity() <= KEEP_PAIRS {
            // During thread teardown there is nothing to keep them for.
            let _ = SPARE.try_with(|spare| spare.set(Self { bytes, pairs }));
        }
    }

    /// The capacity of the bytes buffer this thread keeps (for tests).
    #[cfg(test)]
    fn kept_capacity() -> usize {
        let buffers = SPARE.take();
        let capacity = buffers.bytes.capacity();
        SPARE.set(buffers);
        capacity
    }
}

/// A V3 message, built once into a single buffer sized up front.
///
/// The buffer holds, in order, the decoded bytes of the components that had escapes (scratch),
/// then the message: `base`, then the rest (`?Q.B.nonce`, see [`V3Message::build`]). Keeping
/// the rest separate lets the verifier retry a root URL without its `/` by hashing another base
/// in front of the same rest.
pub(crate) struct V3Message {
    buf: Vec<u8>,
    /// The pairs' buffer, kept only to hand it back with `buf` (see [`Buffers`]).
    pairs: Vec<Pair>,
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
    /// Two buffers: the bytes (decoded bytes, then the message) and the pairs of the query and
    /// body together, both sized up front (the pairs grow only for bodies of unusually short
    /// pairs), and both reused from the last message built on this thread.
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
        let Buffers {
            bytes: mut buf,
            mut pairs,
        } = Buffers::take();
        buf.reserve(capacity);
        pairs.reserve(pairs_estimate(query.len() + body.len()));
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
        Self {
            buf,
            pairs,
            start,
            rest,
        }
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

impl Drop for V3Message {
    fn drop(&mut self) {
        Buffers::keep(
            std::mem::take(&mut self.buf),
            std::mem::take(&mut self.pairs),
        );
    }
}

/// The V3 message as one `Vec` (for tests and tools; the verifier hashes [`V3Message`] as is).
#[cfg(test)]
pub(crate) fn v3_message(url: &SignedUrl<'_>, form_body: Option<&[u8]>, nonce: &[u8]) -> Vec<u8> {
    V3Message::build(url, form_body, nonce).bytes().to_vec()
}

/// The V2 message, `scheme://authority path` immediately followed by the nonce, as the pieces
/// to hash in order (no buffer: neither the query nor the body is signed).
pub(crate) fn v2_parts<'a>(url: &SignedUrl<'a>, nonce: &'a [u8]) -> [&'a [u8]; 6] {
    let [scheme, separator, authority, prefix, path] = url.base_parts();
    [scheme, separator, authority, prefix, path, nonce]
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
    fn messages_alive_together_do_not_share_buffers() {
        // The second build finds the thread's spare buffers taken and makes its own; dropping
        // both keeps one pair for the next, which starts from empty buffers.
        let url = SignedUrl::parse("https://h/p?b=2&a=1").unwrap();
        let first = V3Message::build(&url, Some(b"y=%41&x=1"), b"N");
        let second = V3Message::build(&url, Some(b"z=3"), b"M");
        assert_eq!(first.bytes(), b"https://h/p?a=1&b=2.x1yA.N");
        assert_eq!(second.bytes(), b"https://h/p?a=1&b=2.z3.M");
        drop(first);
        drop(second);
        let kept = Buffers::kept_capacity();
        assert!(kept > 0, "the last message's buffers are kept");
        // A message too big to keep: it takes the kept buffers, grows them, and they go.
        let big = "k=v&".repeat(KEEP_BYTES / 4);
        let large = V3Message::build(&url, Some(big.as_bytes()), b"N");
        assert!(large.bytes().len() > KEEP_BYTES / 2);
        assert_eq!(Buffers::kept_capacity(), 0, "taken by the large message");
        drop(large);
        assert!(
            Buffers::kept_capacity() <= KEEP_BYTES,
            "the large buffers are not kept"
        );
        // The kept buffers' old contents never reach a new message.
        assert_eq!(v3("https://h/p", Some("b=&a=")), "https://h/p?ab.N");
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
