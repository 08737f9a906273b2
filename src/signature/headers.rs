//! The six signature headers, and which version a request claims.

use http::{HeaderMap, HeaderValue};

use super::error::VerifyError;
use super::version::SignatureVersion;

/// `X-Plivo-Signature-V3`: V3 signature(s) made with the account or sub-account token.
pub(crate) const V3_SIGNATURE: &str = "x-plivo-signature-v3";
/// `X-Plivo-Signature-Ma-V3`: V3 signature(s) made with the main account's token.
pub(crate) const V3_MAIN_ACCOUNT_SIGNATURE: &str = "x-plivo-signature-ma-v3";
/// `X-Plivo-Signature-V3-Nonce`: the nonce both V3 headers sign.
pub(crate) const V3_NONCE: &str = "x-plivo-signature-v3-nonce";
/// `X-Plivo-Signature-V2`: V2 signature made with the account or sub-account token.
pub(crate) const V2_SIGNATURE: &str = "x-plivo-signature-v2";
/// `X-Plivo-Signature-Ma-V2`: V2 signature made with the main account's token.
pub(crate) const V2_MAIN_ACCOUNT_SIGNATURE: &str = "x-plivo-signature-ma-v2";
/// `X-Plivo-Signature-V2-Nonce`: the nonce both V2 headers sign.
pub(crate) const V2_NONCE: &str = "x-plivo-signature-v2-nonce";

/// The six signature headers, as received (lower case) and as shown to operators (Plivo's
/// spelling), V3 first.
pub(crate) const SHOWN_NAMES: [(&str, &str); 6] = [
    (V3_SIGNATURE, "X-Plivo-Signature-V3"),
    (V3_MAIN_ACCOUNT_SIGNATURE, "X-Plivo-Signature-Ma-V3"),
    (V3_NONCE, "X-Plivo-Signature-V3-Nonce"),
    (V2_SIGNATURE, "X-Plivo-Signature-V2"),
    (V2_MAIN_ACCOUNT_SIGNATURE, "X-Plivo-Signature-Ma-V2"),
    (V2_NONCE, "X-Plivo-Signature-V2-Nonce"),
];

/// What every signature header name starts with.
const SIGNATURE_HEADER_PREFIX: &str = "x-plivo-signature-";

/// The six signature headers' values as the request holds them, one slot per name in
/// [`SHOWN_NAMES`]' order (the layer keeps the claimed version's three: a reference count each,
/// no copy and no second lookup). A header sent several times must repeat the same value:
/// otherwise which one a proxy or framework would pick is anyone's guess.
///
/// One pass over the headers rather than six lookups: a `HeaderMap` lookup hashes the name (and
/// a lookup by `&str` also parses it), which measured as a tenth of the layer's own time; a
/// request carries a dozen headers, most of them rejected by the prefix alone.
pub(crate) fn header_values(headers: &HeaderMap) -> Result<[Option<&HeaderValue>; 6], VerifyError> {
    let mut found: [Option<&HeaderValue>; 6] = [None; 6];
    let mut conflict = false;
    // Each value of a repeated header is its own item.
    for (name, value) in headers {
        let name = name.as_str();
        if !name.starts_with(SIGNATURE_HEADER_PREFIX) {
            continue;
        }
        let Some(slot) = SHOWN_NAMES.iter().position(|&(n, _)| n == name) else {
            continue;
        };
        match found[slot] {
            None => found[slot] = Some(value),
            Some(first) => conflict |= first.as_bytes() != value.as_bytes(),
        }
    }
    if conflict {
        return Err(VerifyError::ConflictingHeaders);
    }
    Ok(found)
}

/// What the signature headers of a request claim, when they are readable (for the doctor,
/// which examines refusals made before the claim was kept).
pub(crate) fn claim_of(headers: &HeaderMap) -> Option<Claim<'_>> {
    SignatureHeaders::read(headers).ok()?.claim().ok()
}

/// A signature header's name as shown to operators.
#[cfg(feature = "diagnosis")]
pub(crate) fn shown_name(name: &str) -> &'static str {
    SHOWN_NAMES
        .iter()
        .find(|(wire, _)| *wire == name)
        .map_or("a signature header", |(_, shown)| shown)
}

/// The raw values of the six signature headers of one request (each absent unless set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SignatureHeaders<'a> {
    v3_signature: Option<&'a [u8]>,
    v3_main_account_signature: Option<&'a [u8]>,
    v3_nonce: Option<&'a [u8]>,
    v2_signature: Option<&'a [u8]>,
    v2_main_account_signature: Option<&'a [u8]>,
    v2_nonce: Option<&'a [u8]>,
}

impl<'a> SignatureHeaders<'a> {
    /// Reads the six headers by name: `lookup` is called once with each lower-case name.
    #[cfg(test)]
    pub(crate) fn from_lookup(mut lookup: impl FnMut(&'static str) -> Option<&'a [u8]>) -> Self {
        Self::from_slots(SHOWN_NAMES.map(|(name, _)| lookup(name)))
    }

    /// Reads the six headers of a request in one pass (see [`header_values`]).
    pub(crate) fn read(headers: &'a HeaderMap) -> Result<Self, VerifyError> {
        header_values(headers).map(|values| Self::from_values(&values))
    }

    /// The values' bytes, as the claim reads them.
    pub(crate) fn from_values(values: &[Option<&'a HeaderValue>; 6]) -> Self {
        Self::from_slots(values.map(|value| value.map(HeaderValue::as_bytes)))
    }

    /// The six values in [`SHOWN_NAMES`]' order (the layer reads them in one pass over the
    /// request's headers).
    pub(crate) fn from_slots(slots: [Option<&'a [u8]>; 6]) -> Self {
        Self {
            v3_signature: slots[0],
            v3_main_account_signature: slots[1],
            v3_nonce: slots[2],
            v2_signature: slots[3],
            v2_main_account_signature: slots[4],
            v2_nonce: slots[5],
        }
    }

    /// The value read for one of the six names (for tests).
    #[cfg(test)]
    pub(crate) fn get(&self, name: &str) -> Option<&'a [u8]> {
        let slot = SHOWN_NAMES.iter().position(|&(n, _)| n == name)?;
        let read = [
            self.v3_signature,
            self.v3_main_account_signature,
            self.v3_nonce,
            self.v2_signature,
            self.v2_main_account_signature,
            self.v2_nonce,
        ];
        read[slot]
    }

    /// Decides which version the request claims and checks that it carries what that version
    /// needs, before any body is read.
    ///
    /// Downgrade protection: if any V3 header is present, only V3 decides; a request never
    /// falls back to V2 because its V3 signature failed.
    pub(crate) fn claim(&self) -> Result<Claim<'a>, VerifyError> {
        let any_v3 = self.v3_signature.is_some()
            || self.v3_main_account_signature.is_some()
            || self.v3_nonce.is_some();
        if any_v3 {
            Claim::of_family(
                SignatureVersion::V3,
                self.v3_signature,
                self.v3_main_account_signature,
                self.v3_nonce,
            )
        } else if self.has_v2() {
            self.v2_claim()
        } else {
            Err(VerifyError::MissingSignature)
        }
    }

    /// Whether any V2 header is present.
    fn has_v2(&self) -> bool {
        self.v2_signature.is_some()
            || self.v2_main_account_signature.is_some()
            || self.v2_nonce.is_some()
    }

    /// The claim the V2 headers alone make: what the same request would claim without its V3
    /// headers (the V2 half of a delivery that carries both families, wire format §5).
    pub(crate) fn v2_claim(&self) -> Result<Claim<'a>, VerifyError> {
        if !self.has_v2() {
            return Err(VerifyError::MissingSignature);
        }
        Claim::of_family(
            SignatureVersion::V2,
            self.v2_signature,
            self.v2_main_account_signature,
            self.v2_nonce,
        )
    }
}

impl<'a> Claim<'a> {
    /// The claim of one family's three headers: a signature that is not blank and a valid
    /// nonce.
    fn of_family(
        version: SignatureVersion,
        account: Option<&'a [u8]>,
        main_account: Option<&'a [u8]>,
        nonce: Option<&'a [u8]>,
    ) -> Result<Self, VerifyError> {
        let blank = |value: Option<&[u8]>| value.is_none_or(|v| v.trim_ascii().is_empty());
        if blank(account) && blank(main_account) {
            return Err(VerifyError::MissingSignature);
        }
        let nonce = nonce.ok_or(VerifyError::MissingNonce)?;
        if !is_valid_nonce(nonce) {
            return Err(VerifyError::InvalidNonce);
        }
        Ok(Self {
            version,
            account,
            main_account,
            nonce,
        })
    }
}

/// Whether `nonce` can be a nonce: not empty, no control bytes, and none of the characters
/// that structure a URL or a V3 message (`.`, `/`, `?`, `#`). Plivo's nonces are decimal
/// digits; these characters would let anyone holding one signed request move part of its
/// message into the nonce header without changing the signature:
///
/// - V3 messages end in `.` + nonce: with a `.` in the nonce, the tail of a signed value (the
///   end of a `To` address, say) could move into the nonce, and the handler would read another
///   value under the same signature;
/// - V2 messages are the URL immediately followed by the nonce: with `?` and `.`, a V2 nonce
///   could hold the rest of a V3 message (`?{body}.{nonce}`), turning any captured V3 request
///   into a V2 one with a body of the attacker's choice; with `/`, it could hold the end of a
///   path, so a request signed for `/sms/answer` could be sent to `/sms` (and `#` never
///   reaches a server in a URL at all).
///
/// The same rule holds for both versions, so a message can never be read as the other one's.
fn is_valid_nonce(nonce: &[u8]) -> bool {
    !nonce.is_empty()
        && !nonce
            .iter()
            .any(|&b| b.is_ascii_control() || matches!(b, b'.' | b'/' | b'?' | b'#'))
}

/// What a request claims: a version, its nonce and its signature headers. Made by
/// [`SignatureHeaders::claim`] before the body is read; checked by the verifier once it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Claim<'a> {
    pub(crate) version: SignatureVersion,
    pub(crate) account: Option<&'a [u8]>,
    pub(crate) main_account: Option<&'a [u8]>,
    pub(crate) nonce: &'a [u8],
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderName;

    /// Headers with these (name, value) pairs.
    fn headers<'a>(pairs: &[(&'static str, &'a [u8])]) -> SignatureHeaders<'a> {
        SignatureHeaders::from_lookup(|name| {
            pairs
                .iter()
                .find(|(header, _)| *header == name)
                .map(|(_, value)| *value)
        })
    }

    #[test]
    fn v3_header_blocks_v2_fallback() {
        let claim = headers(&[(V3_NONCE, b"1"), (V2_SIGNATURE, b"sig"), (V2_NONCE, b"1")]).claim();
        assert_eq!(claim, Err(VerifyError::MissingSignature));
    }

    #[test]
    fn the_v2_half_of_a_request_carrying_both_families() {
        let both = headers(&[
            (V3_SIGNATURE, b"v3"),
            (V3_NONCE, b"1"),
            (V2_SIGNATURE, b"v2"),
            (V2_NONCE, b"2"),
        ]);
        assert_eq!(both.claim().map(|c| c.version), Ok(SignatureVersion::V3));
        let half = both.v2_claim().unwrap();
        assert_eq!(half.version, SignatureVersion::V2);
        assert_eq!((half.account, half.nonce), (Some(&b"v2"[..]), &b"2"[..]));
        // No V2 headers, or V2 headers that could not verify alone: no V2 half.
        let v3_only = headers(&[(V3_SIGNATURE, b"v3"), (V3_NONCE, b"1")]);
        assert_eq!(v3_only.v2_claim(), Err(VerifyError::MissingSignature));
        let no_nonce = headers(&[(V3_NONCE, b"1"), (V2_SIGNATURE, b"v2")]);
        assert_eq!(no_nonce.v2_claim(), Err(VerifyError::MissingNonce));
        let dotted = headers(&[(V3_NONCE, b"1"), (V2_SIGNATURE, b"v2"), (V2_NONCE, b"2.3")]);
        assert_eq!(dotted.v2_claim(), Err(VerifyError::InvalidNonce));
    }

    #[test]
    fn nothing_is_missing_signature() {
        assert_eq!(
            SignatureHeaders::default().claim(),
            Err(VerifyError::MissingSignature)
        );
    }

    #[test]
    fn signature_without_nonce() {
        let claim = headers(&[(V2_MAIN_ACCOUNT_SIGNATURE, b"sig")]).claim();
        assert_eq!(claim, Err(VerifyError::MissingNonce));
    }

    #[test]
    fn empty_nonce_or_control_bytes_are_invalid() {
        for nonce in [&b""[..], b"12\x0134", b"12\t"] {
            let claim = headers(&[(V3_SIGNATURE, b"sig"), (V3_NONCE, nonce)]).claim();
            assert_eq!(claim, Err(VerifyError::InvalidNonce));
        }
    }

    #[test]
    fn a_nonce_with_url_or_message_structure_is_invalid_in_both_versions() {
        for nonce in [
            &b"com.31627761595286130198"[..],
            b".1",
            b"1.",
            b"?CallUUID1.123",
            b"/answer",
            b"12#3",
        ] {
            let v3 = headers(&[(V3_SIGNATURE, b"sig"), (V3_NONCE, nonce)]).claim();
            assert_eq!(v3, Err(VerifyError::InvalidNonce));
            let v2 = headers(&[(V2_SIGNATURE, b"sig"), (V2_NONCE, nonce)]).claim();
            assert_eq!(v2, Err(VerifyError::InvalidNonce));
        }
        for nonce in [&b"31627761595286130198"[..], b"12345", b"nonce-\xc3\xa9_x"] {
            let v2 = headers(&[(V2_SIGNATURE, b"sig"), (V2_NONCE, nonce)]).claim();
            assert_eq!(v2.map(|c| c.nonce), Ok(nonce));
        }
    }

    #[test]
    fn the_slots_kept_for_each_version_are_its_signature_main_account_and_nonce() {
        let names = SHOWN_NAMES.map(|(name, _)| name);
        assert_eq!(
            names[..3],
            [V3_SIGNATURE, V3_MAIN_ACCOUNT_SIGNATURE, V3_NONCE]
        );
        assert_eq!(
            names[3..],
            [V2_SIGNATURE, V2_MAIN_ACCOUNT_SIGNATURE, V2_NONCE]
        );
    }

    #[test]
    fn signature_headers_are_read_in_one_pass_as_by_lookup() {
        // Each of the six, in any case, once, repeated with the same value, or in conflict.
        for (slot, (name, _)) in SHOWN_NAMES.into_iter().enumerate() {
            assert!(name.starts_with(SIGNATURE_HEADER_PREFIX));
            let mut headers = HeaderMap::new();
            headers.append("x-plivo-signature-v4", HeaderValue::from_static("other"));
            headers.append(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain"),
            );
            let shouted = name.to_ascii_uppercase();
            let value = HeaderValue::from_str(&format!("value-{slot}")).unwrap();
            headers.append(
                HeaderName::from_bytes(shouted.as_bytes()).unwrap(),
                value.clone(),
            );
            let read = SignatureHeaders::read(&headers).ok().unwrap();
            for (other, (other_name, _)) in SHOWN_NAMES.into_iter().enumerate() {
                let expected = (other == slot).then_some(value.as_bytes());
                assert_eq!(read.get(other_name), expected, "{name}: {other_name}");
            }
            headers.append(HeaderName::from_static(name), value.clone());
            assert!(
                SignatureHeaders::read(&headers).is_ok(),
                "{name} repeated, same value"
            );
            headers.append(HeaderName::from_static(name), HeaderValue::from_static("x"));
            assert_eq!(
                SignatureHeaders::read(&headers).err(),
                Some(VerifyError::ConflictingHeaders),
                "{name} in conflict"
            );
        }
    }
}
