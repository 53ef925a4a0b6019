#!/usr/bin/env python3
"""Which formulas does this machine's numpy use for complex128 abs and square?

The notebook's kernel is `Z[mask] = Z[mask] * Z[mask] + C[mask]` and
`np.abs(Z) > 2.0`. To reproduce it bit for bit the Rust kernel must use the
same floating-point formulas. This script measures them empirically on N
random complex numbers with |z| within ~1e-14 relative of 2 (plus a second,
smaller set spread over the disc |z| < 2 for the square):

  np.abs(z), contiguous complex128, compared with
    (a) math.hypot(re, im)
    (b) larger * sqrt(fma(ratio, ratio, 1.0)),
        larger = max(|re|,|im|), ratio = min(|re|,|im|) / larger
    (c) sqrt(re*re + im*im)         (no fma)
  escape predicate np.abs(z) > 2.0 compared with
    re*re + im*im > 4.0 (no fma), fma(re, re, im*im) > 4.0, fma(im, im, re*re) > 4.0
  z*z (as the notebook: two distinct contiguous arrays, a * b) compared with
    re: fma(zr, zr, -(zi*zi)) | fma(-zi, zi, zr*zr) | zr*zr - zi*zi
    im: zr*zi + zi*zr         | fma(zr, zi, zi*zr)

fma is emulated exactly: a*b + c is formed exactly as a rational with integer
numerator and power-of-two denominator (float.as_integer_ratio) and rounded
once by Python's correctly rounded int / int true division. The emulation is
cross-checked against fractions.Fraction (and libm fma through ctypes when
available) on a subsample.

    python tools/check_numpy_abs.py [--n 10000000] [--seed 1]
"""

import argparse
import ctypes
import ctypes.util
import math
import multiprocessing as mp
import os
import platform
import sys
import time
from fractions import Fraction

import numpy as np


def fma_exact(a, b, c):
    """Correctly rounded a*b + c for finite floats (exact rational arithmetic)."""
    na, da = a.as_integer_ratio()
    nb, db = b.as_integer_ratio()
    nc, dc = c.as_integer_ratio()
    return (na * nb * dc + nc * da * db) / (da * db * dc)


def fma_fraction(a, b, c):
    return float(Fraction(a) * Fraction(b) + Fraction(c))


def _worker(args):
    zr, zi, ratio, zizi, zrzr = args
    f = fma_exact
    n = len(zr)
    abs_fma = [f(ratio[k], ratio[k], 1.0) for k in range(n)]
    re1 = [f(zr[k], zr[k], -zizi[k]) for k in range(n)]
    re2 = [f(-zi[k], zi[k], zrzr[k]) for k in range(n)]
    im2 = [f(zr[k], zi[k], zi[k] * zr[k]) for k in range(n)]
    n1 = [f(zr[k], zr[k], zizi[k]) for k in range(n)]
    n2 = [f(zi[k], zi[k], zrzr[k]) for k in range(n)]
    return abs_fma, re1, re2, im2, n1, n2


def exact_columns(zr, zi, ratio, zizi, zrzr, procs, chunk=250_000):
    jobs = []
    for s in range(0, len(zr), chunk):
        sl = slice(s, s + chunk)
        jobs.append((zr[sl].tolist(), zi[sl].tolist(), ratio[sl].tolist(),
                     zizi[sl].tolist(), zrzr[sl].tolist()))
    if procs > 1:
        with mp.Pool(procs) as pool:
            parts = pool.map(_worker, jobs)
    else:
        parts = [_worker(j) for j in jobs]
    return [np.array([v for p in parts for v in p[i]], dtype=np.float64) for i in range(6)]


def selfcheck_fma(rng, n=20000):
    """exact-int fma == Fraction fma (== libm fma if loadable) on hard cases."""
    a = rng.uniform(-2, 2, n)
    b = a + rng.uniform(-1e-12, 1e-12, n)
    c = -(a * b)  # cancellation: the low bits decide everything
    bad_frac = sum(fma_exact(x, y, z) != fma_fraction(x, y, z) for x, y, z in zip(a, b, c))
    libm_msg = "libm fma not loadable"
    try:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        libm.fma.restype = ctypes.c_double
        libm.fma.argtypes = [ctypes.c_double] * 3
        bad_libm = sum(fma_exact(x, y, z) != libm.fma(x, y, z) for x, y, z in zip(a, b, c))
        bad_libm += sum(fma_exact(x, x, 1.0) != libm.fma(x, x, 1.0) for x in a * 1e-8)
        libm_msg = f"mismatches vs libm fma: {bad_libm}"
    except (OSError, AttributeError):
        pass
    return f"fma emulation self-check on {n} cancelling samples: mismatches vs Fraction: " \
           f"{bad_frac}, {libm_msg}"


def near2_samples(rng, n):
    mag = 2.0 * (1.0 + rng.uniform(-1e-14, 1e-14, n))
    th = rng.uniform(0.0, 2.0 * math.pi, n)
    z = np.empty(n, dtype=np.complex128)
    z.real = mag * np.cos(th)
    z.imag = mag * np.sin(th)
    return z


def disc_samples(rng, n):
    z = np.empty(n, dtype=np.complex128)
    z.real = rng.uniform(-2, 2, n)
    z.imag = rng.uniform(-2, 2, n)
    return z


def neq(a, b):
    return int(np.count_nonzero(a != b))


def tails_consistent(op, z):
    """op on slices of length 1..40 at several offsets == op on the whole array."""
    full = op(z)
    bad = 0
    for n in range(1, 41):
        for off in (0, 1, 3, 7, 1000):
            sub = np.ascontiguousarray(z[off:off + n])
            bad += neq(op(sub), full[off:off + n])
    return bad


def analyse(z, procs, label):
    zr = np.ascontiguousarray(z.real)
    zi = np.ascontiguousarray(z.imag)
    ar, ai = np.abs(zr), np.abs(zi)
    larger = np.maximum(ar, ai)
    ratio = np.minimum(ar, ai) / larger
    zrzr = zr * zr
    zizi = zi * zi
    t0 = time.perf_counter()
    abs_fma, re1, re2, im2, n1, n2 = exact_columns(zr, zi, ratio, zizi, zrzr, procs)
    t_exact = time.perf_counter() - t0

    res = {"label": label, "n": len(z), "t_exact": t_exact}
    # --- abs
    a = np.abs(z)
    res["abs_vs_hypot"] = neq(a, np.array([math.hypot(x, y) for x, y in zip(zr.tolist(), zi.tolist())]))
    res["abs_vs_np_hypot"] = neq(a, np.hypot(zr, zi))
    res["abs_vs_fma_formula"] = neq(a, larger * np.sqrt(abs_fma))
    res["abs_vs_nofma_ratio_formula"] = neq(a, larger * np.sqrt(ratio * ratio + 1.0))
    res["abs_vs_sqrt_sum"] = neq(a, np.sqrt(zrzr + zizi))
    res["abs_tails"] = tails_consistent(np.abs, z)
    # --- escape predicate
    esc = a > 2.0
    res["n_escaped"] = int(np.count_nonzero(esc))
    res["esc_vs_sum_gt4"] = neq(esc, (zrzr + zizi) > 4.0)
    res["esc_vs_fma_rr_gt4"] = neq(esc, n1 > 4.0)
    res["esc_vs_fma_ii_gt4"] = neq(esc, n2 > 4.0)
    res["esc_vs_hypot_gt2"] = neq(esc, np.hypot(zr, zi) > 2.0)
    s = zrzr + zizi
    bad = esc != (s > 4.0)
    # how close to 4 the cheap norm is wherever the cheap test disagrees,
    # in units of 2**-50 (= ulp of values in [4, 8)): sizes a guard band
    res["max|s-4|/2^-50_at_esc_mismatch"] = (
        int(np.max(np.abs(s[bad] - 4.0)) / 2.0**-50) if bad.any() else 0)
    # --- square, as the notebook does it: two distinct contiguous arrays
    b1, b2 = z.copy(), z.copy()
    sq = b1 * b2
    res["sq_same_buffer_differs"] = neq(sq, z * z)
    res["sq_re_vs_fma(zr,zr,-(zi*zi))"] = neq(sq.real, re1)
    res["sq_re_vs_fma(-zi,zi,zr*zr)"] = neq(sq.real, re2)
    res["sq_re_vs_plain"] = neq(sq.real, zrzr - zizi)
    res["sq_im_vs_zr*zi+zi*zr"] = neq(sq.imag, zr * zi + zi * zr)
    res["sq_im_vs_fma(zr,zi,zi*zr)"] = neq(sq.imag, im2)
    res["sq_tails"] = tails_consistent(lambda v: v.copy() * v.copy(), z)
    # masked-copy path exactly as in the notebook (boolean index -> new array)
    mask = np.random.default_rng(7).random(len(z)) < 0.5
    res["sq_masked_vs_full"] = neq(z[mask] * z[mask], sq[mask])
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description="numpy complex abs / square formula check")
    ap.add_argument("--n", type=int, default=10_000_000, help="near-|2| samples")
    ap.add_argument("--n-disc", type=int, default=1_000_000, help="samples over |re|,|im| < 2")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    print(f"numpy {np.__version__}, python {platform.python_version()}, {platform.machine()}, "
          f"cpu fma={'fma' in flags} avx2={'avx2' in flags} avx512f={'avx512f' in flags}")
    print(selfcheck_fma(rng))

    t0 = time.perf_counter()
    results = [analyse(near2_samples(rng, args.n), args.procs, "near |z|=2"),
               analyse(disc_samples(rng, args.n_disc), args.procs, "disc |re|,|im|<2")]
    print(f"total {time.perf_counter() - t0:.1f} s\n")

    keys = [k for k in results[0] if k not in ("label", "t_exact")]
    print(f"{'mismatch counts':34s}" + "".join(f"{r['label']:>20s}" for r in results))
    for k in keys:
        print(f"{k:34s}" + "".join(f"{r[k]:>20d}" for r in results))

    r0 = results[0]
    abs_ok = all(r["abs_vs_fma_formula"] == 0 and r["abs_tails"] == 0 for r in results)
    sq_ok = all(r["sq_re_vs_fma(zr,zr,-(zi*zi))"] == 0 and r["sq_im_vs_zr*zi+zi*zr"] == 0
                and r["sq_tails"] == 0 and r["sq_masked_vs_full"] == 0 for r in results)
    esc_ok = all(r["esc_vs_sum_gt4"] == 0 for r in results)
    print("\nSummary:")
    print(f"  np.abs == larger*sqrt(fma(ratio,ratio,1)) on all samples: {abs_ok}"
          f" (math.hypot mismatches near 2: {r0['abs_vs_hypot']} of {r0['n']})")
    print(f"  z*z == (fma(zr,zr,-(zi*zi)), zr*zi+zi*zr) on all samples: {sq_ok}")
    print(f"  np.abs(z) > 2.0 == (zr*zr + zi*zi > 4.0) on all samples: {esc_ok}"
          f" ({r0['esc_vs_sum_gt4']} of {r0['n']} near-2 samples differ; all within "
          f"{r0['max|s-4|/2^-50_at_esc_mismatch']} * 2^-50 of s = 4)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
