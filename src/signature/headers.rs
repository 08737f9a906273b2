//! The six signature headers, and which scheme a request claims (SPEC §1, §5).

use crate::rejection::Rejection;

/// `X-Plivo-Signature-V3`: V3 signature(s) made with the account or sub-account token.
pub const V3_SIGNATURE: &str = "x-plivo-signature-v3";
/// `X-Plivo-Signature-Ma-V3`: V3 signature(s) made with the main account's token.
pub const V3_MAIN_ACCOUNT_SIGNATURE: &str = "x-plivo-signature-ma-v3";
/// `X-Plivo-Signature-V3-Nonce`: the nonce both V3 headers sign.
pub const V3_NONCE: &str = "x-plivo-signature-v3-nonce";
/// `X-Plivo-Signature-V2`: V2 signature made with the account or sub-account token.
pub const V2_SIGNATURE: &str = "x-plivo-signature-v2";
/// `X-Plivo-Signature-Ma-V2`: V2 signature made with the main account's token.
pub const V2_MAIN_ACCOUNT_SIGNATURE: &str = "x-plivo-signature-ma-v2";
/// `X-Plivo-Signature-V2-Nonce`: the nonce both V2 headers sign.
pub const V2_NONCE: &str = "x-plivo-signature-v2-nonce";

/// Plivo's signature schemes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Version {
    /// V3: voice callbacks; signs the URL, query and form body, and the nonce.
    V3,
    /// V2: messaging, verify and legacy voice; signs only the base URL and the nonce.
    V2,
}

impl Version {
    /// `"v3"` or `"v2"`.
    ///
    /// ```
    /// assert_eq!(tower_plivo::signature::Version::V3.as_str(), "v3");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V3 => "v3",
            Version::V2 => "v2",
        }
    }
}

/// The raw values of the six signature headers of one request (each `None` when absent).
///
/// The layer fills this from the request; use it directly to verify outside a tower stack.
///
/// ```
/// use tower_plivo::signature::{SignatureHeaders, Version};
///
/// let headers = SignatureHeaders {
///     v3_signature: Some(b"k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c="),
///     v3_nonce: Some(b"31627761595286130198"),
///     ..Default::default()
/// };
/// let claim = headers.claim()?;
/// assert_eq!(claim.version(), Version::V3);
/// assert_eq!(claim.nonce(), b"31627761595286130198");
/// # Ok::<(), tower_plivo::Rejection>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignatureHeaders<'a> {
    /// `X-Plivo-Signature-V3`.
    pub v3_signature: Option<&'a [u8]>,
    /// `X-Plivo-Signature-Ma-V3`.
    pub v3_main_account_signature: Option<&'a [u8]>,
    /// `X-Plivo-Signature-V3-Nonce`.
    pub v3_nonce: Option<&'a [u8]>,
    /// `X-Plivo-Signature-V2`.
    pub v2_signature: Option<&'a [u8]>,
    /// `X-Plivo-Signature-Ma-V2`.
    pub v2_main_account_signature: Option<&'a [u8]>,
    /// `X-Plivo-Signature-V2-Nonce`.
    pub v2_nonce: Option<&'a [u8]>,
}

impl<'a> SignatureHeaders<'a> {
    /// Decides which scheme the request claims and checks that it carries what that scheme
    /// needs, before any body is read.
    ///
    /// Downgrade protection: if any V3 header is present, only V3 decides; a request never falls
    /// back to V2 because its V3 signature failed.
    pub fn claim(&self) -> Result<Claim<'a>, Rejection> {
        let any_v3 = self.v3_signature.is_some()
            || self.v3_main_account_signature.is_some()
            || self.v3_nonce.is_some();
        let (version, account, main_account, nonce) = if any_v3 {
            (
                Version::V3,
                self.v3_signature,
                self.v3_main_account_signature,
                self.v3_nonce,
            )
        } else if self.v2_signature.is_some()
            || self.v2_main_account_signature.is_some()
            || self.v2_nonce.is_some()
        {
            (
                Version::V2,
                self.v2_signature,
                self.v2_main_account_signature,
                self.v2_nonce,
            )
        } else {
            return Err(Rejection::MissingSignature);
        };
        let blank = |value: Option<&[u8]>| value.is_none_or(|v| v.trim_ascii().is_empty());
        if blank(account) && blank(main_account) {
            return Err(Rejection::MissingSignature);
        }
        let nonce = nonce.ok_or(Rejection::MissingNonce)?;
        if !is_valid_nonce(nonce) {
            return Err(Rejection::InvalidNonce);
        }
        Ok(Claim {
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

/// What a request claims: a scheme, its nonce and its signature headers. Made by
/// [`SignatureHeaders::claim`]; checked by [`Verifier::verify`](super::Verifier::verify).
///
/// ```
/// use tower_plivo::signature::{SignatureHeaders, Version};
///
/// let headers = SignatureHeaders { v2_signature: Some(b"sig"), v2_nonce: Some(b"7"), ..Default::default() };
/// let claim = headers.claim()?;
/// assert_eq!((claim.version(), claim.nonce()), (Version::V2, &b"7"[..]));
/// # Ok::<(), tower_plivo::Rejection>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim<'a> {
    pub(crate) version: Version,
    pub(crate) account: Option<&'a [u8]>,
    pub(crate) main_account: Option<&'a [u8]>,
    pub(crate) nonce: &'a [u8],
}

impl<'a> Claim<'a> {
    /// The scheme that decides.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The nonce (opaque; Plivo sends 20 decimal digits).
    pub fn nonce(&self) -> &'a [u8] {
        self.nonce
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_header_blocks_v2_fallback() {
        let headers = SignatureHeaders {
            v3_nonce: Some(b"1"),
            v2_signature: Some(b"sig"),
            v2_nonce: Some(b"1"),
            ..Default::default()
        };
        assert_eq!(headers.claim(), Err(Rejection::MissingSignature));
    }

    #[test]
    fn nothing_is_missing_signature() {
        assert_eq!(
            SignatureHeaders::default().claim(),
            Err(Rejection::MissingSignature)
        );
    }

    #[test]
    fn signature_without_nonce() {
        let headers = SignatureHeaders {
            v2_main_account_signature: Some(b"sig"),
            ..Default::default()
        };
        assert_eq!(headers.claim(), Err(Rejection::MissingNonce));
    }

    #[test]
    fn empty_nonce_or_control_bytes_are_invalid() {
        for nonce in [&b""[..], b"12\x0134", b"12\t"] {
            let headers = SignatureHeaders {
                v3_signature: Some(b"sig"),
                v3_nonce: Some(nonce),
                ..Default::default()
            };
            assert_eq!(headers.claim(), Err(Rejection::InvalidNonce));
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
            let v3 = SignatureHeaders {
                v3_signature: Some(b"sig"),
                v3_nonce: Some(nonce),
                ..Default::default()
            };
            assert_eq!(v3.claim(), Err(Rejection::InvalidNonce));
            let v2 = SignatureHeaders {
                v2_signature: Some(b"sig"),
                v2_nonce: Some(nonce),
                ..Default::default()
            };
            assert_eq!(v2.claim(), Err(Rejection::InvalidNonce));
        }
        for nonce in [&b"31627761595286130198"[..], b"12345", b"nonce-\xc3\xa9_x"] {
            let v2 = SignatureHeaders {
                v2_signature: Some(b"sig"),
                v2_nonce: Some(nonce),
                ..Default::default()
            };
            assert_eq!(v2.claim().map(|c| c.nonce()), Ok(nonce));
        }
    }
}
