//! On x86-64 the kernel picks its instruction set at run time (`src/isa.rs`): every build, for
//! any `-C target-cpu`, carries AVX-512, AVX2+FMA and baseline paths and is fast on the CPU it
//! runs on. On other architectures there is no dispatch: the kernel runs what the build is
//! compiled for, and without a hardware FMA compiled in, its fused operations are libm `fma`
//! calls (counts stay exact, but slow). This warns about that case only.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=ZOOMSTACK_PORTABLE");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let has = |f: &str| features.split(',').any(|x| x == f);
    let hardware_fma = match arch.as_str() {
        "x86_64" => true, // dispatched at run time
        "aarch64" => has("neon"),
        _ => has("fma"),
    };
    if !hardware_fma && std::env::var_os("ZOOMSTACK_PORTABLE").is_none() {
        println!(
            "cargo::warning=zoomstack-kernel is compiled for {arch} without a hardware FMA: counts \
             stay exact but the kernel runs several times slower (fused operations are libm fma \
             calls). Enable the target's FMA feature (e.g. RUSTFLAGS=\"-C target-cpu=native\"), \
             or set ZOOMSTACK_PORTABLE=1 to silence this for a deliberate portable build."
        );
    }
}
