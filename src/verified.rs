//! The proof of verification attached to each verified request.

use std::fmt;
use std::sync::Arc;

use crate::signature::{SignatureVersion, StreamUrlForm, TokenId};
use crate::tenants::Tenant;

/// Put in the extensions of every request the layer verified. Read it in a handler with axum's
/// `Extension<PlivoVerified>` or `request.extensions().get::<PlivoVerified>()`.
///
/// In report-only mode a request that would have been refused carries the
/// [`Rejection`](crate::Rejection) instead (or as well, for a verified replay).
///
/// It vouches for the request as the layer handed it on: the layers between it and the
/// handler are trusted not to replace its body or target (put only your own layers there, and
/// the ones the deployment guide places inside). Routes added to an axum `Router` after
/// `.layer(plivo)` are not guarded; a handler there that extracts `Extension<PlivoVerified>`
/// is refused before it runs.
///
/// ```
/// use axum::{Extension, Router, routing::post};
/// use tower_plivo::{PlivoVerified, TokenId};
///
/// async fn answer(Extension(verified): Extension<PlivoVerified>) -> String {
///     let from_main_account = matches!(verified.token(), TokenId::MainAccount(_));
///     format!("{} nonce {} (main account: {from_main_account})", verified.version().as_str(), verified.nonce())
/// }
/// let app: Router = Router::new().route("/answer", post(answer));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlivoVerified {
    version: SignatureVersion,
    token: TokenId,
    nonce: String,
    url: String,
    stream_url_form: Option<StreamUrlForm>,
    tenant: Option<VerifiedTenant>,
}

/// The tenant a request verified as: shown and compared by name (its keyed states are not for
/// display).
#[derive(Clone)]
struct VerifiedTenant(Arc<Tenant>);

impl fmt::Debug for VerifiedTenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.name.fmt(f)
    }
}

impl PartialEq for VerifiedTenant {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for VerifiedTenant {}

impl PlivoVerified {
    pub(crate) fn new(
        version: SignatureVersion,
        token: TokenId,
        nonce: String,
        url: String,
        stream_url_form: Option<StreamUrlForm>,
    ) -> Self {
        Self {
            version,
            token,
            nonce,
            url,
            stream_url_form,
            tenant: None,
        }
    }

    pub(crate) fn set_tenant(&mut self, tenant: Option<Arc<Tenant>>) {
        self.tenant = tenant.map(VerifiedTenant);
    }

    /// With [tenants](crate::tenants) configured, the tenant whose tokens verified the request
    /// (as the token source named it); [`token`](Self::token) says which of that tenant's
    /// tokens. `None` with the layer's static token list.
    ///
    /// Trust this, not a header or path your handler parses again: the request verified with
    /// this tenant's tokens and no other's.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_ref().map(|tenant| &*tenant.0.name)
    }

    /// The signature version that verified (V3 or V2).
    pub fn version(&self) -> SignatureVersion {
        self.version
    }

    /// The configured token that matched (with tenants, among the tenant's), and so the header
    /// that carried the signature (an account token: `X-Plivo-Signature-V3` / `-V2`; the main
    /// account's: the `-Ma-` header).
    pub fn token(&self) -> TokenId {
        self.token
    }

    /// The nonce Plivo sent (opaque; safe to log).
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The URL the signature was checked against (`scheme://authority/path?query`; safe to log).
    /// For an audio stream, the URL in the form that matched (`http://…` by default).
    ///
    /// **Under V2 ([`version`](Self::version) is [`SignatureVersion::V2`]) the query shown here
    /// is not signed**: V2 covers only `scheme://authority/path` and the nonce (neither the query
    /// nor the body), so a parameter read from this URL's query, like one read from the body,
    /// is whatever the sender chose.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// For an audio-stream upgrade (a WebSocket), the stream URL form its signature matched:
    /// [`StreamUrlForm::HttpScheme`] unless another form was opted into with
    /// [`also_accept_stream_url_form`](crate::PlivoGuardBuilder::also_accept_stream_url_form)
    /// and matched instead. `None` for a webhook.
    ///
    /// A request carrying WebSocket upgrade headers is verified by the stream rule on any
    /// route. A handler that is not a WebSocket endpoint, on a path Plivo also dials as a
    /// stream, should refuse a request for which this is `Some` (the layer logs a warning when
    /// such a request is answered with anything but `101 Switching Protocols`).
    pub fn stream_url_form(&self) -> Option<StreamUrlForm> {
        self.stream_url_form
    }
}
