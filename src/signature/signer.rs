//! Signing requests the way Plivo does, for users' tests and the `sign` example.

use std::fmt;

use super::mac::KeyedMac;
use super::message::{V3Message, v2_parts};
use super::stream::StreamUrlForm;
use super::url::{SignedUrl, UrlError};
use crate::config_error::ConfigError;

/// Produces Plivo signatures with one auth token, through the same canonicalisation the
/// verifier uses. `Debug` never shows the token.
///
/// ```
/// use tower_plivo::signature::Signer;
///
/// // A public vector (docs/wire-format.md), signed by a Plivo server: V3 POST to URL B.
/// let signer = Signer::new("Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4");
/// let body = "Direction=outbound&From=19792014278&ALegUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
///     &CallStatus=in-progress&BillRate=0.002&ParentAuthID=MANWVLYTK4ZWU1YTY4QA\
///     &To=sip%3APlivoSignature382029104058171078704104%40phone-qa.voice.plivodev.com\
///     &ALegRequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36&CallUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
///     &RequestUUID=3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36\
///     &SIP-H-To=%3Csip%3APlivoSignature382029104058171078704104%4052.9.11.55%3Btransport%3Dudp%3E%3Btag%3D1\
///     &SessionStart=2020-04-08+11%3A34%3A33.238707&Event=StartApp";
/// let url = "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml";
/// let signature = signer.sign_v3_post(url, body.as_bytes(), "31627761595286130198")?;
/// assert_eq!(signature, "iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0=");
/// # Ok::<(), tower_plivo::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Signer {
    mac: KeyedMac,
}

impl Signer {
    /// A signer for this auth token (its bytes as written are the HMAC key).
    pub fn new(auth_token: &str) -> Self {
        Self {
            mac: KeyedMac::new(auth_token),
        }
    }

    /// The `X-Plivo-Signature-V3` value for a GET to `url` (including its query, where Plivo
    /// puts a GET's parameters) with this nonce.
    ///
    /// ```
    /// use tower_plivo::signature::Signer;
    ///
    /// let signer = Signer::new("token");
    /// let get = signer.sign_v3_get("https://h.example/cb?CallUUID=1", "123")?;
    /// assert_eq!(get.len(), 44);
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn sign_v3_get(&self, url: &str, nonce: &str) -> Result<String, ConfigError> {
        self.sign_v3(url, None, nonce)
    }

    /// The `X-Plivo-Signature-V3` value for a POST to `url` (including its query) with this
    /// raw `application/x-www-form-urlencoded` body (empty when there is none) and nonce.
    pub fn sign_v3_post(
        &self,
        url: &str,
        form_body: &[u8],
        nonce: &str,
    ) -> Result<String, ConfigError> {
        self.sign_v3(url, Some(form_body), nonce)
    }

    fn sign_v3(
        &self,
        url: &str,
        form_body: Option<&[u8]>,
        nonce: &str,
    ) -> Result<String, ConfigError> {
        let url = parsed(url)?;
        Ok(self
            .mac
            .tag(V3Message::build(&url, form_body, nonce.as_bytes()).bytes())
            .to_base64())
    }

    /// The `X-Plivo-Signature-V3` value of the WebSocket upgrade Plivo sends for an audio
    /// stream dialled at `url` (`wss://` or `ws://`, with any query): the V3 GET signature of
    /// that URL with its scheme replaced by `http` (wire format §6).
    ///
    /// ```
    /// use tower_plivo::signature::Signer;
    ///
    /// let signer = Signer::new("token");
    /// let stream = signer.sign_stream("wss://hooks.example.com/stream?call=1", "123")?;
    /// assert_eq!(stream, signer.sign_v3_get("http://hooks.example.com/stream?call=1", "123")?);
    /// assert!(signer.sign_stream("https://hooks.example.com/stream", "123").is_err());
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn sign_stream(&self, url: &str, nonce: &str) -> Result<String, ConfigError> {
        let dialled = parsed(url)?;
        let scheme = dialled.scheme();
        let tls = if scheme.eq_ignore_ascii_case("wss") {
            true
        } else if scheme.eq_ignore_ascii_case("ws") {
            false
        } else {
            return Err(invalid(UrlError::NotAWebSocketUrl, url));
        };
        let pieces = StreamUrlForm::HttpScheme.pieces(tls, dialled.path(), dialled.query());
        let signed = pieces.signed_url(dialled.authority(), "");
        Ok(self
            .mac
            .tag(V3Message::build(&signed, None, nonce.as_bytes()).bytes())
            .to_base64())
    }

    /// The `X-Plivo-Signature-V2` value for a request to `url` with this nonce (the query and
    /// body are not signed).
    ///
    /// ```
    /// use tower_plivo::signature::Signer;
    ///
    /// // A public vector (docs/wire-format.md).
    /// let signature = Signer::new("my_auth_token").sign_v2("https://answer.url/", "12345")?;
    /// assert_eq!(signature, "do1CXv+k99A6+B+eTcyqbxWlezFIxJ/1vz72787r37g=");
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    pub fn sign_v2(&self, url: &str, nonce: &str) -> Result<String, ConfigError> {
        let url = parsed(url)?;
        Ok(self
            .mac
            .tag_parts(&v2_parts(&url, nonce.as_bytes()))
            .to_base64())
    }
}

/// The URL to sign, or why it cannot be signed (a [`ConfigError::InvalidValue`] naming the
/// problem).
fn parsed(url: &str) -> Result<SignedUrl<'_>, ConfigError> {
    SignedUrl::parse(url).map_err(|error| invalid(error, url))
}

fn invalid(error: UrlError, url: &str) -> ConfigError {
    ConfigError::InvalidValue {
        setting: error.as_str(),
        value: url.to_owned(),
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer { auth_token: <redacted> }")
    }
}
