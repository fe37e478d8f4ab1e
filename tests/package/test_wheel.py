"""The wheel a user gets from ``python -m build`` installs in a clean venv and runs on its embedded data.

No repository requirements file, no source checkout on the path, no data directory: the
commands and the Python API must work from what the wheel declares and ships.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

API_SCRIPT = r"""
import deepmend as dm, rasterio, geopandas as gpd, matplotlib
from deepmend import config
matplotlib.use("Agg")
from matplotlib.figure import Figure
assert config.data_dir() == config.EMBEDDED_DATA_DIR, config.data_dir()
scene = dm.Scene.from_catalog("FR", "Lyon", "Orange")
m = dm.ProbabilisticModel(alpha=1.3).fit(scene).predict("FRVB_Orange_Lyon_247")
da = m.to_xarray()
assert da.rio.crs.to_epsg() == 2154 and da.rio.transform() == m.window.transform
with rasterio.open(m.to_geotiff("api.tif")) as src:
    assert src.overviews(1) and src.crs.to_epsg() == 2154
assert isinstance(m.plot(), Figure)
cells = dm.voronoi_cells(scene, ["FRVB_Orange_Lyon_247"])
dm.write_vector(cells, "cells.gpkg")
assert len(gpd.read_file("cells.gpkg")) == 1
print("api ok", round(float(da.sum()), 6))
"""


def _run(cmd, env, cwd, check=True, timeout=900):
    res = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} → {res.returncode}\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}")
    return res


@pytest.mark.slow
@pytest.mark.timeout(2400)  # pip installs the whole dependency set
def test_wheel_installs_and_runs_in_a_clean_venv(tmp_path):
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPMEND_", "PYTHONPATH", "VIRTUAL_ENV"))}
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(REPO)], base_env, tmp_path)
    (wheel,) = (tmp_path / "dist").glob("deepmend-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in ("deepmend/weights/deepmend.json", "deepmend/data/default/fr_city_4g_sites_2022.csv",
                    "deepmend/data/default/SOURCES.md", "deepmend/data/default/boundaries/country_FR_ne10m.geojson"):
        assert shipped in names
    if (REPO / "web" / "dist" / "index.html").exists():  # the built web app (make web) ships as deepmend/static
        assert "deepmend/static/index.html" in names

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], base_env, tmp_path)
    bin_ = venv / "bin"
    _run([bin_ / "python", "-m", "pip", "install", "--quiet", str(wheel)], base_env, tmp_path)
    env = {**base_env, "HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "home" / ".cache"), "TQDM_DISABLE": "1",
           "MPLBACKEND": "Agg", "PATH": f"{bin_}{os.pathsep}{base_env.get('PATH', '')}"}
    work = tmp_path / "work"
    work.mkdir()
    where = _run([bin_ / "python", "-c", "import deepmend, torch"], env, work, check=False)
    assert "No module named 'torch'" in where.stderr  # the base install leaves torch out

    cat = _run([bin_ / "deepmend", "catalog"], env, work)
    assert "Lyon" in cat.stdout and "Orange 520" in cat.stdout

    lyon = ["--country", "FR", "--city", "Lyon", "--operator", "Orange", "--site", "FRVB_Orange_Lyon_247"]
    # DeepMEND: the shipped ONNX graph, no torch; VoronoiBoost: the shipped regressor (plain arrays), no training
    for model in ("voronoi", "probabilistic", "deepmend", "groundtruth", "teacher", "voronoiboost"):
        _run([bin_ / "deepmend", "predict", *lyon, "--model", model, "--out", f"{model}.tif"], env, work)
        assert (work / f"{model}.tif").stat().st_size > 1000
    assert (tmp_path / "home" / ".cache" / "deepmend").is_dir()  # the cache is the user cache, not site-packages

    api = _run([bin_ / "python", "-c", API_SCRIPT], env, work)
    assert "api ok 1.0" in api.stdout
