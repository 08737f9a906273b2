//! The proof of verification attached to each verified request.

use crate::signature::{SignatureVersion, StreamUrlForm, TokenId};

/// Put in the extensions of every request the layer verified. Read it in a handler with axum's
/// `Extension<PlivoVerified>` or `request.extensions().get::<PlivoVerified>()`.
///
/// In report-only mode a request that would have been refused carries the
/// [`Rejection`](crate::Rejection) instead (or as well, for a verified replay).
///
/// ```
/// use axum::{Extension, Router, routing::post};
/// use tower_plivo::{PlivoVerified, TokenId};
///
/// async fn answer(Extension(verified): Extension<PlivoVerified>) -> String {
///     let from_main_account = verified.token() == TokenId::MainAccount;
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
}

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
        }
    }

    /// The signature version that verified (V3 or V2).
    pub fn version(&self) -> SignatureVersion {
        self.version
    }

    /// The configured token that matched, and so the header that carried the signature (an
    /// account token: `X-Plivo-Signature-V3` / `-V2`; the main account's: the `-Ma-` header).
    pub fn token(&self) -> TokenId {
        self.token
    }

    /// The nonce Plivo sent (opaque; safe to log).
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The URL the signature was checked against (`scheme://authority/path?query`; safe to log).
    /// For an audio stream, the URL in the form that matched (`http://…` by default).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// For an audio-stream upgrade (a WebSocket), the stream URL form its signature matched:
    /// [`StreamUrlForm::HttpScheme`] unless another form was opted into with
    /// [`also_accept_stream_url_form`](crate::PlivoSignatureLayerBuilder::also_accept_stream_url_form)
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
