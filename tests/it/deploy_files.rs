//! The reverse-proxy configurations in `deploy/` are the ones the deployment guide shows: each
//! file appears verbatim in `docs/guides/deployments.md`, in a code block of its language under
//! a line naming its path, and `deploy/` holds no other file. `real_proxies.rs` (feature
//! `real-proxies`) runs each with its proxy; this needs none of them.

use std::path::{Path, PathBuf};

const GUIDE: &str = include_str!("../../docs/guides/deployments.md");

/// Each file of `deploy/`: its path, the language of its code block in the guide, its content.
const FILES: [(&str, &str, &str); 6] = [
    (
        "deploy/nginx/tls-termination.conf",
        "nginx",
        include_str!("../../deploy/nginx/tls-termination.conf"),
    ),
    (
        "deploy/nginx/strip-prefix.conf",
        "nginx",
        include_str!("../../deploy/nginx/strip-prefix.conf"),
    ),
    (
        "deploy/haproxy/tls-termination.cfg",
        "haproxy",
        include_str!("../../deploy/haproxy/tls-termination.cfg"),
    ),
    (
        "deploy/haproxy/strip-prefix.cfg",
        "haproxy",
        include_str!("../../deploy/haproxy/strip-prefix.cfg"),
    ),
    (
        "deploy/caddy/tls-termination.Caddyfile",
        "caddyfile",
        include_str!("../../deploy/caddy/tls-termination.Caddyfile"),
    ),
    (
        "deploy/caddy/strip-prefix.Caddyfile",
        "caddyfile",
        include_str!("../../deploy/caddy/strip-prefix.Caddyfile"),
    ),
];

#[test]
fn the_deployment_guide_shows_each_deploy_file_as_it_is() {
    for (path, language, content) in FILES {
        let block = format!("```{language}\n{content}```\n");
        let at = GUIDE.find(&block).unwrap_or_else(|| {
            panic!(
                "docs/guides/deployments.md does not show {path} as it is, in a ```{language} block"
            )
        });
        let line_above = GUIDE[..at].trim_end().lines().next_back().unwrap();
        assert!(
            line_above.contains(&format!("`{path}`")),
            "the guide's block of {path} is not under a line naming it: {line_above:?}"
        );
    }
}

#[test]
fn deploy_holds_only_the_files_the_guide_shows() {
    fn files(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, found);
            } else {
                found.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    files(&root.join("deploy"), &mut found);
    let mut found: Vec<String> = found
        .iter()
        .map(|path| {
            let relative = path.strip_prefix(root).unwrap();
            relative.to_str().unwrap().replace('\\', "/")
        })
        .collect();
    found.sort();
    let mut known: Vec<String> = FILES.iter().map(|(path, ..)| path.to_string()).collect();
    known.sort();
    assert_eq!(found, known);
}
