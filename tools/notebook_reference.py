#!/usr/bin/env python3
"""Reference renderer for zoomstack: the notebook's numpy kernel, verbatim.

`mandelbrot_array` and `render_level` below are copied from the seed notebook
(seed/000_6b495cc17dd22289.txt, cells In[4] and In[5]) with the SAME numpy
operations, in the same order; only the `@delayed` decorator is dropped.
Do not "improve" them: the point is to reproduce the notebook bit for bit.

Running this script (re)generates the parity fixtures that the Rust kernel
tests compare against:

    python tools/notebook_reference.py [--out DIR]

Default output: kernel/tests/fixtures/ next to this file's repo root.
Each case is NAME.u16.gz = gzip of the raw little-endian uint16 counts,
row-major; cases.json describes every case (see the fixtures README.md).
"""

import argparse
import gzip
import hashlib
import json
import os
import platform
import sys
import time

import numpy as np

# Notebook constants (cell In[2]).
HEIGHT = 512
WIDTH = 512
N_LEVELS = 120000
CENTER = (-0.743645857047151, 0.13182592380533)
SCALE0 = 3.0
ZOOM_PER_LEVEL = 1.00025
MAX_ITER = 256
DTYPE = np.uint16


# --- copied from the notebook, cell In[4] -----------------------------------
def mandelbrot_array(height, width, center, scale, max_iter, dtype=np.uint16):
    cx, cy = center
    aspect = width / height
    x = np.linspace(cx - (scale * aspect) / 2.0, cx + (scale * aspect) / 2.0, width, dtype=np.float64)
    y = np.linspace(cy - scale / 2.0, cy + scale / 2.0, height, dtype=np.float64)
    C = x[None, :] + 1j * y[:, None]
    Z = np.zeros_like(C)
    counts = np.zeros(C.shape, dtype=np.int32)
    mask = np.ones(C.shape, dtype=bool)
    for k in range(max_iter):
        Z[mask] = Z[mask] * Z[mask] + C[mask]
        escaped = (np.abs(Z) > 2.0) & mask
        counts[escaped] = k
        mask &= ~escaped
        if not mask.any():
            break
    counts[mask] = max_iter
    return counts.astype(dtype, copy=False)


# --- copied from the notebook, cell In[5] (without @delayed) ----------------
def render_level(i, height, width, center, scale0, zoom_per_level, max_iter, dtype=np.uint16):
    scale = scale0 / (zoom_per_level ** i)
    return mandelbrot_array(height, width, center, scale, max_iter, dtype)


# --- fixture generation -------------------------------------------------------
SMALL_LEVELS = [0, 1000, 3000, 10000, 20000, 40000, 60000, 90000, 119999]
MAXITER_LEVELS = [0, 60000, 119999]
MAXITER_VARIANTS = [1, 2, 255, 1000, 65535]
FULL_LEVELS = [0, 3000, 119999]
PREVIEW_LEVELS = list(range(0, 20000, 500))  # stack[0:20000:500, ::2, ::2]


def cpu_flags():
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags.update(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    return flags


def numpy_simd_features():
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # pragma: no cover
        try:
            from numpy.core._multiarray_umath import __cpu_features__
        except ImportError:
            return {}
    return {k: bool(v) for k, v in __cpu_features__.items() if v}


def generator_info():
    flags = cpu_flags()
    return {
        "script": "tools/notebook_reference.py",
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "system": platform.system(),
        "cpu_fma": "fma" in flags,
        "cpu_avx2": "avx2" in flags,
        "cpu_avx512f": "avx512f" in flags,
        "numpy_cpu_features": sorted(numpy_simd_features()),
    }


def case_specs():
    """Yield (name, meta, render_fn) for every fixture case."""
    base = {
        "center": list(CENTER),
        "scale0": SCALE0,
        "zoom_per_level": ZOOM_PER_LEVEL,
    }

    def one(level, h, w, mi):
        return lambda: render_level(level, h, w, CENTER, SCALE0, ZOOM_PER_LEVEL, mi, DTYPE)

    # a. small grids (aspect != 1) at the notebook's zoom path.
    for h, w in [(48, 64), (17, 33)]:
        for lvl in SMALL_LEVELS:
            name = f"small_{h}x{w}_L{lvl}_it{MAX_ITER}"
            meta = dict(level=lvl, height=h, width=w, max_iter=MAX_ITER, shape=[h, w], **base)
            yield name, meta, one(lvl, h, w, MAX_ITER)

    # b. max_iter variants on a 32x32 grid.
    for mi in MAXITER_VARIANTS:
        for lvl in MAXITER_LEVELS:
            h = w = 32
            name = f"maxiter_{h}x{w}_L{lvl}_it{mi}"
            meta = dict(level=lvl, height=h, width=w, max_iter=mi, shape=[h, w], **base)
            yield name, meta, one(lvl, h, w, mi)

    # c. full notebook frames.
    for lvl in FULL_LEVELS:
        name = f"full_{HEIGHT}x{WIDTH}_L{lvl}_it{MAX_ITER}"
        meta = dict(level=lvl, height=HEIGHT, width=WIDTH, max_iter=MAX_ITER,
                    shape=[HEIGHT, WIDTH], **base)
        yield name, meta, one(lvl, HEIGHT, WIDTH, MAX_ITER)

    # d. the notebook's preview: np.asarray(stack[0:20000:500, ::2, ::2]).
    def preview():
        frames = [render_level(i, HEIGHT, WIDTH, CENTER, SCALE0, ZOOM_PER_LEVEL, MAX_ITER, DTYPE)
                  for i in PREVIEW_LEVELS]
        return np.stack(frames, axis=0)[:, ::2, ::2]

    name = "preview_0_20000_500_step2"
    meta = dict(levels=PREVIEW_LEVELS, height=HEIGHT, width=WIDTH, max_iter=MAX_ITER,
                shape=[len(PREVIEW_LEVELS), HEIGHT // 2, WIDTH // 2],
                select="[0:20000:500, ::2, ::2]", **base)
    yield name, meta, preview


def write_case(out_dir, name, meta, arr):
    arr = np.ascontiguousarray(arr, dtype="<u2")
    assert list(arr.shape) == meta["shape"], (name, arr.shape, meta["shape"])
    raw = arr.tobytes(order="C")
    fname = f"{name}.u16.gz"
    # mtime=0 and no file name: byte-identical output on regeneration.
    with open(os.path.join(out_dir, fname), "wb") as f:
        f.write(gzip.compress(raw, compresslevel=9, mtime=0))
    entry = {"name": name, "file": fname}
    entry.update(meta)
    entry["sha256"] = hashlib.sha256(raw).hexdigest()
    entry["min"] = int(arr.min())
    entry["max"] = int(arr.max())
    return entry


def main(argv=None):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(repo, "kernel", "tests", "fixtures"),
                    help="output directory (default: kernel/tests/fixtures)")
    ap.add_argument("--only", default=None,
                    help="only generate cases whose name contains this substring "
                         "(cases.json then lists only those)")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    t_all = time.perf_counter()
    cases = []
    for name, meta, fn in case_specs():
        if args.only and args.only not in name:
            continue
        t0 = time.perf_counter()
        arr = fn()
        cases.append(write_case(args.out, name, meta, arr))
        print(f"{name:40s} {str(tuple(arr.shape)):>16s}  {time.perf_counter() - t0:7.2f} s",
              flush=True)

    doc = {"generator": generator_info(), "cases": cases}
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases in {time.perf_counter() - t_all:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
