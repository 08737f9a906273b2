//! HMAC-SHA256 keyed by an auth token, and the constant-time check of a signature header.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::digest::CtOutput;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of an HMAC-SHA256 tag in bytes.
const TAG_LEN: usize = 32;

/// An HMAC-SHA256 state keyed once with an auth token's bytes (never base64-decoded: the token
/// is the key as written). Cloning it per message skips re-deriving the key pads.
#[derive(Clone)]
pub(crate) struct KeyedMac(HmacSha256);

impl KeyedMac {
    pub(crate) fn new(token: &str) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        Self(HmacSha256::new_from_slice(token.as_bytes()).expect("HMAC takes keys of any length"))
    }

    /// The tag of `message`.
    pub(crate) fn tag(&self, message: &[u8]) -> Tag {
        let mut mac = self.0.clone();
        mac.update(message);
        Tag(mac.finalize())
    }

    /// The tag of the concatenation of `parts`, hashed in order without joining them.
    pub(crate) fn tag_parts(&self, parts: &[&[u8]]) -> Tag {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        Tag(mac.finalize())
    }
}

/// The SHA-256 digest a replay key is made of: of the signed message (the concatenation of
/// `parts`) **without its parameters**, that is without the bytes from its first `?` up to
/// (not including) its last `.`; a message with no `?` before its last `.` is digested whole.
///
/// What is left is the URL's base and `.` + nonce for V3 (`https://h/answer.31627761…`), the
/// whole message for V2 (which signs no parameters). It is computed from the message's bytes
/// alone, so every request that signs the same message has the same digest, whatever the
/// version, the headers or the way its parameters were written; and the V3 message of a
/// request without parameters and a V2 message with the same bytes digest alike. Two messages
/// that differ only in their parameters share it: a nonce reused by the same URL for another
/// message is refused as a replay too, the safe side (Plivo makes a nonce per request). It
/// hashes some 60 bytes where the whole message can be kilobytes.
pub(crate) fn replay_digest(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::Digest as _;
    // Offsets into the concatenation: the first `?` and the last `.`.
    let mut offset = 0;
    let mut question = None;
    for part in parts {
        if let Some(at) = memchr::memchr(b'?', part) {
            question = Some(offset + at);
            break;
        }
        offset += part.len();
    }
    let total: usize = parts.iter().map(|part| part.len()).sum();
    let mut end = total;
    let mut dot = None;
    for part in parts.iter().rev() {
        end -= part.len();
        if let Some(at) = memchr::memrchr(b'.', part) {
            dot = Some(end + at);
            break;
        }
    }
    // The byte range left out (empty when the message is digested whole).
    let skip = match (question, dot) {
        (Some(question), Some(dot)) if question < dot => question..dot,
        _ => total..total,
    };
    let mut hasher = Sha256::new();
    let mut start = 0;
    for part in parts {
        let range = start..start + part.len();
        start = range.end;
        // The part's bytes before the skipped range, and after it.
        let before = range.start..range.end.min(skip.start);
        let after = range.start.max(skip.end)..range.end;
        if !before.is_empty() {
            hasher.update(&part[before.start - range.start..before.end - range.start]);
        }
        if !after.is_empty() {
            hasher.update(&part[after.start - range.start..after.end - range.start]);
        }
    }
    hasher.finalize().into()
}

/// A computed HMAC-SHA256 tag. Equality with a received signature is constant-time.
pub(crate) struct Tag(CtOutput<HmacSha256>);

impl Tag {
    /// The tag as Plivo sends it: standard base64 with padding (44 characters).
    pub(crate) fn to_base64(&self) -> String {
        STANDARD.encode(self.0.clone().into_bytes())
    }

    /// Whether `received` (one decoded piece of a signature header) equals this tag, compared in
    /// constant time.
    pub(crate) fn matches(&self, received: &ReceivedSignature) -> bool {
        self.0 == CtOutput::new(received.0.into())
    }
}

/// One decoded piece of a signature header.
#[derive(Clone, Copy)]
pub(crate) struct ReceivedSignature([u8; TAG_LEN]);

/// Pieces of one header kept without allocating; more spill to the heap.
const INLINE_SIGNATURES: usize = 4;

/// The decodable pieces of one signature header, decoded once and compared against the tag of
/// every configured token.
pub(crate) struct ReceivedSignatures {
    inline: [ReceivedSignature; INLINE_SIGNATURES],
    len: usize,
    more: Vec<ReceivedSignature>,
}

impl ReceivedSignatures {
    /// Decodes the header's pieces (see [`parse_signature_list`]). `None` reads as no pieces.
    pub(crate) fn decode(header: Option<&[u8]>) -> Self {
        let mut decoded = Self {
            inline: [ReceivedSignature([0; TAG_LEN]); INLINE_SIGNATURES],
            len: 0,
            more: Vec::new(),
        };
        // One signature of 44 characters, as Plivo sends it: no list to split.
        if let Some(piece) = header
            .filter(|header| header.len() == 44)
            .and_then(decode_tag)
        {
            decoded.inline[0] = piece;
            decoded.len = 1;
            return decoded;
        }
        for piece in header.into_iter().flat_map(parse_signature_list) {
            if decoded.len < INLINE_SIGNATURES {
                decoded.inline[decoded.len] = piece;
                decoded.len += 1;
            } else {
                decoded.more.push(piece);
            }
        }
        decoded
    }

    /// Whether no piece could match any tag.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether any piece equals `tag`. Every piece is compared (no early exit), each in
    /// constant time.
    pub(crate) fn any_matches(&self, tag: &Tag) -> bool {
        self.inline[..self.len]
            .iter()
            .chain(&self.more)
            .fold(false, |found, piece| tag.matches(piece) | found)
    }
}

/// Splits a signature header on `,`, trims ASCII whitespace around each piece, ignores empty
/// pieces, and decodes each piece from standard padded base64. Pieces that are not the base64
/// of exactly 32 bytes cannot match any tag and are dropped. The base64 decoder rejects
/// non-canonical encodings, so comparing decoded bytes is the same as comparing the text.
pub(crate) fn parse_signature_list(value: &[u8]) -> impl Iterator<Item = ReceivedSignature> + '_ {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter_map(decode_tag)
}

/// Decodes the canonical standard-alphabet, padded base64 of exactly 32 bytes (43 symbols, one
/// `=`, the last symbol's unused bits zero, so one tag has exactly one accepted text) with the
/// `base64` crate's `STANDARD` engine, which refuses every other form. The received signature
/// is not secret, so this need not be constant-time.
fn decode_tag(piece: &[u8]) -> Option<ReceivedSignature> {
    // Only the 44-character form of 32 bytes can match: nothing else is worth decoding.
    if piece.len() != 44 {
        return None;
    }
    let mut tag = [0u8; TAG_LEN];
    match STANDARD.decode_slice(piece, &mut tag) {
        Ok(TAG_LEN) => Some(ReceivedSignature(tag)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_split_trimmed_and_filtered() {
        let good = KeyedMac::new("k").tag(b"m");
        let header = format!(" , not-base64 ,\t{} ,,AAAA", good.to_base64());
        let pieces: Vec<_> = parse_signature_list(header.as_bytes()).collect();
        assert_eq!(pieces.len(), 1);
        assert!(good.matches(&pieces[0]));
    }

    #[test]
    fn different_message_does_not_match() {
        let mac = KeyedMac::new("k");
        let other = mac.tag(b"n").to_base64();
        let piece = parse_signature_list(other.as_bytes()).next().unwrap();
        assert!(!mac.tag(b"m").matches(&piece));
    }

    /// The replay digest of pieces is the digest of the whole message's bytes without its
    /// parameters, wherever the pieces split it.
    #[test]
    fn replay_digest_leaves_out_the_parameters_wherever_the_pieces_split() {
        use sha2::Digest as _;
        let digest = |bytes: &[u8]| -> [u8; 32] { Sha256::digest(bytes).into() };
        let cases: [(&[u8], &[u8]); 6] = [
            (b"https://h/a?To1.From2.42", b"https://h/a.42"),
            (b"https://h/a?x=1&y=2.42", b"https://h/a.42"),
            (b"https://h/a.b.42", b"https://h/a.b.42"),
            (b"https://h/a.b?k=v.42", b"https://h/a.b.42"),
            (b"https://h/sms12345", b"https://h/sms12345"),
            (b"https://h/a?.", b"https://h/a."),
        ];
        for (message, left) in cases {
            for first in 0..=message.len() {
                for second in first..=message.len() {
                    let parts = [
                        &message[..first],
                        &message[first..second],
                        &message[second..],
                    ];
                    assert_eq!(
                        replay_digest(&parts),
                        digest(left),
                        "{} split at {first}, {second}",
                        String::from_utf8_lossy(message)
                    );
                }
            }
        }
        assert_eq!(replay_digest(&[]), digest(b""));
        assert_eq!(replay_digest(&[b"?", b"x"]), digest(b"?x"));
    }

    #[test]
    fn tag_parts_is_the_tag_of_the_concatenation() {
        let mac = KeyedMac::new("k");
        let whole = mac.tag(b"https://h/p.123");
        let parts = mac.tag_parts(&[b"https", b"://", b"h", b"/p", b"", b".123"]);
        assert_eq!(whole.to_base64(), parts.to_base64());
    }

    #[test]
    fn decoded_signatures_spill_past_the_inline_ones() {
        let mac = KeyedMac::new("k");
        let others: Vec<_> = (0..6u8).map(|i| mac.tag(&[i]).to_base64()).collect();
        let good = mac.tag(b"m");
        let header = format!("{},{}", others.join(", "), good.to_base64());
        let received = ReceivedSignatures::decode(Some(header.as_bytes()));
        assert!(received.any_matches(&good));
        assert!(!received.any_matches(&mac.tag(b"n")));
        assert!(ReceivedSignatures::decode(None).is_empty());
        assert!(ReceivedSignatures::decode(Some(b" , x")).is_empty());
    }

    #[test]
    fn only_the_canonical_44_character_form_decodes() {
        let mac = KeyedMac::new("k");
        for i in 0..2000u32 {
            let tag = mac.tag(&i.to_le_bytes());
            let text = tag.to_base64();
            let decoded = decode_tag(text.as_bytes()).expect("canonical");
            assert_eq!(decoded.0, STANDARD.decode(&text).unwrap()[..]);
            assert!(tag.matches(&decoded));
            // Any single-byte change is either refused or decodes to other bytes.
            for at in [0, 17, 41, 42, 43] {
                for byte in [b'A', b'z', b'+', b'/', b'=', b'-', b'_', 0x80] {
                    let mut changed = text.clone().into_bytes();
                    if changed[at] == byte {
                        continue;
                    }
                    changed[at] = byte;
                    let ours = decode_tag(&changed).map(|s| s.0.to_vec());
                    let theirs = STANDARD
                        .decode(&changed)
                        .ok()
                        .filter(|d| d.len() == TAG_LEN);
                    assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(&changed));
                }
            }
        }
        assert!(decode_tag(b"").is_none());
        assert!(decode_tag(&[b'A'; 44]).is_none());
        assert!(decode_tag(&[b'A'; 45]).is_none());
    }

    #[test]
    fn non_canonical_base64_is_refused() {
        // The last character of a 32-byte encoding carries 2 unused bits; setting them gives a
        // different string that a lenient decoder would map to the same bytes.
        let canonical = KeyedMac::new("k").tag(b"m").to_base64();
        let mut bytes = canonical.into_bytes();
        let last = bytes[42];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let index = alphabet.iter().position(|&c| c == last).unwrap();
        bytes[42] = alphabet[index ^ 1];
        assert_eq!(parse_signature_list(&bytes).count(), 0);
    }
}
