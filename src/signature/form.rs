//! Parsing of `application/x-www-form-urlencoded` pairs, as Plivo signs them (SPEC §2.2).
//!
//! The same parse serves the query string and a form body. Decoded keys and values are raw
//! bytes: valid UTF-8 gives exactly what Plivo's SDKs give, and a malformed escape stays literal
//! (as Python's `unquote` leaves it), so no input can make parsing fail.
//!
//! The parse is built to cost little next to the HMAC it feeds:
//!
//! - one pass over the input finds every `&`, the first `=` of each piece, and whether the key
//!   or the value holds a `+` or `%` (so needs decoding at all);
//! - a pair is a small struct of spans into the input, kept on the stack for up to
//!   [`INLINE_PAIRS`] pairs (one exactly sized `Vec` beyond that);
//! - only components that hold an escape are decoded, all of them into one scratch buffer that
//!   the caller provides (the message buffer's head, see `message.rs`);
//! - pairs are sorted in place by an 8-byte big-endian key prefix first, which settles almost
//!   every comparison without touching the bytes.

use std::cmp::Ordering;

/// Pairs kept on the stack before spilling to the heap. Plivo sends 10 to 30 parameters.
pub(crate) const INLINE_PAIRS: usize = 32;

/// A run of bytes: in the parsed input, or, once decoded, in the scratch buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    start: usize,
    len: usize,
    /// Whether the bytes live in the scratch buffer (decoded) rather than in the input.
    decoded: bool,
}

impl Span {
    fn end(self) -> usize {
        self.start + self.len
    }
}

/// One `key=value` pair, as spans. `prefix` is the key's first 8 bytes, big-endian, zero-padded:
/// comparing prefixes orders keys as comparing the bytes would, except that equal prefixes need
/// the full comparison.
#[derive(Clone, Copy, Debug, Default)]
struct Pair {
    prefix: u64,
    key: Span,
    value: Span,
    /// Whether the raw key / value holds a `+` or `%` (so must be decoded).
    key_escaped: bool,
    value_escaped: bool,
}

const EMPTY_PAIR: Pair = Pair {
    prefix: 0,
    key: Span {
        start: 0,
        len: 0,
        decoded: false,
    },
    value: Span {
        start: 0,
        len: 0,
        decoded: false,
    },
    key_escaped: false,
    value_escaped: false,
};

/// The pairs of one input (a query string or a form body), parsed but not yet decoded.
///
/// Lifecycle: [`FormPairs::scan`], then [`FormPairs::decode_into`] (which needs
/// [`FormPairs::scratch_bound`] bytes of spare capacity), then [`FormPairs::sort`], then
/// [`FormPairs::write_query`] or [`FormPairs::write_body`].
pub(crate) struct FormPairs<'a> {
    raw: &'a [u8],
    inline: [Pair; INLINE_PAIRS],
    len: usize,
    heap: Vec<Pair>,
    /// Sum over pairs of raw key + value lengths: bounds the emitted bytes.
    raw_bytes: usize,
    /// Sum of the raw lengths of the components that need decoding: bounds the scratch needed.
    escaped_bytes: usize,
}

/// Byte classes for the scan.
const PLAIN: u8 = 0;
const AMP: u8 = 1;
const EQ: u8 = 2;
const ESCAPE: u8 = 3;

static CLASS: [u8; 256] = {
    let mut table = [PLAIN; 256];
    table[b'&' as usize] = AMP;
    table[b'=' as usize] = EQ;
    table[b'+' as usize] = ESCAPE;
    table[b'%' as usize] = ESCAPE;
    table
};

/// Hex digit values; `0xFF` for anything that is not a hex digit.
static HEX: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// No `=` seen yet in the current piece.
const NO_EQ: usize = usize::MAX;

impl<'a> FormPairs<'a> {
    /// No pairs (an absent query or body).
    pub(crate) fn empty() -> Self {
        Self {
            raw: &[],
            inline: [EMPTY_PAIR; INLINE_PAIRS],
            len: 0,
            heap: Vec::new(),
            raw_bytes: 0,
            escaped_bytes: 0,
        }
    }

    /// Splits `raw` on `&`, skips empty pieces, splits each piece at its first `=` (no `=` means
    /// an empty value), in one pass, noting which components need decoding.
    pub(crate) fn scan(raw: &'a [u8]) -> Self {
        let mut pairs = Self::empty();
        pairs.raw = raw;
        let mut start = 0;
        let mut eq = NO_EQ;
        let mut key_escaped = false;
        let mut value_escaped = false;
        for (i, &byte) in raw.iter().enumerate() {
            match CLASS[usize::from(byte)] {
                PLAIN => {}
                AMP => {
                    pairs.push_piece(start, i, eq, key_escaped, value_escaped);
                    start = i + 1;
                    eq = NO_EQ;
                    key_escaped = false;
                    value_escaped = false;
                }
                EQ => {
                    if eq == NO_EQ {
                        eq = i;
                    }
                }
                _ => {
                    if eq == NO_EQ {
                        key_escaped = true;
                    } else {
                        value_escaped = true;
                    }
                }
            }
        }
        pairs.push_piece(start, raw.len(), eq, key_escaped, value_escaped);
        pairs
    }

    #[inline]
    fn push_piece(
        &mut self,
        start: usize,
        end: usize,
        eq: usize,
        key_escaped: bool,
        value_escaped: bool,
    ) {
        if start == end {
            return;
        }
        let (key, value) = if eq == NO_EQ {
            (
                Span {
                    start,
                    len: end - start,
                    decoded: false,
                },
                Span {
                    start: end,
                    len: 0,
                    decoded: false,
                },
            )
        } else {
            (
                Span {
                    start,
                    len: eq - start,
                    decoded: false,
                },
                Span {
                    start: eq + 1,
                    len: end - eq - 1,
                    decoded: false,
                },
            )
        };
        self.raw_bytes += key.len + value.len;
        if key_escaped {
            self.escaped_bytes += key.len;
        }
        if value_escaped {
            self.escaped_bytes += value.len;
        }
        let pair = Pair {
            prefix: 0,
            key,
            value,
            key_escaped,
            value_escaped,
        };
        if self.len < INLINE_PAIRS {
            self.inline[self.len] = pair;
        } else {
            if self.len == INLINE_PAIRS {
                // Spill once, sized for every piece left: at most one pair per `&` after here.
                let rest = self.raw[end..].iter().filter(|&&b| b == b'&').count();
                self.heap = Vec::with_capacity(INLINE_PAIRS + 1 + rest);
                self.heap.extend_from_slice(&self.inline);
            }
            self.heap.push(pair);
        }
        self.len += 1;
    }

    fn pairs(&self) -> &[Pair] {
        if self.len <= INLINE_PAIRS {
            &self.inline[..self.len]
        } else {
            &self.heap
        }
    }

    fn pairs_mut(&mut self) -> &mut [Pair] {
        if self.len <= INLINE_PAIRS {
            &mut self.inline[..self.len]
        } else {
            &mut self.heap
        }
    }

    /// The number of pairs.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no pairs.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Scratch bytes [`FormPairs::decode_into`] may append (decoding never lengthens).
    pub(crate) fn scratch_bound(&self) -> usize {
        self.escaped_bytes
    }

    /// An upper bound on the bytes of all keys and values once decoded.
    pub(crate) fn content_bound(&self) -> usize {
        self.raw_bytes
    }

    /// Decodes every component that holds an escape, appending the decoded bytes to `scratch`
    /// (which then holds them until the message is written), and computes the sort prefixes.
    pub(crate) fn decode_into(&mut self, scratch: &mut Vec<u8>) {
        let raw = self.raw;
        let count = self.len;
        for index in 0..count {
            let pair = &mut self.pairs_mut()[index];
            if pair.key_escaped {
                pair.key = decode_span(raw, pair.key, scratch);
            }
            if pair.value_escaped {
                pair.value = decode_span(raw, pair.value, scratch);
            }
            let key = bytes(raw, scratch, pair.key);
            pair.prefix = prefix(key);
        }
    }

    /// Sorts pairs by key, then by value, byte-wise: Plivo sorts keys and, within a key, its
    /// values. `scratch` is the buffer given to [`FormPairs::decode_into`].
    pub(crate) fn sort(&mut self, scratch: &[u8]) {
        let raw = self.raw;
        self.pairs_mut()
            .sort_unstable_by(|a, b| compare(raw, scratch, a, b));
    }

    /// Appends `key=value` for each pair, joined by `&` (the V3 query string `Q`). The decoded
    /// bytes are read from `out[..scratch_len]`, written by [`FormPairs::decode_into`].
    pub(crate) fn write_query(&self, out: &mut Vec<u8>, scratch_len: usize) {
        for (i, pair) in self.pairs().iter().enumerate() {
            if i > 0 {
                out.push(b'&');
            }
            self.write_span(out, scratch_len, pair.key);
            out.push(b'=');
            self.write_span(out, scratch_len, pair.value);
        }
    }

    /// Appends `key` immediately followed by `value` for each pair (the V3 body string `B`).
    pub(crate) fn write_body(&self, out: &mut Vec<u8>, scratch_len: usize) {
        for pair in self.pairs() {
            self.write_span(out, scratch_len, pair.key);
            self.write_span(out, scratch_len, pair.value);
        }
    }

    #[inline]
    fn write_span(&self, out: &mut Vec<u8>, scratch_len: usize, span: Span) {
        if span.decoded {
            debug_assert!(span.end() <= scratch_len);
            out.extend_from_within(span.start..span.end());
        } else {
            out.extend_from_slice(&self.raw[span.start..span.end()]);
        }
    }

    /// The decoded pairs, for tests.
    #[cfg(test)]
    pub(crate) fn decoded(&self, scratch: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.pairs()
            .iter()
            .map(|pair| {
                (
                    bytes(self.raw, scratch, pair.key).to_vec(),
                    bytes(self.raw, scratch, pair.value).to_vec(),
                )
            })
            .collect()
    }
}

#[inline]
fn bytes<'s>(raw: &'s [u8], scratch: &'s [u8], span: Span) -> &'s [u8] {
    let source = if span.decoded { scratch } else { raw };
    &source[span.start..span.end()]
}

#[inline]
fn prefix(key: &[u8]) -> u64 {
    let mut head = [0u8; 8];
    let n = key.len().min(8);
    head[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(head)
}

#[inline]
fn compare(raw: &[u8], scratch: &[u8], a: &Pair, b: &Pair) -> Ordering {
    a.prefix.cmp(&b.prefix).then_with(|| {
        bytes(raw, scratch, a.key)
            .cmp(bytes(raw, scratch, b.key))
            .then_with(|| bytes(raw, scratch, a.value).cmp(bytes(raw, scratch, b.value)))
    })
}

/// Decodes `raw[span]` onto the end of `scratch` and returns where it went.
fn decode_span(raw: &[u8], span: Span, scratch: &mut Vec<u8>) -> Span {
    let start = scratch.len();
    decode_component(&raw[span.start..span.end()], scratch);
    Span {
        start,
        len: scratch.len() - start,
        decoded: true,
    }
}

/// Decodes one form component onto the end of `out`: `+` becomes a space, `%XX` becomes the
/// byte `XX`; anything else, including a `%` not followed by two hex digits, is kept as written.
/// Runs of plain bytes are copied whole.
pub(crate) fn decode_component(raw: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < raw.len() {
        let run = raw[i..]
            .iter()
            .position(|&b| CLASS[usize::from(b)] == ESCAPE)
            .unwrap_or(raw.len() - i);
        out.extend_from_slice(&raw[i..i + run]);
        i += run;
        let Some(&byte) = raw.get(i) else {
            break;
        };
        if byte == b'+' {
            out.push(b' ');
            i += 1;
            continue;
        }
        let high = raw.get(i + 1).map_or(0xFF, |&d| HEX[usize::from(d)]);
        let low = raw.get(i + 2).map_or(0xFF, |&d| HEX[usize::from(d)]);
        if high | low < 0x10 {
            out.push(high << 4 | low);
            i += 3;
        } else {
            out.push(b'%');
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses, decodes and (optionally) sorts, as the message builder does.
    fn parse(raw: &[u8], sorted: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut pairs = FormPairs::scan(raw);
        let mut scratch = Vec::with_capacity(pairs.scratch_bound());
        pairs.decode_into(&mut scratch);
        assert!(scratch.len() <= pairs.scratch_bound());
        if sorted {
            pairs.sort(&scratch);
        }
        pairs.decoded(&scratch)
    }

    fn decoded(raw: &str) -> Vec<(String, String)> {
        parse(raw.as_bytes(), false)
            .into_iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn splits_and_decodes() {
        assert_eq!(
            decoded("a=1&&b=x+y&c&d=%C3%A9&e=%2B&=v"),
            pairs(&[
                ("a", "1"),
                ("b", "x y"),
                ("c", ""),
                ("d", "é"),
                ("e", "+"),
                ("", "v"),
            ])
        );
    }

    #[test]
    fn value_keeps_later_equals_signs() {
        assert_eq!(decoded("k=a=b"), pairs(&[("k", "a=b")]));
        assert_eq!(decoded("k=="), pairs(&[("k", "=")]));
    }

    #[test]
    fn malformed_escapes_stay_literal() {
        assert_eq!(
            decoded("a=%G1&b=%&c=%4&d=100%&e=%%41&f=%4g"),
            pairs(&[
                ("a", "%G1"),
                ("b", "%"),
                ("c", "%4"),
                ("d", "100%"),
                ("e", "%A"),
                ("f", "%4g"),
            ])
        );
    }

    #[test]
    fn empty_pieces_are_skipped() {
        assert!(decoded("").is_empty());
        assert!(decoded("&").is_empty());
        assert!(decoded("&&&").is_empty());
        assert_eq!(decoded("&a=1&&"), pairs(&[("a", "1")]));
    }

    #[test]
    fn trailing_ampersand_adds_nothing() {
        assert_eq!(decoded("a=1&b=2&"), pairs(&[("a", "1"), ("b", "2")]));
    }

    #[test]
    fn equals_only_is_an_empty_key_and_value() {
        assert_eq!(decoded("="), pairs(&[("", "")]));
        assert_eq!(decoded("=&="), pairs(&[("", ""), ("", "")]));
        assert_eq!(decoded("a="), pairs(&[("a", "")]));
        assert_eq!(decoded("a"), pairs(&[("a", "")]));
    }

    #[test]
    fn percent_at_the_end() {
        assert_eq!(decoded("a%=%"), pairs(&[("a%", "%")]));
        assert_eq!(decoded("a=b%2"), pairs(&[("a", "b%2")]));
        assert_eq!(decoded("%"), pairs(&[("%", "")]));
    }

    #[test]
    fn plus_and_encoded_plus() {
        assert_eq!(
            decoded("a+b=c+d&%2B=%2b&++=+"),
            pairs(&[("a b", "c d"), ("+", "+"), ("  ", " ")])
        );
    }

    #[test]
    fn escapes_in_key_only_or_value_only() {
        assert_eq!(
            decoded("k%41=plain&plain=v%41"),
            pairs(&[("kA", "plain"), ("plain", "vA")])
        );
    }

    #[test]
    fn decoded_bytes_are_not_revalidated_as_utf8() {
        let parsed = parse(b"k=%FF%FE&%80=x", false);
        assert_eq!(parsed[0].1, [0xFF, 0xFE]);
        assert_eq!(parsed[1].0, [0x80]);
    }

    #[test]
    fn raw_bytes_at_or_above_0x80_pass_through() {
        let parsed = parse("é=ü&\u{1F600}".as_bytes(), false);
        assert_eq!(parsed[0], ("é".into(), "ü".into()));
        assert_eq!(parsed[1], ("\u{1F600}".into(), Vec::new()));
        let parsed = parse(b"\xFF\x80=\xC3", false);
        assert_eq!(parsed[0], (vec![0xFF, 0x80], vec![0xC3]));
    }

    #[test]
    fn sorting_is_bytewise_on_key_then_value() {
        let sorted = parse(b"a=1&To=x&SessionStart=s&SIP-H-To=t&To=a", true);
        let shown: Vec<_> = sorted
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(k),
                    String::from_utf8_lossy(v)
                )
            })
            .collect();
        assert_eq!(
            shown,
            ["SIP-H-To=t", "SessionStart=s", "To=a", "To=x", "a=1"]
        );
    }

    #[test]
    fn sorting_past_the_prefix_and_with_zero_bytes() {
        // Equal 8-byte prefixes, keys that differ later, keys that are prefixes of others, a
        // NUL byte that the zero padding must not confuse with "shorter", and high bytes.
        let sorted = parse(
            b"CallUUIDz=1&CallUUID=2&CallUUIDa=3&a%00=4&a=5&%FF=6&%7F=7&CallUUID=1",
            true,
        );
        let keys: Vec<_> = sorted.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut expected = parse(
            b"CallUUIDz=1&CallUUID=2&CallUUIDa=3&a%00=4&a=5&%FF=6&%7F=7&CallUUID=1",
            false,
        );
        expected.sort();
        assert_eq!(keys, expected);
        assert_eq!(keys[0], (b"CallUUID".to_vec(), b"1".to_vec()));
        assert_eq!(keys[1], (b"CallUUID".to_vec(), b"2".to_vec()));
        assert_eq!(keys[5], (b"a\0".to_vec(), b"4".to_vec()));
    }

    #[test]
    fn many_pairs_spill_to_the_heap_in_order() {
        let raw: String = (0..INLINE_PAIRS * 3 + 5)
            .map(|i| format!("k{:04}=v%20{i}&", (i * 7919) % 1000))
            .collect();
        let sorted = parse(raw.as_bytes(), true);
        assert_eq!(sorted.len(), INLINE_PAIRS * 3 + 5);
        let mut expected = parse(raw.as_bytes(), false);
        expected.sort();
        assert_eq!(sorted, expected);
        assert!(sorted[0].1.starts_with(b"v "));
    }

    #[test]
    fn scratch_holds_only_escaped_components() {
        let pairs = FormPairs::scan(b"plain=value&k=a%20b&x+y=1");
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs.scratch_bound(), "a%20b".len() + "x+y".len());
        assert_eq!(pairs.content_bound(), 5 + 5 + 1 + 5 + 3 + 1);
    }

    /// The one-pass parse agrees with a plain split/position/decode written from the SPEC.
    #[test]
    fn agrees_with_a_naive_parse() {
        fn naive(raw: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
            fn dec(c: &[u8]) -> Vec<u8> {
                let mut out = Vec::new();
                let mut i = 0;
                while i < c.len() {
                    let hex = |d: Option<&u8>| d.and_then(|d| (*d as char).to_digit(16));
                    match c[i] {
                        b'+' => out.push(b' '),
                        b'%' => match (hex(c.get(i + 1)), hex(c.get(i + 2))) {
                            (Some(h), Some(l)) => {
                                out.push((h * 16 + l) as u8);
                                i += 2;
                            }
                            _ => out.push(b'%'),
                        },
                        b => out.push(b),
                    }
                    i += 1;
                }
                out
            }
            raw.split(|&b| b == b'&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.iter().position(|&b| b == b'=') {
                    Some(at) => (dec(&p[..at]), dec(&p[at + 1..])),
                    None => (dec(p), Vec::new()),
                })
                .collect()
        }
        // A deterministic walk over short strings of the interesting bytes.
        let alphabet = b"&=+%2Bfa\xC3\xA9G";
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 12) as usize;
            let raw: Vec<u8> = (0..len)
                .map(|i| alphabet[((seed >> (i * 4)) % alphabet.len() as u64) as usize])
                .collect();
            assert_eq!(parse(&raw, false), naive(&raw), "{raw:?}");
            let mut sorted = naive(&raw);
            sorted.sort();
            assert_eq!(parse(&raw, true), sorted, "{raw:?}");
        }
    }
}
