//! Configuration mistakes, reported when the layer is built rather than on the first request.

use std::fmt;

use crate::signature::TokenId;

/// Why a [`PlivoSignatureLayer`](crate::PlivoSignatureLayer) (or one of its parts) could not be
/// built. Never contains a token.
///
/// Each message names the setting and what to do. `Debug` prints the same sentence as
/// `Display`, so `main() -> Result<(), Box<dyn Error>>` shows it (`Error: UrlPolicy::public_base
/// ...`) rather than the variant's fields; match on the variants to tell them apart.
///
/// ```
/// use tower_plivo::{ConfigError, UrlPolicy};
///
/// let err = UrlPolicy::public_base("hooks.example.com").unwrap_err();
/// assert!(matches!(err, ConfigError::InvalidPublicBase { .. }));
/// assert!(err.to_string().contains("scheme"));
/// assert_eq!(format!("{err:?}"), err.to_string());
/// ```
#[derive(Clone, PartialEq, Eq)]
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
            ConfigError::InvalidAuthToken(id) => {
                let (setting, index) = match id {
                    TokenId::Account(index) => (".auth_token / .auth_tokens", index),
                    TokenId::MainAccount(index) => {
                        (".main_account_token / .main_account_tokens", index)
                    }
                };
                write!(
                    f,
                    "{setting}: token {} of that list ({id}) is empty or has whitespace around \
                     it: check how it was copied (a trailing newline from a file or an \
                     environment variable is the usual cause)",
                    index + 1
                )
            }
            ConfigError::InvalidPublicBase { url, reason } => {
                write!(
                    f,
                    "UrlPolicy::public_base: {url:?} must be scheme://host[:port], the origin of \
                     the URL configured in Plivo (such as \"https://hooks.example.com\"): {reason}"
                )
            }
            ConfigError::InvalidCidr { setting, value } if value.is_empty() => {
                write!(
                    f,
                    "{setting}: the list is empty, so it would match nothing: give at least one \
                     address or CIDR block, or leave {setting} out"
                )
            }
            ConfigError::InvalidCidr { setting, value } => {
                write!(
                    f,
                    "{setting}: {value:?} is not an IP address or CIDR block (such as \
                     \"10.0.0.0/8\", \"127.0.0.1\" or \"fd00::/8\")"
                )
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

/// The same sentence as `Display`: what `main` prints when it returns the error.
impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `main() -> Result<(), Box<dyn Error>>` prints is `Debug`: the sentence, naming
    /// the setting and what to do, never the variant's fields.
    #[test]
    fn debug_is_the_sentence_that_names_the_setting() {
        let cases = [
            (ConfigError::NoAuthToken, ".auth_token"),
            (ConfigError::NoUrlPolicy, ".url_policy"),
            (
                ConfigError::InvalidAuthToken(TokenId::Account(0)),
                ".auth_token",
            ),
            (
                ConfigError::InvalidAuthToken(TokenId::MainAccount(1)),
                ".main_account_token",
            ),
            (
                ConfigError::InvalidCidr {
                    setting: "trusted_proxies",
                    value: String::new(),
                },
                "leave trusted_proxies out",
            ),
            (
                ConfigError::InvalidCidr {
                    setting: "source_networks",
                    value: "10.0.0.0/33".into(),
                },
                "source_networks",
            ),
            (
                ConfigError::InvalidPublicBase {
                    url: "hooks.example.com".into(),
                    reason: "no scheme",
                },
                "UrlPolicy::public_base",
            ),
        ];
        for (error, names) in cases {
            let debug = format!("{error:?}");
            assert_eq!(debug, error.to_string());
            assert!(debug.contains(names), "{debug}");
            assert!(!debug.contains(" { "), "no fields: {debug}");
        }
        let boxed: Box<dyn std::error::Error> =
            Box::new(ConfigError::InvalidAuthToken(TokenId::Account(0)));
        assert!(format!("Error: {boxed:?}").contains("token 1 of that list"));
    }
}
