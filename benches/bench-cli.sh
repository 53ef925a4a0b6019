#!/usr/bin/env bash
# Whole-process wall times of the `zoomstack` binary (start-up included), with hyperfine:
#   1. `zoomstack` (the notebook's preview: 40 PNG frames + animated GIF + contact sheet written)
#   2. `zoomstack bench` (kernel throughput per backend)
# Usage: benches/bench-cli.sh [RUNS]   (needs hyperfine: apt-get install -y hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-30}"
cargo build --release -p zoomstack-cli --locked
bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/zoomstack"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" --version
(cd "$work" && hyperfine --warmup 3 --runs "$runs" --export-json "$work/preview.json" \
    --command-name 'zoomstack (preview: PNGs + GIF + contact sheet)' "$bin --quiet")
(cd "$work" && hyperfine --warmup 1 --runs 5 --export-json "$work/bench.json" \
    --command-name 'zoomstack bench' "$bin bench")
python3 - "$work/preview.json" "$work/bench.json" <<'PY'
import json, sys
for f in sys.argv[1:]:
    r = json.load(open(f))["results"][0]
    print(f"{r['command']}: median {r['median']*1e3:.1f} ms, mean {r['mean']*1e3:.1f} ms "
          f"+- {r['stddev']*1e3:.1f}, min {r['min']*1e3:.1f} ms ({len(r['times'])} runs)")
PY
