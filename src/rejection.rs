//! Why a request was refused: the reasons, their statuses and codes (the responses are rendered
//! in `pipeline/respond.rs`).

use std::fmt;

use http::StatusCode;

use crate::signature::VerifyError;

/// Why the layer refused a request. The log line, the metrics and the rejection response's
/// extensions carry it (so an outer layer or a test can read it); the default response does
/// not: every 403 has the same body, so a forger learns nothing from it (not even that a
/// variant of a captured request verified and was then refused as a replay).
///
/// ```
/// use tower_plivo::Rejection;
///
/// assert_eq!(Rejection::SignatureMismatch.status(), http::StatusCode::FORBIDDEN);
/// assert_eq!(Rejection::BodyTooLarge.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
/// assert_eq!(Rejection::SignatureMismatch.code(), "signature_mismatch");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rejection {
    /// The method is neither GET nor POST (only those carry Plivo signatures).
    MethodNotAllowed,
    /// No signature header of either version.
    MissingSignature,
    /// A signature header without its nonce header.
    MissingNonce,
    /// The nonce header is empty, or holds control characters or one of `.`, `/`, `?`, `#`
    /// (which would let part of a signed message move into the nonce).
    InvalidNonce,
    /// A signature or nonce header appears several times with different values, or
    /// `Content-Type` appears more than once (the layer reads the first to decide whether the
    /// body is a signed form; a stack reading another would parse a body other than the one
    /// verified).
    ConflictingHeaders,
    /// A body the signature cannot cover: under V3 a POST body that is not a form, under
    /// either version a GET body, and a compressed body (a `Content-Encoding` other than
    /// `identity`: put `RequestDecompressionLayer` outside the layer).
    UnsupportedBody,
    /// A request with an `Upgrade` header that is not a WebSocket handshake the layer can verify
    /// from its head (another protocol, no `upgrade` token in `Connection`, not a `GET`, not
    /// HTTP/1.1, a declared body, no `Sec-WebSocket-Key` or version 13), or an HTTP/2 WebSocket
    /// (extended `CONNECT`, RFC 8441), which Plivo is not known to use. The log line's `detail`
    /// says which.
    UnsupportedUpgrade,
    /// No signature piece matches any configured token for the URL verified.
    SignatureMismatch,
    /// The URL Plivo called cannot be known: no usable `Host` (missing, repeated, malformed or
    /// with userinfo) and no authority in the target; with
    /// [`UrlPolicy::from_request`](crate::UrlPolicy::from_request), a `Host` that disagrees
    /// with the target's authority (an absolute-form target, HTTP/2's `:authority`); or a
    /// named forwarding header from a trusted proxy that cannot be read.
    UnknownOrigin,
    /// The host and port are not in the configured allow-list.
    UntrustedHost,
    /// A V2 signature on a route that accepts only V3 (V2 signs neither the body nor the
    /// query; enable it with
    /// [`accept_v2`](crate::PlivoGuardBuilder::accept_v2) on messaging and Verify
    /// routes only).
    SignatureVersionNotAccepted,
    /// The client address is not in the configured source networks (or cannot be known).
    SourceNotAllowed,
    /// The body is larger than the configured limit.
    BodyTooLarge,
    /// The body stream failed before it was complete.
    BodyReadFailed,
    /// The body did not arrive completely within the body read timeout (408).
    BodyTimeout,
    /// The signature verified, but a request with the same signed message was already accepted:
    /// a replay.
    Replayed,
    /// The nonce store could not answer, so a replay could not be ruled out (503, so Plivo
    /// retries later).
    ReplayStoreUnavailable,
    /// With [tenants](crate::tenants): the request names no tenant the token store knows (or
    /// none at all). Refused after its body is read, as a forgery is, with the same 403 and
    /// body, so tenants cannot be enumerated; the log line names the tenant.
    UnknownTenant,
    /// With [tenants](crate::tenants): the token store could not answer for a tenant not in the
    /// cache (503, so Plivo retries later; logged at ERROR). Never a pass.
    TenantStoreUnavailable,
}

impl Rejection {
    /// The HTTP status of the default response: 413 for [`BodyTooLarge`](Self::BodyTooLarge),
    /// 400 for [`BodyReadFailed`](Self::BodyReadFailed), 408 for
    /// [`BodyTimeout`](Self::BodyTimeout), 503 for
    /// [`ReplayStoreUnavailable`](Self::ReplayStoreUnavailable) and
    /// [`TenantStoreUnavailable`](Self::TenantStoreUnavailable), 403 for every other reason.
    pub fn status(self) -> StatusCode {
        match self {
            Rejection::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::ReplayStoreUnavailable | Rejection::TenantStoreUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Rejection::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Rejection::BodyReadFailed => StatusCode::BAD_REQUEST,
            _ => StatusCode::FORBIDDEN,
        }
    }

    /// A stable `snake_case` code naming the reason.
    pub const fn code(self) -> &'static str {
        match self {
            Rejection::MethodNotAllowed => "method_not_allowed",
            Rejection::MissingSignature => "missing_signature",
            Rejection::MissingNonce => "missing_nonce",
            Rejection::InvalidNonce => "invalid_nonce",
            Rejection::ConflictingHeaders => "conflicting_headers",
            Rejection::UnsupportedBody => "unsupported_body",
            Rejection::UnsupportedUpgrade => "unsupported_upgrade",
            Rejection::SignatureMismatch => "signature_mismatch",
            Rejection::UnknownOrigin => "unknown_origin",
            Rejection::UntrustedHost => "untrusted_host",
            Rejection::BodyTooLarge => "body_too_large",
            Rejection::BodyReadFailed => "body_read_failed",
            Rejection::BodyTimeout => "body_timeout",
            Rejection::Replayed => "replayed",
            Rejection::ReplayStoreUnavailable => "replay_store_unavailable",
            Rejection::SignatureVersionNotAccepted => "signature_version_not_accepted",
            Rejection::SourceNotAllowed => "source_not_allowed",
            Rejection::UnknownTenant => "unknown_tenant",
            Rejection::TenantStoreUnavailable => "tenant_store_unavailable",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for Rejection {}

impl From<VerifyError> for Rejection {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::MissingSignature => Rejection::MissingSignature,
            VerifyError::ConflictingHeaders => Rejection::ConflictingHeaders,
            VerifyError::MissingNonce => Rejection::MissingNonce,
            VerifyError::InvalidNonce => Rejection::InvalidNonce,
            VerifyError::UnsupportedBody => Rejection::UnsupportedBody,
            VerifyError::SignatureMismatch => Rejection::SignatureMismatch,
        }
    }
}
