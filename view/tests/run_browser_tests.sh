#!/usr/bin/env bash
# End-to-end tests of `zoomstack view` in real headless Chromium (Debian's `chromium`),
# driven by Playwright for Python against Debian's browser (no browser download).
#
#   bash view/tests/run_browser_tests.sh
#
# Installs what it needs: the chromium package (apt, when missing) and playwright, pytest,
# numpy and Pillow in the shared venv ./.venv. Builds the release binary. Screenshots are
# left in target/view-e2e/. Called by scripts/test-all.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  'playwright==1.65.2' pytest numpy pillow

cargo build --locked --release -p zoomstack-cli
ZOOMSTACK_BIN="$PWD/target/release/zoomstack" ZOOMSTACK_CHROMIUM="$(command -v chromium)" \
  "$VENV/bin/python" -m pytest -q -p no:cacheprovider view/tests/browser "$@"
