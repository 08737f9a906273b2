//! The doctor's candidates: the URLs and readings of the signature that a misconfiguration
//! would have made differ from what the layer verified. Each dimension (origin, path, reading,
//! stream URL form) has its alternatives; the candidates are their combinations, fewest changes
//! first, so that two mistakes at once are found as well as one.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use http::Uri;

use crate::pipeline::upgrade::RequestKind;
use crate::signature::{SignedUrl, StreamUrlForm};
use crate::url_policy::{Claimed, Origin, OriginReport, Scheme, is_authority, split_authority};

/// Candidates tried per refusal examined, at most (the budget's unit of work).
pub(crate) const MAX_CANDIDATES: usize = 256;

/// Origins tried per refusal examined, at most.
const MAX_ORIGINS: usize = 16;

/// How a candidate's path differs from the request target's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathChange {
    AsReceived,
    /// The trailing `/` added or removed.
    TrailingSlash,
    /// The path the wrapped service sees (a router or rewrite in front of the layer).
    RouterPath,
    /// The path and query as the outermost [`CaptureReceivedLayer`](crate::capture::CaptureReceivedLayer)
    /// received them (a layer between them rewrote the request).
    RewrittenInFront,
    /// The first path segment dropped (a proxy that adds a prefix).
    ProxyPrefix,
}

/// How a candidate reads the signature headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Reading {
    AsSent,
    /// The plain and `-Ma-` headers swapped (each checked with the other family's tokens).
    SwappedFamilies,
    /// As the other signature version (webhooks only).
    OtherVersion,
}

/// One candidate: what Plivo might have signed instead (path and query borrowed from the
/// request, so a long query is not copied for every candidate).
#[derive(Clone, Debug)]
pub(crate) struct Candidate<'a> {
    /// The origin it stands for (what a URL policy would name).
    pub(crate) origin: Origin,
    pub(crate) path_change: PathChange,
    pub(crate) path: Cow<'a, str>,
    pub(crate) query: Option<&'a str>,
    pub(crate) reading: Reading,
    /// For a stream upgrade, the URL form (`HttpScheme` is the one Plivo signs).
    pub(crate) form: Option<StreamUrlForm>,
}

impl Candidate<'_> {
    /// The URL this candidate is signed over.
    pub(crate) fn url(&self) -> String {
        self.with_signed_url(|url| url.to_string())
    }

    /// The candidate's path and query, as a request target.
    pub(crate) fn path_and_query(&self) -> String {
        match self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.to_string(),
        }
    }

    /// Calls `f` with the URL this candidate is signed over.
    pub(crate) fn with_signed_url<R>(&self, f: impl FnOnce(SignedUrl<'_>) -> R) -> R {
        match self.form {
            None => f(SignedUrl::from_parts(
                self.origin.scheme.as_str(),
                &self.origin.authority,
                &self.path,
                self.query,
            )
            .with_prefix(&self.origin.prefix)),
            Some(form) => {
                let tls = self.origin.scheme == Scheme::Https;
                let pieces = form.pieces(tls, &self.path, self.query);
                f(pieces.signed_url(&self.origin.authority, &self.origin.prefix))
            }
        }
    }

    /// How many dimensions differ from what was verified (`verified`: the origin verified, if
    /// one was established).
    fn changes(&self, verified: Option<&Origin>) -> usize {
        usize::from(verified != Some(&self.origin))
            + usize::from(self.path_change != PathChange::AsReceived)
            + usize::from(self.reading != Reading::AsSent)
            + usize::from(self.form.is_some_and(|f| f != StreamUrlForm::HttpScheme))
    }
}

/// The candidates for a refused request, fewest changes first, each URL and reading once, at
/// most [`MAX_CANDIDATES`]. `target` is the request target the layer got, `inner_path` the path
/// the wrapped service sees, `received` the target as captured further out, when it differs.
pub(crate) fn candidates<'a>(
    report: &OriginReport,
    claimed: &Claimed,
    target: &'a Uri,
    inner_path: &'a str,
    received: Option<&'a Uri>,
    kind: RequestKind,
    policy_scheme: Scheme,
) -> Vec<Candidate<'a>> {
    let verified = report.considered.as_ref();
    let stream = kind == RequestKind::StreamUpgrade;
    let readings: &[Reading] = if stream {
        &[Reading::AsSent, Reading::SwappedFamilies]
    } else {
        &[
            Reading::AsSent,
            Reading::SwappedFamilies,
            Reading::OtherVersion,
        ]
    };
    let forms: Vec<Option<StreamUrlForm>> = if stream {
        StreamUrlForm::ALL.into_iter().map(Some).collect()
    } else {
        vec![None]
    };
    let paths = paths(target, inner_path, received);
    let mut all = Vec::new();
    for origin in origins(report, claimed, policy_scheme) {
        for (path_change, path, query) in &paths {
            for &reading in readings {
                for &form in &forms {
                    all.push(Candidate {
                        origin: origin.clone(),
                        path_change: *path_change,
                        path: path.clone(),
                        query: *query,
                        reading,
                        form,
                    });
                }
            }
        }
    }
    all.sort_by_key(|candidate| candidate.changes(verified));
    // Each signed message once: the hash of its URL and reading, written without formatting
    // the URL into a string.
    let mut seen = HashSet::new();
    all.retain(|candidate| {
        let mut hasher = DefaultHasher::new();
        candidate.with_signed_url(|url| {
            use std::fmt::Write as _;
            let _ = write!(HashWriter(&mut hasher), "{url}");
        });
        candidate.reading.hash(&mut hasher);
        seen.insert(hasher.finish())
    });
    all.truncate(MAX_CANDIDATES);
    all
}

/// Feeds what is written to a hasher.
struct HashWriter<'a>(&'a mut DefaultHasher);

impl std::fmt::Write for HashWriter<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0.write(text.as_bytes());
        Ok(())
    }
}

/// The origins to try: the one verified first, then every authority the request names (its
/// `Host`, the forwarding headers' hosts, whoever sent them) under both schemes, each also with
/// the default port added or removed and with a forwarded port; each under the path prefix
/// verified, then without it (a proxy that did not strip it), then under each prefix a
/// forwarding header names.
fn origins(report: &OriginReport, claimed: &Claimed, policy_scheme: Scheme) -> Vec<Origin> {
    let mut prefixes: Vec<&str> = Vec::new();
    let verified_prefix = report.considered.as_ref().map_or("", |o| o.prefix.as_str());
    for prefix in [verified_prefix, ""]
        .into_iter()
        .chain(claimed.prefixes.iter().map(String::as_str))
    {
        if !prefixes.contains(&prefix) {
            prefixes.push(prefix);
        }
    }
    let bases = bases(report, claimed, policy_scheme);
    let mut origins = Vec::new();
    for prefix in prefixes {
        for (scheme, authority) in &bases {
            origins.push(Origin {
                scheme: *scheme,
                authority: authority.as_str().into(),
                prefix: prefix.to_owned(),
            });
        }
    }
    origins
}

/// The schemes and authorities to try (see [`origins`]), at most [`MAX_ORIGINS`].
fn bases(report: &OriginReport, claimed: &Claimed, policy_scheme: Scheme) -> Vec<(Scheme, String)> {
    let mut authorities: Vec<String> = Vec::new();
    let mut add = |authority: &str| {
        if is_authority(authority) && !authorities.iter().any(|a| a == authority) {
            authorities.push(authority.to_owned());
        }
    };
    if let Some(origin) = &report.considered {
        add(&origin.authority);
    }
    if let Some(host) = &report.host {
        add(host);
    }
    for host in &claimed.hosts {
        add(host);
    }
    let first_scheme = report
        .considered
        .as_ref()
        .map_or(policy_scheme, |o| o.scheme);
    let mut origins: Vec<(Scheme, String)> = Vec::new();
    let mut push = |scheme: Scheme, authority: String| {
        let origin = (scheme, authority);
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    };
    for scheme in [first_scheme, first_scheme.other()] {
        for authority in &authorities {
            push(scheme, authority.clone());
        }
    }
    for scheme in [first_scheme, first_scheme.other()] {
        for authority in &authorities {
            let (host, port) = split_authority(authority);
            let default = scheme.default_port();
            match port {
                Some(_) => push(scheme, host.to_owned()),
                None => push(scheme, format!("{host}:{default}")),
            }
            for port in &claimed.ports {
                match port.parse::<u16>() {
                    Ok(port) if port == default => push(scheme, host.to_owned()),
                    Ok(port) => push(scheme, format!("{host}:{port}")),
                    Err(_) => {}
                }
            }
        }
    }
    origins.truncate(MAX_ORIGINS);
    origins
}

/// A path to try, how it differs, and the query that goes with it.
type PathTried<'a> = (PathChange, Cow<'a, str>, Option<&'a str>);

/// The paths to try: as the layer got it, as captured further out (a rewrite in front of the
/// layer: before the guesses, so that it explains a trailing slash a normaliser trimmed), the
/// trailing slash toggled, the path the wrapped service sees, and without the first segment.
fn paths<'a>(target: &'a Uri, inner: &'a str, received: Option<&'a Uri>) -> Vec<PathTried<'a>> {
    let (path, query) = (target.path(), target.query());
    let mut paths = vec![(PathChange::AsReceived, Cow::Borrowed(path), query)];
    if let Some(received) = received {
        paths.push((
            PathChange::RewrittenInFront,
            Cow::Borrowed(received.path()),
            received.query(),
        ));
    }
    match path.strip_suffix('/') {
        Some(stripped) if !stripped.is_empty() => {
            paths.push((PathChange::TrailingSlash, Cow::Borrowed(stripped), query));
        }
        Some(_) => {}
        None => paths.push((
            PathChange::TrailingSlash,
            Cow::Owned(format!("{path}/")),
            query,
        )),
    }
    if inner != path {
        paths.push((PathChange::RouterPath, Cow::Borrowed(inner), query));
    }
    if let Some(shorter) = drop_first_segment(path) {
        paths.push((PathChange::ProxyPrefix, Cow::Borrowed(shorter), query));
    }
    paths
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
    fn the_first_segment_is_dropped_only_when_a_second_follows() {
        assert_eq!(drop_first_segment("/api/answer"), Some("/answer"));
        assert_eq!(drop_first_segment("/answer"), None);
        assert_eq!(drop_first_segment("answer"), None);
    }
}
