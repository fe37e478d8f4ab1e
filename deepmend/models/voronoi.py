"""Voronoi baseline: P uniform over the BS's Voronoi cell, clipped to the mask."""

from __future__ import annotations

import numpy as np

from deepmend.grid.lattice import WINDOW_CELLS
from deepmend.models.base import DiffusionModel


class VoronoiModel(DiffusionModel):
    """Voronoi baseline: P(ℓ|i) uniform over the valid cells whose nearest site is i (METHOD.md §2).

    The rasterised Voronoi cell is ``Scene.nearest == i`` (cell centres, co-located sites
    merged); a BS whose cell holds no valid cell gets its mass on the valid cell nearest to
    it (``grid.diffusion_map.finalize``). Takes no parameters.
    """
    name = "voronoi"
    label = "Voronoi"
    description = "Uniform probability over the base station's Voronoi cell (the common practice)."

    def _fit(self, scene) -> None:
        scene.nearest  # noqa: B018 - build the national nearest-site raster once

    def _raw(self, i: int) -> np.ndarray:
        rs, cs = self.scene_.slices(i)
        return (self.scene_.nearest[rs, cs] == i).astype(np.float32)

    def predict_dense(self, sites) -> tuple[np.ndarray, np.ndarray]:
        """Batch form of :meth:`predict` (same values: 1/n on the n valid cells of the BS's
        Voronoi cell), without a per-map copy, mask pass and normalising sum."""
        self.check_fitted()
        scene = self.scene_
        idx = [scene.site_index(s) for s in sites]
        prob = np.empty((len(idx), WINDOW_CELLS, WINDOW_CELLS), dtype=np.float32)
        masks = np.empty(prob.shape, dtype=bool)
        for b, i in enumerate(idx):
            rs, cs = scene.slices(i)
            m = masks[b]
            m[...] = scene.mask[rs, cs][::-1]  # north-up
            cell = np.equal(scene.nearest[rs, cs][::-1], i)
            cell &= m
            n = int(np.count_nonzero(cell))
            if n:
                np.multiply(cell, np.float32(1.0 / n), out=prob[b])
            else:  # no valid cell centre in the Voronoi cell: predict's fallback
                prob[b] = self.predict(i).prob
        return prob, masks
