//! Configuration mistakes, reported when the layer is built rather than on the first request.

use std::fmt;

use crate::signature::{TokenError, TokenId};

/// Why a [`PlivoSignatureLayer`](crate::PlivoSignatureLayer) (or one of its parts) could not be
/// built. Never contains a token.
///
/// ```
/// use tower_plivo::{ConfigError, UrlPolicy};
///
/// let err = UrlPolicy::public_base("hooks.example.com").unwrap_err();
/// assert!(matches!(err, ConfigError::InvalidPublicBase { .. }));
/// assert!(err.to_string().contains("scheme"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No auth token was configured (and no [tenants](crate::tenants)).
    NoAuthToken,
    /// No URL policy was configured: there is no default, because the right one depends on
    /// where the app runs (see [`UrlPolicy`](crate::UrlPolicy)).
    NoUrlPolicy,
    /// A setting that would do nothing in this configuration (rather than being silently
    /// ignored).
    Ineffective {
        /// Which setting.
        setting: &'static str,
        /// Why it does nothing, and what would make it work.
        reason: &'static str,
    },
    /// This token is empty or has whitespace around it.
    InvalidAuthToken(TokenId),
    /// The public base URL is not `scheme://host[:port]`.
    InvalidPublicBase {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A trusted-proxy or source-network entry is not an IP address or CIDR block (an empty
    /// `value`: the list is empty).
    InvalidCidr {
        /// Which setting (`trusted_proxies` or `source_networks`).
        setting: &'static str,
        /// The entry given.
        value: String,
    },
    /// A scheme is not `http` or `https`.
    InvalidScheme(String),
    /// An allowed host, a proxy header or a path prefix is malformed.
    InvalidValue {
        /// Which setting.
        setting: &'static str,
        /// The value given.
        value: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoAuthToken => f.write_str(
                "no Plivo auth token configured: give .auth_token(..) (one account), or \
                 .tenants(..) (many accounts, tokens from your store)",
            ),
            ConfigError::NoUrlPolicy => f.write_str(
                "no URL policy configured: choose .url_policy(UrlPolicy::public_base(\"https://your.public.host\")) \
                 (the URL configured in Plivo; safest), or UrlPolicy::from_request(Scheme::Https).allow_hosts([..]) \
                 (the request's Host among listed hosts), or UrlPolicy::from_request(scheme) alone (any Host: \
                 development only); behind a proxy add .trusted_proxies([..])",
            ),
            ConfigError::Ineffective { setting, reason } => {
                write!(f, "{setting} would do nothing here: {reason}")
            }
            ConfigError::InvalidAuthToken(id) => TokenError::Invalid(*id).fmt(f),
            ConfigError::InvalidPublicBase { url, reason } => {
                write!(
                    f,
                    "public base URL {url:?} must be scheme://host[:port]: {reason}"
                )
            }
            ConfigError::InvalidCidr { setting, value } if value.is_empty() => {
                write!(f, "{setting}: the list is empty, so it would match nothing")
            }
            ConfigError::InvalidCidr { setting, value } => {
                write!(f, "{setting}: {value:?} is not an IP address or CIDR block")
            }
            ConfigError::InvalidScheme(value) => {
                write!(f, "scheme {value:?} must be \"http\" or \"https\"")
            }
            ConfigError::InvalidValue { setting, value } => {
                write!(f, "invalid {setting}: {value:?}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<TokenError> for ConfigError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::None => ConfigError::NoAuthToken,
            TokenError::Invalid(id) => ConfigError::InvalidAuthToken(id),
        }
    }
}
