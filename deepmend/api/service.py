"""What the HTTP API does, without HTTP: scenes, fitted models, cached maps, metrics, features, uploads.

Every request resolves a *scene* (a catalog city/operator or an uploaded site list),
a fitted model (fitting takes seconds, so fitted models are kept in a bounded LRU and
concurrent requests for the same one wait on a single fit) and a map (milliseconds to
compute, kept on disk under ``cache_dir()/maps`` as ``.npz`` so that a restart or another
worker process reuses it; the directory is bounded in size and evicted by mtime).

Nothing here reads a path a client supplied: uploads are stored under a name derived
from the SHA-256 of their content and looked up by that id only. The upload store is
bounded too (count and bytes, oldest upload evicted first): an evicted id answers 404
like an unknown one, and the client uploads the file again.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable

import numpy as np

from deepmend.config import cache_dir
from deepmend.errors import DeepmendError, InputError, NotAvailableError
from deepmend.grid.diffusion_map import DiffusionMap

log = logging.getLogger("deepmend.api")

#: Every model name the API documents, in the order the web app lists them.
DOCUMENTED_MODELS = ("voronoi", "probabilistic", "voronoiboost", "teacher", "deepmend", "groundtruth")
GROUND_TRUTH = "groundtruth"
#: Baselines a model is compared with in /api/metrics (those registered).
BASELINES = ("voronoi", "probabilistic", "voronoiboost")
#: Baselines fitted in a second or two: computed in the request; others (VoronoiBoost trains on
#: other cities' ground truth) are fitted in the background and reported as null meanwhile.
FAST_BASELINES = ("voronoi", "probabilistic")
DEFAULT_LABELS = {
    "voronoi": "Voronoi", "probabilistic": "Probabilistic (Traag)", "voronoiboost": "VoronoiBoost",
    "teacher": "Teacher (best α per BS)", "deepmend": "DeepMEND", "groundtruth": "Ground truth",
}

UPLOAD_COUNTRY = "upload"
UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{16}$")
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_ROWS = 20_000
#: Uploads kept on disk (oldest evicted first). Anyone may upload, so without a cap the
#: uploads folder would grow until the disk is full; 200 × ≤ 5 MB files stay well under
#: the byte cap in practice, which is there for deployments that raise the count.
MAX_STORED_UPLOADS = 200
MAX_STORED_UPLOAD_BYTES = 200 * 1024 * 1024

#: Bump when the content of cached maps would change for the same request.
MAP_CACHE_VERSION = 1


class TooLargeError(DeepmendError):
    """An upload over the size or row limits (HTTP 413)."""


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


# --------------------------------------------------------------------------------------
# A bounded, thread-safe LRU whose values are computed once per key
# --------------------------------------------------------------------------------------
class OnceLRU:
    """LRU of at most ``maxsize`` values; concurrent ``get`` of a missing key compute it once.

    The first caller runs ``factory``; the others wait on its future. A failed
    computation is not cached: every waiter gets the exception and the next call retries.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = max(1, int(maxsize))
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._pending: dict[Hashable, Future] = {}
        self._lock = threading.Lock()
        self.computed = 0  # number of factory runs, for tests

    def get(self, key: Hashable, factory: Callable[[], Any]) -> tuple[Any, bool]:
        """(value, hit) — ``hit`` is False when this call (or one it waited on) computed it."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key], True
            fut = self._pending.get(key)
            owner = fut is None
            if owner:
                fut = self._pending[key] = Future()
        if not owner:
            return fut.result(), False
        try:
            value = factory()
        except BaseException as exc:
            with self._lock:
                self._pending.pop(key, None)
            fut.set_exception(exc)
            raise
        with self._lock:
            self.computed += 1
            self._pending.pop(key, None)
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        fut.set_result(value)
        return value, False

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._data.pop(key, None)

    def discard_if(self, pred: Callable[[Hashable], bool]) -> int:
        """Drop every cached key for which ``pred`` is true (e.g. all entries of a deleted upload)."""
        with self._lock:
            gone = [k for k in self._data if pred(k)]
            for k in gone:
                del self._data[k]
        return len(gone)

    def peek(self, key: Hashable) -> Any | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        return None

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


# --------------------------------------------------------------------------------------
# On-disk map cache
# --------------------------------------------------------------------------------------
class MapDiskCache:
    """``.npz`` maps under ``root``, named by the SHA-256 of their request key.

    Writes are atomic (``DiffusionMap.save``), reads touch the file's mtime so that
    eviction (oldest mtime first, down to 90 % of ``max_bytes``) is least-recently-used.
    A file that vanishes or fails to load (evicted by another process, truncated disk)
    counts as a miss. Safe with several threads and several processes on one directory.
    """

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._total: int | None = None  # bytes, estimated; rescanned at each eviction

    @staticmethod
    def digest(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()

    def path(self, key: str) -> Path:
        h = self.digest(key)
        return self.root / h[:2] / f"{h}.npz"

    def get(self, key: str) -> DiffusionMap | None:
        path = self.path(key)
        try:
            dm = DiffusionMap.load(path)
        except InputError:
            return None  # absent, evicted or unreadable: recompute
        except OSError:
            return None
        if dm.meta.get("cache_key") != key:
            return None  # hash collision or foreign file: never serve it
        try:
            os.utime(path)
        except OSError:
            pass
        return dm

    def put(self, key: str, dm: DiffusionMap) -> None:
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            dm.save(path)
            size = path.stat().st_size
        except (InputError, OSError) as exc:  # a full or read-only disk must not fail the request
            log.warning("map cache: cannot write %s: %s", path, exc)
            return
        with self._lock:
            if self._total is None:
                self._total = self._scan_total()
            else:
                self._total += size
            over = self._total > self.max_bytes
        if over:
            self.evict()

    def _files(self) -> list[tuple[float, int, Path]]:
        out = []
        if not self.root.exists():
            return out
        for p in self.root.glob("*/*.npz"):
            try:
                st = p.stat()
            except OSError:
                continue
            out.append((st.st_mtime, st.st_size, p))
        return out

    def _scan_total(self) -> int:
        return sum(s for _, s, _ in self._files())

    def evict(self) -> int:
        """Delete least recently used files until the cache holds ≤ 90 % of its budget."""
        with self._lock:
            files = sorted(self._files())
            total = sum(s for _, s, _ in files)
            target = int(self.max_bytes * 0.9)
            removed = 0
            for _, size, p in files:
                if total <= target:
                    break
                try:
                    p.unlink()
                    removed += 1
                except FileNotFoundError:
                    pass
                except OSError:
                    continue
                total -= size
            self._total = total
            return removed

    def total_bytes(self) -> int:
        return self._scan_total()


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SceneRef:
    """A resolved scene request, with canonical names (as the catalog spells them)."""

    country: str
    city: str
    operator: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.country, self.city, self.operator)

    def params(self) -> dict[str, str]:
        return {"country": self.country, "city": self.city, "operator": self.operator}


@dataclass
class MapResult:
    ref: SceneRef
    site_id: str
    model: str
    params: dict
    map: DiffusionMap
    cached: bool
    key: str

    def query(self) -> dict[str, str]:
        """Canonical query parameters that reproduce this map."""
        q = {**self.ref.params(), "site": self.site_id, "model": self.model}
        if "alpha" in self.params:
            q["alpha"] = repr(float(self.params["alpha"]))
        return q


def _mentions_upload(key: Any, upload_id: str) -> bool:
    """True when a cache key belongs to the upload ``upload_id``.

    Keys hold the scene as ``SceneRef.key`` (a tuple ``("upload", id, operator)``), possibly
    nested, or as the JSON of :meth:`Service.map_key` (``"scene": ["upload", id, …]``).
    """
    if isinstance(key, tuple):
        if len(key) >= 2 and key[0] == UPLOAD_COUNTRY and key[1] == upload_id:
            return True
        return any(_mentions_upload(k, upload_id) for k in key)
    if isinstance(key, str):
        return f'"scene": ["{UPLOAD_COUNTRY}", "{upload_id}"' in key
    return False


def _round(x: float | None, nd: int = 6) -> float | None:
    if x is None:
        return None
    x = float(x)
    return round(x, nd) if np.isfinite(x) else None


# --------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------
class Service:
    """All state of a running API: bounded caches of scenes, fitted models, maps and metrics."""

    def __init__(self, *, max_scenes: int | None = None, max_models: int | None = None, max_maps_in_memory: int = 32,
                 map_cache_bytes: int | None = None, cache_root: Path | None = None,
                 max_stored_uploads: int | None = None, max_stored_upload_bytes: int | None = None) -> None:
        self.cache_root = Path(cache_root) if cache_root else cache_dir()
        #: limits of the upload store (see :meth:`_evict_uploads`); plain attributes, so
        #: tests and operators may change them on a running service
        self.max_stored_uploads = int(max_stored_uploads if max_stored_uploads is not None
                                      else _env_int("DEEPMEND_API_MAX_UPLOADS", MAX_STORED_UPLOADS))
        self.max_stored_upload_bytes = int(max_stored_upload_bytes if max_stored_upload_bytes is not None
                                           else _env_int("DEEPMEND_API_UPLOADS_MB", MAX_STORED_UPLOAD_BYTES // (1024 * 1024)) * 1024 * 1024)
        self._uploads_lock = threading.Lock()
        self.scenes = OnceLRU(max_scenes or _env_int("DEEPMEND_API_MAX_SCENES", 8))
        self.models = OnceLRU(max_models or _env_int("DEEPMEND_API_MAX_MODELS", 16))
        self.maps = OnceLRU(max_maps_in_memory)
        self.pngs = OnceLRU(max_maps_in_memory * 2)
        self.metrics_cache = OnceLRU(256)
        self.channels = OnceLRU(4)
        self.builders = OnceLRU(2)
        self._bg_lock = threading.Lock()
        self._bg_fits: set = set()
        self._bg_failed: set = set()
        mb = _env_int("DEEPMEND_API_MAP_CACHE_MB", 1024)
        self.disk = MapDiskCache(self.cache_root / "maps", map_cache_bytes if map_cache_bytes is not None else mb * 1024 * 1024)

    # --- catalog ------------------------------------------------------------
    def registry(self) -> dict:
        from deepmend.models import MODELS

        return MODELS

    def model_list(self) -> list[dict]:
        reg = self.registry()
        names = list(DOCUMENTED_MODELS) + sorted(n for n in reg if n not in DOCUMENTED_MODELS)
        out = []
        for n in names:
            cls = reg.get(n)
            out.append({
                "name": n,
                "label": getattr(cls, "label", None) or DEFAULT_LABELS.get(n, n),
                "description": getattr(cls, "description", "") if cls else "not available in this installation",
                "available": cls is not None,
            })
        return out

    def catalog(self) -> dict:
        from deepmend.data.catalog import catalog

        cat = catalog()
        reg = self.registry()
        default = dict(cat["default"])
        default["model"] = next((m for m in ("deepmend", "probabilistic", "voronoi") if m in reg), next(iter(reg), "voronoi"))
        countries = [
            {**{k: v for k, v in c.items() if k != "cities"},
             "cities": [{k: v for k, v in city.items() if k != "dataset"} for city in c["cities"]]}
            for c in cat["countries"]
        ]
        return {"countries": countries, "models": self.model_list(), "default": default, "attribution": cat["attribution"]}

    # --- scenes -------------------------------------------------------------
    def resolve(self, country: str, city: str, operator: str | None) -> SceneRef:
        """Canonical names of a scene request; unknown values raise InputError naming the parameter."""
        if str(country).lower() == UPLOAD_COUNTRY:
            upload_id = self._upload_id(city)
            op = operator or "all"
            if op.lower() == "all":
                return SceneRef(UPLOAD_COUNTRY, upload_id, "all")
            dep = self._upload_deployment(upload_id)
            ops = dep.operators()
            match = [o for o in ops if o.lower() == op.lower()]
            if not match:
                raise InputError(f"unknown operator for upload {upload_id}; valid: all, {', '.join(ops)}", column="operator", value=op)
            return SceneRef(UPLOAD_COUNTRY, upload_id, match[0])
        from deepmend.data.catalog import find_city, find_operator

        centry, cty = find_city(country, city)  # the one resolver (accent- and case-insensitive)
        if operator is None:
            return SceneRef(centry["code"], cty["name"], "")
        return SceneRef(centry["code"], cty["name"], find_operator(cty, operator))

    def scene(self, ref: SceneRef):
        def build():
            from deepmend.scene import Scene

            if ref.country == UPLOAD_COUNTRY:
                dep = self._upload_deployment(ref.city)
                if ref.operator != "all":
                    dep = dep.subset(dep.operator == ref.operator)
                return Scene.from_files(dep, None)
            return Scene.from_catalog(ref.country, ref.city, ref.operator)

        return self.scenes.get(ref.key, build)[0]

    def site(self, scene, ref: SceneRef, site: str) -> int:
        """Index of a target site by id (or a merged member's id)."""
        i = scene.deployment.index_of(str(site))
        if not np.isin(i, scene.targets):
            raise InputError(f"site is not one of the {scene.targets.size} sites of {ref.city} ({ref.operator})", column="site", value=site)
        return i

    def sites_geojson(self, ref: SceneRef) -> dict:
        scene = self.scene(ref)
        dep = scene.deployment
        lon, lat = dep.lon, dep.lat
        feats = []
        for i in scene.targets:
            h = float(dep.height_m[i])
            tech = str(dep.technology[i])
            feats.append({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(float(lon[i]), 7), round(float(lat[i]), 7)]},
                "properties": {
                    "site_id": str(dep.site_ids[i]), "operator": str(dep.operator[i]),
                    "lat": round(float(lat[i]), 7), "lon": round(float(lon[i]), 7),
                    "height_m": h if np.isfinite(h) else None, "technology": tech or None,
                    "members": [str(m) for m in dep.members[i]],
                },
            })
        return {"type": "FeatureCollection", "features": feats}

    def region_geojson(self, country: str, city: str) -> dict:
        if str(country).lower() == UPLOAD_COUNTRY:
            ref = self.resolve(country, city, "all")
            return self.scene(ref).mask_region.geojson()
        from deepmend.data.catalog import city_region

        return city_region(country, city).geojson()

    # --- models -------------------------------------------------------------
    def check_model(self, name: str) -> str:
        n = str(name).strip().lower()
        reg = self.registry()
        if n in reg:
            return n
        if n == GROUND_TRUTH:
            raise NotAvailableError("ground truth not available in this installation (no ground-truth model is registered)")
        if n in DOCUMENTED_MODELS:
            raise NotAvailableError(f"model '{n}' is not available in this installation; available: {', '.join(sorted(reg))}")
        valid = ", ".join(sorted(set(DOCUMENTED_MODELS) | set(reg)))
        raise InputError(f"unknown model; valid: {valid}", column="model", value=name)

    def fitted(self, ref: SceneRef, name: str, alpha: float | None = None):
        from deepmend.models import make_model

        name = self.check_model(name)
        model = make_model(name, alpha=alpha)  # validates alpha before any work
        params = model.params()
        key = (ref.key, name, json.dumps(params, sort_keys=True))

        def fit():
            from deepmend.api.jobs import JOBS

            scene = self.scene(ref)
            t0 = time.perf_counter()
            label = f"{'simulating the ground truth' if name == GROUND_TRUTH else f'fitting {name}'} of {ref.city} / {ref.operator} ({len(scene.deployment)} sites)"
            with JOBS.track("fit", name, ref.key, label):
                m = model.fit(scene)
            log.info("fitted %s on %s/%s/%s in %.2f s", name, *ref.key, time.perf_counter() - t0)
            return m

        return self.models.get(key, fit)[0]

    # --- maps ---------------------------------------------------------------
    def map_key(self, ref: SceneRef, site_id: str, name: str, params: dict) -> str:
        return json.dumps({"v": MAP_CACHE_VERSION, "scene": list(ref.key), "site": site_id, "model": name, "params": params}, sort_keys=True)

    def get_map(self, country: str, city: str, operator: str, site: str, model: str, alpha: float | None = None) -> MapResult:
        from deepmend.models import make_model

        ref = self.resolve(country, city, operator)
        name = self.check_model(model)
        params = make_model(name, alpha=alpha).params()  # validates alpha; cheap
        scene = self.scene(ref)
        i = self.site(scene, ref, site)
        site_id = str(scene.deployment.site_ids[i])
        key = self.map_key(ref, site_id, name, params)

        hit = self.maps.peek(key)
        if hit is not None:
            return MapResult(ref, site_id, name, params, hit, True, key)
        dm = self.disk.get(key)
        if dm is not None:
            self.maps.put(key, dm)
            return MapResult(ref, site_id, name, params, dm, True, key)

        def compute():
            dm = self.fitted(ref, name, alpha).predict(i)
            dm.meta["cache_key"] = key
            self.disk.put(key, dm)
            return dm

        dm, was_cached = self.maps.get(key, compute)
        return MapResult(ref, site_id, name, params, dm, was_cached, key)

    def map_png(self, res: MapResult) -> bytes:
        from deepmend import render

        return self.pngs.get(("map", res.key), lambda: render.png_bytes(render.rgba(res.map.prob, res.map.mask)))[0]

    @staticmethod
    def map_npy(res: MapResult) -> bytes:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(res.map.prob[::-1], dtype=np.float32), allow_pickle=False)
        return buf.getvalue()

    @staticmethod
    def map_tif(res: MapResult) -> bytes:
        with tempfile.TemporaryDirectory(prefix="deepmend-tif-") as tmp:
            path = Path(tmp) / "map.tif"
            res.map.save(path)
            return path.read_bytes()

    # --- metrics ------------------------------------------------------------
    def ground_truth_available(self) -> bool:
        return GROUND_TRUTH in self.registry()

    def _gt_map(self, ref: SceneRef, site_id: str) -> DiffusionMap | None:
        if not self.ground_truth_available():
            return None
        try:
            return self.get_map(ref.country, ref.city, ref.operator, site_id, GROUND_TRUTH).map
        except NotAvailableError:
            return None

    @staticmethod
    def _scores(p: DiffusionMap, q: DiffusionMap, with_tv: bool = True) -> dict:
        from deepmend.metrics import emd_km, jensen_shannon, ks2d, total_variation

        out = {"ks": _round(ks2d(p.prob, q.prob)), "emd_km": _round(emd_km(p.prob, q.prob, res_m=p.window.res), 4),
               "js": _round(jensen_shannon(p.prob, q.prob))}
        if with_tv:
            out["tv"] = _round(total_variation(p.prob, q.prob))
        return out

    def metrics(self, country: str, city: str, operator: str, site: str, model: str, alpha: float | None = None) -> dict:
        res = self.get_map(country, city, operator, site, model, alpha)
        key = ("metrics", res.key)
        out = self.metrics_cache.get(key, lambda: self._metrics(res))[0]
        if out.get("_incomplete"):
            self.metrics_cache.discard(key)  # a baseline is still being fitted: ask again later
        # "incomplete": a baseline is being fitted (see /api/jobs); the client asks again later
        return {**{k: v for k, v in out.items() if not k.startswith("_")}, "incomplete": bool(out.get("_incomplete"))}

    def _model_key(self, ref: SceneRef, name: str, alpha: float | None = None) -> tuple:
        from deepmend.models import make_model

        return (ref.key, name, json.dumps(make_model(name, alpha=alpha).params(), sort_keys=True))

    def _map_ready(self, ref: SceneRef, site_id: str, name: str) -> bool:
        """True when a baseline's map can be had without a (possibly minutes-long) fit."""
        from deepmend.models import make_model

        if self.models.peek(self._model_key(ref, name)) is not None:
            return True
        key = self.map_key(ref, site_id, name, make_model(name).params())
        return self.maps.peek(key) is not None or self.disk.path(key).is_file()

    def _fit_in_background(self, ref: SceneRef, name: str) -> None:
        tag = (ref.key, name)
        with self._bg_lock:
            if tag in self._bg_fits:
                return
            self._bg_fits.add(tag)

        def work():
            try:
                self.fitted(ref, name)
            except Exception as exc:  # reported once; the baseline then stays null
                log.warning("baseline %s on %s/%s/%s cannot be fitted: %s", name, *ref.key, exc)
                with self._bg_lock:
                    self._bg_failed.add(tag)

        threading.Thread(target=work, name=f"fit-{name}", daemon=True).start()

    def _baseline_map(self, ref: SceneRef, site_id: str, name: str) -> tuple[DiffusionMap | None, bool]:
        """(map or None, pending): quick baselines now; slow ones are fitted in the background."""
        with self._bg_lock:
            if (ref.key, name) in self._bg_failed:
                return None, False
        if name in FAST_BASELINES or self._map_ready(ref, site_id, name):
            try:
                return self.get_map(ref.country, ref.city, ref.operator, site_id, name).map, False
            except DeepmendError as exc:
                log.warning("baseline %s for %s: %s", name, site_id, exc)
                return None, False
        self._fit_in_background(ref, name)
        return None, True

    def _metrics(self, res: MapResult) -> dict:
        from deepmend.metrics import mass_inside, radii_of_mass

        ref, dm = res.ref, res.map
        scene = self.scene(ref)
        i = scene.deployment.index_of(res.site_id)
        w = dm.window
        center = ((scene.deployment.y[i] - w.bottom) / w.res, (scene.deployment.x[i] - w.left) / w.res)
        r50, r90 = radii_of_mass(dm.prob, center, [0.5, 0.9], res_m=w.res)
        rs, cs = scene.slices(i)
        in_vor = mass_inside(dm.prob, scene.nearest[rs, cs] == i)

        gt = self._gt_map(ref, res.site_id)
        vs_gt, baselines, gain_over, pending = None, {}, {}, False
        if gt is not None:
            vs_gt = self._scores(dm, gt)
            for b in BASELINES:
                if b not in self.registry():
                    continue
                if b == res.model:
                    baselines[b] = {k: vs_gt[k] for k in ("ks", "emd_km", "js")}
                    continue
                bmap, wait = self._baseline_map(ref, res.site_id, b)
                pending |= wait
                if bmap is None:
                    baselines[b], gain_over[b] = None, None
                    continue
                s = self._scores(bmap, gt, with_tv=False)
                baselines[b] = s
                gain_over[b] = {k: (None if not s[k] else _round((s[k] - vs_gt[k]) / s[k], 4)) for k in ("ks", "emd_km")}
        return {
            "site_id": res.site_id, "model": res.model,
            "inference_ms": _round(dm.meta.get("inference_ms"), 3),
            "ground_truth": gt is not None,
            "vs_ground_truth": vs_gt, "baselines": baselines, "gain_over": gain_over,
            "r50_km": _round(r50, 3), "r90_km": _round(r90, 3), "mass_in_voronoi": _round(in_vor),
            "_incomplete": pending,
        }

    # --- features -----------------------------------------------------------
    FEATURES = (
        ("d0", "distance to the target base station (m, + 1 m)"),
        ("d1", "1 − exp(−d1/d0): distance to the nearest site of the network, relative to d0"),
        ("d2", "1 − exp(−d2/d0): distance to the second nearest site, relative to d0"),
        ("dmean5", "1 − exp(−mean(d1..d5)/d0): mean distance to the 5 nearest sites, relative to d0"),
        ("mask", "valid cells (land inside the region)"),
    )

    def features(self, country: str, city: str, operator: str, site: str) -> tuple[SceneRef, str, Any, list[tuple[str, str]]]:
        ref = self.resolve(country, city, operator)
        scene = self.scene(ref)
        i = self.site(scene, ref, site)
        return ref, str(scene.deployment.site_ids[i]), scene.window(i), list(self.FEATURES)

    def feature_channels(self, ref: SceneRef, i: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """name → (values rows northward, valid) on BS ``i``'s window (METHOD.md §2 inputs)."""
        scene = self.scene(ref)
        # the model's own input builder, so the pictures are exactly what DeepMEND sees
        from deepmend.models.features import FeatureBuilder

        builder = self.builders.get(ref.key, lambda: FeatureBuilder(scene))[0]
        ch, mask = builder.window(i)
        return {"d0": (builder.d0(i), mask), "d1": (ch[0], mask), "d2": (ch[1], mask), "dmean5": (ch[2], mask),
                "mask": (ch[3], np.ones_like(mask))}

    def feature_png(self, country: str, city: str, operator: str, site: str, name: str) -> bytes:
        from deepmend import render

        ref = self.resolve(country, city, operator)
        scene = self.scene(ref)
        i = self.site(scene, ref, site)
        valid = [n for n, _ in self.FEATURES]
        if name not in valid:
            raise InputError(f"unknown feature; valid: {', '.join(valid)}", column="name", value=name)

        def render_png():
            values, ok = self.channels.get((ref.key, i), lambda: self.feature_channels(ref, i))[0][name]
            return render.png_bytes(render.grey(values, ok.astype(bool)))

        return self.pngs.get(("feature", ref.key, i, name), render_png)[0]

    # --- uploads ------------------------------------------------------------
    @property
    def uploads_dir(self) -> Path:
        d = self.cache_root / "uploads"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _upload_id(self, value: str) -> str:
        v = str(value).strip().lower()
        if not UPLOAD_ID_RE.match(v):
            raise InputError("unknown upload id (expected the 16 hex digits returned by POST /api/uploads)", column="city", value=value)
        if not (self.uploads_dir / f"{v}.csv").is_file():
            raise self._expired(value)
        return v

    @staticmethod
    def _expired(value: str) -> InputError:
        """The one answer (404) for an id this server does not hold: never stored, or evicted."""
        return InputError("unknown upload id (not on this server, or expired); upload the file again", column="city", value=value)

    def _upload_deployment(self, upload_id: str):
        from deepmend.data.readers import read_sites

        path = self.uploads_dir / f"{upload_id}.csv"
        try:
            return read_sites(path)
        except (InputError, OSError):
            if not path.is_file():  # evicted between resolve() and this read: the id has expired
                raise self._expired(upload_id) from None
            raise

    def upload(self, content: bytes, filename: str | None) -> dict:
        """Validate a CSV site list and store it by content hash; returns the API's upload answer."""
        from deepmend.data.readers import read_sites
        from deepmend.scene import Scene

        shown = re.sub(r"[^A-Za-z0-9._ -]+", "_", Path(filename or "upload.csv").name)[:100] or "upload.csv"
        if len(content) > MAX_UPLOAD_BYTES:
            raise TooLargeError(f"{shown}: file is {len(content) / 1e6:.1f} MB, the limit is {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
        lines = [ln for ln in content.splitlines() if ln.strip()]
        if len(lines) - 1 > MAX_UPLOAD_ROWS:
            raise TooLargeError(f"{shown}: {len(lines) - 1} rows, the limit is {MAX_UPLOAD_ROWS} sites")
        if not lines:
            raise InputError("file is empty", file=shown)
        upload_id = hashlib.sha256(content).hexdigest()[:16]
        final = self.uploads_dir / f"{upload_id}.csv"
        with tempfile.TemporaryDirectory(prefix=".upload-", dir=self.uploads_dir) as tmp:
            path = Path(tmp) / f"{upload_id}.csv"
            path.write_bytes(content)
            try:
                dep = read_sites(path)
                Scene.from_files(dep, None)  # rejects < 3 sites, collinear sites …
            except InputError as exc:
                raise InputError(str(exc).replace(str(path), shown).replace(tmp, "")) from None
            except Exception as exc:  # a reader bug must still answer 400 naming the file, not 500
                log.exception("upload %s could not be read", shown)
                raise InputError(f"cannot be read as a site list ({type(exc).__name__})", file=shown) from None
            try:
                os.utime(final)  # already stored: it is now the newest upload, last to be evicted
            except FileNotFoundError:
                os.replace(path, final)
        self._evict_uploads(keep=upload_id)
        return {"upload_id": upload_id, "n_sites": int(len(dep)), "operators": dep.operators(), "country": UPLOAD_COUNTRY, "city": upload_id}

    def _evict_uploads(self, keep: str) -> list[str]:
        """Delete the oldest uploads (by mtime) until the store is within its limits; returns their ids.

        Why: anyone may POST an upload, so the store must be bounded or the disk fills up.
        Ids are content hashes, so an evicted file can simply be uploaded again. ``keep``
        (the upload just written, whose id the client is about to receive) is never deleted,
        even when it alone exceeds the byte limit. The upload time is its mtime (uploading the
        same file again refreshes it), so the store is first-in-first-out per distinct file.

        Safe with concurrent uploads: a lock serialises eviction in this process, and a file
        that vanishes meanwhile (another worker process evicted it) counts as deleted. Memory
        caches of an evicted upload (scene, fitted models, maps, images) are dropped so that
        they do not hold memory for an id every request now refuses (``resolve`` checks the
        file, so they could never be served anyway).
        """
        evicted: list[str] = []
        with self._uploads_lock:
            files = []
            kept_size = 0
            for p in self.uploads_dir.glob("*.csv"):
                if not UPLOAD_ID_RE.match(p.stem):
                    continue
                try:
                    st = p.stat()
                except OSError:
                    continue  # gone already
                if p.stem == keep:
                    kept_size = st.st_size
                else:
                    files.append((st.st_mtime_ns, p.name, st.st_size, p))
            files.sort()
            count = len(files) + 1
            total = kept_size + sum(f[2] for f in files)
            for _, _, size, p in files:
                if count <= self.max_stored_uploads and total <= self.max_stored_upload_bytes:
                    break
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass  # deleted concurrently: gone either way
                except OSError as exc:
                    log.warning("upload store: cannot delete %s: %s", p.name, exc)
                    continue
                count -= 1
                total -= size
                evicted.append(p.stem)
        for upload_id in evicted:
            self._forget_upload(upload_id)
        if evicted:
            log.info("upload store: evicted %d upload(s), %d kept (%.1f MB)", len(evicted), count, total / 1e6)
        return evicted

    def _forget_upload(self, upload_id: str) -> None:
        """Drop every in-memory entry of an upload (the on-disk map cache ages out by itself)."""
        def pred(key: Hashable) -> bool:
            return _mentions_upload(key, upload_id)

        for c in (self.scenes, self.models, self.maps, self.pngs, self.metrics_cache, self.channels, self.builders):
            c.discard_if(pred)
        with self._bg_lock:
            self._bg_fits = {t for t in self._bg_fits if not pred(t)}
            self._bg_failed = {t for t in self._bg_failed if not pred(t)}

    # --- maintenance ----------------------------------------------------------
    def clear_memory(self) -> None:
        for c in (self.scenes, self.models, self.maps, self.pngs, self.metrics_cache, self.channels, self.builders):
            c.clear()

    def clear_disk(self) -> None:
        shutil.rmtree(self.cache_root / "maps", ignore_errors=True)
