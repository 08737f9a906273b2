//! Plivo's two signature versions.

/// Which Plivo signature version verified a request (not the URL scheme, which is
/// [`Scheme`](crate::Scheme)).
///
/// - **V3** (voice: answer, hangup, action and callback URLs; audio streams): signs the URL,
///   its sorted query and form-body parameters, and the nonce.
/// - **V2** (messaging, Verify, legacy voice): signs the base URL and the nonce only, neither
///   the query nor the body.
///
/// ```
/// use tower_plivo::SignatureVersion;
/// assert_eq!(SignatureVersion::V3.as_str(), "v3");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureVersion {
    /// `X-Plivo-Signature-V3` / `-Ma-V3` with `X-Plivo-Signature-V3-Nonce`.
    V3,
    /// `X-Plivo-Signature-V2` / `-Ma-V2` with `X-Plivo-Signature-V2-Nonce`.
    V2,
}

impl SignatureVersion {
    /// `"v3"` or `"v2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureVersion::V3 => "v3",
            SignatureVersion::V2 => "v2",
        }
    }

    /// The other version.
    #[cfg(feature = "diagnosis")]
    pub(crate) fn other(self) -> Self {
        match self {
            SignatureVersion::V3 => SignatureVersion::V2,
            SignatureVersion::V2 => SignatureVersion::V3,
        }
    }
}
