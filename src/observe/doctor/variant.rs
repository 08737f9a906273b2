//! The doctor's variants: what a misconfiguration would have made Plivo sign instead, and the
//! fix for each (in the library's terms).

use std::net::IpAddr;

use http::header::HOST;
use http::request::Parts;

use crate::request_info::original_uri;
use crate::signature::{SignatureVersion, TokenId};
use crate::url_policy::{Origin, Scheme, forwarded_hosts, split_authority};

/// A misconfiguration the doctor recognised: the variant of the URL or token reading that the
/// signature matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    /// Plivo called the other scheme (TLS ends in front of the app).
    Scheme { origin: String },
    /// Plivo's URL names the default port, or the app sees one Plivo did not use.
    Port { origin: String },
    /// The URL configured in Plivo and the route disagree on the trailing slash.
    TrailingSlash,
    /// A proxy's forwarding header, not believed, names the host Plivo called.
    ForwardedHost {
        origin: String,
        peer: Option<IpAddr>,
    },
    /// The `Host` header names what Plivo called, the policy said otherwise.
    HostHeader { origin: String },
    /// Signed for the path the inner router sees: a rewrite in front of the layer.
    RouterPrefix,
    /// Signed without the first path segment: a proxy adds a prefix.
    ProxyPrefix,
    /// The plain header signed with the main account's token, or the `-Ma-` header with an
    /// account token.
    TokenFamily {
        matched: TokenId,
        headers: SignatureVersion,
    },
    /// Signed as the other version under these headers.
    SignatureVersion { headers: SignatureVersion },
}

/// How a candidate reads the claim besides its URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reading {
    /// As sent.
    AsSent,
    /// With the plain and `-Ma-` headers swapped.
    SwappedFamilies,
    /// As the other signature version.
    OtherVersion,
}

/// A variant to try: the URL pieces, and how the claim is read.
pub(crate) struct Candidate {
    pub(crate) kind: Kind,
    pub(crate) scheme: Scheme,
    pub(crate) authority: String,
    pub(crate) path: String,
    pub(crate) reading: Reading,
}

/// Which variant a candidate stands for, before it is known to match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Scheme,
    Port,
    TrailingSlash,
    ForwardedHost,
    HostHeader,
    RouterPrefix,
    ProxyPrefix,
    TokenFamily,
    SignatureVersion,
}

/// The candidates for a request verified against `origin`: at most 18.
pub(crate) fn candidates(origin: &Origin, parts: &Parts) -> Vec<Candidate> {
    let path = original_uri(parts).path();
    let (scheme, authority) = (origin.scheme, origin.authority.as_str());
    let other_scheme = scheme.other();
    let candidate = |kind, scheme, authority: &str, path: &str| Candidate {
        kind,
        scheme,
        authority: authority.to_owned(),
        path: path.to_owned(),
        reading: Reading::AsSent,
    };
    let mut candidates = vec![candidate(Kind::Scheme, other_scheme, authority, path)];
    let (host, port) = split_authority(authority);
    for scheme in [scheme, other_scheme] {
        let authority = match port {
            Some(_) => host.to_owned(),
            None => format!("{host}:{}", scheme.default_port()),
        };
        candidates.push(candidate(Kind::Port, scheme, &authority, path));
    }
    let toggled = match path.strip_suffix('/') {
        Some(stripped) => stripped.to_owned(),
        None => format!("{path}/"),
    };
    candidates.push(candidate(Kind::TrailingSlash, scheme, authority, &toggled));
    // Whichever host the policy did not use, from any peer (at most 4 values).
    for forwarded in forwarded_hosts(&parts.headers).into_iter().take(4) {
        for candidate_scheme in [Scheme::Https, Scheme::Http] {
            if forwarded != authority || candidate_scheme != scheme {
                candidates.push(candidate(
                    Kind::ForwardedHost,
                    candidate_scheme,
                    &forwarded,
                    path,
                ));
            }
        }
    }
    if let Some(host_header) = parts.headers.get(HOST).and_then(|h| h.to_str().ok())
        && host_header != authority
    {
        for scheme in [scheme, other_scheme] {
            candidates.push(candidate(Kind::HostHeader, scheme, host_header, path));
        }
    }
    if parts.uri.path() != path {
        candidates.push(candidate(
            Kind::RouterPrefix,
            scheme,
            authority,
            parts.uri.path(),
        ));
    }
    if let Some(shorter) = drop_first_segment(path) {
        candidates.push(candidate(Kind::ProxyPrefix, scheme, authority, shorter));
    }
    candidates.push(Candidate {
        reading: Reading::SwappedFamilies,
        ..candidate(Kind::TokenFamily, scheme, authority, path)
    });
    candidates.push(Candidate {
        reading: Reading::OtherVersion,
        ..candidate(Kind::SignatureVersion, scheme, authority, path)
    });
    candidates
}

impl Candidate {
    /// The variant this candidate stands for, now that it matched with `token` (the request's
    /// headers being of `headers`' version).
    pub(crate) fn variant(
        &self,
        token: TokenId,
        headers: SignatureVersion,
        peer: Option<IpAddr>,
    ) -> Variant {
        let origin = format!("{}://{}", self.scheme.as_str(), self.authority);
        match self.kind {
            Kind::Scheme => Variant::Scheme { origin },
            Kind::Port => Variant::Port { origin },
            Kind::TrailingSlash => Variant::TrailingSlash,
            Kind::ForwardedHost => Variant::ForwardedHost { origin, peer },
            Kind::HostHeader => Variant::HostHeader { origin },
            Kind::RouterPrefix => Variant::RouterPrefix,
            Kind::ProxyPrefix => Variant::ProxyPrefix,
            Kind::TokenFamily => Variant::TokenFamily {
                matched: token,
                headers,
            },
            Kind::SignatureVersion => Variant::SignatureVersion { headers },
        }
    }
}

impl Variant {
    /// The variant's short name, as logged (`variant="scheme"`).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Variant::Scheme { .. } => "scheme",
            Variant::Port { .. } => "port",
            Variant::TrailingSlash => "trailing_slash",
            Variant::ForwardedHost { .. } => "forwarded_host",
            Variant::HostHeader { .. } => "host_header",
            Variant::RouterPrefix => "router_prefix",
            Variant::ProxyPrefix => "proxy_prefix",
            Variant::TokenFamily { .. } => "token_family",
            Variant::SignatureVersion { .. } => "signature_version",
        }
    }

    /// What to change so that Plivo's signature matches, in the library's terms.
    pub(crate) fn fix(&self, matched_url: &str) -> String {
        match self {
            Variant::Scheme { origin }
            | Variant::Port { origin }
            | Variant::HostHeader { origin } => {
                format!("Plivo called {origin}: configure UrlPolicy::public_base(\"{origin}\")")
            }
            Variant::ForwardedHost { origin, peer } => {
                let peer = peer.map_or_else(|| "unknown".to_owned(), |p| p.to_string());
                format!(
                    "Plivo called {origin} through a proxy whose forwarding headers were not \
                     believed (TCP peer {peer}): configure UrlPolicy::public_base(\"{origin}\"); or, \
                     if that proxy sets X-Forwarded-Host, add its address to .trusted_proxies([...]), \
                     name the header with .proxy_headers([...]) and serve with ConnectInfo so the \
                     peer is known"
                )
            }
            Variant::TrailingSlash => format!(
                "Plivo's URL is {matched_url}: make the URL configured in Plivo and the route agree \
                 on the trailing slash"
            ),
            Variant::RouterPrefix => format!(
                "Plivo signed the path as the inner router sees it ({matched_url}): a rewrite in \
                 front of the layer changed the path; apply the layer outside the rewrite, or \
                 configure Plivo with the URL the layer sees"
            ),
            Variant::ProxyPrefix => format!(
                "Plivo called {matched_url}: a proxy adds a path prefix before the app; make it \
                 pass the path unchanged or configure Plivo with the URL the app receives"
            ),
            Variant::TokenFamily {
                matched: TokenId::MainAccount,
                headers,
            } => format!(
                "the {} header is signed with the main account's token: this resource belongs to \
                 the main account; configure that token with .auth_token(..) too",
                plain_header(*headers)
            ),
            Variant::TokenFamily {
                matched: TokenId::Account(index),
                ..
            } => format!(
                "the -Ma- header is signed with account token {index}, not with a main-account \
                 token: check which token .main_account_token(..) was given"
            ),
            Variant::SignatureVersion { headers } => format!(
                "the signature was computed as {} under {} headers: the sender signs with the wrong \
                 version",
                headers.other().as_str().to_uppercase(),
                headers.as_str().to_uppercase()
            ),
        }
    }
}

fn plain_header(version: SignatureVersion) -> &'static str {
    match version {
        SignatureVersion::V3 => "X-Plivo-Signature-V3",
        SignatureVersion::V2 => "X-Plivo-Signature-V2",
    }
}

fn drop_first_segment(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('/')?;
    let next = rest.find('/')?;
    Some(&rest[next..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_fix_that_names_a_setting_or_the_change() {
        let variants = [
            Variant::Scheme {
                origin: "https://h".into(),
            },
            Variant::Port {
                origin: "https://h:443".into(),
            },
            Variant::TrailingSlash,
            Variant::ForwardedHost {
                origin: "https://h".into(),
                peer: None,
            },
            Variant::HostHeader {
                origin: "https://h".into(),
            },
            Variant::RouterPrefix,
            Variant::ProxyPrefix,
            Variant::TokenFamily {
                matched: TokenId::MainAccount,
                headers: SignatureVersion::V3,
            },
            Variant::TokenFamily {
                matched: TokenId::Account(0),
                headers: SignatureVersion::V3,
            },
            Variant::SignatureVersion {
                headers: SignatureVersion::V3,
            },
        ];
        for variant in variants {
            let fix = variant.fix("https://h/a");
            assert!(!fix.is_empty(), "{variant:?}");
            assert!(!fix.contains("PLIVO_"), "library terms only: {fix}");
        }
    }
}
