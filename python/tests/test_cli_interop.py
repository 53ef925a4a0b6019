"""The Zarr store contract between the ``zoomstack`` CLI (Rust, zarrs) and this package
(zarr-python): each tool resumes a store the other one started, rewriting only the units
without a completion marker, and refuses one written with other parameters.

The CLI is the release binary (``cargo build --release -p zoomstack-cli``, built here once).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import zarr

import zoomstack


# 16 levels of 32 x 48 from the notebook's stack, written in shards of 4 levels.
LEVELS, HEIGHT, WIDTH = 16, 32, 48
CLI_ARGS = [
    "render", "--levels", f"0:{LEVELS}", "--chunks", f"1,{HEIGHT},{WIDTH}",
    "--shards", f"4,{HEIGHT},{WIDTH}", "--set", f"stack.height={HEIGHT}",
    "--set", f"stack.width={WIDTH}", "--quiet",
]


@pytest.fixture(scope="module")
def cli(cli_binary):
    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([str(cli_binary), *args], capture_output=True, text=True, check=check)

    return run


def python_array():
    return zoomstack.stack(height=HEIGHT, width=WIDTH, chunks=(1, HEIGHT, WIDTH))[0:LEVELS]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return zoomstack.render_block((0, LEVELS, 1), None, None, zoomstack.StackParams(height=HEIGHT, width=WIDTH))


def lose_unit(store: Path, unit: int, fill: int) -> None:
    """An interrupted write: unit `unit` lost its marker and holds garbage."""
    w = zarr.open_array(store, path="counts", mode="r+")
    w[4 * unit : 4 * unit + 4] = fill
    os.remove(store / "counts" / "zoomstack.done" / f"{unit}.0.0")


def test_python_resumes_a_store_the_cli_started(tmp_path, cli, reference) -> None:
    store = tmp_path / "cli.zarr"
    cli(*CLI_ARGS, "--zarr", str(store))
    lose_unit(store, 1, fill=7)
    before = unit_files(store)
    assert zoomstack.store_info(store)["missing_units"] == 1
    z = zoomstack.to_zarr(python_array(), store, shards=(4, HEIGHT, WIDTH), scheduler="threads")
    after = unit_files(store)
    for unit in ("0.0.0", "2.0.0", "3.0.0"):
        assert after[unit] == before[unit], f"Python rewrote unit {unit}, which the CLI had finished"
    assert after["1.0.0"] != before["1.0.0"]
    np.testing.assert_array_equal(z[:], reference)
    assert z.attrs["zoomstack"]["complete"] is True


def test_cli_resumes_a_store_python_started(tmp_path, cli, reference) -> None:
    store = tmp_path / "py.zarr"
    zoomstack.to_zarr(python_array(), store, shards=(4, HEIGHT, WIDTH), scheduler="threads")
    lose_unit(store, 3, fill=5)
    before = unit_files(store)
    cli(*CLI_ARGS, "--zarr", str(store))
    after = unit_files(store)
    for unit in ("0.0.0", "1.0.0", "2.0.0"):
        assert after[unit] == before[unit], f"the CLI rewrote unit {unit}, which Python had finished"
    z = zarr.open_array(store, path="counts", mode="r")
    np.testing.assert_array_equal(z[:], reference)
    meta = json.loads((store / "counts" / "zarr.json").read_text())
    assert meta["attributes"]["zoomstack"]["complete"] is True
    assert sorted(os.listdir(store / "counts" / "zoomstack.done")) == ["0.0.0", "1.0.0", "2.0.0", "3.0.0"]


def test_damage_is_found_and_repaired_by_either_tool(tmp_path, cli, reference) -> None:
    """A unit rewritten behind the writers' back (zarr-python, other length) is found by a
    plain resume; three flipped bytes (same length) by ``zoomstack verify``, which zarr-python
    also refuses to read (crc32c); ``--verify`` rewrites it; a deleted shard likewise."""
    store = tmp_path / "cli.zarr"
    cli(*CLI_ARGS, "--zarr", str(store))
    zarr.open_array(store, path="counts", mode="r+")[8:12] = 9  # unit 2: other bytes, other length
    assert zoomstack.store_info(store)["missing_units"] == 1
    z = zoomstack.to_zarr(python_array(), store, shards=(4, HEIGHT, WIDTH), scheduler="threads")
    np.testing.assert_array_equal(z[:], reference)

    shard = store / "counts" / "c" / "1" / "0" / "0"
    data = bytearray(shard.read_bytes())
    for i in range(30, 33):
        data[i] ^= 0x5A
    shard.write_bytes(bytes(data))
    (store / "counts" / "c" / "3" / "0" / "0").unlink()
    with pytest.raises(Exception, match="(?i)checksum|crc"):
        zarr.open_array(store, path="counts", mode="r")[4:8]
    out = cli("verify", str(store), check=False)
    assert out.returncode == 1, out
    assert "damaged 1.0.0" in out.stdout and "CRC-32C" in out.stdout, out.stdout
    assert "damaged 3.0.0" in out.stdout and "missing" in out.stdout, out.stdout
    [report] = zoomstack.verify(store)
    assert not report["intact"]
    assert [(u, "CRC-32C" in why) for u, why in report["damaged"]] == [((1, 0, 0), True), ((3, 0, 0), False)]
    cli(*CLI_ARGS, "--zarr", str(store), "--verify")
    assert zoomstack.verify(store)[0]["intact"]
    assert cli("verify", str(store)).returncode == 0
    np.testing.assert_array_equal(zarr.open_array(store, path="counts", mode="r")[:], reference)


def test_cli_refuses_a_python_store_of_other_parameters(tmp_path, cli) -> None:
    store = tmp_path / "other.zarr"
    zoomstack.to_zarr(
        zoomstack.stack(height=HEIGHT, width=WIDTH, max_iter=300, chunks=(1, HEIGHT, WIDTH))[0:LEVELS],
        store, shards=(4, HEIGHT, WIDTH), scheduler="threads",
    )
    out = cli(*CLI_ARGS, "--zarr", str(store), check=False)
    assert out.returncode == 2, out
    assert "max_iter" in out.stderr, out.stderr


def unit_files(store: Path) -> dict[str, tuple[int, int]]:
    """Every shard file of ``store`` by unit index, with its inode and mtime (a file the
    second writer rewrote, or replaced, changes one of them)."""
    out = {}
    for f in (store / "counts" / "c").rglob("*"):
        if f.is_file():
            st = f.stat()
            out[".".join(f.relative_to(store / "counts" / "c").parts)] = (st.st_ino, st.st_mtime_ns)
    return out


def store_files(store: Path) -> dict[str, bytes]:
    return {
        str(f.relative_to(store)): f.read_bytes()
        for f in sorted(store.rglob("*"))
        if f.is_file()
    }


def test_python_writes_exactly_the_store_the_cli_writes(tmp_path, cli, reference) -> None:
    """One implementation of the contract: the same parameters give the same store, file for
    file (zarr.json with its attributes, shard bytes, markers)."""
    cli_store, py_store = tmp_path / "cli.zarr", tmp_path / "py.zarr"
    cli(*CLI_ARGS, "--zarr", str(cli_store))
    zoomstack.to_zarr(python_array(), py_store, shards=(4, HEIGHT, WIDTH), scheduler="threads")
    cli_meta = json.loads((cli_store / "counts" / "zarr.json").read_text())
    py_meta = json.loads((py_store / "counts" / "zarr.json").read_text())
    assert py_meta["attributes"] == cli_meta["attributes"]
    assert py_meta == cli_meta
    assert store_files(py_store) == store_files(cli_store)
    assert sorted(os.listdir(py_store / "counts" / "zoomstack.done")) == ["0.0.0", "1.0.0", "2.0.0", "3.0.0"]
    np.testing.assert_array_equal(zarr.open_array(py_store, path="counts", mode="r")[:], reference)


def test_cli_resumes_an_interrupted_python_write(tmp_path, cli, reference, monkeypatch) -> None:
    """to_zarr stopped after two units (an error in the third task): the CLI writes only the
    two units without a marker."""
    store = tmp_path / "py.zarr"
    original = zoomstack._zoomstack.write_units
    calls = []

    class Interrupted(Exception):
        pass

    def interrupted(spec, units, **kwargs):
        calls.append(units)
        if len(calls) > 2:
            raise Interrupted("stopped after two write units")
        return original(spec, units, **kwargs)

    monkeypatch.setattr(zoomstack._zoomstack, "write_units", interrupted)
    with pytest.raises(Interrupted):
        zoomstack.to_zarr(python_array(), store, shards=(4, HEIGHT, WIDTH), scheduler="sync")
    monkeypatch.undo()
    done = sorted(os.listdir(store / "counts" / "zoomstack.done"))
    assert len(done) == 2, done
    assert zoomstack.store_info(store)["complete"] is False
    before = unit_files(store)
    assert set(before) <= set(done)

    cli(*CLI_ARGS, "--zarr", str(store))
    after = unit_files(store)
    for unit in done:
        assert after.get(unit) == before.get(unit), f"the CLI rewrote unit {unit}"
    assert sorted(os.listdir(store / "counts" / "zoomstack.done")) == ["0.0.0", "1.0.0", "2.0.0", "3.0.0"]
    assert zoomstack.store_info(store)["complete"] is True
    np.testing.assert_array_equal(zarr.open_array(store, path="counts", mode="r")[:], reference)


def test_python_resumes_an_interrupted_cli_write(tmp_path, cli, reference) -> None:
    """A CLI job array that ran only share 0 of 2 (units 0 and 2): to_zarr writes only units
    1 and 3."""
    store = tmp_path / "cli.zarr"
    spec = tmp_path / "spec.toml"
    spec.write_text(
        f"[stack]\nheight = {HEIGHT}\nwidth = {WIDTH}\n\n[[sink]]\nkind = \"zarr\"\n"
        f"path = {json.dumps(str(store))}\nselect = \"[0:{LEVELS}, :, :]\"\n"
        f"chunks = [1, {HEIGHT}, {WIDTH}]\nshards = [4, {HEIGHT}, {WIDTH}]\n"
    )
    cli("init", str(spec), "--quiet")
    cli("run", str(spec), "--index", "0", "--count", "2", "--quiet")
    done = sorted(os.listdir(store / "counts" / "zoomstack.done"))
    assert done == ["0.0.0", "2.0.0"]
    assert zoomstack.store_info(store)["complete"] is False
    before = unit_files(store)

    z = zoomstack.to_zarr(python_array(), store, shards=(4, HEIGHT, WIDTH), scheduler="threads")
    after = unit_files(store)
    for unit in done:
        assert after[unit] == before[unit], f"Python rewrote unit {unit}"
    assert set(after) == {"0.0.0", "1.0.0", "2.0.0", "3.0.0"}
    assert z.attrs["zoomstack"]["complete"] is True
    np.testing.assert_array_equal(z[:], reference)
