//! Authorities (`host[:port]`): what a valid one looks like, its host and port, and the
//! host allow-list's entries.

/// One entry of an allow-list: the host compared without case, the port exactly (`None`: the
/// authority must have no port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AllowedHost {
    host: String,
    port: Option<String>,
}

impl AllowedHost {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        if !is_authority(text) {
            return None;
        }
        let (host, port) = split_authority(text);
        Some(Self {
            host: host.to_ascii_lowercase(),
            port: port.map(str::to_owned),
        })
    }

    pub(crate) fn admits(&self, authority: &str) -> bool {
        let (host, port) = split_authority(authority);
        host.eq_ignore_ascii_case(&self.host) && port == self.port.as_deref()
    }
}

/// Whether `text` looks like `host[:port]`: non-empty, visible ASCII, no `/ ? # \` or spaces,
/// no userinfo (`@`: it never reaches a server in a request, from `Host` or from a proxy), a
/// numeric port if any.
pub(crate) fn is_authority(text: &str) -> bool {
    if text.is_empty()
        || !text.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'\\' | b'"' | b',' | b'@')
        })
    {
        return false;
    }
    let host = host_of(text);
    let after = &text[host.len()..];
    let port_ok = match after.strip_prefix(':') {
        Some(port) => {
            !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
        }
        None => after.is_empty(),
    };
    !host.is_empty() && port_ok
}

/// The host of `host[:port]` (an IPv6 literal keeps its brackets).
pub(crate) fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, _)) => host,
        None => authority,
    }
}

/// Whether two authorities name the same place in a URL whose scheme's default port is
/// `default_port`: the host without regard to case, a port equal to the default the same as no
/// port. A port that is not a number matches nothing.
pub(crate) fn same_authority(a: &str, b: &str, default_port: u16) -> bool {
    let (host_a, port_a) = split_authority(a);
    let (host_b, port_b) = split_authority(b);
    // Digits only: `u16::from_str` would also take `+80`.
    let port = |port: Option<&str>| {
        port.map_or(Some(default_port), |p| {
            p.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| p.parse::<u16>().ok())
                .flatten()
        })
    };
    host_a.eq_ignore_ascii_case(host_b) && port(port_a).is_some() && port(port_a) == port(port_b)
}

/// The host and the port (if any) of `host[:port]`.
pub(crate) fn split_authority(authority: &str) -> (&str, Option<&str>) {
    let host = host_of(authority);
    (host, authority[host.len()..].strip_prefix(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_authority_without_case_and_with_the_default_port() {
        for (a, b) in [
            ("hooks.example.com", "HOOKS.example.com"),
            ("hooks.example.com:443", "hooks.example.com"),
            ("hooks.example.com", "hooks.example.com:443"),
            ("[::1]:8443", "[::1]:8443"),
        ] {
            assert!(same_authority(a, b, 443), "{a} {b}");
        }
        for (a, b) in [
            ("hooks.example.com", "other.example.com"),
            ("hooks.example.com:80", "hooks.example.com"),
            ("hooks.example.com:8443", "hooks.example.com:443"),
            ("hooks.example.com:x", "hooks.example.com:x"),
        ] {
            assert!(!same_authority(a, b, 443), "{a} {b}");
        }
    }
}
