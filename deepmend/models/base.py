"""The interface every diffusion model implements: scikit-learn's estimator contract.

* The constructor only stores its arguments, unchanged, under their own names
  (:class:`sklearn.base.BaseEstimator` then gives ``get_params``/``set_params`` and
  :func:`sklearn.base.clone`); constructing a model is free and never fails.
* :meth:`DiffusionModel.validate` checks the parameters (cheap, no data read beyond a
  small config file); :meth:`fit` calls it first. :meth:`DiffusionModel.prepare` loads
  shared resources (weights). The registry's ``make_model`` calls both, so a command
  refuses bad options before any work.
* ``fit(scene)`` does the per-deployment work once and stores the fitted state in
  trailing-underscore attributes (``scene_`` …); heavy shared resources (weights,
  runtime sessions, ground-truth products) come from :mod:`deepmend.resources`.
* ``predict(site)`` returns one BS's map; before ``fit`` it raises scikit-learn's
  :class:`~sklearn.exceptions.NotFittedError` naming the model. ``predict_many``
  yields maps lazily so a whole country never sits in memory.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from typing import ClassVar, Iterable, Iterator

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from deepmend.grid.diffusion_map import DiffusionMap, finalize
from deepmend.scene import Scene


class DiffusionModel(BaseEstimator, ABC):
    """Base class of every model P(ℓ|i): subclasses implement :meth:`_fit` and :meth:`_raw`.

    Class attributes ``name`` (registry key), ``label`` and ``description`` (for the
    web app) and ``needs_ground_truth`` describe the model; instance attributes are its
    parameters (see :meth:`get_params`) and, after :meth:`fit`, its fitted state.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    needs_ground_truth: ClassVar[bool] = False

    scene_: Scene

    # --- parameters ---------------------------------------------------------
    def validate(self) -> "DiffusionModel":
        """Check the parameters; returns ``self``.

        Raises
        ------
        deepmend.errors.InputError
            Naming the parameter and its bad value (a :class:`~deepmend.errors.ParameterError`
            for a value out of its domain).
        """
        return self

    def prepare(self) -> "DiffusionModel":
        """Load the shared resources the model will need (weights, sessions); returns ``self``.

        Optional: :meth:`fit` obtains them anyway. :func:`deepmend.registry.make_model`
        calls it so that a command refuses an unusable weights file before any work. The
        resources come from :mod:`deepmend.resources` (once per process and checksum).
        """
        return self

    def cache_token(self) -> str:
        """A string that changes whenever this model's maps may change: the parameters (JSON).

        Used by caches (the API's map cache) without fitting anything; models whose
        output depends on a file add its checksum.
        """
        return json.dumps(self.get_params(deep=False), sort_keys=True, default=repr)

    def params(self) -> dict:
        """Parameters written into each map's metadata (those that explain the map)."""
        return {}

    # --- fitting ------------------------------------------------------------
    def fit(self, scene: Scene) -> "DiffusionModel":
        """Per-deployment precomputation on ``scene``; returns ``self``.

        Raises
        ------
        deepmend.errors.InputError
            Bad parameters (see :meth:`validate`) or a scene this model cannot handle.
        """
        self.validate()
        self.scene_ = scene
        self._fit(scene)
        return self

    def _fit(self, scene: Scene) -> None:  # noqa: B027 - optional hook
        """Per-deployment precomputation (shared rasters); default: nothing."""

    def check_fitted(self) -> None:
        """Check that :meth:`fit` was called.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Naming the model's class and registry name, when not fitted.
        """
        if not hasattr(self, "scene_"):
            raise NotFittedError(f"this {type(self).__name__} ({self.name}) is not fitted yet: call fit(scene) before predict")

    @abstractmethod
    def _raw(self, i: int) -> np.ndarray:
        """Unnormalised non-negative weights on BS ``i``'s window (rows northward)."""

    # --- prediction ---------------------------------------------------------
    def predict(self, site: int | str) -> DiffusionMap:
        """P(ℓ|i) of one site (index or id) on its 600×600 window of the scene's lattice.

        Returns
        -------
        DiffusionMap
            ``prob`` float32 (600, 600) summing to 1 over ``mask``, rows northward, in the
            scene's metric CRS; ``meta`` holds the parameters and the inference time (ms).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        deepmend.errors.InputError
            Unknown site.
        """
        self.check_fitted()
        scene = self.scene_
        i = scene.site_index(site)
        t0 = time.perf_counter()
        rs, cs = scene.slices(i)
        mask = scene.mask[rs, cs]
        prob = finalize(self._raw(i), mask, scene.site_rc(i))
        ms = (time.perf_counter() - t0) * 1e3
        meta = {"params": self.params(), "inference_ms": round(ms, 3), "members": list(scene.deployment.members[i])}
        return DiffusionMap.from_lattice(scene.window(i), prob, mask, str(scene.deployment.site_ids[i]), self.name, meta)

    def predict_many(self, sites: Iterable[int | str] | None = None) -> Iterator[DiffusionMap]:
        """Maps of ``sites`` (default: the scene's targets), one at a time (see :meth:`predict`)."""
        self.check_fitted()
        for s in self.scene_.targets if sites is None else sites:
            yield self.predict(s)


    def predict_dense(self, sites: Iterable[int | str]) -> tuple[np.ndarray, np.ndarray]:
        """The maps of ``sites`` as stacked arrays, for batch code that keeps no :class:`DiffusionMap`.

        Returns
        -------
        (prob, mask)
            float32 and bool arrays of shape (B, 600, 600), north-up (row 0 = north), each
            ``prob[b]`` equal to ``predict(sites[b]).prob`` (models may compute them in a
            batch; the default stacks :meth:`predict`).
        """
        maps = list(self.predict_many(sites))
        return np.stack([m.prob for m in maps]), np.stack([m.mask for m in maps])


def sample_sites(scene: Scene, n: int | None, seed: int = 0, available: np.ndarray | None = None) -> np.ndarray:
    """A seeded sample of ``n`` of the scene's targets (or of ``available``), sorted.

    Simple random sampling without replacement (standard definition) from
    ``numpy.random.default_rng(seed)``: the one sampling of sites used by training
    (VoronoiBoost tables, teacher labels) and evaluation, so a given ``seed`` picks the same
    base stations everywhere.

    Parameters
    ----------
    scene : Scene
        The scene whose targets are sampled.
    n : int or None
        Sample size; None, or ≥ the number of candidates, returns them all.
    seed : int, default 0
        Seed of the generator.
    available : numpy.ndarray of int, optional
        Candidate site indices (default ``scene.targets``).

    Returns
    -------
    numpy.ndarray of int, shape (min(n, n_candidates),)
        Site indices, ascending.
    """
    t = np.asarray(scene.targets if available is None else available, dtype=int)
    if n is None or t.size <= n:
        return t
    return np.sort(np.random.default_rng(seed).choice(t, size=n, replace=False))
