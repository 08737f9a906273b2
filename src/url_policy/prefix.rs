//! The path prefix a proxy or gateway removed before the request reached the app (nginx
//! `proxy_pass http://app/;` under `location /plivo/`, Traefik's `StripPrefix`, an API Gateway
//! base-path mapping in front of an HTTP backend): Plivo signed the prefix followed by the path the app receives.

/// The prefix `text` names, as it is verified: it starts with `/`, is printable ASCII without
/// `?`, `#` or `\` (a path, not a query or fragment), and one trailing `/` is dropped (the
/// received path brings its own). `"/"` names no prefix (`""`). `None`: not a path prefix.
pub(crate) fn path_prefix(text: &str) -> Option<&str> {
    let printable_path = text
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'\\'));
    if !text.starts_with('/') || !printable_path {
        return None;
    }
    let prefix = text.strip_suffix('/').unwrap_or(text);
    // `/plivo//` would leave a prefix ending in `/`, and every URL verified under it would
    // hold `//`: a typo, not a prefix.
    (!prefix.ends_with('/')).then_some(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_is_a_path_without_its_trailing_slash() {
        for (text, prefix) in [
            ("/plivo", Some("/plivo")),
            ("/plivo/", Some("/plivo")),
            ("/a/b%20c", Some("/a/b%20c")),
            ("/", Some("")),
            ("plivo", None),
            ("", None),
            ("/plivo//", None),
            ("//", None),
            ("/a b", None),
            ("/a?x", None),
            ("/a#x", None),
            ("/a\\b", None),
            ("/caf\u{e9}", None),
        ] {
            assert_eq!(path_prefix(text), prefix, "{text:?}");
        }
    }
}
