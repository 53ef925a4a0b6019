#!/usr/bin/env python3
"""Time fractalshades 1.2.1 (perturbation + BLA) on one zoomstack location file.

Renders the same frame twice in one process and prints ONE JSON line on
stdout (everything else goes to stderr). Saves the escape counts of the
frame as an .npy in zoomstack's conventions (see README.md):

    count = fractalshades' stop_iter - 1  (max_iter where it did not escape)
    row 0 = lowest imaginary part, column 0 = lowest real part

Run it with the venv made by setup.sh:

    /work/fsvenv/bin/python benches/fractalshades/render.py \
        kernel/tests/data/locations/kf2-5e113.json --threads 2 --out fs-5e113.npy
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

# ---------------------------------------------------------------------------
# Arguments first: numba reads NUMBA_NUM_THREADS / NUMBA_CACHE_DIR at import.
ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("location", help="zoomstack location JSON (center_re, "
                "center_im, scale = frame height, max_iter, width, height)")
ap.add_argument("--threads", type=int, default=2,
                help="threads (NUMBA_NUM_THREADS and fractalshades' tile "
                     "thread pool); default 2")
ap.add_argument("--eps", type=float, default=1e-10,
                help="fractalshades BLA_eps (relative BLA error); "
                     "default 1e-10")
ap.add_argument("--size", type=int, default=None,
                help="render SIZE rows instead of the file's height (same "
                     "frame, width scaled to keep the aspect); for quick tests")
ap.add_argument("--out", default=None,
                help="where to save the counts (.npy, int32, shape (H, W)); "
                     "default ./fs-<location>-<W>x<H>.npy")
ap.add_argument("--dps", type=int, default=None,
                help="mpmath decimal digits for the reference orbit; default: "
                     "enough to hold the centre strings exactly, and at least "
                     "what fractalshades requires for the pixel size")
ap.add_argument("--dzndc", action="store_true",
                help="also compute dz/dc (fractalshades' default, needed for "
                     "its shading); off by default, counts only")
ap.add_argument("--workdir", default=None,
                help="fractalshades' data directory (its result memmaps and "
                     "reference orbit file); default: a fresh temp dir, "
                     "removed at the end")
ap.add_argument("--numba-cache", default=None,
                help="NUMBA_CACHE_DIR; default: a fresh empty temp dir, so "
                     "the first frame always pays the full JIT")
ap.add_argument("--verbose", action="store_true",
                help="fractalshades INFO logs on stderr")
args = ap.parse_args()

if args.threads < 1:
    ap.error("--threads must be >= 1")

# fractalshades' Cython reference-orbit loop prints progress on the C-level
# stdout: point fd 1 at stderr for the whole run and keep a private copy of
# the real stdout for the one JSON line.
_json_fd = os.dup(1)
sys.stdout.flush()
os.dup2(2, 1)

_tmp_dirs = []
if args.numba_cache is None:
    args.numba_cache = tempfile.mkdtemp(prefix="fsbench-numba-")
    _tmp_dirs.append(args.numba_cache)
os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
os.environ["NUMBA_CACHE_DIR"] = args.numba_cache

import logging  # noqa: E402
import types  # noqa: E402

t_imp = time.perf_counter()
c_imp = time.process_time()
import numpy as np  # noqa: E402
import mpmath  # noqa: E402
import numba  # noqa: E402
import fractalshades as fs  # noqa: E402
import fractalshades.models as fsm  # noqa: E402
import fractalshades.projection  # noqa: E402
import fractalshades.mthreading  # noqa: E402
import_wall = time.perf_counter() - t_imp
import_cpu = time.process_time() - c_imp

# fractalshades' logs -> stderr only (stdout carries the single JSON line).
_log = logging.getLogger("fractalshades")
for _h in _log.handlers[:]:
    _log.removeHandler(_h)
_h = logging.StreamHandler(sys.stderr)
_h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
_log.addHandler(_h)
_log.setLevel(logging.INFO if args.verbose else logging.WARNING)
_log.propagate = False

# fractalshades computes tiles (fs.settings.chunk_size = 200 px squares) on a
# Python ThreadPoolExecutor(max_workers=os.cpu_count()) of nogil numba calls
# (fractalshades/mthreading.py); NUMBA_NUM_THREADS does not reach it. So the
# --threads value is also given to that pool, by replacing the `os` the
# module sees (it uses os only for that cpu_count() call).
fs.mthreading.os = types.SimpleNamespace(cpu_count=lambda: args.threads)
fs.settings.enable_multithreading = args.threads > 1
fs.settings.no_newton = True        # reference orbit at the image centre
fs.settings.inspect_calc = False

# ---------------------------------------------------------------------------
with open(args.location) as fh:
    loc = json.load(fh)
loc_name = os.path.splitext(os.path.basename(args.location))[0]
max_iter = int(loc["max_iter"])
H0, W0 = int(loc["height"]), int(loc["width"])
if args.size is None:
    H, W = H0, W0
else:
    H = args.size
    W = int(round(args.size * W0 / H0))
if W < 2 or H < 2:
    ap.error("need at least 2x2 pixels")
out_path = args.out or f"fs-{loc_name}-{W}x{H}.npy"


def _sig_digits(s):
    mant = s.strip().lstrip("+-").lower().split("e")[0]
    return len(mant.replace(".", "").lstrip("0")) or 1


# Frame: zoomstack's scale s is the frame HEIGHT; fractalshades' dx is the
# frame WIDTH and xy_ratio = dx/dy = nx/ny.
mpmath.mp.dps = 30
s_height = mpmath.mpf(loc["scale"])
xy_ratio = W / H
# fractalshades: ny = int(nx / xy_ratio + 0.5) (core.py Fractal.ny)
if int(W / xy_ratio + 0.5) != H:
    sys.exit(f"fractalshades cannot make a {W}x{H} grid")
# required dps, the same formula as PerturbationFractal.zoom
dx_width_str = mpmath.nstr(s_height * W / H, 30) if W != H else loc["scale"]
pix = mpmath.mpf(dx_width_str) / W
required_dps = int(-mpmath.log10(pix / W) + 1)
dps = args.dps
if dps is None:
    dps = max(_sig_digits(loc["center_re"]), _sig_digits(loc["center_im"]),
              required_dps) + 2
if dps < required_dps:
    sys.exit(f"--dps {dps} below fractalshades' minimum {required_dps}")

# fractalshades stops at n_iter >= max_iter *before* its divergence test and
# its n_iter is ours + 1, so it is given max_iter + 1: then an orbit that
# escapes at our count k <= max_iter - 1 comes back as divergence with
# n_iter = k + 1, and one that does not gets stop reason max_iter.
fs_max_iter = max_iter + 1
M_DIVERGENCE = 2.0        # escape when |z| > 2, as zoomstack
CALC = "bench"

workdir = args.workdir
if workdir is None:
    workdir = tempfile.mkdtemp(prefix="fsbench-work-")
    _tmp_dirs.append(workdir)


# ---------------------------------------------------------------------------
class _Timed:
    """Wraps an instance method, adding its wall/CPU time to a dict."""

    def __init__(self, obj, name, acc, key):
        self.f = getattr(obj, name)
        self.acc, self.key = acc, key
        setattr(obj, name, self)

    def __call__(self, *a, **k):
        t, c = time.perf_counter(), time.process_time()
        try:
            return self.f(*a, **k)
        finally:
            self.acc[self.key + "_wall_s"] = (
                self.acc.get(self.key + "_wall_s", 0.0)
                + time.perf_counter() - t)
            self.acc[self.key + "_cpu_s"] = (
                self.acc.get(self.key + "_cpu_s", 0.0)
                + time.process_time() - c)


frac = None
phase = {}


def render():
    """One whole frame: zoom, reference orbit, BLA table, all tiles."""
    global frac
    if frac is None:
        # One instance for both frames: fractalshades keeps its numba
        # closures in per-instance caches, so frame 2 reuses the JIT code.
        frac = fsm.Perturbation_mandelbrot(workdir)
        _Timed(frac, "compute_FP_orbit", phase, "ref_orbit")
        _Timed(frac, "get_BLA_tree", phase, "bla")
        _Timed(frac, "calc_raw", phase, "tiles")
    else:
        # Forget the stored reference orbit and results (files and the
        # in-memory copies) so that frame 2 recomputes everything.
        frac.clean_up()
        for attr in ("_FP_params", "_Zn_path"):
            if hasattr(frac, attr):
                delattr(frac, attr)
    frac.zoom(
        precision=dps,
        x=loc["center_re"],
        y=loc["center_im"],
        dx=dx_width_str,
        nx=W,
        xy_ratio=xy_ratio,
        theta_deg=0.0,
        projection=fs.projection.Cartesian(),
    )
    frac.calc_std_div(
        calc_name=CALC,
        subset=None,
        max_iter=fs_max_iter,
        M_divergence=M_DIVERGENCE,
        epsilon_stationnary=1e-3,     # unused: interior_detect=False
        BLA_eps=args.eps,
        interior_detect=False,
        calc_dzndc=args.dzndc,
    )
    frac.calc_raw(CALC)


def timed_frame():
    phase.clear()
    t, c = time.perf_counter(), time.process_time()
    render()
    res = {"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c}
    res.update({k: phase[k] for k in sorted(phase)})
    return res


def read_back():
    """Counts (zoomstack convention) and fractalshades' pixel offsets."""
    counts = np.full((H, W), -1, dtype=np.int64)
    reason = np.full((H, W), -9, dtype=np.int64)
    pix = np.full((H, W), np.nan, dtype=np.complex128)
    for chunk in frac.chunk_slices():
        ix, ixx, iy, iyy = chunk
        _, _, _, _, stop_reason, stop_iter = frac.reload_data(chunk, CALC)
        shp = (iyy - iy, ixx - ix)   # chunk_pixel_pos: meshgrid 'xy' order
        counts[iy:iyy, ix:ixx] = np.asarray(stop_iter[0]).reshape(shp)
        reason[iy:iyy, ix:ixx] = np.asarray(stop_reason[0]).reshape(shp)
        # the very offsets the tiles were computed from (dev mode: no jitter,
        # no supersampling), in units of the frame width dx
        pix[iy:iyy, ix:ixx] = frac.chunk_pixel_pos(
            chunk, jitter=False, supersampling=None)
    codes = frac.codes[2]            # ["max_iter", "divergence", ...]
    r_div, r_max = codes.index("divergence"), codes.index("max_iter")
    bad = ~np.isin(reason, (r_div, r_max))
    if bad.any():
        sys.exit(f"unexpected stop reasons: {np.unique(reason[bad])}")
    div = reason == r_div
    if div.any() and not (counts[div].min() >= 1
                          and counts[div].max() <= max_iter):
        sys.exit("divergence count outside 1..max_iter")
    ours = np.where(div, counts - 1, max_iter)
    # fractalshades' row 0 is the highest imaginary part: flip the rows
    return ours[::-1].astype(np.int32), pix[::-1], int(div.sum())


def check_placement(pix_flipped):
    """Compare fractalshades' pixel positions with zoomstack's formula.

    fractalshades: c = centre + dx * pix (Cartesian, theta = 0), pix in
    units of the frame width dx. Returns the largest difference from
    zoomstack's  c = centre + (j/(W-1) - 1/2) s W/H + i (r/(H-1) - 1/2) s
    in units of one pixel step, after the row flip."""
    r = np.arange(H)[:, None]
    j = np.arange(W)[None, :]
    # zoomstack offsets in units of dx = s W/H
    ref_re = (j / (W - 1) - 0.5) * np.ones((H, 1))
    ref_im = (r / (H - 1) - 0.5) * (H / W) * np.ones((1, W))
    step_re = 1.0 / (W - 1)
    step_im = (H / W) / (H - 1)
    d_re = np.abs(pix_flipped.real - ref_re).max() / step_re
    d_im = np.abs(pix_flipped.imag - ref_im).max() / step_im
    return float(max(d_re, d_im))


# ---------------------------------------------------------------------------
try:
    frame1 = timed_frame()
    counts1, _, _ = read_back()
    frame2 = timed_frame()
    counts, pix, n_div = read_back()
    np.save(out_path, counts)
    placement_dev = check_placement(pix)
    ref_point = frac.FP_params["ref_point"]
    ref_div_iter = int(frac.FP_params["div_iter"])
    n_tiles = frac.chunks_count
finally:
    for d in _tmp_dirs:
        shutil.rmtree(d, ignore_errors=True)

vals = counts.ravel()
result = {
    "tool": "fractalshades",
    "version": fs.__version__,
    "numba": numba.__version__,
    "numpy": np.__version__,
    "location": os.path.abspath(args.location),
    "width": W,
    "height": H,
    "threads": args.threads,
    "bla_eps": args.eps,
    "max_iter": max_iter,
    "fs_max_iter": fs_max_iter,
    "M_divergence": M_DIVERGENCE,
    "dps": dps,
    "dzndc": args.dzndc,
    "tiles": n_tiles,
    "chunk_size": fs.settings.chunk_size,
    "import_wall_s": import_wall,
    "import_cpu_s": import_cpu,
    "frame1": frame1,
    "frame2": frame2,
    "frames_identical": bool(np.array_equal(counts1, counts)),
    "ref_point_is_centre": bool(
        ref_point == mpmath.mpc(loc["center_re"], loc["center_im"])),
    "ref_orbit_escape_iter": ref_div_iter,
    "counts": {
        "out": os.path.abspath(out_path),
        "dtype": "int32",
        "min": int(vals.min()),
        "max": int(vals.max()),
        "median": float(np.median(vals)),
        "distinct": int(np.unique(vals).size),
        "escaped": n_div,
        "at_max_iter": int((vals == max_iter).sum()),
    },
    "conventions": (
        "count = fractalshades stop_iter - 1 for stop reason 'divergence' "
        "(|z_n| > 2 at fractalshades' n = first k with |z_(k+1)| > 2, plus "
        "1); max_iter for stop reason 'max_iter' (fractalshades run with "
        "max_iter + 1). Saved row 0 = lowest imaginary part (fractalshades "
        "row 0 is the highest; rows flipped), column 0 = lowest real part."
    ),
    "pixel_placement": {
        "fractalshades": (
            "pixel (row iy, column ix) of its nx x ny image is at "
            "c = x + (ix/(nx-1) - 1/2)*dx + i*(y + (1/2 - iy/(ny-1))*dx/"
            "xy_ratio), dx = frame width, ny = int(nx/xy_ratio + 0.5) "
            "(core.py Fractal.chunk_pixel_pos: linspace of "
            "kx*(2*ix - nx + 1), kx = 0.5/(nx-1), imaginary part negated "
            "and divided by xy_ratio; perturbation.py ref_path_c_from_pix: "
            "c - ref = dx * pix + (centre - ref); Cartesian projection "
            "is the identity, theta = 0). Pixel centres span the frame "
            "edge to edge, as zoomstack's, not (j + 0.5)/W."
        ),
        "zoomstack": (
            "c = cx + (j/(W-1) - 1/2)*s*(W/H) + i*(cy + (r/(H-1) - 1/2)*s), "
            "s = frame height"
        ),
        "match": (
            "same points when dx = s*W/H, xy_ratio = W/H, nx = W (so "
            "ny = H) and our row r = ny-1-iy: what this script passes and "
            "how it saves the counts"
        ),
        "measured_max_deviation_pixels": placement_dev,
    },
}
sys.stdout.flush()
os.write(_json_fd, (json.dumps(result) + "\n").encode())
