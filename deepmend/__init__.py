"""deepmend: where the users of a cellular base station really are.

Spatial diffusion maps P(location | base station) from base-station positions only
(DeepMEND, Martínez-Durive et al., IEEE SECON 2024), with the Voronoi, probabilistic
and VoronoiBoost baselines, a ground-truth simulator and the evaluation.
"""

__version__ = "0.1.0"
