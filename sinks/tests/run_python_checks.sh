#!/usr/bin/env bash
# Python reader checks of zoomstack-sinks: zarr-python 3, dask, xarray, yaozarrs (OME-Zarr 0.5
# validation), Pillow and matplotlib read what the Rust sinks wrote.
#
#   bash sinks/tests/run_python_checks.sh
#
# Uses (and creates if needed) the shared venv ./.venv; installs what it needs idempotently.
# Called by scripts/test-all.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  'zarr>=3' dask numpy pillow matplotlib pytest 'yaozarrs[io]' 'xarray>=2025.6'

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
# The test profile is optimized in this workspace and shares artifacts with `cargo test`.
cargo run --locked --quiet --profile test -p zoomstack-pipeline --example python_fixtures -- "$OUT"
ZOOMSTACK_SINKS_FIXTURES="$OUT" "$VENV/bin/python" -m pytest -q -p no:cacheprovider sinks/tests/python
