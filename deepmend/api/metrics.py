"""Accuracy of a map for the API: scores vs the ground truth and the baselines, shape descriptors.

Quick baselines are computed in the request: Voronoi, probabilistic, and any model that
says its fit trains nothing (``fits_quickly()``: VoronoiBoost with its shipped regressor).
Slow ones (a model that trains at fit, e.g. VoronoiBoost retrained on request) are fitted
in a background *thread* (never a forked process) and reported as null until ready.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from deepmend.api.cache import OnceLRU
from deepmend.api.maps import GROUND_TRUTH, MapResult, Maps
from deepmend.errors import BusyError, DeepmendError, NotAvailableError
from deepmend.grid.diffusion_map import DiffusionMap
from deepmend.scene_spec import SceneSpec

log = logging.getLogger("deepmend.api")

#: Baselines a model is compared with in /api/metrics (those registered).
BASELINES = ("voronoi", "probabilistic", "voronoiboost")
#: Baselines fitted in a second or two: computed in the request; others in the background
#: unless their estimator's ``fits_quickly()`` says so (see :meth:`Metrics.quick`).
FAST_BASELINES = ("voronoi", "probabilistic")


def _round(x: float | None, nd: int = 6) -> float | None:
    if x is None:
        return None
    x = float(x)
    return round(x, nd) if np.isfinite(x) else None


def scores(p: DiffusionMap, q: DiffusionMap, with_tv: bool = True) -> dict:
    """The score bundle (:func:`deepmend.metrics.compare`) of two maps, rounded for JSON (None for non-finite)."""
    from deepmend.metrics import compare

    raw = compare(p.prob, q.prob, res_m=p.window.res, with_tv=with_tv)
    return {k: _round(v, 4 if k == "emd_km" else 6) for k, v in raw.items()}


class Metrics:
    """``/api/metrics`` answers, cached per map.

    Parameters
    ----------
    maps : Maps
        Where maps (the model's, the ground truth's, the baselines') come from.
    cache : OnceLRU
        Answers by map key.
    """

    def __init__(self, maps: Maps, cache: OnceLRU) -> None:
        self.maps, self.cache = maps, cache
        self._bg_lock = threading.Lock()
        self._bg_fits: set = set()
        self._bg_failed: set = set()

    def ground_truth_available(self) -> bool:
        return GROUND_TRUTH in self.maps.registry

    def get(self, res: MapResult) -> dict:
        """The metrics of an answered map (see docs/API.md)."""
        key = ("metrics", res.key)
        out = self.cache.get(key, lambda: self._metrics(res), self.maps.wait_s)[0]
        if out.get("incomplete"):
            self.cache.discard(key)  # a baseline is still being fitted: not cached, the client asks again later
        return out

    def _gt_map(self, ref: SceneSpec, site_id: str) -> DiffusionMap | None:
        if not self.ground_truth_available():
            return None
        try:
            return self.maps.get(ref.country, ref.city, ref.operator, site_id, GROUND_TRUTH).map
        except NotAvailableError:
            return None

    def _fit_in_background(self, ref: SceneSpec, name: str) -> None:
        tag = (ref.as_tuple(), name)
        with self._bg_lock:
            if tag in self._bg_fits:
                return
            self._bg_fits.add(tag)

        def failed(exc: BaseException) -> None:  # reported once (by the pool)
            with self._bg_lock:
                self._bg_fits.discard(tag)
                if not isinstance(exc, BusyError):  # a real failure: the baseline stays null
                    self._bg_failed.add(tag)
                # BusyError: the fit waited too long on another build (e.g. a ground truth it trains on);
                # that build goes on, so the next metrics request starts this fit again (still pending)

        if not self.maps.fit_later(ref, name, failed):
            with self._bg_lock:
                self._bg_fits.discard(tag)  # already fitted, running, or the pool is full: ask again next time

    def quick(self, name: str) -> bool:
        """True when baseline ``name`` fits in the request (no training at fit)."""
        if name in FAST_BASELINES:
            return True
        fits_quickly = getattr(self.maps.estimator(name), "fits_quickly", None)
        return bool(fits_quickly is not None and fits_quickly())

    def _baseline_map(self, ref: SceneSpec, site_id: str, name: str) -> tuple[DiffusionMap | None, bool]:
        """(map or None, pending): quick baselines now; slow ones are fitted in the background."""
        with self._bg_lock:
            if (ref.as_tuple(), name) in self._bg_failed:
                return None, False
        if self.quick(name) or self.maps.ready(ref, site_id, name):
            try:
                return self.maps.get(ref.country, ref.city, ref.operator, site_id, name).map, False
            except BusyError:
                return None, True  # still being built elsewhere: pending, the app asks again
            except DeepmendError as exc:
                log.warning("baseline %s for %s: %s", name, site_id, exc)
                return None, False
        self._fit_in_background(ref, name)
        return None, True

    def _metrics(self, res: MapResult) -> dict:
        from deepmend.metrics import mass_inside, radii_of_mass

        ref, dm = res.ref, res.map
        scene = self.maps.scenes.scene(ref)
        i = scene.deployment.index_of(res.site_id)
        w = dm.window
        center = ((w.top - scene.deployment.y[i]) / w.res, (scene.deployment.x[i] - w.left) / w.res)  # (row, col), north-up
        r50, r90 = radii_of_mass(dm.prob, center, [0.5, 0.9], res_m=w.res)
        rs, cs = scene.slices(i)
        in_vor = mass_inside(dm.lattice_prob, scene.nearest[rs, cs] == i)

        gt = self._gt_map(ref, res.site_id)
        vs_gt, baselines, gain_over, pending = None, {}, {}, False
        if gt is not None:
            vs_gt = scores(dm, gt)
            for b in BASELINES:
                if b not in self.maps.registry:
                    continue
                if b == res.model:
                    baselines[b] = {k: vs_gt[k] for k in ("ks", "emd_km", "js")}
                    continue
                bmap, wait = self._baseline_map(ref, res.site_id, b)
                pending |= wait
                if bmap is None:
                    baselines[b], gain_over[b] = None, None
                    continue
                s = scores(bmap, gt, with_tv=False)
                baselines[b] = s
                gain_over[b] = {k: (None if not s[k] else _round((s[k] - vs_gt[k]) / s[k], 4)) for k in ("ks", "emd_km")}
        return {
            "site_id": res.site_id, "model": res.model,
            "inference_ms": _round(dm.meta.get("inference_ms"), 3),
            "ground_truth": gt is not None,
            "vs_ground_truth": vs_gt, "baselines": baselines, "gain_over": gain_over,
            "r50_km": _round(r50, 3), "r90_km": _round(r90, 3), "mass_in_voronoi": _round(in_vor),
            "incomplete": pending,
        }

    def forget(self, pred) -> None:
        """Drop background-fit bookkeeping whose tag matches ``pred`` (an evicted upload)."""
        with self._bg_lock:
            self._bg_fits = {t for t in self._bg_fits if not pred(t)}
            self._bg_failed = {t for t in self._bg_failed if not pred(t)}
