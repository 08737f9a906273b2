//! Stage 2, head: everything the request head decides before any body is read (a webhook or an
//! audio-stream upgrade, method, client network, signature headers and version, declared body
//! size and type), and which URL is verified.

use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::respond::Refusal;
use super::settings::{Settings, Tokens};
use super::source::{self, Client};
use super::upgrade::RequestKind;
use crate::rejection::Rejection;
use crate::request_info::RequestHead;
use crate::signature::{
    Claim, SIGNED_STREAM_SCHEME, SignatureHeaders, SignatureVersion, SignedUrl, StreamUrlForm,
    StreamUrlPieces, Verifier, header_values, is_form_content_type,
};
use crate::tenants::{Tenant, TenantRequest};
use crate::url_policy::{Origin, origin_of};

/// The two methods that carry Plivo signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignedMethod {
    Get,
    Post,
}

/// What the head of a request established, kept while its body is read.
#[derive(Debug)]
pub(crate) struct Head {
    /// A webhook, or an audio-stream upgrade (verified from the head alone).
    pub(crate) kind: RequestKind,
    pub(crate) method: SignedMethod,
    /// The scheme and authority of the URL Plivo called.
    pub(crate) origin: Origin,
    pub(crate) version: SignatureVersion,
    /// The claimed version's header values.
    claimed: ClaimValues,
    /// The V2 headers of a request that V3 decides, on a route that accepts V2 with replay
    /// protection on, when they make a claim of their own: the same delivery presented a
    /// second way, whose message must count as seen too (wire format §5).
    v2_half: Option<ClaimValues>,
    /// Whose tokens verify the request, as the `tokens` stage found.
    pub(crate) tenant: TenantState,
}

/// One family's three header values, as the request holds them (a reference count each, not a
/// copy).
#[derive(Debug)]
struct ClaimValues {
    account: Option<HeaderValue>,
    main_account: Option<HeaderValue>,
    nonce: HeaderValue,
}

impl ClaimValues {
    /// Keeps one family's three slots (signature, main-account signature, nonce), which made a
    /// claim (so the nonce is there).
    fn kept(slots: [Option<&HeaderValue>; 3]) -> Self {
        let [account, main_account, nonce] = slots;
        Self {
            account: account.cloned(),
            main_account: main_account.cloned(),
            nonce: nonce.expect("a claim has a nonce").clone(),
        }
    }

    fn claim(&self, version: SignatureVersion) -> Claim<'_> {
        Claim {
            version,
            account: self.account.as_ref().map(HeaderValue::as_bytes),
            main_account: self.main_account.as_ref().map(HeaderValue::as_bytes),
            nonce: self.nonce.as_bytes(),
        }
    }
}

/// Whose tokens verify a request.
#[derive(Debug)]
pub(crate) enum TenantState {
    /// The layer's static list (or, with tenants, not resolved yet).
    Layer,
    /// Named by a signed parameter of the body or query: chosen once the body is read.
    AfterBody,
    /// This tenant's.
    Known(Arc<Tenant>),
    /// Nobody's: the tenant is unknown (why, for the log line). The request is refused once
    /// its body is read, as a forgery is.
    Unknown(String),
}

impl TenantState {
    /// The tenant, if one was resolved, borrowed.
    pub(crate) fn known_ref(&self) -> Option<&Arc<Tenant>> {
        match self {
            TenantState::Known(tenant) => Some(tenant),
            TenantState::Layer | TenantState::AfterBody | TenantState::Unknown(_) => None,
        }
    }
}

/// The log line's explanation of a V2 request on a V3-only route.
const V2_NOT_ACCEPTED: &str = "a V2 signature on a route that accepts only V3: V2 signs neither the \
     body nor the query, so anyone holding one V2-signed request for this URL could send any body \
     under it; if Plivo calls this route with V2 (messaging, Verify), enable it with .accept_v2(true) \
     on this route only";

/// The log line's explanation of a V2 signature on a stream upgrade.
const V2_STREAM: &str = "a V2 signature on a WebSocket upgrade: Plivo signs audio streams with V3, \
     and V2 would bind neither the query nor the stream";

/// Checks everything the head decides for a request already classified (webhook or stream
/// upgrade), in order: method, client network, signature headers and version, declared body
/// size and type, then resolves the origin.
pub(crate) fn check_classified(
    settings: &Settings,
    kind: RequestKind,
    request: &RequestHead<'_>,
) -> Result<Head, Refusal> {
    let peer = request.peer_addr();
    let method = match request.method.as_str() {
        "GET" => SignedMethod::Get,
        "POST" => SignedMethod::Post,
        _ => return Err(Rejection::MethodNotAllowed.into()),
    };
    if let Some(networks) = &settings.source_networks {
        let client = Client::of(
            request.platform_client,
            peer,
            settings.proxies.as_ref(),
            request.headers,
        );
        source::admits(networks, client)
            .map_err(|why| Refusal::explained(Rejection::SourceNotAllowed, why))?;
    }
    let values = header_values(request.headers).map_err(Rejection::from)?;
    check_single_content_type(request.headers)?;
    let headers = SignatureHeaders::from_values(&values);
    let claim = headers.claim().map_err(Rejection::from)?;
    if claim.version == SignatureVersion::V2 {
        let detail = match kind {
            RequestKind::StreamUpgrade => Some(V2_STREAM),
            RequestKind::Webhook if !settings.accept_v2 => Some(V2_NOT_ACCEPTED),
            RequestKind::Webhook => None,
        };
        if let Some(detail) = detail {
            return Err(Refusal::explained(
                Rejection::SignatureVersionNotAccepted,
                detail,
            ));
        }
    }
    // An upgrade's body was ruled out by `classify`.
    if kind == RequestKind::Webhook {
        check_declared_body(settings.body_limit, claim.version, method, request.headers)?;
        check_identity_encoding(request.headers)?;
    }
    let origin = origin_of(
        &settings.url_policy,
        settings.proxies.as_ref(),
        request.original_uri(),
        request.headers,
        peer,
    )?;
    // The claimed version's three slots (`SHOWN_NAMES`' order: V3's, then V2's), kept from
    // the one pass instead of looked up again by name.
    let [v3, v2] = [
        [values[0], values[1], values[2]],
        [values[3], values[4], values[5]],
    ];
    let claimed = ClaimValues::kept(match claim.version {
        SignatureVersion::V3 => v3,
        SignatureVersion::V2 => v2,
    });
    let v2_half = (claim.version == SignatureVersion::V3
        && kind == RequestKind::Webhook
        && settings.accept_v2
        && settings.replay.is_some()
        && headers.v2_claim().is_ok())
    .then(|| ClaimValues::kept(v2));
    Ok(Head {
        kind,
        method,
        origin,
        version: claim.version,
        claimed,
        v2_half,
        tenant: TenantState::Layer,
    })
}

/// The log line's explanation of a repeated `Content-Type`.
const REPEATED_CONTENT_TYPE: &str = "Content-Type arrived more than once: the layer decides \
     whether the body is a signed form from the first, and a framework or proxy that reads \
     another one would parse a body other than the one verified; Plivo sends one";

/// More than one `Content-Type` line (even with equal values) is refused: which one a stack
/// reads is anyone's guess, and the signature covers the body only as the first one says.
fn check_single_content_type(headers: &HeaderMap) -> Result<(), Refusal> {
    if headers.get_all(CONTENT_TYPE).iter().nth(1).is_some() {
        return Err(Refusal::explained(
            Rejection::ConflictingHeaders,
            REPEATED_CONTENT_TYPE,
        ));
    }
    Ok(())
}

/// What the declared body says before it is read: over the limit is 413 at once; under V3, a
/// body a GET cannot have or a POST body that is not a form is one the signature cannot cover.
fn check_declared_body(
    limit: usize,
    version: SignatureVersion,
    method: SignedMethod,
    headers: &HeaderMap,
) -> Result<(), Rejection> {
    let declared = declared_length(headers);
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(Rejection::BodyTooLarge);
    }
    if version == SignatureVersion::V3 && declared.is_some_and(|len| len > 0) {
        let form = headers
            .get(CONTENT_TYPE)
            .is_some_and(|ct| is_form_content_type(ct.as_bytes()));
        if method == SignedMethod::Get || !form {
            return Err(Rejection::UnsupportedBody);
        }
    }
    Ok(())
}

/// The log line's explanation of a compressed body reaching the layer.
const COMPRESSED_BODY: &str = "the body arrived with a Content-Encoding (compressed): Plivo \
     signs the form it sends, not compressed bytes, and does not compress webhooks; if a client \
     of yours compresses, put tower-http's RequestDecompressionLayer outside (in front of) \
     PlivoSignatureLayer, so that the layer reads the body as decoded";

/// The log line's explanation of a transfer coding other than `chunked`.
const TRANSFER_CODED_BODY: &str = "the body arrived with a Transfer-Encoding other than \
     chunked: Plivo signs the form it sends, and sends it plain";

/// A body with a `Content-Encoding` other than `identity` reached the layer: its bytes are not
/// the form that was signed (a decompressor inside the layer would decode them only after
/// verification, and after the body limit), so it is refused, not verified as garbage. A
/// transfer coding other than `chunked` (which the server removes) is refused alike: Plivo
/// uses none, and no layer should be left to decode bytes the signature did not cover.
fn check_identity_encoding(headers: &HeaderMap) -> Result<(), Refusal> {
    if codings_other_than(headers, CONTENT_ENCODING, b"identity") {
        return Err(Refusal::explained(
            Rejection::UnsupportedBody,
            COMPRESSED_BODY,
        ));
    }
    if codings_other_than(headers, TRANSFER_ENCODING, b"chunked") {
        return Err(Refusal::explained(
            Rejection::UnsupportedBody,
            TRANSFER_CODED_BODY,
        ));
    }
    Ok(())
}

/// Whether any coding listed in the `name` headers (comma-separated, on any number of lines)
/// is other than `allowed` (empty list elements are no coding).
fn codings_other_than(headers: &HeaderMap, name: HeaderName, allowed: &[u8]) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .map(<[u8]>::trim_ascii)
            .any(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case(allowed))
    })
}

impl Head {
    /// The URL being verified: the origin from the policy, path and query as received; for a
    /// stream upgrade, in the stream URL form Plivo signs (`http://`, wire format §6).
    pub(crate) fn signed_url<'a>(&'a self, request: &RequestHead<'a>) -> SignedUrl<'a> {
        let uri = request.original_uri();
        let scheme = match self.kind {
            RequestKind::Webhook => self.origin.scheme.as_str(),
            RequestKind::StreamUpgrade => SIGNED_STREAM_SCHEME,
        };
        SignedUrl::from_parts(scheme, &self.origin.authority, uri.path(), uri.query())
            .with_prefix(&self.origin.prefix)
    }

    /// A stream upgrade's URL pieces in `form` (the default form is [`signed_url`](Self::signed_url)'s).
    pub(crate) fn stream_url_pieces<'a>(
        &self,
        form: StreamUrlForm,
        request: &RequestHead<'a>,
    ) -> StreamUrlPieces<'a> {
        let uri = request.original_uri();
        let tls = self.origin.scheme == crate::url_policy::Scheme::Https;
        form.pieces(tls, uri.path(), uri.query())
    }

    /// The tenant is chosen from a signed parameter once the body is read, and verified with
    /// its own account tokens only: the `-Ma-` header is dropped, since a main-account token is
    /// shared by every tenant under it and a re-split body could name another of them.
    pub(crate) fn choose_tenant_after_body(&mut self) {
        self.tenant = TenantState::AfterBody;
        self.claimed.main_account = None;
    }

    /// The claim the headers make, borrowed from the kept header values.
    pub(crate) fn claim(&self) -> Claim<'_> {
        self.claimed.claim(self.version)
    }

    /// The claim of the V2 half of a request that V3 decides (see [`Head`]'s `v2_half`).
    pub(crate) fn v2_half(&self) -> Option<Claim<'_>> {
        self.v2_half
            .as_ref()
            .map(|values| values.claim(SignatureVersion::V2))
    }

    /// The request as a token source sees it: the URL being verified, and the headers.
    pub(crate) fn tenant_request<'a>(&'a self, request: &RequestHead<'a>) -> TenantRequest<'a> {
        let uri = request.original_uri();
        TenantRequest::new(
            request.method,
            &self.origin.authority,
            uri.path(),
            request.headers,
        )
        .with_prefix(&self.origin.prefix)
    }

    /// The tokens that verify this request: its tenant's, else the layer's list; or, when no
    /// tenant's tokens apply, why (it is refused, never verified with another's tokens).
    pub(crate) fn verifier<'a>(&'a self, settings: &'a Settings) -> Result<&'a Verifier, &'a str> {
        match (&self.tenant, &settings.tokens) {
            (TenantState::Known(tenant), _) => Ok(&tenant.verifier),
            (TenantState::Layer, Tokens::Static(verifier)) => Ok(verifier),
            (TenantState::Unknown(why), _) => Err(why),
            (TenantState::Layer | TenantState::AfterBody, Tokens::Tenants(_)) => {
                Err("no tenant was resolved")
            }
            (TenantState::AfterBody, Tokens::Static(_)) => Err("no tenant was resolved"),
        }
    }

    /// The nonce as text (opaque; Plivo sends digits).
    pub(crate) fn nonce_text(&self) -> String {
        String::from_utf8_lossy(self.claimed.nonce.as_bytes()).into_owned()
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(values: &[&str]) -> HeaderMap {
        with(CONTENT_ENCODING, values)
    }

    fn with(name: HeaderName, values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn only_an_identity_body_is_read_as_sent() {
        for fine in [
            &[][..],
            &["identity"],
            &["Identity"],
            &[" identity , "],
            &[""],
        ] {
            assert!(check_identity_encoding(&encoded(fine)).is_ok(), "{fine:?}");
        }
        for compressed in [
            &["gzip"][..],
            &["br"],
            &["identity, gzip"],
            &["identity", "deflate"],
            &["x-custom"],
        ] {
            let refusal = check_identity_encoding(&encoded(compressed)).unwrap_err();
            assert_eq!(
                refusal.rejection,
                Rejection::UnsupportedBody,
                "{compressed:?}"
            );
            assert!(
                refusal
                    .detail
                    .unwrap()
                    .contains("RequestDecompressionLayer")
            );
        }
    }

    #[test]
    fn one_content_type_at_most() {
        let form = "application/x-www-form-urlencoded";
        assert!(check_single_content_type(&HeaderMap::new()).is_ok());
        assert!(check_single_content_type(&with(CONTENT_TYPE, &[form])).is_ok());
        for twice in [&[form, "application/json"][..], &[form, form]] {
            let refusal = check_single_content_type(&with(CONTENT_TYPE, twice)).unwrap_err();
            assert_eq!(
                refusal.rejection,
                Rejection::ConflictingHeaders,
                "{twice:?}"
            );
        }
    }

    #[test]
    fn only_chunked_is_a_transfer_coding_the_layer_reads_through() {
        for fine in [&["chunked"][..], &["Chunked"], &["chunked", ""]] {
            let headers = with(TRANSFER_ENCODING, fine);
            assert!(check_identity_encoding(&headers).is_ok(), "{fine:?}");
        }
        for coded in [&["gzip, chunked"][..], &["gzip", "chunked"], &["deflate"]] {
            let refusal = check_identity_encoding(&with(TRANSFER_ENCODING, coded)).unwrap_err();
            assert_eq!(refusal.rejection, Rejection::UnsupportedBody, "{coded:?}");
            assert!(refusal.detail.unwrap().contains("Transfer-Encoding"));
        }
    }
}
