"""Decompression bombs and oversized ids (issue 18, item 3): refused from metadata, before anything
is expanded (deepmend/data/limits.py), with one clear error — 413/422 JSON in the API."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deepmend.data.limits import InputTooLargeError, check_npz, read_parquet
from deepmend.errors import InputError

LIMIT_MB = 64  # DEEPMEND_MAX_DECOMPRESSED_MB in these tests: each bomb expands to ≥ 4 × this
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _small_limit(monkeypatch):
    monkeypatch.setenv("DEEPMEND_MAX_DECOMPRESSED_MB", str(LIMIT_MB))


def dictionary_bomb(path: Path) -> Path:
    """20,000 rows pointing at one 20 kB string: ≈ 400 MB once decoded, a few tens of kB on disk."""
    n, long = 20_000, "x" * 20_000
    ids = pa.array([f"S{i}" for i in range(n)])
    op = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([long]))
    t = pa.table({"site_id": ids, "lat": pa.array(np.full(n, 45.7)), "lon": pa.array(np.full(n, 4.8)), "operator": op})
    pq.write_table(t, path, compression="zstd", use_dictionary=True)
    assert path.stat().st_size < 1_000_000
    return path


def rows_bomb(path: Path) -> Path:
    """6 million rows of constants (over the row limit), run-length encoded into a small file."""
    n = 6_000_000
    t = pa.table({"site_id": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array(["A"])),
                  "lat": pa.array(np.full(n, 45.7)), "lon": pa.array(np.full(n, 4.8))})
    pq.write_table(t, path, compression="zstd", use_dictionary=True)
    return path


def deflate_bomb(path: Path, mb: int = 4 * LIMIT_MB) -> Path:
    """An .npz whose one member inflates to ``mb`` MB of zeros (≈ 1000:1)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (mb * 1024 * 1024 // 4,)})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf, zf.open("values.npy", "w", force_zip64=True) as f:
        f.write(header.getvalue())
        zero = bytes(1024 * 1024)
        for _ in range(mb):
            f.write(zero)
    return path


def header_bomb(path: Path) -> Path:
    """An .npz whose member's .npy header declares 400 GB in a 100-byte member (np.load would allocate it first)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (100_000_000_000,)})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("values.npy", header.getvalue() + b"\x00" * 16)  # magic, version, header, then 16 bytes of data
    return path


# --- readers ------------------------------------------------------------------------------
def test_parquet_dictionary_bomb_refused_before_decoding(tmp_path):
    with pytest.raises(InputTooLargeError, match="limit"):
        read_parquet(dictionary_bomb(tmp_path / "bomb.parquet"))


def test_parquet_rows_bomb_refused_from_the_footer(tmp_path):
    with pytest.raises(InputTooLargeError, match="rows, the limit"):
        read_parquet(rows_bomb(tmp_path / "rows.parquet"))


def test_parquet_bomb_through_the_site_reader_and_the_cli(tmp_path):
    from deepmend.data.readers import read_sites

    bomb = dictionary_bomb(tmp_path / "bomb.parquet")
    with pytest.raises(InputTooLargeError):
        read_sites(bomb)
    r = subprocess.run([sys.executable, "-m", "deepmend.cli", "predict", "--sites", str(bomb), "--model", "voronoi", "--all",
                        "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=str(ROOT),
                       env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "limit" in r.stderr and "bomb.parquet" in r.stderr


def test_small_parquet_still_reads(tmp_path):
    p = tmp_path / "ok.parquet"
    pq.write_table(pa.table({"site_id": ["A", "B"], "lat": [45.7, 45.8], "lon": [4.8, 4.9]}), p)
    assert list(read_parquet(p)["site_id"]) == ["A", "B"]


def test_npz_deflate_bomb_refused(tmp_path):
    from deepmend.grid.diffusion_map import DiffusionMap

    bomb = deflate_bomb(tmp_path / "map.npz")
    assert bomb.stat().st_size < 2_000_000
    with pytest.raises(InputTooLargeError, match="expands to"):
        check_npz(bomb)
    with pytest.raises(InputTooLargeError):
        DiffusionMap.load(bomb)


def test_npz_header_declaring_more_than_it_holds_refused(tmp_path):
    with pytest.raises(InputTooLargeError, match="declares an array"):
        check_npz(header_bomb(tmp_path / "h.npz"))


def test_not_a_zip_is_an_input_error(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a valid zip"):
        check_npz(p)


# --- the API --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["parquet", "npz", "gzip"])
def test_binary_and_compressed_uploads_are_422_json_unexpanded(client, tmp_path, kind):
    if kind == "parquet":
        data, name = dictionary_bomb(tmp_path / "b.parquet").read_bytes(), "sites.parquet"
    elif kind == "npz":
        data, name = deflate_bomb(tmp_path / "b.npz").read_bytes(), "sites.csv"  # the name does not matter: the content does
    else:
        import gzip

        data, name = gzip.compress(b"site_id,lat,lon\n" + b"S,45.7,4.8\n" * 3_000_000), "sites.csv"
    assert len(data) < 5 * 1024 * 1024
    r = client.post("/api/uploads", files={"file": (name, data, "application/octet-stream")})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/json" and "CSV" in r.json()["error"]


def test_100k_character_site_id_upload_is_4xx(client):
    csv = "site_id,lat,lon\n" + "Z" * 100_000 + ",45.70,4.80\nB,45.75,4.85\nC,45.72,4.90\nD,45.78,4.82\n"
    r = client.post("/api/uploads", files={"file": ("long.csv", csv.encode(), "text/csv")})
    assert 400 <= r.status_code < 500, r.text
    err = r.json()["error"]
    assert "100,000 characters" in err and "limit is 200" in err and len(err) < 400


def test_long_site_parameter_is_422(client):
    """60,000 characters (httpx's URL limit is 65,536; on a real server a request line over 16 KiB is
    a JSON 400 from the protocol layer: test_protocol.py::test_malformed_http_is_400_json)."""
    r = client.get("/api/map", params={"country": "FR", "city": "Lyon", "operator": "Orange", "site": "Z" * 60_000, "model": "voronoi"})
    assert r.status_code == 422 and "site" in r.json()["error"]
