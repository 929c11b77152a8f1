//! The workspace artifacts tests and benchmarks use from disk (plugin libraries, the fake vLLM
//! server binary), built on first use with cargo, in the profile and target directory of the
//! `benchy` under test, so they are never stale and never missing: after `make build` the build
//! is a no-op, and from a clean clone it builds what it needs. A failed build fails the caller
//! with cargo's output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace packages whose libraries or binaries are used from disk.
const PACKAGES: &[&str] = &[
    "benchy-testkit",
    "benchy-site-registry",
    "benchy-smoke",
    "benchy-openai-server",
    "benchy-source-file",
    "benchy-fixture-abi-v2",
    "benchy-fixture-bad-json",
    "benchy-fixture-faulty",
    "benchy-fixture-no-entry",
    "benchy-fixture-not-a-plugin",
];

/// The library of crate `name` (e.g. `benchy_site_registry`), built beside the `benchy` under
/// test.
#[allow(
    dead_code,
    reason = "each test binary including this module uses part of it"
)]
pub fn library(name: &str) -> PathBuf {
    let path = built_dir().join(format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    assert!(
        path.is_file(),
        "{} is missing after building the plugin packages; run `cargo build --workspace` in the \
         same profile as the tests (`make build` for release)",
        path.display()
    );
    path
}

/// The binary `name` of a workspace package (e.g. `benchy-fake-vllm`), built beside the `benchy`
/// under test.
#[allow(
    dead_code,
    reason = "each test binary including this module uses part of it"
)]
pub fn binary(name: &str) -> PathBuf {
    let path = built_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing after building the workspace packages; run `cargo build --workspace`",
        path.display()
    );
    path
}

fn built_dir() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let benchy = Path::new(env!("CARGO_BIN_EXE_benchy"));
        let profile_dir = benchy
            .parent()
            .expect("benchy lives in a profile directory");
        let target_dir = profile_dir.parent().expect("a target directory");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev",
            Some(other) => other,
            None => panic!("unexpected profile directory {}", profile_dir.display()),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--quiet", "--profile", profile, "--target-dir"])
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        for package in PACKAGES {
            build.args(["-p", package]);
        }
        let output = build.output().expect("cargo runs");
        assert!(
            output.status.success(),
            "building the test artifacts failed (run `cargo build --workspace` to see it):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        profile_dir.to_owned()
    })
}
