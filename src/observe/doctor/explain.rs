//! From a candidate that matched to the findings it means: each difference between what was
//! verified and what Plivo signed, explained by the facts of the request (which header carried
//! Plivo's URL, and why it was not believed), never by how the candidate was made. Two candidates
//! that sign the same URL therefore get the same explanation.

use http::{HeaderMap, Uri};

use super::candidates::{Candidate, PathChange, Reading};
use super::finding::Finding;
use crate::rejection::Rejection;
use crate::signature::{SignatureVersion, StreamUrlForm, TokenId};
use crate::url_policy::{
    Ignored, Origin, OriginReport, ProxyHeader, Scheme, TrustedProxies, UrlPolicy, claimed_by,
    origin_of, split_authority,
};

/// What the explanation of one refused request needs.
pub(crate) struct Context<'a> {
    pub(crate) rejection: Rejection,
    pub(crate) report: &'a OriginReport,
    pub(crate) policy: &'a UrlPolicy,
    pub(crate) headers: &'a HeaderMap,
    /// The version of the signature headers sent.
    pub(crate) version: SignatureVersion,
    /// The stream URL form accepted besides Plivo's, when opted into.
    pub(crate) accepted_form: Option<StreamUrlForm>,
    /// The request target as received (to check a fix by resolving the origin again).
    pub(crate) target: &'a Uri,
    /// The user's trusted proxies, when configured.
    pub(crate) proxies: Option<&'a TrustedProxies>,
}

/// The findings a matching candidate means, one per difference (several differences with one
/// cause are one finding).
pub(crate) fn findings(
    context: &Context<'_>,
    candidate: &Candidate<'_>,
    token: TokenId,
) -> Vec<Finding> {
    if let Some(finding) = undoubled(context, candidate) {
        return vec![finding];
    }
    let mut findings = origin_findings(context, &candidate.origin);
    // Under an allow-list, Plivo's host must be on it too, or the other fixes would not do;
    // unless the origin's fix is `public_base`, which has no allow-list.
    let fixed_by_public_base = findings.iter().any(|f| {
        matches!(
            f,
            Finding::Origin { .. } | Finding::ProxyDisagrees { .. } | Finding::OriginUnknown { .. }
        )
    });
    if !fixed_by_public_base && !context.policy.admits(&candidate.origin.authority) {
        findings.push(Finding::HostNotAllowed {
            authority: candidate.origin.authority.to_string(),
        });
    }
    match candidate.path_change {
        PathChange::AsReceived => {}
        PathChange::TrailingSlash => findings.push(Finding::TrailingSlash),
        PathChange::RewrittenInFront => findings.push(Finding::RewrittenInFront {
            received: candidate.path_and_query(),
            verified: crate::capture::path_and_query(context.target).to_owned(),
        }),
        // The layer verifies the path as received (axum's `OriginalUri` under `nest`): a
        // signature over a shorter path means something in front of the app added the rest.
        PathChange::RouterPath | PathChange::ProxyPrefix => findings.push(Finding::ProxyPrefix {
            signed: candidate.path.to_string(),
            received: context.target.path().to_owned(),
        }),
    }
    match candidate.reading {
        Reading::AsSent => {
            if context.rejection == Rejection::SignatureVersionNotAccepted
                && context.version == SignatureVersion::V2
            {
                findings.push(Finding::V2NotAccepted);
            }
        }
        Reading::SwappedFamilies => findings.push(Finding::TokenFamily {
            matched: token,
            headers: context.version,
        }),
        Reading::OtherVersion => findings.push(Finding::SignatureVersion {
            headers: context.version,
        }),
    }
    if let Some(form) = candidate
        .form
        .filter(|&f| f != StreamUrlForm::HttpScheme && Some(f) != context.accepted_form)
    {
        findings.push(Finding::StreamUrlForm { form });
    }
    findings
}

/// Why Plivo's origin `matched` is not the one the policy established.
fn origin_findings(context: &Context<'_>, matched: &Origin) -> Vec<Finding> {
    let report = context.report;
    let Some(verified) = &report.considered else {
        return vec![Finding::OriginUnknown {
            why: report.problem.clone().unwrap_or_default(),
            matched: matched.clone(),
        }];
    };
    if verified == matched {
        return Vec::new();
    }
    let (verified_host, verified_port) = split_authority(&verified.authority);
    let (matched_host, matched_port) = split_authority(&matched.authority);
    let only_the_prefix_differs =
        verified.scheme == matched.scheme && verified.authority == matched.authority;
    if only_the_prefix_differs
        && let Some(finding) = prefix_not_stripped(context, verified, matched)
    {
        return vec![finding];
    }
    if !context.policy.reads_the_request() {
        return vec![Finding::Origin {
            configured: verified.clone(),
            matched: matched.clone(),
        }];
    }
    let mut findings = Vec::new();
    // The forwarding headers that carried a piece of Plivo's URL and were not believed.
    let mut not_believed: Vec<(ProxyHeader, Ignored)> = Vec::new();
    // A difference no header explains: only fixing the origin does.
    let mut unexplained = false;
    if verified.scheme != matched.scheme {
        match carrier(context, |claimed| {
            claimed
                .schemes
                .iter()
                .any(|s| Scheme::forwarded(s) == Some(matched.scheme))
        }) {
            Carrier::Ignored(header, why) => not_believed.push((header, why)),
            Carrier::None => match believed_url_header(context, |c| !c.schemes.is_empty()) {
                Some(header) => findings.push(Finding::ProxyDisagrees {
                    header,
                    peer: report.peer,
                    matched: matched.clone(),
                }),
                None => findings.push(Finding::PolicyScheme {
                    matched: matched.clone(),
                }),
            },
        }
    }
    if verified_host != matched_host {
        let host_header_says = report
            .host
            .as_deref()
            .is_some_and(|h| split_authority(h).0.eq_ignore_ascii_case(matched_host));
        match carrier(context, |claimed| {
            claimed
                .hosts
                .iter()
                .any(|h| split_authority(h).0.eq_ignore_ascii_case(matched_host))
        }) {
            Carrier::Ignored(header, why) => not_believed.push((header, why)),
            Carrier::None => match believed_url_header(context, |c| !c.hosts.is_empty()) {
                Some(header) if host_header_says => findings.push(Finding::ProxyDisagrees {
                    header,
                    peer: report.peer,
                    matched: matched.clone(),
                }),
                _ => unexplained = true,
            },
        }
    }
    if verified_host == matched_host && verified_port != matched_port {
        let default = matched.scheme.default_port().to_string();
        let wanted = matched_port.unwrap_or(&default);
        match carrier(context, |claimed| claimed.ports.iter().any(|p| p == wanted)) {
            Carrier::Ignored(header, why) => not_believed.push((header, why)),
            Carrier::None => unexplained = true,
        }
    } else if let Some(port) = matched_port.filter(|_| verified_host != matched_host) {
        // The host may have come without its port, which X-Forwarded-Port then carried: it
        // must be believed too, or the fix would not work alone.
        if let Carrier::Ignored(header, why) =
            carrier(context, |claimed| claimed.ports.iter().any(|p| p == port))
        {
            not_believed.push((header, why));
        }
    }
    if verified.prefix != matched.prefix {
        match carrier(context, |claimed| {
            claimed.prefixes.contains(&matched.prefix)
        }) {
            Carrier::Ignored(header, why) => not_believed.push((header, why)),
            Carrier::None => unexplained = true,
        }
    }
    if unexplained {
        findings.push(Finding::Origin {
            configured: verified.clone(),
            matched: matched.clone(),
        });
    }
    group_not_believed(context, not_believed, matched, &mut findings);
    // When one part of the origin can only be fixed with `public_base`, that fix alone sets
    // the whole origin: it is the one finding (no other origin fix is "needed" beside it).
    if let Some(fixed) = findings
        .iter()
        .find(|f| matches!(f, Finding::Origin { .. } | Finding::ProxyDisagrees { .. }))
    {
        return vec![match fixed {
            Finding::ProxyDisagrees { .. } if findings.len() == 1 => fixed.clone(),
            _ => Finding::Origin {
                configured: verified.clone(),
                matched: matched.clone(),
            },
        }];
    }
    findings
}

/// A candidate under the prefix verified whose path is the received path without that prefix
/// signs the same URL as the origin without a prefix over the path as received: the prefix was
/// not stripped, whichever way the candidate was made.
fn undoubled(context: &Context<'_>, candidate: &Candidate<'_>) -> Option<Finding> {
    let verified = context.report.considered.as_ref()?;
    let prefix = verified.prefix.as_str();
    let dropped = matches!(
        candidate.path_change,
        PathChange::ProxyPrefix | PathChange::RouterPath
    );
    let received = context.target.path();
    let same_origin = candidate.origin == *verified;
    let undone = received.strip_prefix(prefix) == Some(&*candidate.path);
    (dropped && same_origin && !prefix.is_empty() && undone && candidate.reading == Reading::AsSent)
        .then(|| Finding::PrefixNotStripped {
            prefix: prefix.to_owned(),
            received: received.to_owned(),
            matched: Origin::new(verified.scheme, verified.authority.clone()),
        })
}

/// The request's path still starts with the prefix verified before it, and Plivo signed the
/// URL without that prefix added again: the proxy in front does not strip it.
fn prefix_not_stripped(
    context: &Context<'_>,
    verified: &Origin,
    matched: &Origin,
) -> Option<Finding> {
    let received = context.target.path();
    let still_there = received
        .strip_prefix(verified.prefix.as_str())
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    (matched.prefix.is_empty() && !verified.prefix.is_empty() && still_there).then(|| {
        Finding::PrefixNotStripped {
            prefix: verified.prefix.clone(),
            received: received.to_owned(),
            matched: matched.clone(),
        }
    })
}

/// Which forwarding header carried a piece of Plivo's URL.
enum Carrier {
    /// This one, not believed for this reason.
    Ignored(ProxyHeader, Ignored),
    /// None that was ignored (none carried it, or it was believed).
    None,
}

fn carrier(
    context: &Context<'_>,
    carries: impl Fn(&crate::url_policy::Claimed) -> bool,
) -> Carrier {
    context
        .report
        .forwarding
        .iter()
        .filter(|f| f.header.describes_url())
        .find_map(|f| {
            let why = f.ignored?;
            carries(&claimed_by(context.headers, f.header))
                .then_some(Carrier::Ignored(f.header, why))
        })
        .unwrap_or(Carrier::None)
}

/// A believed URL header that says something `says` looks for.
fn believed_url_header(
    context: &Context<'_>,
    says: impl Fn(&crate::url_policy::Claimed) -> bool,
) -> Option<ProxyHeader> {
    context
        .report
        .forwarding
        .iter()
        .filter(|f| f.ignored.is_none() && f.readable && f.header.describes_url())
        .find(|f| says(&claimed_by(context.headers, f.header)))
        .map(|f| f.header)
}

/// One finding per reason the headers were not believed, with the complete `proxy_headers`
/// list when believing them also needs naming them.
fn group_not_believed(
    context: &Context<'_>,
    not_believed: Vec<(ProxyHeader, Ignored)>,
    matched: &Origin,
    findings: &mut Vec<Finding>,
) {
    let named = context.report.named;
    let mut reasons: Vec<Ignored> = Vec::new();
    for (_, why) in &not_believed {
        if !reasons.contains(why) {
            reasons.push(*why);
        }
    }
    for why in reasons {
        let mut headers: Vec<ProxyHeader> = Vec::new();
        for (header, _) in not_believed.iter().filter(|(_, w)| *w == why) {
            if !headers.contains(header) {
                headers.push(*header);
            }
        }
        let needed = headers_to_name(named.iter().collect(), &headers);
        let name = (needed != named.iter().collect::<Vec<_>>()).then_some(needed);
        let finding = Finding::NotBelieved {
            why,
            headers,
            peer: context.report.peer,
            name,
            matched: matched.clone(),
        };
        findings.push(if fix_works(context, &finding, matched) {
            finding
        } else {
            // Believing those headers would not give Plivo's origin (another believed header
            // overrides them): only fixing the origin is sure to work.
            Finding::Origin {
                configured: context
                    .report
                    .considered
                    .clone()
                    .unwrap_or_else(|| matched.clone()),
                matched: matched.clone(),
            }
        });
    }
}

/// The complete `proxy_headers` list that names `needed` too: `Forwarded` when it is needed
/// (it cannot be named with the `X-Forwarded-*` headers, except `X-Forwarded-Prefix`, kept if
/// named or needed), else the named ones without `Forwarded`, and the needed ones.
fn headers_to_name(named: Vec<ProxyHeader>, needed: &[ProxyHeader]) -> Vec<ProxyHeader> {
    if needed.contains(&ProxyHeader::Forwarded) {
        let prefix = ProxyHeader::XForwardedPrefix;
        let with_prefix = named.contains(&prefix) || needed.contains(&prefix);
        return [Some(ProxyHeader::Forwarded), with_prefix.then_some(prefix)]
            .into_iter()
            .flatten()
            .collect();
    }
    let mut all: Vec<ProxyHeader> = named
        .into_iter()
        .filter(|h| *h != ProxyHeader::Forwarded)
        .collect();
    for header in needed {
        if !all.contains(header) {
            all.push(*header);
        }
    }
    all
}

/// Whether the finding's fix, applied alone, makes the policy resolve Plivo's origin: the
/// peer trusted, the headers named, and the origin resolved again. A fix that cannot be
/// checked (no peer address) is kept: it is stated as a first step.
fn fix_works(context: &Context<'_>, finding: &Finding, matched: &Origin) -> bool {
    let Finding::NotBelieved { peer, name, .. } = finding else {
        return true;
    };
    let Some(addr) = peer.addr() else {
        return true;
    };
    let named = name
        .clone()
        .unwrap_or_else(|| context.report.named.iter().collect());
    // The user's proxies with the peer added (the fix says "add it"), believed for the
    // headers the fix names.
    let Ok(proxies) =
        TrustedProxies::extended(context.proxies, addr.ip(), named.into_iter().collect())
    else {
        return false;
    };
    origin_of(
        &context.policy.without_allow_list(),
        Some(&proxies),
        context.target,
        context.headers,
        Some(addr),
    )
    .is_ok_and(|origin| origin == *matched)
}
