#!/usr/bin/env bash
# Runs every test of the project on a fresh machine; installs what the tests need
# (Python venv + packages under ./.venv, Debian's chromium for the browser tests, Debian's
# ffmpeg for the video sink's tests, cargo-fuzz). Called by .ci/run.
#
#   bash scripts/test-all.sh            # everything
#   FUZZ_SECONDS=10 bash scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
step() { printf '\n==> %s\n' "$*"; }

# The video sink's tests read its files back with ffprobe/ffmpeg (Debian's `ffmpeg` package).
if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  step "Installing ffmpeg (apt) for the video sink's tests"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ffmpeg >/dev/null
fi

step "Rust tests, whole workspace (portable build: the kernel picks AVX-512, AVX2+FMA or baseline at run time)"
cargo test --workspace --locked

# The kernel's tests run every backend on every instruction set this CPU has; two more builds
# check that the compile-time target does not change a count.
step "Kernel tests in a native build (-C target-cpu=native)"
RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=target/native \
  cargo test -p zoomstack-kernel --locked
step "Kernel tests in an AVX2+FMA build (x86-64-v3)"
RUSTFLAGS="-C target-cpu=x86-64-v3" CARGO_TARGET_DIR=target/portable-x86-64-v3 \
  cargo test -p zoomstack-kernel --locked

for script in sinks/tests/run_python_checks.sh sinks/tests/run_video_browser_tests.sh python/run_tests.sh python/build_wheel_test.sh view/tests/run_browser_tests.sh; do
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
# cargo-fuzz sets its own RUSTFLAGS; a native build here adds one more compile-time target to
# the builds above (the kernel still dispatches at run time).
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
