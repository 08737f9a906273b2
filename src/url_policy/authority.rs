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

/// The host and the port (if any) of `host[:port]`.
pub(crate) fn split_authority(authority: &str) -> (&str, Option<&str>) {
    let host = host_of(authority);
    (host, authority[host.len()..].strip_prefix(':'))
}
