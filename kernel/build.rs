//! Warns when the kernel is compiled for an x86-64 CPU without FMA. Counts stay exact (fused
//! operations are emulated per lane), but the kernel is several times slower. The workspace's
//! `.cargo/config.toml` builds for the host CPU, but cargo reads it only from the directory it
//! runs in, so a build started elsewhere (or a dependent crate's build) silently loses it.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=ZOOMSTACK_PORTABLE");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let has_fma = features.split(',').any(|f| f == "fma");
    if arch == "x86_64" && !has_fma && std::env::var_os("ZOOMSTACK_PORTABLE").is_none() {
        println!(
            "cargo::warning=zoomstack-kernel is compiled without FMA: counts stay exact but the \
             kernel runs several times slower. Build from the repository root (its \
             .cargo/config.toml sets -C target-cpu=native) or set RUSTFLAGS=\"-C \
             target-cpu=native\"; set ZOOMSTACK_PORTABLE=1 to silence this for a deliberate \
             portable build."
        );
    }
}
