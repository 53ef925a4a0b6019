#!/usr/bin/env bash
# Builds the zoomstack Python package (PyO3 extension, release mode) into the repository's venv
# and runs its tests. Idempotent; installs everything it needs (called by scripts/test-all.sh
# on a fresh machine):
#
#   bash python/run_tests.sh [extra pytest arguments]
#
# Environment: VENV (default: <repo>/.venv), PYTHON (interpreter that creates the venv,
# default: python3; CPython >= 3.10).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${VENV:-$repo/.venv}"
python="${PYTHON:-python3}"

if ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "==> creating venv $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi
export VIRTUAL_ENV="$venv"
export PATH="$venv/bin:$PATH"

echo "==> installing build and test requirements"
python -m pip install --quiet --disable-pip-version-check \
  'maturin>=1.16,<2' 'numpy>=2,<3' 'dask[distributed]>=2026.1,<2027' 'zarr>=3,<4' 'pytest>=9,<10' 'xarray>=2025.6'

# A portable build (.cargo/config.toml sets no target-cpu): the kernel picks AVX-512, AVX2+FMA
# or the baseline at run time (tests check FUSED_FMA). python/build_wheel_test.sh tests the wheel.
echo "==> building the extension (maturin develop --release)"
(cd "$here" && maturin develop --release --quiet)
python -c 'import zoomstack; print("zoomstack", zoomstack.__version__, "|", zoomstack.backend_description())'

echo "==> pytest"
cd "$here"
set +e
python -m pytest -ra "$@" tests
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
