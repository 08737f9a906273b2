//! [`Scheme`]: `http` or `https`, the URL's scheme (not the signature version).

use crate::config_error::ConfigError;

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http`
    Http,
    /// `https`
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    ///
    /// ```
    /// assert_eq!(tower_plivo::Scheme::Https.as_str(), "https");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port a URL of this scheme has when it names none.
    pub(crate) fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// The other scheme.
    #[cfg(feature = "diagnosis")]
    pub(crate) fn other(self) -> Self {
        match self {
            Scheme::Http => Scheme::Https,
            Scheme::Https => Scheme::Http,
        }
    }

    /// The scheme a forwarding header (`X-Forwarded-Proto`, `Forwarded`'s `proto`) names:
    /// `http` or `https`, or the WebSocket schemes `ws` and `wss`, which mean them (RFC 6455
    /// §3: Traefik reports an upgrade's scheme so, and RFC 7239 allows it), in any case.
    /// Anything else cannot be read.
    pub(crate) fn forwarded(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("wss") {
            Some(Scheme::Https)
        } else if text.eq_ignore_ascii_case("ws") {
            Some(Scheme::Http)
        } else {
            Scheme::parse(text)
        }
    }

    /// `http` or `https`, in any case.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("https") {
            Some(Scheme::Https)
        } else if text.eq_ignore_ascii_case("http") {
            Some(Scheme::Http)
        } else {
            None
        }
    }
}

impl std::str::FromStr for Scheme {
    type Err = ConfigError;

    /// ```
    /// use tower_plivo::Scheme;
    /// assert_eq!("HTTPS".parse::<Scheme>()?, Scheme::Https);
    /// # Ok::<(), tower_plivo::ConfigError>(())
    /// ```
    fn from_str(text: &str) -> Result<Self, ConfigError> {
        Scheme::parse(text).ok_or_else(|| ConfigError::InvalidScheme(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forwarding_header_may_name_the_websocket_schemes() {
        for (text, scheme) in [
            ("https", Some(Scheme::Https)),
            ("HTTP", Some(Scheme::Http)),
            ("wss", Some(Scheme::Https)),
            ("WS", Some(Scheme::Http)),
            ("ftp", None),
            ("wss2", None),
            ("", None),
        ] {
            assert_eq!(Scheme::forwarded(text), scheme, "{text}");
        }
        // Configuration still takes only http and https.
        assert_eq!(Scheme::parse("wss"), None);
    }
}
