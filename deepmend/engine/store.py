"""A resumable Zarr store of sparse diffusion maps.

Layout (Zarr v3, one directory)::

    out.zarr/zarr.json                 attrs: format, settings (model, floor, job, tiling)
    out.zarr/tiles/<tile>/{left,bottom,ptr,idx,prob,lost}   Blosc zstd + bitshuffle
    out.zarr/manifest/<tile>.json      written last, atomically: the tile is complete
    out.zarr/manifest.parquet          one row per BS (site, tile, nnz, lost mass), at the end

Resume rule: a tile counts as done exactly when its manifest file exists. Arrays are
written first and the manifest entry last (atomic rename), so a run killed mid-tile
leaves a tile without a manifest entry, which is recomputed and overwritten; finished
tiles are never recomputed. The store's settings must match the run's, else the maps
would mix models: that is an error, not a silent overwrite.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np

from deepmend.engine.tasks import TileResult
from deepmend.errors import InputError
from deepmend.io import atomic_path

FORMAT = "deepmend-map-store/1"
CHUNK = 1 << 20


def _codec():
    from zarr.codecs import BloscCodec

    return BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle")


class MapStore:
    """Driver-side reader/writer of a map store (workers never open it)."""

    def __init__(self, path: str | Path, settings: dict | None = None) -> None:
        """Open ``path``; with ``settings``, create it or check that it was made with the same ones."""
        import zarr

        self.path = Path(path)
        if self.path.exists() and not (self.path / "zarr.json").exists():
            if self.path.is_dir() and not any(self.path.iterdir()):
                pass
            else:
                raise InputError("exists but is not a deepmend map store (no zarr.json)", file=str(self.path))
        if settings is None:
            if not self.path.exists():
                raise InputError("map store not found", file=str(self.path))
            self.root = zarr.open_group(str(self.path), mode="r")
        else:
            self.root = zarr.open_group(str(self.path), mode="a")
            have = self.root.attrs.get("settings")
            want = json.loads(json.dumps(settings))
            if have is None:
                self.root.attrs.update({"format": FORMAT, "settings": want})
            elif have != want:
                diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
                raise InputError(f"store was made with other settings ({', '.join(diff)}: {[have.get(k) for k in diff]} vs {[want.get(k) for k in diff]}); use a new --store", file=str(self.path))
        if self.root.attrs.get("format") != FORMAT:
            raise InputError(f"not a deepmend map store (format {self.root.attrs.get('format')!r})", file=str(self.path))
        if settings is not None:
            (self.path / "manifest").mkdir(exist_ok=True)

    @property
    def settings(self) -> dict:
        return dict(self.root.attrs["settings"])

    # --- manifest ----------------------------------------------------------
    def done_tiles(self) -> set[str]:
        d = self.path / "manifest"
        return {p.stem for p in d.glob("*.json")} if d.exists() else set()

    def manifest_entry(self, tile_id: str) -> dict:
        return json.loads((self.path / "manifest" / f"{tile_id}.json").read_text())

    # --- tiles -------------------------------------------------------------
    def write(self, res: TileResult) -> None:
        """Arrays first, then the manifest entry (the commit point)."""
        grp = self.root.require_group("tiles").create_group(res.tile_id, overwrite=True)
        codec = _codec()
        for name in ("left", "bottom", "ptr", "idx", "prob", "lost"):
            data = np.ascontiguousarray(getattr(res, name))
            grp.create_array(name, data=data, chunks=(max(1, min(CHUNK, data.size)),), compressors=codec)
        entry = {
            "tile": res.tile_id, "sites": list(res.site_ids), "nnz": np.diff(res.ptr).tolist(), "lost": res.lost.tolist(),
            "seconds": round(res.seconds, 4), "fit_seconds": round(res.fit_seconds, 4), "cpu_seconds": round(res.cpu_seconds, 4), "size": res.size, "res": res.res,
        }
        with atomic_path(self.path / "manifest" / f"{res.tile_id}.json") as tmp:
            tmp.write_text(json.dumps(entry))

    def read(self, tile_id: str) -> TileResult:
        entry = self.manifest_entry(tile_id)
        g = self.root["tiles"][tile_id]
        arr = {name: g[name][:] for name in ("left", "bottom", "ptr", "idx", "prob", "lost")}
        return TileResult(tile_id, entry["sites"], arr["left"], arr["bottom"], arr["ptr"], arr["idx"], arr["prob"], arr["lost"],
                          entry.get("seconds", 0.0), entry.get("fit_seconds", 0.0), entry.get("size", 600), entry.get("res", 100.0), entry.get("cpu_seconds", 0.0))

    def iter_tiles(self) -> Iterator[TileResult]:
        for tid in sorted(self.done_tiles()):
            yield self.read(tid)

    def finalize(self) -> Path:
        """Consolidate the manifest into one Parquet table (site, tile, nnz, lost mass)."""
        import pandas as pd

        rows = []
        for tid in sorted(self.done_tiles()):
            e = self.manifest_entry(tid)
            rows.append(pd.DataFrame({"site_id": e["sites"], "tile": tid, "nnz": e["nnz"], "lost_mass": e["lost"]}))
        df = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["site_id", "tile", "nnz", "lost_mass"])
        out = self.path / "manifest.parquet"
        with atomic_path(out) as tmp:
            df.to_parquet(tmp, index=False)
        return out

    def bytes_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    def remove_tile(self, tile_id: str) -> None:
        (self.path / "manifest" / f"{tile_id}.json").unlink(missing_ok=True)
        shutil.rmtree(self.path / "tiles" / tile_id, ignore_errors=True)
