//! Parsing of `application/x-www-form-urlencoded` pairs, as Plivo signs them (the wire
//! format's query and body pairs).
//!
//! The same parse serves the query string and a form body. Decoded keys and values are raw
//! bytes: valid UTF-8 gives exactly what Plivo's SDKs give, and a malformed escape stays literal
//! (as Python's `unquote` leaves it), so no input can make parsing fail.
//!
//! The parse is built to cost little next to the HMAC it feeds (see BENCHMARKS.md, "How the verification stays cheap"):
//!
//! - one pass over the input, 64 bytes at a time: a bitmap of the four bytes that matter
//!   (`&`, `=`, `+`, `%`) is computed for each block (the compiler turns it into vector
//!   compares), and only those positions are visited;
//! - a component that holds an escape is decoded during that same pass, run by run, into one
//!   scratch buffer that the caller provides (the head of the message buffer, see
//!   `message.rs`); every other component stays a span of the input and is copied once, into
//!   the message;
//! - pairs are 48-byte structs in one `Vec` shared by the query and the body; each carries a
//!   16-byte integer sort key (the next 15 bytes and how many remain), so sorting compares
//!   integers; only runs of equal integers (keys sharing 15 bytes, or repeated keys) are
//!   re-keyed with the following bytes (or the value) and sorted again. No comparison walks
//!   byte slices.

use std::cmp::Ordering;
use std::ops::Range;

/// A run of bytes: in the parsed input, or, once decoded, in the scratch buffer (flagged in the
/// top bit of `start`, which no real offset reaches).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    start: usize,
    len: usize,
}

const DECODED: usize = 1 << (usize::BITS - 1);

impl Span {
    const fn raw(start: usize, end: usize) -> Self {
        Self {
            start,
            len: end - start,
        }
    }

    const fn decoded(start: usize, len: usize) -> Self {
        Self {
            start: start | DECODED,
            len,
        }
    }

    fn is_decoded(self) -> bool {
        self.start & DECODED != 0
    }

    fn range(self) -> Range<usize> {
        let start = self.start & !DECODED;
        start..start + self.len
    }
}

/// One `key=value` pair, as spans, with its current sort key.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Pair {
    sort: u128,
    key: Span,
    value: Span,
}

/// The decoded values of the pairs of `raw` (a query or form body, parsed as the signature
/// parses it) whose decoded key is exactly `key`, in the order sent.
pub(crate) fn values_of(raw: &[u8], key: &[u8]) -> Vec<Vec<u8>> {
    let (mut scratch, mut pairs) = (Vec::new(), Vec::new());
    let form = FormPairs::scan(raw, &mut scratch, &mut pairs);
    form.values_of(&scratch, &pairs, key)
        .map(<[u8]>::to_vec)
        .collect()
}

/// A first guess at the pairs in `bytes` of input, for sizing the shared `Vec` once (Plivo's
/// pairs average 40 to 50 bytes; a body of shorter pairs grows the `Vec` as usual).
pub(crate) fn pairs_estimate(bytes: usize) -> usize {
    bytes / 24 + 4
}

/// The pairs of one input (a query string or a form body), decoded, as a range of the shared
/// pairs `Vec`.
///
/// Lifecycle: [`FormPairs::scan`] (which decodes into the scratch buffer and appends to the
/// pairs), then [`FormPairs::sort`], then [`FormPairs::write_query`] or
/// [`FormPairs::write_body`], each given the same buffers.
pub(crate) struct FormPairs<'a> {
    raw: &'a [u8],
    pairs: Range<usize>,
    /// Sum of the decoded key and value lengths.
    content: usize,
}

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

/// Bit `i` is set when `block[i]` is `&`, `=`, `+` or `%`.
#[inline(always)]
fn special_bits(block: &[u8; 64]) -> u64 {
    // Written so that it vectorises: byte compares into a 0/1 array, then each 8 flags packed
    // into 8 bits with one multiply (no two partial products overlap, so nothing carries).
    let mut flags = [0u8; 64];
    for (flag, &byte) in flags.iter_mut().zip(block) {
        *flag = u8::from(byte == b'&')
            | u8::from(byte == b'=')
            | u8::from(byte == b'+')
            | u8::from(byte == b'%');
    }
    let mut bits = 0u64;
    for (i, eight) in flags.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(eight.try_into().expect("8 bytes"));
        bits |= (word.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * i);
    }
    bits
}

/// The state of [`FormPairs::scan`] inside one piece (`key[=value]` between two `&`).
struct Cursor {
    /// Where the piece starts.
    piece: usize,
    /// The key's span, once the piece's first `=` has been seen.
    key: Option<Span>,
    /// Where the current component (key, or value after the first `=`) starts.
    component: usize,
    /// Set while the current component is being decoded: where its decoded bytes start in the
    /// scratch buffer, and where the input not yet copied there starts.
    decoding: Option<(usize, usize)>,
}

impl Cursor {
    fn at(start: usize) -> Self {
        Self {
            piece: start,
            key: None,
            component: start,
            decoding: None,
        }
    }

    /// Ends the current component at `end`.
    #[inline]
    fn finish(&mut self, raw: &[u8], end: usize, scratch: &mut Vec<u8>) -> Span {
        match self.decoding.take() {
            None => Span::raw(self.component, end),
            Some((decoded_start, copied_to)) => {
                scratch.extend_from_slice(&raw[copied_to..end]);
                Span::decoded(decoded_start, scratch.len() - decoded_start)
            }
        }
    }

    /// Starts decoding the current component (if not yet), copies its input up to `at`, and
    /// notes that the input is copied up to `resume` (past the escape at `at`).
    #[inline]
    fn copy_to(&mut self, raw: &[u8], at: usize, resume: usize, scratch: &mut Vec<u8>) {
        let component = self.component;
        let (_, copied_to) = self.decoding.get_or_insert((scratch.len(), component));
        scratch.extend_from_slice(&raw[*copied_to..at]);
        *copied_to = resume;
    }
}

impl<'a> FormPairs<'a> {
    /// Splits `raw` on `&`, skips empty pieces, splits each piece at its first `=` (no `=` means
    /// an empty value), and decodes `+` and `%XX` in key and value, in one pass. Decoded bytes
    /// are appended to `scratch` (at most `raw.len()` of them) and the pairs to `pairs`; both
    /// must be given again, unchanged up to there, to the later steps.
    pub(crate) fn scan(raw: &'a [u8], scratch: &mut Vec<u8>, pairs: &mut Vec<Pair>) -> Self {
        let mut form = Self {
            raw,
            pairs: pairs.len()..pairs.len(),
            content: 0,
        };
        let mut cursor = Cursor::at(0);
        let mut base = 0;
        while base < raw.len() {
            let mut bits = match raw.get(base..base + 64) {
                Some(block) => special_bits(block.try_into().expect("64 bytes")),
                None => {
                    let mut block = [0u8; 64];
                    block[..raw.len() - base].copy_from_slice(&raw[base..]);
                    special_bits(&block)
                }
            };
            while bits != 0 {
                let at = base + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                match raw[at] {
                    b'&' => {
                        form.end_piece(&mut cursor, at, scratch, pairs);
                        cursor = Cursor::at(at + 1);
                    }
                    b'=' => {
                        if cursor.key.is_none() {
                            cursor.key = Some(cursor.finish(raw, at, scratch));
                            cursor.component = at + 1;
                        }
                    }
                    b'+' => {
                        cursor.copy_to(raw, at, at + 1, scratch);
                        scratch.push(b' ');
                    }
                    _ => {
                        // `%`: decoded when two hex digits follow (never one of the four bytes
                        // above, so the bitmap has nothing to skip); otherwise kept as written.
                        let high = raw.get(at + 1).map_or(0xFF, |&d| HEX[usize::from(d)]);
                        let low = raw.get(at + 2).map_or(0xFF, |&d| HEX[usize::from(d)]);
                        if high | low < 0x10 {
                            cursor.copy_to(raw, at, at + 3, scratch);
                            scratch.push(high << 4 | low);
                        }
                    }
                }
            }
            base += 64;
        }
        form.end_piece(&mut cursor, raw.len(), scratch, pairs);
        form
    }

    #[inline]
    fn end_piece(
        &mut self,
        cursor: &mut Cursor,
        end: usize,
        scratch: &mut Vec<u8>,
        pairs: &mut Vec<Pair>,
    ) {
        if cursor.piece == end {
            return;
        }
        let last = cursor.finish(self.raw, end, scratch);
        let (key, value) = match cursor.key {
            Some(key) => (key, last),
            None => (last, Span::raw(end, end)),
        };
        self.content += key.len + value.len;
        pairs.push(Pair {
            sort: 0,
            key,
            value,
        });
        self.pairs.end += 1;
    }

    /// The number of pairs.
    pub(crate) fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub(crate) fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The total length of the decoded keys and values.
    pub(crate) fn content_len(&self) -> usize {
        self.content
    }

    /// Sorts pairs by key, then by value, byte-wise: Plivo sorts keys and, within a key, its
    /// values.
    pub(crate) fn sort(&self, scratch: &[u8], pairs: &mut [Pair]) {
        let source = Source {
            raw: self.raw,
            scratch,
        };
        let pairs = &mut pairs[self.pairs.clone()];
        for pair in pairs.iter_mut() {
            pair.sort = source.sort_key(pair.key, 0);
        }
        source.sort_level(pairs, Level::KEY);
    }

    /// Appends `key=value` for each pair, joined by `&` (the V3 query string `Q`), in sorted
    /// order. `out` starts with the scratch buffer given to [`FormPairs::scan`].
    pub(crate) fn write_query(&self, pairs: &[Pair], out: &mut Vec<u8>) {
        for (i, &Pair { key, value, .. }) in pairs[self.pairs.clone()].iter().enumerate() {
            if i > 0 {
                out.push(b'&');
            }
            if !key.is_decoded() && !value.is_decoded() && value.start == key.start + key.len + 1 {
                // `key=value` as received: one copy.
                out.extend_from_slice(&self.raw[key.start..value.start + value.len]);
            } else {
                self.write_span(out, key);
                out.push(b'=');
                self.write_span(out, value);
            }
        }
    }

    /// Appends `key` immediately followed by `value` for each pair (the V3 body string `B`), in
    /// sorted order. `out` starts with the scratch buffer given to [`FormPairs::scan`].
    pub(crate) fn write_body(&self, pairs: &[Pair], out: &mut Vec<u8>) {
        for &Pair { key, value, .. } in &pairs[self.pairs.clone()] {
            self.write_span(out, key);
            self.write_span(out, value);
        }
    }

    #[inline]
    fn write_span(&self, out: &mut Vec<u8>, span: Span) {
        if span.is_decoded() {
            out.extend_from_within(span.range());
        } else {
            out.extend_from_slice(&self.raw[span.range()]);
        }
    }

    /// The decoded values of every pair whose decoded key is `key`, in the order sent.
    pub(crate) fn values_of<'s>(
        &'s self,
        scratch: &'s [u8],
        pairs: &'s [Pair],
        key: &'s [u8],
    ) -> impl Iterator<Item = &'s [u8]> + 's {
        let source = Source {
            raw: self.raw,
            scratch,
        };
        pairs[self.pairs.clone()]
            .iter()
            .filter(move |pair| source.bytes(pair.key) == key)
            .map(move |pair| source.bytes(pair.value))
    }

    /// The decoded pairs in their current order, for tests.
    #[cfg(test)]
    pub(crate) fn decoded(&self, scratch: &[u8], pairs: &[Pair]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let source = Source {
            raw: self.raw,
            scratch,
        };
        pairs[self.pairs.clone()]
            .iter()
            .map(|pair| {
                (
                    source.bytes(pair.key).to_vec(),
                    source.bytes(pair.value).to_vec(),
                )
            })
            .collect()
    }
}

/// Bytes a [`sort_key`] covers.
const KEY_BYTES: usize = 15;

/// Levels of re-keying before a run falls back to comparing slices (bounds the recursion: a
/// run reaches this depth only when its keys share about 1 KiB).
const MAX_LEVELS: usize = 64;

/// The sort key of the bytes `whole[span]` from `depth` on: bytes `depth..depth + 15`,
/// zero-padded, then one byte saying how many bytes remain (capped at 16, meaning "more than
/// these 15"), as a big-endian integer. Integers order as the byte strings do, except that equal integers with
/// 16 in the last byte need the next 15 bytes: when both strings' 15 bytes are equal, the one
/// that ends first (its padding against the other's real bytes, all zero) is the smaller.
#[inline]
fn sort_key(whole: &[u8], span: Range<usize>, depth: usize) -> u128 {
    let remaining = span.len().saturating_sub(depth);
    let at = span.start + depth.min(span.len());
    let n = remaining.min(KEY_BYTES);
    let head = match whole.get(at..at + 16) {
        // Sixteen bytes to load: one load, then the bytes past the span masked off (no copy of
        // a variable length, which would be a `memcpy` call per pair).
        Some(sixteen) => {
            let loaded = u128::from_be_bytes(sixteen.try_into().expect("16 bytes"));
            loaded & (!0u128).checked_shl(8 * (16 - n) as u32).unwrap_or(0)
        }
        None => {
            let mut key = [0u8; 16];
            key[..n].copy_from_slice(&whole[at..at + n]);
            u128::from_be_bytes(key)
        }
    };
    head | remaining.min(KEY_BYTES + 1) as u128
}

/// Which bytes the pairs of a run are keyed by.
#[derive(Clone, Copy)]
struct Level {
    /// Offset into the key or value.
    depth: usize,
    /// Keyed by the value (the keys are equal), not the key.
    value: bool,
}

impl Level {
    const KEY: Self = Self {
        depth: 0,
        value: false,
    };
}

/// Where the pairs' bytes are.
#[derive(Clone, Copy)]
struct Source<'s> {
    raw: &'s [u8],
    scratch: &'s [u8],
}

impl<'s> Source<'s> {
    #[inline]
    fn bytes(&self, span: Span) -> &'s [u8] {
        &self.holding(span)[span.range()]
    }

    /// The buffer `span` is a range of.
    #[inline]
    fn holding(&self, span: Span) -> &'s [u8] {
        if span.is_decoded() {
            self.scratch
        } else {
            self.raw
        }
    }

    /// The [`sort_key`] of the bytes of `span` from `depth` on.
    #[inline]
    fn sort_key(&self, span: Span, depth: usize) -> u128 {
        sort_key(self.holding(span), span.range(), depth)
    }

    /// Sorts `pairs`, whose integer keys were computed at `level`.
    fn sort_level(&self, pairs: &mut [Pair], level: Level) {
        pairs.sort_unstable_by_key(|pair| pair.sort);
        let mut start = 0;
        while start < pairs.len() {
            let key = pairs[start].sort;
            let mut end = start + 1;
            while end < pairs.len() && pairs[end].sort == key {
                end += 1;
            }
            if end - start > 1 {
                let more = key & 0xFF > KEY_BYTES as u128;
                let next = match (more, level.value) {
                    (true, _) => Some(Level {
                        depth: level.depth + KEY_BYTES,
                        ..level
                    }),
                    // Equal keys: order by value.
                    (false, false) => Some(Level {
                        depth: 0,
                        value: true,
                    }),
                    // Equal keys and values: the same pair twice, any order.
                    (false, true) => None,
                };
                if let Some(next) = next {
                    self.sort_run(&mut pairs[start..end], next);
                }
            }
            start = end;
        }
    }

    fn sort_run(&self, run: &mut [Pair], level: Level) {
        let side = |pair: &Pair| if level.value { pair.value } else { pair.key };
        if level.depth / KEY_BYTES >= MAX_LEVELS {
            // Keys sharing this much are hostile, not Plivo's: compare the rest directly.
            run.sort_unstable_by(|a, b| {
                let tail = |pair: &Pair| &self.bytes(side(pair))[level.depth..];
                tail(a).cmp(tail(b)).then_with(|| {
                    if level.value {
                        Ordering::Equal
                    } else {
                        self.bytes(a.value).cmp(self.bytes(b.value))
                    }
                })
            });
            return;
        }
        for pair in run.iter_mut() {
            pair.sort = self.sort_key(side(pair), level.depth);
        }
        self.sort_level(run, level);
    }
}

/// The tests' one reference implementation of the wire format.
#[cfg(test)]
#[path = "../../tests/support/reference.rs"]
mod reference;

#[cfg(test)]
mod tests {
    use super::reference;
    use super::*;

    /// Parses, decodes and (optionally) sorts, as the message builder does.
    fn parse(raw: &[u8], sorted: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut scratch = b"head".to_vec();
        let mut pairs = vec![Pair::default(); 3];
        let form = FormPairs::scan(raw, &mut scratch, &mut pairs);
        assert!(scratch.len() <= 4 + raw.len(), "decoding never lengthens");
        if sorted {
            form.sort(&scratch, &mut pairs);
        }
        let decoded = form.decoded(&scratch, &pairs);
        let content: usize = decoded.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert_eq!(form.content_len(), content);
        assert_eq!(form.len(), decoded.len());
        assert_eq!(pairs.len(), 3 + decoded.len());
        decoded
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
    fn values_of_a_key_are_found_as_the_signature_decodes_them() {
        let values = |raw: &str, key: &str| -> Vec<String> {
            values_of(raw.as_bytes(), key.as_bytes())
                .into_iter()
                .map(|v| String::from_utf8(v).unwrap())
                .collect()
        };
        assert_eq!(values("To=1415&Text=hi", "To"), ["1415"]);
        assert_eq!(
            values("T%6F=1415", "To"),
            ["1415"],
            "an escaped key is the key"
        );
        assert_eq!(values("To=%2B1415+x", "To"), ["+1415 x"]);
        assert_eq!(values("To=1&to=2&To1=3&To=4", "To"), ["1", "4"]);
        assert_eq!(values("To&Text=hi", "To"), [""]);
        assert!(values("Text=To%3D1", "To").is_empty());
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

    /// Keys and values that share 15, 30, ... bytes, end exactly at a key boundary, or differ
    /// only by a trailing NUL: the re-keyed levels must order them as byte strings.
    #[test]
    fn sorting_long_shared_prefixes_matches_bytewise_order() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for round in 0..300 {
            let mut raw = Vec::new();
            for _ in 0..(round % 40 + 2) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let key_len = [14, 15, 16, 29, 30, 31, 45, 3][(seed % 8) as usize];
                let mut key = vec![b'k'; key_len];
                if seed & 0x100 != 0 {
                    key.push(b'%');
                    key.extend_from_slice(b"00");
                }
                if seed & 0x200 != 0 {
                    let at = (seed >> 12) as usize % key.len();
                    key[at] = b'j';
                }
                raw.extend_from_slice(&key);
                raw.push(b'=');
                raw.extend(std::iter::repeat_n(b'v', (seed >> 20) as usize % 33));
                if seed & 0x400 != 0 {
                    raw.extend_from_slice(b"%00");
                }
                raw.push(b'&');
            }
            let mut expected = parse(&raw, false);
            expected.sort();
            assert_eq!(parse(&raw, true), expected);
        }
    }

    #[test]
    fn sorting_keys_sharing_more_than_the_level_limit() {
        let shared = "s".repeat(KEY_BYTES * (MAX_LEVELS + 2));
        let raw = format!("{shared}b=2&{shared}a=9&{shared}=x&{shared}a=1&{shared}%00=0");
        let mut expected = parse(raw.as_bytes(), false);
        expected.sort();
        assert_eq!(parse(raw.as_bytes(), true), expected);
        let raw = format!("k={shared}b&k={shared}a&k={shared}");
        let mut expected = parse(raw.as_bytes(), false);
        expected.sort();
        assert_eq!(parse(raw.as_bytes(), true), expected);
    }

    #[test]
    fn many_pairs_in_order() {
        let raw: String = (0..101)
            .map(|i| format!("k{:04}=v%20{i}&", (i * 7919) % 1000))
            .collect();
        let sorted = parse(raw.as_bytes(), true);
        assert_eq!(sorted.len(), 101);
        let mut expected = parse(raw.as_bytes(), false);
        expected.sort();
        assert_eq!(sorted, expected);
        assert!(sorted[0].1.starts_with(b"v "));
    }

    #[test]
    fn scratch_holds_only_escaped_components() {
        let mut scratch = Vec::new();
        let form = FormPairs::scan(
            b"plain=value&k=a%20b&x+y=1&lit=%G1",
            &mut scratch,
            &mut Vec::new(),
        );
        assert_eq!(form.len(), 4);
        assert_eq!(scratch, b"a bx y");
    }

    #[test]
    fn the_sixteen_byte_load_keys_as_the_copy_does() {
        // The fast path (16 bytes to load from the buffer, masked) against the copy it replaces
        // (the same bytes alone in a buffer too short to load from), at every length and depth.
        let whole: Vec<u8> = (0..96u8).map(|i| i.wrapping_mul(37) | 1).collect();
        for start in 0..40 {
            for len in 0..40 {
                let alone = whole[start..start + len].to_vec();
                for depth in [0, 1, 14, 15, 16, 30, 45] {
                    assert_eq!(
                        sort_key(&whole, start..start + len, depth),
                        sort_key(&alone, 0..len, depth),
                        "start {start}, len {len}, depth {depth}"
                    );
                }
            }
        }
    }

    #[test]
    fn pieces_across_64_byte_blocks() {
        // Escapes, `=` and `&` straddling the block edges of the scan.
        for shift in 0..70 {
            let raw = format!("{}=a%41&b+c=%4", "k".repeat(shift));
            let parsed = parse(raw.as_bytes(), false);
            assert_eq!(
                parsed,
                vec![
                    ("k".repeat(shift).into_bytes(), b"aA".to_vec()),
                    (b"b c".to_vec(), b"%4".to_vec())
                ],
                "{raw}"
            );
        }
    }

    /// The one-pass parse agrees with the reference implementation (a plain
    /// split/position/decode written from the wire format).
    #[test]
    fn agrees_with_the_reference_parse() {
        let naive = reference::pairs;
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
