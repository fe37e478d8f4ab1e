"""Metrics comparing diffusion maps on one grid (METHOD.md §3).

Distances: :func:`ks2d` / :func:`ks2d_many` (2-D Kolmogorov–Smirnov, used to
pick the teacher's α), :func:`emd_km` (Wasserstein-1 in km),
:func:`jensen_shannon`, :func:`total_variation`.  Shape descriptors:
:func:`mass_inside`, :func:`radius_of_mass`, :func:`radii_of_mass`,
:func:`anisotropy`.  Aggregation over BSs: :func:`gain`.  The bundle of scores every
comparison reports: :func:`compare`.
"""

from deepmend.metrics.compare import SCORES, compare
from deepmend.metrics.divergence import jensen_shannon, total_variation
from deepmend.metrics.emd import emd_km
from deepmend.metrics.gain import GainSummary, gain
from deepmend.metrics.ks import ks2d, ks2d_many
from deepmend.metrics.shape import anisotropy, mass_inside, radii_of_mass, radius_of_mass

__all__ = [
    "GainSummary",
    "SCORES",
    "compare",
    "anisotropy",
    "emd_km",
    "gain",
    "jensen_shannon",
    "ks2d",
    "ks2d_many",
    "mass_inside",
    "radii_of_mass",
    "radius_of_mass",
    "total_variation",
]
