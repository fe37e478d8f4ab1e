"""deepmend: where the users of a cellular base station really are.

Spatial diffusion maps P(location | base station) from base-station positions only
(DeepMEND, Martínez-Durive et al., IEEE SECON 2024), with the Voronoi, probabilistic
(Traag et al. 2011) and VoronoiBoost (Martínez-Durive et al., IEEE SECON 2022)
baselines, a ground-truth simulator and the evaluation.

Use it as ``import deepmend as dm``::

    sites = dm.read_sites("my_sites.csv", country="FR")      # or a (Geo)DataFrame
    scene = dm.Scene.from_files(sites, dm.read_region("area.geojson", sites.crs))
    maps = list(dm.ProbabilisticModel(alpha=1.3).fit(scene).predict_many())
    maps[0].to_xarray()          # north-up DataArray with CRS and transform (rioxarray)
    maps[0].to_geotiff("a.tif")  # Cloud-Optimized GeoTIFF
    maps[0].plot()               # matplotlib Figure
    dm.voronoi_cells(scene)      # GeoDataFrame of polygons

Every name below is imported on first use, so ``import deepmend`` stays fast.
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    # inputs
    "read_sites": "deepmend.data.readers",
    "read_region": "deepmend.data.regions",
    "Deployment": "deepmend.data.deployment",
    "Region": "deepmend.data.regions",
    "catalog": "deepmend.data.catalog",
    "Scene": "deepmend.scene",
    # models (scikit-learn style: fit(scene), predict(site), predict_many(sites))
    "make_model": "deepmend.registry",
    "MODELS": "deepmend.registry",
    "VoronoiModel": "deepmend.models.voronoi",
    "ProbabilisticModel": "deepmend.models.probabilistic",
    "VoronoiBoostModel": "deepmend.models.voronoiboost",
    "DeepMENDModel": "deepmend.models.deepmend",
    "TeacherModel": "deepmend.models.teacher",
    "GroundTruthSimulator": "deepmend.groundtruth.simulator",
    # maps and their outputs
    "DiffusionMap": "deepmend.grid.diffusion_map",
    "load_map": "deepmend.grid.diffusion_map",
    "Window": "deepmend.grid.lattice",
    "voronoi_cells": "deepmend.grid.vector",
    "coverage_contours": "deepmend.grid.vector",
    "inspire_table": "deepmend.grid.vector",
    "write_vector": "deepmend.grid.vector",
    "write_table": "deepmend.grid.vector",
    # metrics
    "ks2d": "deepmend.metrics",
    "emd_km": "deepmend.metrics",
    "jensen_shannon": "deepmend.metrics",
    "total_variation": "deepmend.metrics",
    # errors
    "InputError": "deepmend.errors",
    "DeepmendError": "deepmend.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'deepmend' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
