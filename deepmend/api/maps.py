"""Maps of the API: model by name → fitted model (single flight) → map (memory, disk, or computed) → files.

A map's cache key is built from the model's :meth:`~deepmend.models.base.DiffusionModel.cache_token`
(its parameters, plus the weights' declared checksum for DeepMEND): building the
estimator only stores parameters, so a cached map costs no model construction, no
weights load and no fit.
"""

from __future__ import annotations

import math

import io
import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepmend.api.cache import MapDiskCache, OnceLRU
from deepmend.api.scenes import Scenes
from deepmend.errors import NotAvailableError, NotFoundError
from deepmend.grid.diffusion_map import DiffusionMap
from deepmend.models.base import DiffusionModel
from deepmend.scene_spec import SceneSpec

log = logging.getLogger("deepmend.api")

#: Every model name the API documents, in the order the web app lists them.
DOCUMENTED_MODELS = ("voronoi", "probabilistic", "voronoiboost", "teacher", "deepmend", "groundtruth")
GROUND_TRUTH = "groundtruth"
#: Bump when the content of cached maps would change for the same request.
MAP_CACHE_VERSION = 2


#: Resolution of the probabilistic model's α in the API (α = 1.31 is fitted as 1.3).
ALPHA_STEP = 0.05


@dataclass
class MapResult:
    """One answered map request: the canonical scene, site and model, the map, and whether it was cached."""

    ref: SceneSpec
    site_id: str
    model: str
    params: dict
    map: DiffusionMap
    cached: bool
    key: str
    alpha: float | None = None

    def query(self) -> dict[str, str]:
        """Canonical query parameters that reproduce this map."""
        q = {**self.ref.params(), "site": self.site_id, "model": self.model}
        if self.alpha is not None:
            q["alpha"] = repr(float(self.alpha))
        return q


class Maps:
    """Models by name, fitted once per (scene, model, parameters), and their maps.

    Parameters
    ----------
    scenes : Scenes
        Scene resolution and building.
    registry : dict
        Model name → class: :data:`deepmend.registry.MODELS`, or the models a test injects.
    models, maps, pngs : OnceLRU
        Fitted models, maps in memory, encoded PNGs.
    disk : MapDiskCache
        Maps on disk.
    wait_s : float
        Longest wait for a fit or map another request is computing (then 503).
    """

    def __init__(self, scenes: Scenes, registry: dict, models: OnceLRU, maps: OnceLRU, pngs: OnceLRU, disk: MapDiskCache, wait_s: float) -> None:
        self.scenes, self.registry = scenes, registry
        self.models, self.maps, self.pngs, self.disk = models, maps, pngs, disk
        self.wait_s = wait_s

    # --- models -------------------------------------------------------------
    def check_model(self, name: str) -> str:
        """The registered name of ``name`` (case-insensitive).

        Raises
        ------
        NotAvailableError
            A documented model this installation does not register (404).
        NotFoundError
            An unknown model name (404), listing the valid ones.
        """
        n = str(name).strip().lower()
        if n in self.registry:
            return n
        if n == GROUND_TRUTH:
            raise NotAvailableError("ground truth not available in this installation (no ground-truth model is registered)")
        if n in DOCUMENTED_MODELS:
            raise NotAvailableError(f"model '{n}' is not available in this installation; available: {', '.join(sorted(self.registry))}")
        valid = ", ".join(sorted(set(DOCUMENTED_MODELS) | set(self.registry)))
        raise NotFoundError(f"unknown model; valid: {valid}", column="model", value=name)

    def estimator(self, name: str, alpha: float | None = None) -> DiffusionModel:
        """A new, unfitted model (parameters only: free); ``alpha`` applies to models that take it.

        ``alpha`` is rounded to :data:`ALPHA_STEP` so that a client cannot make the server fit
        the model again for every distinct float (the fits are cached per rounded value, and the
        cache of fitted models is bounded)."""
        from deepmend.registry import build_model

        if alpha is not None and math.isfinite(alpha) and abs(alpha) < 1e6:  # beyond: left to validate()
            alpha = round(round(float(alpha) / ALPHA_STEP) * ALPHA_STEP, 6)
        est = build_model(self.check_model(name), registry=self.registry, alpha=alpha)
        if "lazy" in est.get_params(deep=False):
            # the ground truth: fit() only reads the disk cache; a cold map takes the per-BS path (seconds),
            # and the whole deployment is fitted in the background afterwards (see complete_later)
            est.set_params(lazy=True)
        return est

    def model_key(self, spec: SceneSpec, name: str, est: DiffusionModel) -> tuple:
        return (spec.as_tuple(), name, est.cache_token())

    def fitted(self, ref: SceneSpec, name: str, alpha: float | None = None) -> DiffusionModel:
        """The model ``name`` fitted on ``ref``'s scene: once per key, concurrent requests share the fit."""
        est = self.estimator(name, alpha).validate()  # bad parameters: 4xx before any work
        return self._fitted(ref, name, est)

    def _fitted(self, ref: SceneSpec, name: str, est: DiffusionModel) -> DiffusionModel:
        def fit():
            from deepmend.api.jobs import JOBS

            scene = self.scenes.scene(ref)
            t0 = time.perf_counter()
            what = "simulating the ground truth" if name == GROUND_TRUTH else f"fitting {name}"
            # listed by GET /api/jobs while it runs (progress from the model's own bars, if any)
            with JOBS.track("fit", name, ref.as_tuple(), f"{what} of {ref.city} / {ref.operator} ({len(scene.deployment)} sites)"):
                m = est.fit(scene)
            log.info("fitted %s on %s/%s/%s in %.2f s", name, *ref.as_tuple(), time.perf_counter() - t0)
            return m

        return self.models.get(self.model_key(ref, name, est), fit, self.wait_s)[0]

    def fit_later(self, ref: SceneSpec, name: str, on_error=None) -> bool:
        """Start fitting ``name`` on ``ref`` in the fit pool without waiting (False: done, running or refused)."""
        est = self.estimator(name).validate()

        def fit():
            return est.fit(self.scenes.scene(ref))

        return self.models.start(self.model_key(ref, name, est), fit, on_error)

    # --- maps ---------------------------------------------------------------
    @staticmethod
    def map_key(ref: SceneSpec, site_id: str, name: str, token: str) -> str:
        return json.dumps({"v": MAP_CACHE_VERSION, "scene": list(ref.as_tuple()), "site": site_id, "model": name, "model_token": token}, sort_keys=True)

    def get(self, country: str, city: str, operator: str, site: str, model: str, alpha: float | None = None) -> MapResult:
        """One BS's map: from memory, from disk, or computed (fitting the model once if needed).

        Raises
        ------
        NotFoundError, NotAvailableError, ParameterError, InputError, BusyError
            Unknown names (404), bad α (422), a resource still being built by another
            request after ``wait_s`` (503).
        """
        ref = self.scenes.network(self.scenes.resolve(country, city, operator), site)
        name = self.check_model(model)
        est = self.estimator(name, alpha).validate()  # cheap (parameters, a small config): 422 before any work
        token = est.cache_token()
        req_alpha = est.get_params(deep=False).get("alpha")
        scene = self.scenes.scene(ref)
        i = self.scenes.site(scene, ref, site)
        site_id = str(scene.deployment.site_ids[i])
        key = self.map_key(ref, site_id, name, token)

        def result(dm: DiffusionMap, cached: bool) -> MapResult:
            return MapResult(ref, site_id, name, dict(dm.meta.get("params") or {}), dm, cached, key, req_alpha)

        hit = self.maps.peek(key)
        if hit is not None:
            return result(hit, True)
        dm = self.disk.get(key)
        if dm is not None:
            self.maps.put(key, dm)
            return result(dm, True)
        fitted = self._fitted(ref, name, est)  # the fit (minutes) in the fit pool; then the map (seconds) in the map pool

        def compute():
            dm = fitted.predict(i)
            dm.meta["cache_key"] = key
            self.disk.put(key, dm)
            return dm

        dm, was_cached = self.maps.get(key, compute, self.wait_s)
        self.complete_later(ref, name, est, fitted)
        return result(dm, was_cached)

    def complete_later(self, ref: SceneSpec, name: str, est: DiffusionModel, fitted: DiffusionModel) -> bool:
        """Start the whole-deployment fit of a lazily fitted model (the ground truth) in the fit pool; no request waits for it.

        Until it is done every first map of the city takes the per-BS path; afterwards maps are
        slices of the deployment's products (ms). Once per (scene, model) key (single flight);
        False when there is nothing to do, it runs already, or the pool is full (the next map retries).
        """
        if getattr(fitted, "deployment_fitted", True):
            return False

        def complete():
            from deepmend.api.jobs import JOBS

            scene = self.scenes.scene(ref)
            with JOBS.track("fit", name, ref.as_tuple(), f"simulating the ground truth of the rest of {ref.city} / {ref.operator} ({len(scene.deployment)} sites)") as job:
                fitted.fit_deployment(progress=job.progress)
            return True

        return self.models.start(self.model_key(ref, name, est) + ("deployment",), complete)

    def ready(self, ref: SceneSpec, site_id: str, name: str) -> bool:
        """True when a model's map can be had without a (possibly minutes-long) fit."""
        est = self.estimator(name)
        if self.models.peek(self.model_key(ref, name, est)) is not None:
            return True
        key = self.map_key(ref, site_id, name, est.cache_token())
        return self.maps.peek(key) is not None or self.disk.path(key).is_file()

    # --- files --------------------------------------------------------------
    def png(self, res: MapResult) -> bytes:
        """The map as a PNG (jet on log10 P, north up), cached in memory."""
        from deepmend import render

        return self.pngs.get(("map", res.key), lambda: render.png_bytes(render.rgba(res.map.prob, res.map.mask)))[0]

    @staticmethod
    def npy(res: MapResult) -> bytes:
        """The raw float32 grid as ``.npy``, rows north to south."""
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(res.map.prob, dtype=np.float32), allow_pickle=False)
        return buf.getvalue()

    @staticmethod
    def tif(res: MapResult) -> bytes:
        """The map as a GeoTIFF in its metric CRS."""
        with tempfile.TemporaryDirectory(prefix="deepmend-tif-") as tmp:
            path = Path(tmp) / "map.tif"
            res.map.save(path)
            return path.read_bytes()
