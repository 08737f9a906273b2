//! [`TokenId`]: which configured token verified a request.

use std::fmt;

/// Which configured token verified a request (shown as `account:N` or `main:N`), and so which
/// header carried the signature: an account token matches `X-Plivo-Signature-V3` / `-V2`, a
/// main account's matches the `-Ma-` headers.
///
/// ```
/// use tower_plivo::TokenId;
/// assert_eq!(TokenId::Account(1).to_string(), "account:1");
/// assert_eq!(TokenId::MainAccount(0).to_string(), "main:0");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenId {
    /// The account or sub-account token at this index, in the order they were configured.
    Account(usize),
    /// The main account's token at this index, in the order they were configured (matched
    /// through an `-Ma-` header).
    MainAccount(usize),
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenId::Account(index) => write!(f, "account:{index}"),
            TokenId::MainAccount(index) => write!(f, "main:{index}"),
        }
    }
}
