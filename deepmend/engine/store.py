"""The batch engine's map store: one Zarr group, written by the workers, committed by the driver.

Layout (format ``deepmend-map-store/3``; one row per target BS, rows in tile order)::

    out.zarr/zarr.json                 attrs: format, settings (model, floor, job, tiling), kind
    out.zarr/site                      (site,) str       BS ids (the index coordinate), chunks of 1,024
    out.zarr/site_hash                 (site,) uint64    a hash of each id (:func:`site_hash`): the lookup index
    out.zarr/left, bottom              (site,) float64   the BS's 600×600 window on the 100 m lattice (m, store CRS)
    out.zarr/tile                      (site,) int32     the BS's tile (index into the attribute ``tiles``)
    out.zarr/mask                      (site, row, col) bool      valid cells of the window
    out.zarr/prob                      (site, row, col) float32   kind "map": P(ℓ|i), 0 below the floor
    out.zarr/coarse                    (site, crow, ccol) float32 kind "coarse": DeepMEND's network output
    out.zarr/lost, nnz                 (site,)           written at the end from the manifest
    out.zarr/manifest/<tile>.json      written by the driver once the tile's chunks are written: the commit
    out.zarr/manifest.parquet          one row per BS (site, tile, nnz, lost mass), at the end

Every per-BS array is north-up (row 0 is the window's northern edge), as DiffusionMap.prob and GeoTIFFs.
Each BS is one chunk of each per-BS array, and a tile's rows are known before it runs,
so **workers write their tiles' chunks themselves**, concurrently and without locks
(different chunks are different files or objects); the driver only creates the arrays,
keeps the manifest and writes the per-BS summaries at the end. The store is a plain
Zarr v3 group: ``xarray.open_zarr(path)`` gives a labelled Dataset (dimension ``site``
indexed by BS id, ``left``/``bottom`` as coordinates).

Fidelity: kind ``"map"`` (Voronoi, probabilistic, …) keeps cells with P ≥ ``floor``·max(P)
(the project's one meaning of ``--floor``) and the dropped mass is stored per BS in
``lost``. Kind ``"coarse"`` (DeepMEND) stores what the model really produces, the network's
output on its 500 m grid (14,400 float32 per BS), and :meth:`MapStore.read_map` recomputes
the 100 m map with the model's own post-processing — bit-identical to ``predict``; nothing
is lost, and the floor applies only where sparse maps are handed on (geolocation).

Resume rule: a tile counts as done exactly when its manifest file exists. Chunks are
written first and the manifest entry last (atomic rename), so a run killed mid-tile
leaves a tile without a manifest entry, which is recomputed and overwritten; finished
tiles are never recomputed. Stale hidden ``.part`` temporaries of a killed run are removed
when the store is reopened for writing. The store's settings must match the run's, else
the maps would mix models: that is an error, not a silent overwrite.
"""

from __future__ import annotations

import json
import warnings
from functools import cached_property
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from deepmend.engine.tasks import TileResult, sparsify
from deepmend.errors import InputError
from deepmend.grid.lattice import WINDOW_CELLS
from deepmend.io import atomic_path

FORMAT = "deepmend-map-store/3"
#: Formats this code reads (version 2 lacks ``site_hash``: its reader decodes every id).
READABLE = ("deepmend-map-store/2", FORMAT)
#: Store layout version, one of the settings: an older store is refused for resuming by name.
LAYOUT = 3
#: Rows per chunk of the ``site`` array: confirming one lookup decodes this many ids.
SITE_CHUNK = 1024


def site_hash(ids) -> np.ndarray:
    """uint64 per BS id: the first 8 bytes of BLAKE2b of its UTF-8 text (stable across runs and machines)."""
    from hashlib import blake2b

    return np.array([int.from_bytes(blake2b(str(s).encode(), digest_size=8).digest(), "little") for s in ids], dtype=np.uint64)
KINDS = ("map", "coarse")
PER_BS = {"map": ("prob", "mask"), "coarse": ("coarse", "mask")}


def codec(level: int = 3):
    """Blosc zstd + bitshuffle: mostly-zero maps and smooth fields compress to a few KB."""
    from zarr.codecs import BloscCodec

    return BloscCodec(cname="zstd", clevel=level, shuffle="bitshuffle")


def open_array(root: str, name: str):
    """One array of the store for writing (a worker's view; ``root`` is a path or an fsspec URL).

    Chunks are written even when they equal the fill value (``write_empty_chunks``): a map is
    never all zero, and zarr's test for it costs more CPU than compressing the chunk."""
    import zarr

    return zarr.open_array(f"{str(root).rstrip('/')}/{name}", mode="r+").with_config({"write_empty_chunks": True})


class RowWriter:
    """What a worker writes with: the store's per-BS arrays, each opened once per task.

    ``write(rows, arrays)`` stores ``arrays[name][k]`` in row ``rows[k]``; consecutive rows (a
    tile's rows always are) go in one call per array, which zarr encodes chunk by chunk.

    Parameters
    ----------
    root : str
        Path of the store's Zarr group.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self._arrays: dict = {}

    def write(self, rows: Sequence[int], arrays: dict[str, np.ndarray]) -> None:
        """Store ``arrays[name][k]`` in row ``rows[k]`` of each per-BS array ``name`` (see the class docstring).

        Parameters
        ----------
        rows : sequence of int
            Store rows, one per BS.
        arrays : dict of str to numpy.ndarray
            Array name → values with ``len(rows)`` as first dimension (north-up windows).
        """
        rows = [int(r) for r in rows]
        if not rows:
            return
        run = rows == list(range(rows[0], rows[0] + len(rows)))
        for name, data in arrays.items():
            arr = self._arrays.get(name)
            if arr is None:
                arr = self._arrays[name] = open_array(self.root, name)
            if run:
                arr[rows[0] : rows[0] + len(rows)] = data
            else:
                for k, r in enumerate(rows):
                    arr[r] = data[k]


def remove_stale_temporaries(path: Path) -> int:
    """Delete what a killed run leaves half-written (:func:`deepmend.io.remove_stale_temporaries`)."""
    from deepmend.io import remove_stale_temporaries as remove

    return remove(path)


#: Settings recorded but not compared on resume: a list renamed or copied is the same list (the content hashes decide).
NAMES_ONLY = ("job",)

#: What a change of each store setting means, in the user's words.
_CHANGES = {
    "deployment_sha256": "the sites changed (moved, added or removed)",
    "region_sha256": "the region changed",
    "weights_sha256": "other DeepMEND weights",
    "model": "another model or other model parameters",
    "floor": "another --floor",
    "max_sites_per_tile": "another --max-sites-per-tile",
    "job": "another scene",
    "crs": "another CRS",
    "n_targets": "another number of sites to map",
    "layout": "a store made by another deepmend version (its layout)",
}


def what_changed(have: dict, want: dict, keys: Sequence[str]) -> str:
    """One phrase per differing setting, e.g. "the sites changed (moved, added or removed) [deployment_sha256]";
    small values are shown as ``stored → now``."""
    out = []
    for k in keys:
        a, b = have.get(k), want.get(k)
        if k not in have:
            out.append(f"{_CHANGES.get(k, k)}? (the store does not record it: made by an older version) [{k}]")
            continue
        if k == "model" and isinstance(a, dict) and isinstance(b, dict):  # "probabilistic {"alpha": 1.3} → probabilistic {"alpha": 2.0}"
            a, b = (f"{m.get('name')} {json.dumps(m.get('params') or {}, sort_keys=True)}" for m in (a, b))
        elif k == "weights_sha256":
            a, b = str(a)[:12], str(b)[:12]
        detail = f" ({a} → {b})" if k not in ("deployment_sha256", "region_sha256") and len(f"{a}{b}") < 160 else ""
        out.append(f"{_CHANGES.get(k, k)}{detail} [{k}]")
    return "; ".join(out)


class MapStore:
    """The store's driver side (create, manifest, summaries) and its reader.

    Parameters
    ----------
    path : str or Path
        The Zarr group (``out.zarr``).
    settings : dict, optional
        The run's settings (model, floor, job, tiling). Without them the store is opened
        read-only; with them it is created, or checked to match (a resumed run).
    sites : sequence of str, optional
        The target BSs' ids in row (tile) order, when creating.
    left, bottom : numpy.ndarray of float64, shape (n_sites,), optional
        Each BS's window corner (m, store CRS), when creating.
    kind : {"map", "coarse"}, default "map"
        What is stored per BS (see the module docstring).
    post : dict, optional
        Post-processing settings of kind "coarse" (to recompute the 100 m maps).
    tiles : sequence of (str, int), optional
        Tile ids and their sizes, when creating.
    aliases : dict, optional
        Member id of a merged co-located antenna → its stored site's id, when creating
        (:meth:`row`, ``export --site`` accept either).

    Raises
    ------
    InputError
        If ``path`` exists and is not a map store, is missing (read-only), was made with other
        settings, or is of another format version.
    """

    def __init__(self, path: str | Path, settings: dict | None = None, *, sites: Sequence[str] | None = None,
                 left: np.ndarray | None = None, bottom: np.ndarray | None = None, kind: str = "map", post: dict | None = None,
                 tiles: Sequence[tuple[str, int]] = (), aliases: dict | None = None) -> None:
        """Open or create the store; see the class docstring."""
        import zarr

        self.path = Path(path)
        if self.path.exists() and not (self.path / "zarr.json").exists():
            if not (self.path.is_dir() and not any(self.path.iterdir())):
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
                self._create(want, list(sites or []), left, bottom, kind, post or {}, list(tiles))
                if aliases:  # member id of a merged co-located antenna → the stored site's id
                    self.root.attrs["aliases"] = {str(k): str(v) for k, v in aliases.items()}
            elif {k: v for k, v in have.items() if k not in NAMES_ONLY} != {k: v for k, v in want.items() if k not in NAMES_ONLY}:
                # the scene's name (the list's file name) is no part of the identity: its content hash is
                diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k) and k not in NAMES_ONLY)
                raise InputError(f"store was made with other settings: {what_changed(have, want, diff)}; resume with the same inputs and "
                                 "options, or use a new --store", file=str(self.path))
            remove_stale_temporaries(self.path)
        fmt = self.root.attrs.get("format")
        if fmt not in READABLE or (settings is not None and fmt != FORMAT):
            raise InputError(f"not a deepmend map store this version can {'read' if settings is None else 'resume'} (format {fmt!r}, expected {FORMAT!r}); "
                             "recompute it in a new --store", file=str(self.path))
        if settings is not None:
            (self.path / "manifest").mkdir(exist_ok=True)

    def _create(self, settings: dict, sites: list[str], left, bottom, kind: str, post: dict, tiles: list[tuple[str, int]]) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r}")
        n, w = len(sites), WINDOW_CELLS
        r = self.root
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zarr: variable-length strings are not in the v3 core spec yet
            a = r.create_array("site", shape=(n,), dtype=str, chunks=(max(min(n, SITE_CHUNK), 1),), dimension_names=("site",))
        h = r.create_array("site_hash", shape=(n,), dtype="u8", chunks=(max(n, 1),), dimension_names=("site",),
                           attributes={"description": "first 8 bytes of BLAKE2b of the UTF-8 site id (deepmend.engine.store.site_hash): the lookup index"})
        if n:
            a[:] = np.asarray(sites, dtype=str)
            h[:] = site_hash(sites)
        for name, data in (("left", left), ("bottom", bottom)):
            arr = r.create_array(name, shape=(n,), dtype="f8", chunks=(max(n, 1),), dimension_names=("site",), attributes={"units": "m"})
            if n:
                arr[:] = np.asarray(data, dtype=np.float64)
        tile = np.repeat(np.arange(len(tiles), dtype=np.int32), [k for _, k in tiles]) if tiles else np.zeros(n, np.int32)
        arr = r.create_array("tile", shape=(n,), dtype="i4", chunks=(max(n, 1),), dimension_names=("site",), attributes={"description": "index into the group's 'tiles' attribute"})
        if n:
            arr[:] = tile
        coords = "left bottom"
        flat = {"name": "default", "separator": "."}  # chunk files "c.<row>.0.0" side by side, not 3 directory levels per BS
        r.create_array("mask", shape=(n, w, w), dtype="bool", chunks=(1, w, w), fill_value=False, compressors=codec(1), chunk_key_encoding=flat,
                       dimension_names=("site", "row", "col"), attributes={"coordinates": coords, "description": "valid 100 m cells, row 0 = north"})
        if kind == "map":
            r.create_array("prob", shape=(n, w, w), dtype="f4", chunks=(1, w, w), fill_value=0.0, compressors=codec(), chunk_key_encoding=flat,
                           dimension_names=("site", "row", "col"),
                           attributes={"coordinates": coords, "long_name": "P(l|i)", "units": "1", "description": "probability per 100 m cell, row 0 = north; 0 below floor*max"})
        else:
            s = WINDOW_CELLS // int(post["factor"])
            r.create_array("coarse", shape=(n, s, s), dtype="f4", chunks=(1, s, s), fill_value=0.0, compressors=codec(), chunk_key_encoding=flat,
                           dimension_names=("site", "crow", "ccol"),
                           attributes={"coordinates": coords, "description": "DeepMEND network output on its coarse grid, row 0 = north; MapStore.read_map recomputes P(l|i) at 100 m"})
        r.attrs.update({"format": FORMAT, "settings": settings, "tiles": [t for t, _ in tiles], "kind": kind, "res": 100.0, "crs": settings.get("crs"), "window": w, **post})
        self.root = __import__("zarr").open_group(str(self.path), mode="a")

    # --- properties -----------------------------------------------------------
    @property
    def settings(self) -> dict:
        return dict(self.root.attrs["settings"])

    @property
    def kind(self) -> str:
        return str(self.root.attrs.get("kind", "map"))

    @cached_property
    def sites(self) -> np.ndarray:
        return np.array([str(s) for s in self.root["site"][:]], dtype=object)

    @cached_property
    def corners(self) -> tuple[np.ndarray, np.ndarray]:
        """(left, bottom) of every row's window (m)."""
        return np.asarray(self.root["left"][:]), np.asarray(self.root["bottom"][:])

    @cached_property
    def row_of(self) -> dict[str, int]:
        """Every id → its row (decodes every id: for bulk use; one lookup is :meth:`row`)."""
        return {s: k for k, s in enumerate(self.sites)}

    @cached_property
    def _hashes(self) -> np.ndarray | None:
        return np.asarray(self.root["site_hash"][:]) if "site_hash" in self.root else None

    def row(self, site_id: str) -> int | None:
        """The row of ``site_id`` (None if absent) without decoding every id: candidates by
        ``site_hash``, confirmed against their chunk of ``site``. Version 2 stores: :attr:`row_of`.
        The id of a merged co-located antenna (a member of a stored site) finds that site's row."""
        sid = str(site_id)
        if "row_of" in self.__dict__ or self._hashes is None:
            r = self.row_of.get(sid)
        else:
            r = None
            ids = self.root["site"]
            for k in np.flatnonzero(self._hashes == site_hash([sid])[0]):
                if str(ids[int(k)]) == sid:
                    r = int(k)
                    break
        if r is None:
            alias = (self.root.attrs.get("aliases") or {}).get(sid)
            return self.row(alias) if alias is not None and alias != sid else None
        return r

    # --- manifest ----------------------------------------------------------
    def done_tiles(self) -> set[str]:
        """Ids of the committed tiles (those with a manifest entry): what a resumed run skips."""
        d = self.path / "manifest"
        return {p.stem for p in d.glob("*.json") if not p.name.startswith(".")} if d.exists() else set()

    def manifest_entry(self, tile_id: str) -> dict:
        return json.loads((self.path / "manifest" / f"{tile_id}.json").read_text())

    def commit(self, res: TileResult, rows: Sequence[int]) -> None:
        """The tile's chunks are written (by its worker): record it (the commit point)."""
        entry = {
            "tile": res.tile_id, "sites": list(res.site_ids), "rows": [int(r) for r in rows], "nnz": res.nnz.tolist(), "lost": res.lost.tolist(),
            "seconds": round(res.seconds, 4), "fit_seconds": round(res.fit_seconds, 4), "cpu_seconds": round(res.cpu_seconds, 4), "size": res.size, "res": res.res, "worker": res.worker,
        }
        with atomic_path(self.path / "manifest" / f"{res.tile_id}.json") as tmp:
            tmp.write_text(json.dumps(entry))

    # --- reading ---------------------------------------------------------------
    def dense(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(P(ℓ|i) (B, 600, 600) float32, masks (B, 600, 600)) of store rows ``rows``, north-up (row 0 = north)."""
        rows = [int(r) for r in rows]
        masks = np.stack([self.root["mask"][r] for r in rows]) if rows else np.zeros((0, WINDOW_CELLS, WINDOW_CELLS), bool)
        if self.kind == "map":
            probs = np.stack([self.root["prob"][r] for r in rows]) if rows else np.zeros(masks.shape, np.float32)
            return probs, masks
        out = np.stack([self.root["coarse"][r] for r in rows])
        rc = [(WINDOW_CELLS // 2, WINDOW_CELLS // 2)] * len(rows)  # the BS's own cell: windows are centred on it (Scene.site_rc)
        from deepmend.models.deepmend import coarse_to_maps

        a = self.root.attrs
        # the post-processing runs in the lattice order it was computed in, so the map is bit-identical to predict's
        maps = coarse_to_maps(out[:, ::-1], masks[:, ::-1], int(a["factor"]), str(a["head"]), rc)
        return np.ascontiguousarray(maps[:, ::-1]), masks

    def read_map(self, site_id: str):
        """One BS's map as a :class:`DiffusionMap` (recomputed exactly for kind "coarse").

        Raises
        ------
        InputError
            If the site is not in the store or its tile is not committed yet.
        """
        from deepmend.grid.diffusion_map import DiffusionMap
        from deepmend.grid.lattice import Window

        reads = self.__dict__["_reads"] = self.__dict__.get("_reads", 0) + 1
        if reads == 2:  # a reader kept open (the API): index every id and corner once, then each read is a dict look-up
            self.row_of, self.corners  # noqa: B018
        r = self.row(site_id)
        if r is None:
            raise InputError("site not in this store", file=str(self.path), column="site", value=str(site_id))
        if not self._row_done(r):
            raise InputError("site's tile is not finished in this store (resume the run)", file=str(self.path), column="site", value=str(site_id))
        prob, mask = self.dense([r])
        if "corners" in self.__dict__:
            lb = (float(self.corners[0][r]), float(self.corners[1][r]))
        else:  # one element each: a fresh reader decodes no more than it needs
            lb = (float(self.root["left"][r]), float(self.root["bottom"][r]))
        win = Window(str(self.root.attrs.get("crs") or self.settings["crs"]), *lb)
        return DiffusionMap(win, prob[0], mask[0], str(site_id), self.settings["model"]["name"], {"store": str(self.path)})

    def _row_done(self, r: int) -> bool:
        """Is row ``r``'s tile committed? One ``stat`` of its manifest entry."""
        if "tile" not in self.root:  # written at creation; absent only in a store being created
            return False
        if "_tile_ids" not in self.__dict__:
            self.__dict__["_tile_ids"] = list(self.root.attrs.get("tiles", []))
            self.__dict__["_tile_of"] = self.root["tile"]
        tid = self.__dict__["_tile_ids"][int(self.__dict__["_tile_of"][r])]
        return (self.path / "manifest" / f"{tid}.json").exists()

    def read(self, tile_id: str, floor: float | None = None) -> TileResult:
        """A finished tile as sparse maps (the form consumers take), cells kept above ``floor`` (default: the store's)."""
        e = self.manifest_entry(tile_id)
        rows = e["rows"]
        probs, _ = self.dense(rows)
        f = float(self.settings.get("floor", 0.0)) if floor is None else float(floor)
        idxs, vals, lost = [], [], []
        for p in probs:
            i, v, lo = sparsify(p, f)
            idxs.append(i)
            vals.append(v)
            lost.append(lo)
        if self.kind == "map":  # the stored maps already lost their floor's mass
            lost = list(e["lost"])
        ptr = np.zeros(len(rows) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([a.size for a in idxs])
        left, bottom = self.corners
        return TileResult(tile_id, e["sites"], left[rows] if rows else np.zeros(0), bottom[rows] if rows else np.zeros(0), ptr,
                          np.concatenate(idxs) if idxs else np.zeros(0, np.uint32), np.concatenate(vals).astype(np.float32) if vals else np.zeros(0, np.float32),
                          np.asarray(lost, float), e.get("seconds", 0.0), e.get("fit_seconds", 0.0), e.get("size", WINDOW_CELLS), e.get("res", 100.0), e.get("cpu_seconds", 0.0))

    def iter_tiles(self) -> Iterator[TileResult]:
        """The committed tiles' results, by tile id."""
        for tid in sorted(self.done_tiles()):
            yield self.read(tid)

    # --- end of run ----------------------------------------------------------------
    def finalize(self) -> Path:
        """Per-BS summaries (``lost``, ``nnz``) as arrays, the manifest as Parquet, consolidated metadata."""
        import pandas as pd
        import zarr

        n = len(self.sites)
        lost = np.full(n, np.nan)
        nnz = np.full(n, -1, dtype=np.int64)
        rows = []
        for tid in sorted(self.done_tiles()):
            e = self.manifest_entry(tid)
            r = np.asarray(e.get("rows", []), dtype=int)
            lost[r] = e["lost"]
            nnz[r] = e["nnz"]
            rows.append(pd.DataFrame({"site_id": e["sites"], "tile": tid, "row": r, "nnz": e["nnz"], "lost_mass": e["lost"]}))
        root = zarr.open_group(str(self.path), mode="a")
        for name, data, desc in (("lost", lost, "probability mass below the floor (NaN: tile not finished)"), ("nnz", nnz, "cells kept (-1: tile not finished)")):
            if name in root:
                del root[name]
            root.create_array(name, data=data, chunks=(max(n, 1),), dimension_names=("site",), attributes={"description": desc})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # consolidated metadata is not in the v3 core spec; xarray reads it
            zarr.consolidate_metadata(str(self.path))
        df = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["site_id", "tile", "row", "nnz", "lost_mass"])
        out = self.path / "manifest.parquet"
        with atomic_path(out) as tmp:
            df.to_parquet(tmp, index=False)
        return out

    def bytes_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    def remove_tile(self, tile_id: str) -> None:
        """Forget a tile (its rows are rewritten when it is recomputed)."""
        (self.path / "manifest" / f"{tile_id}.json").unlink(missing_ok=True)
