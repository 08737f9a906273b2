//! The configured auth tokens: account/sub-account tokens and main-account tokens (several of
//! each, for rotation). Only keyed HMAC states are kept, never the token text, and `Debug`
//! shows counts only.

use std::fmt;

use super::mac::KeyedMac;
use super::token_id::TokenId;
use crate::config_error::ConfigError;

/// The auth tokens a verifier accepts.
///
/// ```
/// use tower_plivo::signature::AuthTokens;
///
/// let tokens = AuthTokens::new(["current-token", "previous-token"], Some("main-token"))?;
/// assert_eq!(format!("{tokens:?}"), "AuthTokens { account_tokens: 2, main_account_tokens: 1 }");
/// // Rotating the main account's token too:
/// let rotating = AuthTokens::new(["current-token"], ["main-new", "main-old"])?;
/// assert!(AuthTokens::new([" padded "], None::<&str>).is_err());
/// # Ok::<(), tower_plivo::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct AuthTokens {
    pub(crate) account: Vec<KeyedMac>,
    pub(crate) main_account: Vec<KeyedMac>,
}

impl AuthTokens {
    /// Account/sub-account tokens (checked against the plain headers, in order) and
    /// main-account tokens (checked against the `-Ma-` headers, in order): any iterable of
    /// each, an `Option` included (`Some("main-token")`, or `None::<&str>` for none).
    ///
    /// An empty token, or one with whitespace around it (a copy-paste slip that would make
    /// every signature fail), is a [`ConfigError::InvalidAuthToken`]; configuring no token at
    /// all is [`ConfigError::NoAuthToken`].
    pub fn new<I, T, M, U>(account_tokens: I, main_account_tokens: M) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
        M: IntoIterator<Item = U>,
        U: AsRef<str>,
    {
        let account = account_tokens
            .into_iter()
            .enumerate()
            .map(|(index, token)| checked(token.as_ref(), TokenId::Account(index)))
            .collect::<Result<Vec<_>, _>>()?;
        let main_account = main_account_tokens
            .into_iter()
            .enumerate()
            .map(|(index, token)| checked(token.as_ref(), TokenId::MainAccount(index)))
            .collect::<Result<Vec<_>, _>>()?;
        if account.is_empty() && main_account.is_empty() {
            return Err(ConfigError::NoAuthToken);
        }
        Ok(Self {
            account,
            main_account,
        })
    }
}

fn checked(token: &str, id: TokenId) -> Result<KeyedMac, ConfigError> {
    if token.is_empty() || token.trim() != token {
        return Err(ConfigError::InvalidAuthToken(id));
    }
    Ok(KeyedMac::new(token))
}

impl fmt::Debug for AuthTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthTokens")
            .field("account_tokens", &self.account.len())
            .field("main_account_tokens", &self.main_account.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_tokens() {
        assert_eq!(
            AuthTokens::new(["ok", ""], None::<&str>).unwrap_err(),
            ConfigError::InvalidAuthToken(TokenId::Account(1))
        );
        assert_eq!(
            AuthTokens::new(["ok"], Some("tok\n")).unwrap_err(),
            ConfigError::InvalidAuthToken(TokenId::MainAccount(0))
        );
        assert_eq!(
            AuthTokens::new(Vec::<String>::new(), None::<&str>).unwrap_err(),
            ConfigError::NoAuthToken
        );
    }

    #[test]
    fn main_token_alone_is_enough() {
        assert!(AuthTokens::new(Vec::<String>::new(), Some("main")).is_ok());
    }

    #[test]
    fn debug_never_shows_a_token() {
        let tokens = AuthTokens::new(["s3cr3t-account"], Some("s3cr3t-main")).unwrap();
        let shown = format!("{tokens:?} {tokens:#?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
