"""dask.distributed: a 2-process LocalCluster writes stores; a worker killed mid-write."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
import zarr
from distributed import Client, LocalCluster, get_task_stream

import zoomstack


def new_cluster() -> tuple[LocalCluster, Client]:
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    return cluster, Client(cluster)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    cluster, client = new_cluster()
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.mark.parametrize("shards", [None, (2, 64, 64)])
def test_cluster_writes_exact_store(tmp_path, client, small_params, small_direct, shards) -> None:
    s = zoomstack.ZoomStackArray.from_params(small_params, (1, 32, 32))
    with get_task_stream(client) as ts:
        z = zoomstack.to_zarr(s, tmp_path / "d.zarr", shards=shards)
    workers = {t["worker"] for t in ts.data}
    assert len(workers) == 2, f"tasks ran on {workers}"
    assert len(client.scheduler_info()["workers"]) == 2
    # zarr-python, in this process, reads back exactly the direct render.
    back = zarr.open_array(tmp_path / "d.zarr", path="counts", mode="r")
    np.testing.assert_array_equal(back[:], small_direct)
    meta = back.attrs["zoomstack"]
    assert meta["complete"] is True
    assert meta["select"] == "[0:16:1, 0:64:1, 0:64:1]"
    assert meta["write_unit"] == list(shards or (1, 32, 32))
    assert back.shards == shards and back.chunks == (1, 32, 32)
    n_units = 8 if shards else 64
    assert len(os.listdir(tmp_path / "d.zarr" / "counts" / "zoomstack.done")) == n_units


def test_cluster_computes_fused_slices(client, small_params, small_direct) -> None:
    s = zoomstack.ZoomStackArray.from_params(small_params, (2, 32, 32))
    got = s[1::3, ::-2, 5:60:3].compute()
    np.testing.assert_array_equal(got, small_direct[1::3, ::-2, 5:60:3])


def test_killing_a_worker_mid_write_yields_an_exact_store(tmp_path, small_params, small_direct) -> None:
    cluster, client = new_cluster()
    try:

        def slow_down(delay: float) -> None:
            # Runs in each worker process: every write task first sleeps, so the write is
            # still in progress when a worker is killed. (A restarted worker is not slowed.)
            import time as _time

            from zoomstack import _zoomstack as ext

            original = ext.write_units

            def slow(*args, **kwargs):
                _time.sleep(delay)
                return original(*args, **kwargs)

            ext.write_units = slow

        client.run(slow_down, 0.4)
        pids = client.run(os.getpid)
        store = tmp_path / "k.zarr"
        done_dir = store / "counts" / "zoomstack.done"
        seen: dict[str, object] = {}

        def killer() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if done_dir.exists() and os.listdir(done_dir):
                    break
                time.sleep(0.005)
            victim = sorted(pids)[0]
            seen["processing"] = len(client.processing().get(victim, ()))
            seen["done_at_kill"] = len(os.listdir(done_dir))
            os.kill(pids[victim], signal.SIGKILL)
            seen["killed"] = victim

        t = threading.Thread(target=killer)
        t.start()
        s = zoomstack.ZoomStackArray.from_params(small_params, (1, 32, 32))
        z = zoomstack.to_zarr(s, store, shards=(1, 64, 64))
        t.join()
        print("kill:", seen)
        assert "killed" in seen
        assert seen["done_at_kill"] < 16, "the write finished before the kill"
        assert seen["processing"] >= 1, "the killed worker had no task in flight"
        np.testing.assert_array_equal(z[:], small_direct)
        assert z.attrs["zoomstack"]["complete"] is True
        assert len(os.listdir(done_dir)) == 16
    finally:
        client.close()
        cluster.close()


def test_task_errors_reach_the_client_as_zoomstack_errors(tmp_path, client, small_params) -> None:
    """A store error raised in a worker (here: the store does not exist on the worker's file
    system) arrives as the same exception class (the extension's exceptions pickle)."""
    from zoomstack import _zarr

    s = zoomstack.ZoomStackArray.from_params(small_params, (1, 32, 32))
    spec = _zarr._store_spec(s, tmp_path / "none.zarr", None, None, None)
    future = client.submit(_zarr._write_block, np.array([[0, 0, 0]]), spec, pure=False)
    with pytest.raises(zoomstack.StoreMismatchError, match="create the store first"):
        future.result()
    assert not (tmp_path / "none.zarr").exists()
