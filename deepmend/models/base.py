"""The interface every diffusion model implements, in the style of scikit-learn estimators.

``fit(scene)`` does the per-deployment work once; ``predict(site)`` returns one BS's
map; ``predict_many`` yields maps lazily so a whole country never sits in memory.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import ClassVar, Iterable, Iterator

import numpy as np

from deepmend.grid.diffusion_map import DiffusionMap, finalize
from deepmend.scene import Scene


class DiffusionModel(ABC):
    """Base class: subclasses implement :meth:`_fit` and :meth:`_raw`."""

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    needs_ground_truth: ClassVar[bool] = False

    scene_: Scene

    def fit(self, scene: Scene) -> "DiffusionModel":
        self.scene_ = scene
        self._fit(scene)
        return self

    def _fit(self, scene: Scene) -> None:  # noqa: B027 - optional hook
        """Per-deployment precomputation (shared rasters); default: nothing."""

    @abstractmethod
    def _raw(self, i: int) -> np.ndarray:
        """Unnormalised non-negative weights on BS ``i``'s window (rows northward)."""

    def params(self) -> dict:
        """Parameters written into each map's metadata."""
        return {}

    def predict(self, site: int | str) -> DiffusionMap:
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
        """Maps of ``sites`` (default: the scene's targets), one at a time."""
        for s in self.scene_.targets if sites is None else sites:
            yield self.predict(s)
