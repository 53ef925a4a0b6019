"""Benchmarks of the zoomstack Dask package (not tests: numbers to read, not to assert).

    python python/bench/bench_dask.py [--runs 5] [--out DIR]

1. Defining the notebook's 120000-level array (`zoomstack.stack()`), median of runs.
   The notebook's `da.stack` of 120000 `from_delayed` levels takes about 58 s.
2. The notebook's preview `stack[0:20000:500, ::2, ::2]`, defined and computed on Dask's
   threaded scheduler, median of runs. The notebook takes about 116 s for the same cell.
3. A 2-worker `LocalCluster` (processes, 1 thread each) writing 64 levels of 512 x 512 to Zarr
   (shards of 8 levels x 512 x 512, chunks 1 x 256 x 256): wall time, MB/s and pixel-iterations
   per second, for two level sets: 64 levels spread over the stack (every 1875th level: the
   average cost) and the first 64 levels (cheap: mostly the main cardioid, which the kernel
   skips exactly).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time

import dask
import numpy as np
import zarr

import zoomstack


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def median_time(fn, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def pixel_iterations(counts: np.ndarray, max_iter: int) -> int:
    """Updates `z <- z^2 + c` the notebook's loop does: `min(n + 1, max_iter)` per pixel."""
    return int(np.minimum(counts.astype(np.int64) + 1, max_iter).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=None, help="directory for the Zarr stores (default: a temp dir)")
    args = ap.parse_args()

    print(f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}")
    print(
        f"zoomstack {zoomstack.__version__}; kernel {zoomstack.backend_description()}; "
        f"dask {dask.__version__}; zarr {zarr.__version__}; numpy {np.__version__}"
    )

    # 1. Define the whole stack.
    zoomstack.stack()  # warm imports
    med, times = median_time(lambda: zoomstack.stack(), max(args.runs, 7))
    print(f"\n1. define stack() (120000 x 512 x 512, 480000 blocks, 1 layer): median {med * 1e3:.1f} ms "
          f"(runs: {', '.join(f'{t * 1e3:.1f}' for t in times)} ms)")

    # 2. The notebook's preview on the threaded scheduler.
    def preview() -> np.ndarray:
        return zoomstack.stack()[0:20000:500, ::2, ::2].compute(scheduler="threads")

    image = preview()  # warm-up
    cpu0 = time.process_time()
    med, times = median_time(preview, args.runs)
    cpu = (time.process_time() - cpu0) / len(times)
    work = pixel_iterations(image, 256)
    print(f"2. preview stack[0:20000:500, ::2, ::2] -> {image.shape}, threads scheduler: median "
          f"{med:.3f} s (runs: {', '.join(f'{t:.3f}' for t in times)} s); {work:.3g} pixel-iterations, "
          f"{work / med:.3g} per wall second, {work / cpu:.3g} per CPU second (mean CPU {cpu:.3f} s); "
          f"notebook: about 116 s")

    # 3. A 2-worker LocalCluster writing 64 levels to Zarr.
    from distributed import Client, LocalCluster

    out = args.out or tempfile.mkdtemp(prefix="zoomstack-bench-")
    t = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    print(f"3. LocalCluster(n_workers=2, threads_per_worker=1, processes=True) started in "
          f"{time.perf_counter() - t:.2f} s; writing to {out}")
    try:
        client.run(lambda: zoomstack.render_block(0, 0, 0))  # warm the workers' imports
        for label, key in [
            ("64 levels spread over the stack (stack[::1875])", slice(None, None, 1875)),
            ("the first 64 levels (stack[0:64])", slice(0, 64)),
        ]:
            src = zoomstack.stack()[key]
            assert src.shape == (64, 512, 512), src.shape
            times = []
            cpus = []
            for run in range(max(1, min(args.runs, 3))):
                path = os.path.join(out, f"w{run}.zarr")
                shutil.rmtree(path, ignore_errors=True)
                cpu0 = client.run(time.process_time)
                t = time.perf_counter()
                z = zoomstack.to_zarr(src, path, chunks=(1, 256, 256), shards=(8, 512, 512))
                times.append(time.perf_counter() - t)
                cpu1 = client.run(time.process_time)
                cpus.append(sum(cpu1[w] - cpu0[w] for w in cpu1))
            data = z[:]
            work = pixel_iterations(data, 256)
            med = statistics.median(times)
            mb = data.nbytes / 1e6
            print(f"   {label}: median {med:.2f} s (runs: {', '.join(f'{x:.2f}' for x in times)} s), "
                  f"{mb / med:.1f} MB/s of uint16, {work:.3g} pixel-iterations = "
                  f"{work / med:.3g} per wall second; workers' CPU {statistics.median(cpus):.2f} s -> "
                  f"{work / statistics.median(cpus):.3g} per CPU second (render + zstd + write)")
    finally:
        client.close()
        cluster.close()
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
