//! Stage 1, route: whether a request is guarded at all, or passes through unread.

/// Whether a request to `path` (as the wrapped service sees it, not axum's `OriginalUri`)
/// passes through unverified: it is plain and at or below one of the skipped prefixes. A prefix
/// written for another router never matches, so a mistake guards more, never less.
pub(crate) fn skips(skipped_prefixes: &[String], path: &str) -> bool {
    !skipped_prefixes.is_empty()
        && is_plain_path(path)
        && skipped_prefixes.iter().any(|prefix| is_under(path, prefix))
}

/// Whether `prefix` can be skipped: a plain path with at least one segment (not `/`, which
/// would skip everything).
pub(crate) fn is_skippable_prefix(prefix: &str) -> bool {
    let Some(inner) = prefix.strip_prefix('/') else {
        return false;
    };
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    !inner.is_empty() && is_plain_path(prefix)
}

/// `/plivo` covers `/plivo`, `/plivo/` and `/plivo/answer`, not `/plivoX`.
fn is_under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Whether `path` means what it says to every router and proxy: no percent-escapes, no `.` or
/// `..` segment, no empty segment inside it, no backslash. Only such a path may be skipped, so
/// `/health/../answer` or `/%68ealth` is verified whatever a router later makes of it.
fn is_plain_path(path: &str) -> bool {
    if path.contains(['%', '\\']) {
        return false;
    }
    let inner = path.strip_prefix('/').unwrap_or(path);
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    inner.is_empty()
        || inner
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | ".."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(is_under("/plivo", "/plivo"));
        assert!(is_under("/plivo/answer", "/plivo"));
        assert!(is_under("/plivo/answer", "/plivo/"));
        assert!(!is_under("/plivox", "/plivo"));
        assert!(is_under("/anything", "/"));
    }

    #[test]
    fn only_plain_paths_can_be_skipped() {
        for plain in [
            "/",
            "/health",
            "/health/",
            "/grpc.health.v1.Health/Check",
            "/a/b.c",
        ] {
            assert!(is_plain_path(plain), "{plain}");
        }
        for tricky in [
            "/health/../answer",
            "/health/./x",
            "/health/..",
            "/health//answer",
            "/%68ealth",
            "/health%2F..%2Fanswer",
            "/health\\..\\answer",
            "//health",
        ] {
            assert!(!is_plain_path(tricky), "{tricky}");
            assert!(!skips(&["/health".to_owned()], tricky), "{tricky}");
        }
    }

    #[test]
    fn prefixes_that_skip_everything_or_nothing_are_not_skippable() {
        for bad in ["/", "//", "/a/../b", "/%68ealth", "health", "/a//b", ""] {
            assert!(!is_skippable_prefix(bad), "{bad}");
        }
        for good in ["/health", "/health/", "/grpc.health.v1.Health"] {
            assert!(is_skippable_prefix(good), "{good}");
        }
    }
}
