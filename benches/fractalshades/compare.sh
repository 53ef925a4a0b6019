#!/usr/bin/env bash
# zoomstack against fractalshades 1.2.1 on Kalles Fraktaler 2's 5e113 location, 512 x 512, 2
# threads, side by side in one run (alternating processes, RUNS of each):
#
#   bash benches/fractalshades/compare.sh [RUNS]      # default 3
#
# fractalshades (BLA eps 1e-10, reference at the centre): first and next frame in one process
# (render.py). zoomstack: the whole CLI process for the first frame (reference orbit, BLA
# table and frame, PNG written), and the deep_frame example's BLA frame with the orbit and
# table already built (what every further frame of a stack costs). Then the agreement of
# each with an oracle sample of 1000 pixels (deep_frame --oracle-sample). Writes into
# target/fs-compare/. Needs the fractalshades venv (setup.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-3}"
FSVENV="${FSVENV:-/work/fsvenv}"
OUT=target/fs-compare
LOC=kernel/tests/data/locations/kf2-5e113.json
mkdir -p "$OUT"
cargo build --release --locked -p zoomstack-cli -p zoomstack-kernel --example deep_frame
python3 - "$LOC" > "$OUT/kf5.toml" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"""[stack]
levels = 1
height = {d['height']}
width = {d['width']}
center = ["{d['center_re']}", "{d['center_im']}"]
scale0 = "{d['scale']}"
zoom_per_level = "2"
max_iter = {d['max_iter']}
arithmetic = "exact"
bla = true

[[sink]]
kind = "png"
path = "kf5"
colormap = "magma"
scaling = "per-frame"
""")
PY
: > "$OUT/times.jsonl"
for k in $(seq "$RUNS"); do
  "$FSVENV/bin/python" benches/fractalshades/render.py "$LOC" --threads 2 --eps 1e-10 \
    --out "$OUT/fs.npy" 2>/dev/null | sed 's/^/{"who": "fractalshades", "run": /; s/$/}/' >> "$OUT/times.jsonl"
  s=$(date +%s.%N)
  (cd "$OUT" && ../release/zoomstack --threads 2 --quiet run kf5.toml --yes)
  e=$(date +%s.%N)
  echo "{\"who\": \"zoomstack_first\", \"wall_s\": $(echo "$e - $s" | bc)}" >> "$OUT/times.jsonl"
  target/release/examples/deep_frame "$LOC" 512 --bla-only --threads 2 --save "$OUT" \
    | sed -n 's/^BLA: \([0-9.]*\) s.*/{"who": "zoomstack_next", "wall_s": \1}/p' >> "$OUT/times.jsonl"
done
if [ ! -f "$OUT/oracle.json" ]; then
  target/release/examples/deep_frame "$LOC" 512 --save "$OUT" --oracle-sample 1000 | tail -1
fi
"$FSVENV/bin/python" - "$OUT" <<'PY'
import json, sys, statistics as st
import numpy as np
out = sys.argv[1]
rows = [json.loads(l) for l in open(f"{out}/times.jsonl")]
fs = [r["run"] for r in rows if r["who"] == "fractalshades"]
med = lambda xs: st.median(xs)
f1 = med([r["frame1"]["wall_s"] for r in fs]); f2 = med([r["frame2"]["wall_s"] for r in fs])
f1c = med([r["frame1"]["cpu_s"] for r in fs]); f2c = med([r["frame2"]["cpu_s"] for r in fs])
z1 = med([r["wall_s"] for r in rows if r["who"] == "zoomstack_first"])
z2 = med([r["wall_s"] for r in rows if r["who"] == "zoomstack_next"])
oracle = json.load(open(f"{out}/oracle.json"))
fsc = np.load(f"{out}/fs.npy")
bla = np.fromfile(f"{out}/bla.u16", dtype="<u2").reshape(fsc.shape)
dec = [(r, j, c) for r, j, c in oracle if c is not None]
ok = lambda a: sum(int(a[r, j]) == c for r, j, c in dec)
print(f"runs: {len(fs)} of each; medians, wall seconds (CPU for fractalshades)")
print(f"first frame: fractalshades {f1:.2f} ({f1c:.2f} CPU), zoomstack {z1:.2f}: {f1 / z1:.1f}x")
print(f"next frame:  fractalshades {f2:.2f} ({f2c:.2f} CPU), zoomstack {z2:.3f}: {f2 / z2:.1f}x")
print(f"oracle pixels right (of {len(dec)} decided): fractalshades {ok(fsc)}, zoomstack BLA {ok(bla)}")
print(f"pixels where the two frames differ: {int((fsc != bla).sum())} of {bla.size}")
PY
