//! The crate's example binaries, (re)built for the test that runs them: `cargo test --test X`
//! builds only that test, so an example binary on disk may be missing or stale.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>/examples/<name>`, built once per test process with the features this test
/// was built with (so cargo reuses the library it already built, and skips the build when the
/// binary is fresh).
pub fn example_binary(name: &str) -> PathBuf {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Mutex::default).lock().unwrap();
    built
        .entry(name.to_owned())
        .or_insert_with(|| build(name))
        .clone()
}

fn build(name: &str) -> PathBuf {
    // target/<profile>/deps/<test>-<hash> -> target/<profile>
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let features: Vec<&str> = [
        ("axum", cfg!(feature = "axum")),
        ("tonic", cfg!(feature = "tonic")),
        ("redis", cfg!(feature = "redis")),
        ("fuzzing", cfg!(feature = "fuzzing")),
    ]
    .into_iter()
    .filter_map(|(feature, on)| on.then_some(feature))
    .collect();
    let mut build = Command::new(env!("CARGO"));
    build
        .args([
            "build",
            "--quiet",
            "--example",
            name,
            "--no-default-features",
        ])
        .args(["--features", &features.join(",")])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "cargo build --example {name} failed");
    let path = profile_dir.join("examples").join(name);
    assert!(path.exists(), "{} is missing", path.display());
    path
}
