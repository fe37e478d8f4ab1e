"""What the HTTP API does, without HTTP: a thin service over small modules.

* :mod:`deepmend.api.cache` — the single-flight LRU and the on-disk map cache;
* :mod:`deepmend.api.uploads` — uploaded site lists (content-addressed, bounded);
* :mod:`deepmend.api.scenes` — request names → :class:`~deepmend.scene_spec.SceneSpec` → scene;
* :mod:`deepmend.api.maps` — models by name, fitted once, maps and their files;
* :mod:`deepmend.api.metrics` — scores vs the ground truth and the baselines;
* :mod:`deepmend.api.features` — DeepMEND's input channels as pictures.

Every lazily built resource (scene, fitted model, map, ground-truth fit, VoronoiBoost
regressor, DeepMEND weights and session) is built once per key, in one of the service's
bounded thread pools (:class:`~deepmend.resources.Builds`: scenes, fits, maps, metrics —
one pool each, so that minutes-long fits never queue in front of a map of a fitted model).
Every request, the one that started a build included, waits for it until its deadline
(``wait_s`` from its arrival) and then gets a :class:`~deepmend.errors.BusyError` (HTTP 503
with ``Retry-After``); the build goes on and a later request gets its result. The service holds
all its state: nothing is module-level, and the models it serves are injected
(``models=``, default the registry) so tests build a service instead of patching globals.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Hashable

from deepmend.api.cache import MapDiskCache, OnceLRU
from deepmend.api.features import FEATURES, Features
from deepmend.api.maps import DOCUMENTED_MODELS, GROUND_TRUTH, MapResult, Maps
from deepmend.api.metrics import Metrics
from deepmend.api.scenes import Scenes
from deepmend.api.uploads import (
    MAX_STORED_UPLOAD_BYTES, MAX_STORED_UPLOADS, MAX_UPLOAD_BYTES, MAX_UPLOADS_PER_CLIENT, MAX_UPLOAD_ROWS, UPLOAD_COUNTRY, UploadStore, mentions_upload,
)
from deepmend.config import cache_dir
from deepmend.errors import TooLargeError
from deepmend.resources import Builds
from deepmend.scene_spec import SceneSpec

__all__ = [
    "DOCUMENTED_MODELS", "GROUND_TRUTH", "MAX_UPLOAD_BYTES", "MAX_UPLOAD_ROWS", "UPLOAD_COUNTRY",
    "MapDiskCache", "MapResult", "OnceLRU", "SceneSpec", "Service", "TooLargeError",
]

DEFAULT_LABELS = {
    "voronoi": "Voronoi", "probabilistic": "Probabilistic (Traag)", "voronoiboost": "VoronoiBoost",
    "teacher": "Teacher (best α per BS)", "deepmend": "DeepMEND", "groundtruth": "Ground truth",
}
#: Longest wait (s) of a request for a resource another request is building (then 503).
DEFAULT_WAIT_S = 120.0


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


class Service:
    """All state of a running API: bounded caches of scenes, fitted models, maps and metrics.

    Parameters
    ----------
    models : dict, optional
        Model name → class served (default: the live :data:`deepmend.registry.MODELS`).
    wait_s : float, optional
        Longest wait for a resource being built by another request (``DEEPMEND_API_WAIT_S``,
        default 120 s); then 503 with ``Retry-After``.
    max_scenes, max_models, max_maps_in_memory, map_cache_bytes, cache_root,
    max_stored_uploads, max_stored_upload_bytes
        Bounds of the caches (environment defaults ``DEEPMEND_API_*``).
    build_workers : int, optional
        Threads of each build pool (``DEEPMEND_API_BUILD_WORKERS``, default 4); each pool
        queues at most 16 × that many builds, then answers 503.

    Notes
    -----
    :meth:`start` creates the pools (the app calls it at server start-up) and :meth:`shutdown`
    ends them (queued builds cancelled, running ones abandoned).
    """

    def __init__(self, *, models: dict | None = None, wait_s: float | None = None, max_scenes: int | None = None,
                 max_models: int | None = None, max_maps_in_memory: int = 32, map_cache_bytes: int | None = None,
                 cache_root: Path | None = None, max_stored_uploads: int | None = None, max_stored_upload_bytes: int | None = None,
                 build_workers: int | None = None) -> None:
        if models is None:
            from deepmend.registry import MODELS

            models = MODELS
        self.registry = models
        self.cache_root = Path(cache_root) if cache_root else cache_dir()
        self.wait_s = float(wait_s if wait_s is not None else os.environ.get("DEEPMEND_API_WAIT_S", DEFAULT_WAIT_S))
        self.uploads = UploadStore(
            self.cache_root / "uploads",
            max_stored_uploads if max_stored_uploads is not None else _env_int("DEEPMEND_API_MAX_UPLOADS", MAX_STORED_UPLOADS),
            max_stored_upload_bytes if max_stored_upload_bytes is not None
            else _env_int("DEEPMEND_API_UPLOADS_MB", MAX_STORED_UPLOAD_BYTES // (1024 * 1024)) * 1024 * 1024,
            on_evict=self._forget_upload,
            per_client_count=_env_int("DEEPMEND_API_UPLOADS_PER_CLIENT", MAX_UPLOADS_PER_CLIENT),
        )
        n = max(1, build_workers if build_workers is not None else _env_int("DEEPMEND_API_BUILD_WORKERS", 4))
        self.pools = {kind: Builds(kind, n, 16 * n) for kind in ("scene", "fit", "map", "metrics")}
        self.scenes = OnceLRU(max_scenes or _env_int("DEEPMEND_API_MAX_SCENES", 8), self.pools["scene"])
        self.models = OnceLRU(max_models or _env_int("DEEPMEND_API_MAX_MODELS", 16), self.pools["fit"])
        self.maps = OnceLRU(max_maps_in_memory, self.pools["map"])
        self.pngs = OnceLRU(max_maps_in_memory * 2)
        self.metrics_cache = OnceLRU(256, self.pools["metrics"])
        self.channels = OnceLRU(4, self.pools["map"])
        self.builders = OnceLRU(2, self.pools["scene"])
        mb = _env_int("DEEPMEND_API_MAP_CACHE_MB", 1024)
        self.disk = MapDiskCache(self.cache_root / "maps", map_cache_bytes if map_cache_bytes is not None else mb * 1024 * 1024)
        self._scenes = Scenes(self.uploads, self.scenes, self.wait_s)
        self._maps = Maps(self._scenes, self.registry, self.models, self.maps, self.pngs, self.disk, self.wait_s)
        self._metrics = Metrics(self._maps, self.metrics_cache)
        self._features = Features(self._scenes, self.pngs, self.channels, self.builders)

    # --- build pools -----------------------------------------------------------
    def start(self) -> None:
        """Create the build pools (server start-up)."""
        for pool in self.pools.values():
            pool.start()

    def shutdown(self) -> None:
        """End the build pools: queued builds are cancelled, running ones are not waited for."""
        for pool in self.pools.values():
            pool.shutdown()

    def set_deadline(self, seconds: float | None = None):
        """Bound every wait of the current request (this context) to ``seconds`` (default ``wait_s``) from now.

        Returns the tokens for :meth:`reset_deadline`.
        """
        s = self.wait_s if seconds is None else seconds
        return [(pool, pool.set_deadline(s)) for pool in self.pools.values()]

    @staticmethod
    def reset_deadline(tokens) -> None:
        """Undo :meth:`set_deadline`."""
        for pool, token in tokens:
            pool.reset_deadline(token)

    # --- upload store limits (plain attributes of the store; kept here for operators and tests)
    @property
    def max_stored_uploads(self) -> int:
        return self.uploads.max_count

    @max_stored_uploads.setter
    def max_stored_uploads(self, v: int) -> None:
        self.uploads.max_count = int(v)

    @property
    def max_stored_upload_bytes(self) -> int:
        return self.uploads.max_bytes

    @max_stored_upload_bytes.setter
    def max_stored_upload_bytes(self, v: int) -> None:
        self.uploads.max_bytes = int(v)

    @property
    def uploads_dir(self) -> Path:
        return self.uploads.dir

    # --- catalog ------------------------------------------------------------
    def model_list(self) -> list[dict]:
        """Every documented model (then any other registered one): name, label, description, available."""
        reg = self.registry
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
        """Countries, cities, operators, models and the default selection (``/api/catalog``)."""
        from deepmend.data.catalog import catalog

        cat = catalog()
        reg = self.registry
        default = dict(cat["default"])
        default["model"] = next((m for m in ("deepmend", "probabilistic", "voronoi") if m in reg), next(iter(reg), "voronoi"))
        countries = [
            {**{k: v for k, v in c.items() if k != "cities"},
             "cities": [{k: v for k, v in city.items() if k != "dataset"} for city in c["cities"]]}
            for c in cat["countries"]
        ]
        return {"countries": countries, "models": self.model_list(), "default": default, "attribution": cat["attribution"]}

    # --- delegation ---------------------------------------------------------
    def resolve(self, country: str, city: str, operator: str | None) -> SceneSpec:
        return self._scenes.resolve(country, city, operator)

    def scene(self, ref: SceneSpec):
        return self._scenes.scene(ref)

    def site(self, scene, ref: SceneSpec, site: str) -> int:
        return self._scenes.site(scene, ref, site)

    def sites_geojson(self, ref: SceneSpec) -> dict:
        return self._scenes.sites_geojson(ref)

    def region_geojson(self, country: str, city: str) -> dict:
        return self._scenes.region_geojson(country, city)

    def check_model(self, name: str) -> str:
        return self._maps.check_model(name)

    def fitted(self, ref: SceneSpec, name: str, alpha: float | None = None):
        return self._maps.fitted(ref, name, alpha)

    def get_map(self, country: str, city: str, operator: str, site: str, model: str, alpha: float | None = None) -> MapResult:
        return self._maps.get(country, city, operator, site, model, alpha)

    def map_png(self, res: MapResult) -> bytes:
        return self._maps.png(res)

    map_npy = staticmethod(Maps.npy)
    map_tif = staticmethod(Maps.tif)

    def ground_truth_available(self) -> bool:
        return self._metrics.ground_truth_available()

    def metrics(self, country: str, city: str, operator: str, site: str, model: str, alpha: float | None = None) -> dict:
        return self._metrics.get(self.get_map(country, city, operator, site, model, alpha))

    FEATURES = FEATURES

    def features(self, country: str, city: str, operator: str, site: str) -> tuple[SceneSpec, str, Any, list[tuple[str, str]]]:
        return self._features.describe(country, city, operator, site)

    def feature_png(self, country: str, city: str, operator: str, site: str, name: str) -> bytes:
        return self._features.png(country, city, operator, site, name)

    def upload(self, content: bytes, filename: str | None, client: str = "", *, region_content: bytes | None = None,
               region_filename: str | None = None, region_name: str | None = None) -> dict:
        return self.uploads.add(content, filename, client, region_content=region_content, region_filename=region_filename, region_name=region_name)

    # --- maintenance ----------------------------------------------------------
    def _caches(self) -> tuple[OnceLRU, ...]:
        return (self.scenes, self.models, self.maps, self.pngs, self.metrics_cache, self.channels, self.builders)

    def _forget_upload(self, upload_id: str) -> None:
        """Drop every in-memory entry of an evicted upload (the on-disk map cache ages out by itself)."""
        def pred(key: Hashable) -> bool:
            return mentions_upload(key, upload_id)

        for c in self._caches():
            c.discard_if(pred)
        self._metrics.forget(pred)

    def clear_memory(self) -> None:
        """Empty every in-memory cache (uploads and the on-disk map cache stay)."""
        for c in self._caches():
            c.clear()

    def clear_disk(self) -> None:
        """Delete the on-disk map cache."""
        shutil.rmtree(self.cache_root / "maps", ignore_errors=True)
