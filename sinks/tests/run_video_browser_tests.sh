#!/usr/bin/env bash
# The video sink's files in real headless Chromium (Debian's `chromium`), driven by Playwright
# for Python against Debian's browser (no browser download), as view/tests/run_browser_tests.sh.
#
#   bash sinks/tests/run_video_browser_tests.sh
#
# Installs what it needs: ffmpeg and chromium (apt, when missing) and playwright, pytest, numpy
# and Pillow in the shared venv ./.venv. Builds the `write_video` example, which writes the
# videos (and the PNG frames they are compared with). Called by scripts/test-all.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  'playwright==1.65.2' pytest numpy pillow

cargo build --locked --profile test -p zoomstack-sinks --example write_video
TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$PWD/$TARGET" ;; esac
ZOOMSTACK_WRITE_VIDEO="$TARGET/debug/examples/write_video" \
  ZOOMSTACK_CHROMIUM="$(command -v chromium)" \
  "$VENV/bin/python" -m pytest -q -p no:cacheprovider sinks/tests/browser "$@"
