"""Voronoi baseline: P uniform over the BS's Voronoi cell, clipped to the mask."""

from __future__ import annotations

import numpy as np

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
