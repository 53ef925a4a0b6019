//! Helpers shared by the integration tests that run the `write_store` example as a child.

use std::path::PathBuf;
use std::process::Command;

/// The `write_store` example for this test's profile.
#[allow(dead_code)] // not every test file that includes this module runs the store writer
pub(crate) fn writer() -> PathBuf {
    example("write_store")
}

/// The example `name` for this test's profile.
///
/// `cargo test` builds the package's examples with the same profile and features: use that
/// binary. Only when it is missing (e.g. `cargo test --test crash`) build it; running cargo from
/// inside a full `cargo test` would resolve features differently (a rebuild of the dependencies).
pub(crate) fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let built = profile_dir.join("examples").join(name);
    if built.exists() {
        return built;
    }
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "zoomstack-sinks",
            "--example",
            name,
        ])
        .args(["--profile", if release { "release" } else { "test" }])
        .env("CARGO_TARGET_DIR", profile_dir.parent().unwrap())
        .status()
        .expect("run cargo to build the example");
    assert!(status.success(), "building the {name} example failed");
    assert!(built.exists(), "{} missing", built.display());
    built
}
