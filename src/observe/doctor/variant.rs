//! The doctor's variants: what a misconfiguration would have made Plivo sign instead, and the
//! fix for each (in the library's terms).

use std::net::IpAddr;

use http::header::HOST;

use crate::pipeline::upgrade::RequestKind;
use crate::request_info::RequestHead;
use crate::signature::{SignatureVersion, StreamUrlForm, TokenId};
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
    /// A stream upgrade signed over another URL form than the one Plivo signs.
    StreamUrlForm { form: StreamUrlForm },
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
    /// The scheme of the origin the variant stands for (what a URL policy would name).
    origin_scheme: Scheme,
    /// The scheme signed: the origin's, or for a stream the stream form's.
    pub(crate) signed_scheme: &'static str,
    pub(crate) authority: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
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
    StreamUrlForm(StreamUrlForm),
}

/// The candidates for a request verified against `origin`: at most 18. For a stream upgrade
/// (signed over `http://` whatever the public scheme), the other scheme is not a variant of its
/// own: the other stream URL forms are tried instead.
pub(crate) fn candidates(
    origin: &Origin,
    request: &RequestHead<'_>,
    kind: RequestKind,
) -> Vec<Candidate> {
    let uri = request.original_uri();
    let (path, query) = (uri.path(), uri.query());
    let stream = kind == RequestKind::StreamUpgrade;
    let (scheme, authority) = (origin.scheme, origin.authority.as_str());
    // The scheme a variant of `origin_scheme` is signed with.
    let signed = |origin_scheme: Scheme| {
        if stream {
            crate::signature::SIGNED_STREAM_SCHEME
        } else {
            origin_scheme.as_str()
        }
    };
    let candidate = |kind, origin_scheme: Scheme, authority: &str, path: &str| Candidate {
        kind,
        origin_scheme,
        signed_scheme: signed(origin_scheme),
        authority: authority.to_owned(),
        path: path.to_owned(),
        query: query.map(str::to_owned),
        reading: Reading::AsSent,
    };
    let schemes: &[Scheme] = if stream {
        &[scheme]
    } else {
        &[scheme, scheme.other()]
    };
    let mut candidates = Vec::new();
    if !stream {
        candidates.push(candidate(Kind::Scheme, scheme.other(), authority, path));
    }
    let (host, port) = split_authority(authority);
    for &scheme in schemes {
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
    for forwarded in forwarded_hosts(request.headers).into_iter().take(4) {
        for candidate_scheme in [Scheme::Https, Scheme::Http] {
            if (forwarded != authority || candidate_scheme != scheme)
                && (!stream || candidate_scheme == scheme)
            {
                candidates.push(candidate(
                    Kind::ForwardedHost,
                    candidate_scheme,
                    &forwarded,
                    path,
                ));
            }
        }
    }
    if let Some(host_header) = request.headers.get(HOST).and_then(|h| h.to_str().ok())
        && host_header != authority
    {
        for &scheme in schemes {
            candidates.push(candidate(Kind::HostHeader, scheme, host_header, path));
        }
    }
    if request.uri.path() != path {
        candidates.push(candidate(
            Kind::RouterPrefix,
            scheme,
            authority,
            request.uri.path(),
        ));
    }
    if let Some(shorter) = drop_first_segment(path) {
        candidates.push(candidate(Kind::ProxyPrefix, scheme, authority, shorter));
    }
    candidates.push(Candidate {
        reading: Reading::SwappedFamilies,
        ..candidate(Kind::TokenFamily, scheme, authority, path)
    });
    if stream {
        let tls = scheme == Scheme::Https;
        for form in StreamUrlForm::ALL {
            let pieces = form.pieces(tls, path, query);
            // The default form was verified; `https` over plain `http` is the default again.
            if form == StreamUrlForm::HttpScheme
                || pieces.scheme == crate::signature::SIGNED_STREAM_SCHEME
                    && form == StreamUrlForm::HttpsScheme
            {
                continue;
            }
            candidates.push(Candidate {
                signed_scheme: pieces.scheme,
                path: pieces.path.into_owned(),
                query: pieces.query.map(|q| q.into_owned()),
                ..candidate(Kind::StreamUrlForm(form), scheme, authority, path)
            });
        }
    } else {
        candidates.push(Candidate {
            reading: Reading::OtherVersion,
            ..candidate(Kind::SignatureVersion, scheme, authority, path)
        });
    }
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
        let origin = format!("{}://{}", self.origin_scheme.as_str(), self.authority);
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
            Kind::StreamUrlForm(form) => Variant::StreamUrlForm { form },
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
            Variant::StreamUrlForm { .. } => "stream_url_form",
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
                matched: TokenId::MainAccount(_),
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
            Variant::StreamUrlForm { form } => format!(
                "this stream upgrade was signed over the {form} form ({matched_url}), which Plivo's \
                 stream SDKs compute, not over the http:// form Plivo signs: check what signed it; \
                 if it is Plivo's own traffic, .also_accept_stream_url_form(StreamUrlForm::{}) \
                 accepts it (an escape hatch: read its documentation)",
                form_variant_name(*form)
            ),
        }
    }
}

/// The form's name in Rust, for a fix message.
fn form_variant_name(form: StreamUrlForm) -> &'static str {
    match form {
        StreamUrlForm::HttpScheme => "HttpScheme",
        StreamUrlForm::WebSocketScheme => "WebSocketScheme",
        StreamUrlForm::HttpsScheme => "HttpsScheme",
        StreamUrlForm::WebSocketSuffix => "WebSocketSuffix",
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
                matched: TokenId::MainAccount(0),
                headers: SignatureVersion::V3,
            },
            Variant::TokenFamily {
                matched: TokenId::Account(0),
                headers: SignatureVersion::V3,
            },
            Variant::SignatureVersion {
                headers: SignatureVersion::V3,
            },
            Variant::StreamUrlForm {
                form: StreamUrlForm::WebSocketScheme,
            },
        ];
        for variant in variants {
            let fix = variant.fix("https://h/a");
            assert!(!fix.is_empty(), "{variant:?}");
            assert!(!fix.contains("PLIVO_"), "library terms only: {fix}");
        }
    }
}
