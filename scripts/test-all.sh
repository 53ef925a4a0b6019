#!/usr/bin/env bash
# Runs every test of the project on a fresh machine; installs what the tests need
# (Python venv + packages under ./.venv, Debian's chromium for the viewer's browser tests,
# cargo-fuzz). Called by .ci/run.
#
#   bash scripts/test-all.sh            # everything
#   FUZZ_SECONDS=10 bash scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
step() { printf '\n==> %s\n' "$*"; }

step "Rust tests, whole workspace (native build: AVX-512/FMA here; see .cargo/config.toml)"
cargo test --workspace --locked

# wide picks its instruction set at compile time: the kernel must be exact in every build.
step "Kernel tests in a portable build (x86-64 baseline: SSE2, no FMA -> emulated fused ops)"
ZOOMSTACK_PORTABLE=1 RUSTFLAGS="-C target-cpu=x86-64" CARGO_TARGET_DIR=target/portable-x86-64 \
  cargo test -p zoomstack-kernel --locked
step "Kernel tests in an AVX2+FMA build (x86-64-v3: f64x8 as two 256-bit halves)"
RUSTFLAGS="-C target-cpu=x86-64-v3" CARGO_TARGET_DIR=target/portable-x86-64-v3 \
  cargo test -p zoomstack-kernel --locked

for script in sinks/tests/run_python_checks.sh python/run_tests.sh view/tests/run_browser_tests.sh; do
  if [ -f "$script" ]; then
    step "Python checks: $script"
    bash "$script"
  fi
done

step "Fuzz targets (cargo-fuzz, no sanitizer, ${FUZZ_SECONDS}s each)"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
targets=$(cd fuzz && cargo fuzz list)
# cargo-fuzz sets RUSTFLAGS, which replaces .cargo/config.toml's target-cpu: pass it again so the
# fuzzed kernel is the native (FMA) build users run; the portable builds are covered above.
export RUSTFLAGS="-C target-cpu=native"
for t in $targets; do
  (cd fuzz && cargo fuzz run -s none "$t" -- -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=4096)
done
# Minimised crashes, once found, are committed under fuzz/regressions/<target>/ and replayed here.
for t in $targets; do
  if [ -d "fuzz/regressions/$t" ]; then
    (cd fuzz && cargo fuzz run -s none "$t" "regressions/$t"/* -- -runs=0)
  fi
done

echo
echo "All test suites passed."
