//! Parsing of `application/x-www-form-urlencoded` pairs, as Plivo signs them (SPEC §2.2).
//!
//! The same parse serves the query string and a form body. Decoded keys and values are raw
//! bytes: valid UTF-8 gives exactly what Plivo's SDKs give, and a malformed escape stays literal
//! (as Python's `unquote` leaves it), so no input can make parsing fail.

use std::borrow::Cow;

/// One decoded `key=value` pair. Borrowed from the input when no decoding was needed.
pub(crate) type Pair<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// Splits `raw` on `&`, skips empty pieces, splits each piece at its first `=` (no `=` means an
/// empty value), and decodes `+` and `%XX` in key and value. Blank values and every value of a
/// repeated key are kept.
pub(crate) fn parse_pairs(raw: &[u8]) -> Vec<Pair<'_>> {
    let mut pairs = Vec::new();
    for piece in raw.split(|&b| b == b'&') {
        if piece.is_empty() {
            continue;
        }
        let (key, value) = match piece.iter().position(|&b| b == b'=') {
            Some(at) => (&piece[..at], &piece[at + 1..]),
            None => (piece, &[][..]),
        };
        pairs.push((decode_component(key), decode_component(value)));
    }
    pairs
}

/// Sorts pairs by key, then by value, byte-wise: Plivo sorts keys and, within a key, its values.
pub(crate) fn sort_pairs(pairs: &mut [Pair<'_>]) {
    pairs.sort_unstable();
}

/// Decodes one form component: `+` becomes a space, `%XX` becomes the byte `XX`; anything else,
/// including a `%` not followed by two hex digits, is kept as written.
pub(crate) fn decode_component(raw: &[u8]) -> Cow<'_, [u8]> {
    if !raw.iter().any(|&b| b == b'+' || b == b'%') {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (raw.get(i + 1).and_then(hex), raw.get(i + 2).and_then(hex)) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

fn hex(digit: &u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(raw: &str) -> Vec<(String, String)> {
        parse_pairs(raw.as_bytes())
            .into_iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn splits_and_decodes() {
        assert_eq!(
            decoded("a=1&&b=x+y&c&d=%C3%A9&e=%2B&=v"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "".into()),
                ("d".into(), "é".into()),
                ("e".into(), "+".into()),
                ("".into(), "v".into()),
            ]
        );
    }

    #[test]
    fn value_keeps_later_equals_signs() {
        assert_eq!(decoded("k=a=b"), vec![("k".into(), "a=b".into())]);
    }

    #[test]
    fn malformed_escapes_stay_literal() {
        assert_eq!(
            decoded("a=%G1&b=%&c=%4&d=100%"),
            vec![
                ("a".into(), "%G1".into()),
                ("b".into(), "%".into()),
                ("c".into(), "%4".into()),
                ("d".into(), "100%".into()),
            ]
        );
    }

    #[test]
    fn decoded_bytes_are_not_revalidated_as_utf8() {
        let pairs = parse_pairs(b"k=%FF%FE");
        assert_eq!(&*pairs[0].1, &[0xFF, 0xFE]);
    }

    #[test]
    fn sorting_is_bytewise_on_key_then_value() {
        let mut pairs = parse_pairs(b"a=1&To=x&SessionStart=s&SIP-H-To=t&To=a");
        sort_pairs(&mut pairs);
        let keys: Vec<_> = pairs
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
            keys,
            ["SIP-H-To=t", "SessionStart=s", "To=a", "To=x", "a=1"]
        );
    }

    #[test]
    fn borrows_when_nothing_to_decode() {
        let pairs = parse_pairs(b"plain=value");
        assert!(matches!(pairs[0].0, Cow::Borrowed(_)));
        assert!(matches!(pairs[0].1, Cow::Borrowed(_)));
    }
}
