//! What the doctor can find: each misconfiguration is one variant, with its own sentence (what
//! differs, and why) and its own fix, in the library's terms.

use std::fmt::Write as _;

use crate::signature::{
    SignatureVersion, StreamUrlForm, TokenId, V2_SIGNATURE, V3_SIGNATURE, shown_name,
};
use crate::url_policy::{Ignored, Origin, Peer, ProxyHeader, split_authority};

/// One misconfiguration, established by a signature that matches once it is undone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Finding {
    /// The origin the policy gave (a fixed `public_base`, or the request's own `Host` with no
    /// forwarding header to explain the difference) is not the one Plivo called.
    Origin { configured: Origin, matched: Origin },
    /// `from_request(scheme)` names the other scheme, and no forwarding header says Plivo's.
    PolicyScheme { matched: Origin },
    /// Forwarding headers that name Plivo's URL arrived and were not believed, all for the same
    /// reason. `name`: the complete `proxy_headers` list the fix needs, when some are not named.
    NotBelieved {
        why: Ignored,
        headers: Vec<ProxyHeader>,
        peer: Peer,
        name: Option<Vec<ProxyHeader>>,
        matched: Origin,
    },
    /// A believed header of a trusted proxy names another origin than Plivo called.
    ProxyDisagrees {
        header: ProxyHeader,
        peer: Peer,
        matched: Origin,
    },
    /// The origin could not be established; Plivo called this one.
    OriginUnknown { why: String, matched: Origin },
    /// Plivo called a host the allow-list does not list.
    HostNotAllowed { authority: String },
    /// The route and the URL in Plivo disagree on the trailing slash.
    TrailingSlash,
    /// A layer between the outermost `CaptureReceivedLayer` and the signature layer rewrote the
    /// request target (`received`) into the one verified (`verified`), and Plivo signed the
    /// target as received.
    RewrittenInFront { received: String, verified: String },
    /// Plivo signed a shorter path than the app receives: something in front of it adds a
    /// prefix.
    ProxyPrefix { signed: String, received: String },
    /// The path received already starts with the path prefix verified before it (`prefix`),
    /// and Plivo signed it once (`matched`, without the prefix): the proxy in front does not
    /// strip the prefix.
    PrefixNotStripped {
        prefix: String,
        received: String,
        matched: Origin,
    },
    /// The plain header signed with a main-account token, or the `-Ma-` header with an account
    /// token.
    TokenFamily {
        matched: TokenId,
        headers: SignatureVersion,
    },
    /// The signature under these headers is computed as the other version.
    SignatureVersion { headers: SignatureVersion },
    /// A genuine V2 signature on a route that accepts only V3.
    V2NotAccepted,
    /// A stream upgrade signed over another URL form than the one Plivo signs.
    StreamUrlForm { form: StreamUrlForm },
}

impl Finding {
    /// The finding's short name, as logged (`finding="scheme"`).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            // Named by its most significant difference.
            Finding::Origin {
                configured,
                matched,
            } => differing_parts(configured, matched)
                .first()
                .copied()
                .unwrap_or("host"),
            Finding::PolicyScheme { .. } => "scheme",
            Finding::NotBelieved { why, .. } => match why {
                Ignored::PeerUnknown => "no_peer_address",
                Ignored::NotNamed => "header_not_named",
                _ => "untrusted_proxy",
            },
            Finding::ProxyDisagrees { .. } => "proxy_disagrees",
            Finding::OriginUnknown { .. } => "unknown_origin",
            Finding::HostNotAllowed { .. } => "host_not_allowed",
            Finding::TrailingSlash => "trailing_slash",
            Finding::RewrittenInFront { .. } => "rewritten_in_front",
            Finding::ProxyPrefix { .. } => "proxy_prefix",
            Finding::PrefixNotStripped { .. } => "prefix_not_stripped",
            Finding::TokenFamily { .. } => "token_family",
            Finding::SignatureVersion { .. } => "signature_version",
            Finding::V2NotAccepted => "v2_not_enabled",
            Finding::StreamUrlForm { .. } => "stream_url_form",
        }
    }

    /// What differs, and why.
    pub(crate) fn sentence(&self) -> String {
        match self {
            Finding::Origin {
                configured,
                matched,
            } => format!(
                "the layer verified the origin {configured}, and Plivo called {matched} \
                 (another {})",
                differing_parts(configured, matched)
                    .join(" and ")
                    .replace('_', " ")
            ),
            Finding::PolicyScheme { matched } => format!(
                "Plivo called {matched}; the URL policy assumes {} and no forwarding header \
                 says {}",
                matched.scheme.other().as_str(),
                matched.scheme.as_str()
            ),
            Finding::NotBelieved {
                why, headers, peer, ..
            } => {
                let (list, was, them) = match headers.as_slice() {
                    [_] => (header_list(headers), "was", "it"),
                    _ => (header_list(headers), "were", "them"),
                };
                match (why, peer.addr()) {
                    (Ignored::PeerUnknown, _) | (_, None) => format!(
                        "{list} named Plivo's URL and {was} not believed: no peer address \
                         reached the layer, so no peer can be a trusted proxy"
                    ),
                    (Ignored::NotNamed, Some(addr)) => format!(
                        "the trusted proxy {} sent {list}, and proxy_headers does not name {them}",
                        addr.ip()
                    ),
                    (Ignored::NoProxies, Some(addr)) => format!(
                        "{list} named Plivo's URL and came from {}, and no trusted_proxies are \
                         configured",
                        addr.ip()
                    ),
                    (_, Some(addr)) => format!(
                        "{list} named Plivo's URL and came from {}, which is not in \
                         trusted_proxies",
                        addr.ip()
                    ),
                }
            }
            Finding::ProxyDisagrees {
                header,
                peer,
                matched,
            } => format!(
                "the trusted proxy {}'s {} names another origin than the one Plivo called, \
                 {matched}",
                peer.addr()
                    .map_or_else(|| "?".to_owned(), |a| a.ip().to_string()),
                header.name()
            ),
            Finding::OriginUnknown { why, matched } => {
                format!("the origin could not be established ({why}); Plivo called {matched}")
            }
            Finding::HostNotAllowed { authority } => {
                format!("Plivo signed for the host {authority:?}, which allow_hosts does not list")
            }
            Finding::TrailingSlash => {
                "the route and the URL configured in Plivo disagree on the trailing slash"
                    .to_owned()
            }
            Finding::RewrittenInFront { received, verified } => format!(
                "a layer in front of PlivoSignatureLayer rewrote the request target from \
                 {received} to {verified} (Plivo signed {received})"
            ),
            Finding::ProxyPrefix { signed, received } => format!(
                "Plivo signed the path {signed}, and the app receives {received}: something in \
                 front of the app adds the prefix"
            ),
            Finding::PrefixNotStripped {
                prefix, received, ..
            } => format!(
                "the app received {received}, which already starts with the path prefix \
                 {prefix} that the layer puts before it, and Plivo signed the path once: the \
                 proxy in front does not strip {prefix}"
            ),
            Finding::TokenFamily {
                matched: TokenId::MainAccount(_),
                headers,
            } => format!(
                "the {} header is signed with the main account's token: the resource belongs \
                 to the main account",
                shown_name(match headers {
                    SignatureVersion::V3 => V3_SIGNATURE,
                    SignatureVersion::V2 => V2_SIGNATURE,
                })
            ),
            Finding::TokenFamily {
                matched: TokenId::Account(index),
                ..
            } => format!(
                "the -Ma- header is signed with account token {index}, not with a main-account \
                 token"
            ),
            Finding::SignatureVersion { headers } => format!(
                "the signature under the {} headers is computed as {}",
                headers.as_str().to_uppercase(),
                headers.other().as_str().to_uppercase()
            ),
            Finding::V2NotAccepted => "a genuine V2 signature (Plivo's messaging and Verify sign \
                 with V2) on a route that accepts only V3"
                .to_owned(),
            Finding::StreamUrlForm { form } => format!(
                "the stream upgrade is signed over the {form} URL form, which Plivo's stream SDKs \
                 compute, not over the http:// form Plivo signs"
            ),
        }
    }

    /// The change that makes Plivo's signature match (with the others of the same request,
    /// when several differ). `alone`: this is the only finding, so an alternative that fixes
    /// the origin at once (`public_base`) may be offered; with others (an allow-list entry,
    /// say), it might contradict them.
    pub(crate) fn fix(&self, matched_url: &str, alone: bool) -> String {
        match self {
            Finding::Origin { matched, .. } | Finding::ProxyDisagrees { matched, .. } => {
                public_base(matched)
            }
            Finding::PolicyScheme { matched } if alone => format!(
                "UrlPolicy::from_request(Scheme::{:?}) (keeping any allow_hosts), or {}",
                matched.scheme,
                public_base(matched)
            ),
            Finding::PolicyScheme { matched } => format!(
                "UrlPolicy::from_request(Scheme::{:?}) (keeping any allow_hosts)",
                matched.scheme
            ),
            Finding::NotBelieved {
                why,
                headers,
                peer,
                name,
                matched,
            } => {
                let mut fix = match (why, peer.addr()) {
                    (Ignored::PeerUnknown, _) | (_, None) => "serve with the peer address (axum: \
                         into_make_service_with_connect_info::<SocketAddr>(); plain hyper: \
                         insert tower_plivo::PeerAddr; tonic: its TcpConnectInfo)"
                        .to_owned(),
                    (Ignored::NotNamed, Some(_)) => String::new(),
                    (Ignored::NoProxies, Some(addr)) => format!(
                        "if {} is your proxy, .trusted_proxies([\"{}\"])",
                        addr.ip(),
                        addr.ip()
                    ),
                    (_, Some(addr)) => format!(
                        "if {} is your proxy, add it to .trusted_proxies([..])",
                        addr.ip()
                    ),
                };
                let list = header_list(headers);
                if let Some(name) = name {
                    let named = name
                        .iter()
                        .map(|h| format!("ProxyHeader::{h:?}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    if fix.is_empty() {
                        write!(
                            fix,
                            "if the proxy writes {list} itself (rather than passing on the \
                             client's), .proxy_headers([{named}])"
                        )
                    } else {
                        write!(fix, " and .proxy_headers([{named}])")
                    }
                    .expect("writing to a String");
                }
                if alone {
                    write!(fix, "; or fix the origin with {}", public_base(matched))
                        .expect("writing to a String");
                }
                fix
            }
            Finding::OriginUnknown { matched, .. } => public_base(matched),
            Finding::HostNotAllowed { authority } => format!(
                "if Plivo calls this server at {authority}, add {authority:?} to allow_hosts"
            ),
            Finding::TrailingSlash => format!(
                "make the route and the URL configured in Plivo agree (Plivo's is \
                 {matched_url}); if a layer in front of PlivoSignatureLayer trims or adds the \
                 slash (NormalizePathLayer), put PlivoSignatureLayer outside it \
                 (CaptureReceivedLayer, outermost, lets the doctor tell)"
            ),
            Finding::RewrittenInFront { .. } => "put PlivoSignatureLayer outside (in front of) \
                 the layer that rewrites the path (such as tower-http's NormalizePathLayer), so \
                 it verifies the request as Plivo sent it"
                .to_owned(),
            Finding::ProxyPrefix { .. } => "make the proxy pass the path unchanged, or configure \
                 Plivo with the URL the app receives"
                .to_owned(),
            Finding::PrefixNotStripped {
                prefix, matched, ..
            } => format!(
                "if the proxy passes the path unchanged, {} (without {prefix}); or make the \
                 proxy strip {prefix} (nginx: proxy_pass http://app/; under location {prefix}/)",
                public_base(matched)
            ),
            Finding::TokenFamily {
                matched: TokenId::MainAccount(_),
                ..
            } => "give that token to .auth_token(..) too".to_owned(),
            Finding::TokenFamily {
                matched: TokenId::Account(_),
                ..
            } => "give .main_account_token(..) the main account's token, not a sub-account's"
                .to_owned(),
            Finding::SignatureVersion { .. } => "Plivo never signs this way: fix the sender (a \
                 proxy or tool that re-signs requests)"
                .to_owned(),
            Finding::V2NotAccepted => ".accept_v2(true) on this route only, if it serves \
                 messaging or Verify (V2 signs neither the body nor the query)"
                .to_owned(),
            Finding::StreamUrlForm { form } => format!(
                "check what signed it; if it is Plivo's own traffic, \
                 .also_accept_stream_url_form(StreamUrlForm::{form:?}) accepts it (an escape hatch: \
                 read its documentation)"
            ),
        }
    }
}

/// The parts of the origin that differ, most significant first (host, port, scheme).
fn differing_parts(configured: &Origin, matched: &Origin) -> Vec<&'static str> {
    let (host, port) = split_authority(&configured.authority);
    let (matched_host, matched_port) = split_authority(&matched.authority);
    let mut parts = Vec::new();
    if host != matched_host {
        parts.push("host");
    }
    if port != matched_port {
        parts.push("port");
    }
    if configured.scheme != matched.scheme {
        parts.push("scheme");
    }
    if configured.prefix != matched.prefix {
        parts.push("path_prefix");
    }
    parts
}

fn public_base(origin: &Origin) -> String {
    format!("UrlPolicy::public_base(\"{origin}\")")
}

fn header_list(headers: &[ProxyHeader]) -> String {
    let names: Vec<&str> = headers.iter().map(|h| h.name()).collect();
    names.join(" and ")
}
