"""Faults: a killed batch resumes to identical maps; a full or unwritable disk gives a clear
error and no partial file; corrupt weights, corrupt cached API maps and truncated
ground-truth files are detected (checksums) and reported, never used."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from deepmend.errors import InputError
from deepmend.grid.diffusion_map import DiffusionMap
from deepmend.grid.lattice import Window

REPO = Path(__file__).resolve().parents[2]
DEEPMEND = [sys.executable, "-m", "deepmend.cli"]


def small_map(seed: int = 0, size: int = 60) -> DiffusionMap:
    rng = np.random.default_rng(seed)
    mask = rng.random((size, size)) > 0.2
    p = (rng.random((size, size)) * mask).astype(np.float64)
    p /= p.sum()
    return DiffusionMap(Window("EPSG:2154", 842_000.0, 6_519_000.0, size, 100.0), p.astype(np.float32), mask, "S1", "voronoi", {"cache_key": "k"})


def flip(data: bytes, pos: int, mask: int = 0x01) -> bytes:
    b = bytearray(data)
    b[pos] ^= mask
    return bytes(b)


def no_leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.rglob("*") if p.name.startswith(".") or p.name.endswith(".part")]


# --- 1. a batch killed mid-run resumes to identical maps --------------------------------
@pytest.fixture(scope="module")
def batch_inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("batch")
    rows = ["site_id,lat,lon"] + [f"K{k},{45.70 + 0.02 * (k // 4) + 0.003 * (k % 2):.5f},{4.78 + 0.03 * (k % 4) + 0.002 * ((k // 4) % 3):.5f}" for k in range(24)]
    (d / "sites.csv").write_text("\n".join(rows) + "\n")
    ring = [[4.70, 45.65], [5.00, 45.65], [5.00, 45.88], [4.70, 45.88], [4.70, 45.65]]
    (d / "region.geojson").write_text(json.dumps({"type": "Polygon", "coordinates": [ring]}))
    return d


def _predict_cmd(d: Path, store: Path) -> list[str]:
    return DEEPMEND + ["predict", "--sites", str(d / "sites.csv"), "--region", str(d / "region.geojson"), "--model", "probabilistic",
                       "--all", "--store", str(store), "--workers", "0", "--max-sites-per-tile", "3"]


def test_batch_killed_mid_run_resumes_to_identical_maps(batch_inputs, tmp_path):
    from deepmend.engine.store import MapStore

    env = {**os.environ, "DEEPMEND_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    full, killed = tmp_path / "full.zarr", tmp_path / "killed.zarr"
    subprocess.run(_predict_cmd(batch_inputs, full), env=env, check=True, capture_output=True, timeout=300)
    n_tiles = len(MapStore(full).done_tiles())
    assert n_tiles >= 8

    proc = subprocess.Popen(_predict_cmd(batch_inputs, killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = killed / "manifest"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if manifest.is_dir() and len(list(manifest.glob("*.json"))) >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    done_at_kill = len(list(manifest.glob("*.json")))
    assert 3 <= done_at_kill < n_tiles, done_at_kill

    out = subprocess.run(_predict_cmd(batch_inputs, killed), env=env, check=True, capture_output=True, text=True, timeout=300)
    assert f"{done_at_kill} tiles resumed" in out.stdout or f"{done_at_kill} tiles resumed" in out.stderr, out.stdout + out.stderr

    a, b = MapStore(full), MapStore(killed)
    assert a.done_tiles() == b.done_tiles()
    for tid in sorted(a.done_tiles()):
        ta, tb = a.read(tid), b.read(tid)
        assert list(ta.site_ids) == list(tb.site_ids)
        for name in ("left", "bottom", "ptr", "idx", "prob", "lost"):
            x, y = getattr(ta, name), getattr(tb, name)
            assert x.dtype == y.dtype and np.array_equal(x, y), (tid, name)


# --- 2. a full or unwritable output directory -------------------------------------------
def test_output_directory_that_is_a_file_is_a_clear_error(tmp_path, capsys):
    from deepmend.cli import main

    blocker = tmp_path / "out"
    blocker.write_text("I am a file where a directory is expected")
    with pytest.raises(InputError, match="cannot create output directory"):
        small_map().save(blocker / "m.npz")
    code = main(["predict", "--country", "FR", "--city", "Lyon", "--operator", "Orange", "--model", "voronoi", "--all", "--out", str(blocker / "maps")])
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("error:") and "Traceback" not in err and "output directory" in err, err
    assert blocker.read_text().startswith("I am a file")


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("suffix", [".npz", ".tif"])
def test_disk_full_during_write_leaves_old_file_and_no_partial(tmp_path, monkeypatch, suffix):
    """The disk fills up in the middle of the write: clear error, old output intact, no temp file."""
    target = tmp_path / "maps" / f"m{suffix}"
    small_map(1).save(target)
    before = target.read_bytes()

    real_open = open

    class FullFile:
        """Writes half of what it is given, then fails like a full disk."""

        def __init__(self, fh):
            self.fh, self.written = fh, 0

        def write(self, data):
            if self.written > 100:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.written += len(data)
            return self.fh.write(data[: max(1, len(data) // 2)])

        def __getattr__(self, k):
            return getattr(self.fh, k)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.fh.close()

    if suffix == ".npz":
        import deepmend.grid.diffusion_map as dmod
        monkeypatch.setattr(dmod, "open", lambda p, mode="r", *a, **k: FullFile(real_open(p, mode, *a, **k)) if "w" in mode else real_open(p, mode, *a, **k), raising=False)
    else:
        import rasterio.shutil

        def cog_copy(src, dst, **kw):  # GDAL's COG driver writes the file: it fills the disk half-way
            Path(dst).write_bytes(b"II*\x00partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        monkeypatch.setattr(rasterio.shutil, "copy", cog_copy)
    with pytest.raises(InputError, match="No space left on device") as e:
        small_map(2).save(target)
    assert str(target) in str(e.value)
    assert target.read_bytes() == before, "the previous output must stay intact"
    assert no_leftovers(target.parent) == []
    monkeypatch.undo()
    assert np.array_equal(DiffusionMap.load(target).prob, small_map(1).prob)


def test_rename_fails_enospc_no_partial(tmp_path, monkeypatch):
    import deepmend.io as dio

    monkeypatch.setattr(dio.os, "replace", _enospc)
    target = tmp_path / "new" / "m.npz"
    with pytest.raises(InputError, match="cannot write output .*No space left"):
        small_map().save(target)
    assert not target.exists() and no_leftovers(target.parent) == []


def test_api_map_cache_on_full_disk_still_answers(client, service, small_upload, monkeypatch):
    """The disk cache cannot write: the request still answers 200, nothing partial is left."""
    import deepmend.io as dio

    q = {**small_upload, "site": "H7", "model": "probabilistic", "alpha": "2.25"}
    monkeypatch.setattr(dio.os, "replace", _enospc)
    r = client.get("/api/map.npy", params=q)
    assert r.status_code == 200, r.text
    maps = service.cache_root / "maps"
    assert no_leftovers(maps) == []
    res = service.get_map(q["country"], q["city"], q["operator"], "H7", "probabilistic", 2.25)
    assert not service.disk.path(res.key).exists()


# --- 3. corrupt weights, cached maps and ground-truth files -----------------------------
@pytest.fixture
def tiny_weights(tmp_path):
    import torch
    from deepmend.models.deepmend import save_weights
    from deepmend.models.features import CHANNELS
    from deepmend.models.deepmend.unet import UNet, UNetConfig

    torch.manual_seed(0)
    cfg = UNetConfig(in_channels=len(CHANNELS), base=4, levels=2)
    return save_weights(UNet(cfg).state_dict(), {"arch": cfg.as_dict(), "loss": "kl", "factor": 10, "channels": list(CHANNELS)}, tmp_path / "w" / "deepmend.json")


def test_corrupt_or_truncated_weights_are_refused(tiny_weights, tmp_path):
    from deepmend.models.deepmend import load_weights
    from deepmend.registry import make_model

    npz = tiny_weights.with_suffix(".npz")
    good = npz.read_bytes()
    rng = np.random.default_rng(0)
    cases = [("flip", flip(good, int(p), 1 << int(rng.integers(8)))) for p in rng.integers(0, len(good), 40)]
    cases += [("truncate", good[:n]) for n in (0, 1, len(good) // 2, len(good) - 1)] + [("append", good + b"\x00")]
    for kind, data in cases:
        npz.write_bytes(data)
        with pytest.raises(InputError, match="checksum mismatch") as e:
            load_weights(tiny_weights)
        assert "deepmend.npz" in str(e.value), kind
        with pytest.raises(InputError, match="checksum mismatch"):
            make_model("deepmend", weights=str(tiny_weights), runtime="torch")
    npz.write_bytes(good)
    load_weights(tiny_weights)  # intact again: accepted


def test_corrupt_cached_api_maps_are_detected_and_recomputed(client, service, small_upload):
    """Every single-bit flip of a cached map file, any truncation and a zeroed block: the file is
    refused (zip CRC-32 over every array byte, then the format checks) or its content is
    byte-identical — a corrupt map is never served; the API recomputes and rewrites it."""
    q = {**small_upload, "site": "H1", "model": "voronoi"}
    ref = client.get("/api/map.npy", params=q)
    assert ref.status_code == 200
    res = service.get_map(q["country"], q["city"], q["operator"], "H1", "voronoi")
    path = service.disk.path(res.key)
    good = path.read_bytes()
    want = DiffusionMap.load(path)

    detected = harmless = 0
    step = max(1, len(good) // 1500)
    positions = sorted(set(range(0, min(len(good), 600))) | set(range(0, len(good), step)) | set(range(max(0, len(good) - 600), len(good))))
    for pos in positions:
        path.write_bytes(flip(good, pos))
        got = service.disk.get(res.key)
        if got is None:
            detected += 1
        else:
            assert np.array_equal(got.prob, want.prob) and np.array_equal(got.mask, want.mask) and got.meta == want.meta, pos
            harmless += 1
    for n in sorted({0, 1, 22, 100, len(good) // 3, len(good) // 2, len(good) - 22, len(good) - 1}):
        path.write_bytes(good[:n])
        assert service.disk.get(res.key) is None, n
        detected += 1
    block = bytearray(good)
    block[len(good) // 2 : len(good) // 2 + 64] = b"\xab" * 64  # a damaged sector in the values
    assert bytes(block) != good
    path.write_bytes(bytes(block))
    assert service.disk.get(res.key) is None
    assert detected > 0.9 * (detected + harmless)
    print(f"cached-map corruption: {detected} detected, {harmless} harmless (zip metadata) of {detected + harmless}")

    # through HTTP: the corrupt file is not served; the right map is recomputed and the file rewritten
    path.write_bytes(flip(good, len(good) // 2, 0x40))
    service.clear_memory()
    again = client.get("/api/map.npy", params=q)
    assert again.status_code == 200 and again.content == ref.content
    rewritten = DiffusionMap.load(path)  # valid again (recomputed; only the timing differs)
    assert rewritten.meta["cache_key"] == want.meta["cache_key"] and np.array_equal(rewritten.prob, want.prob)


def test_truncated_or_corrupt_ground_truth_files_are_refused(tmp_path):
    """Compact ground-truth maps (deflate + zip CRC-32) and dense exports: every truncation and a
    sample of bit flips raise InputError naming the file, through the reader the evaluation and
    the training use; `groundtruth build` treats such a file as missing and rebuilds it."""
    from deepmend.groundtruth.reader import read_map
    from deepmend.groundtruth.storage import load_compact, read_header, save_compact
    from deepmend.grid.lattice import WINDOW_CELLS

    m = small_map(3, size=WINDOW_CELLS)
    path = tmp_path / "FR_Lyon_Orange" / "S1.npz"
    save_compact(m, path)
    good = path.read_bytes()
    want = read_map(path)
    cuts = sorted(set(np.linspace(0, len(good) - 1, 60).astype(int).tolist()) | {len(good) - 1, len(good) - 22})
    for n in cuts:
        path.write_bytes(good[:n])
        with pytest.raises(InputError) as e:
            read_map(path)
        assert "S1.npz" in str(e.value)
        with pytest.raises(InputError):
            load_compact(path)
        with pytest.raises(InputError):
            read_header(path)  # what 'groundtruth build' uses to decide a file is done: unreadable → rebuilt
    detected = harmless = 0
    for pos in range(0, len(good), max(1, len(good) // 400)):
        path.write_bytes(flip(good, pos))
        try:
            got = read_map(path)
        except InputError:
            detected += 1
            continue
        assert np.array_equal(got.prob, want.prob) and np.array_equal(got.mask, want.mask), pos
        harmless += 1
    assert detected > 0.9 * (detected + harmless)
