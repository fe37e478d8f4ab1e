"""--quiet / --verbose through logging, progress bars that honour TQDM_DISABLE, the vector command."""

from __future__ import annotations

import logging

import geopandas as gpd
import pandas as pd

from deepmend.cli import main
from deepmend.log import progress

LYON = ["--country", "FR", "--city", "Lyon", "--operator", "Orange"]


def test_quiet_silences_status_lines(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "0")  # restored after the test (--quiet sets it)
    assert main(["predict", *LYON, "--model", "voronoi", "--site", "FRVB_Orange_Lyon_247", "--out", str(tmp_path / "a.npz")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["--quiet", "predict", *LYON, "--model", "voronoi", "--site", "FRVB_Orange_Lyon_247", "--out", str(tmp_path / "b.npz")]) == 0
    assert capsys.readouterr().out == "" and (tmp_path / "b.npz").exists()
    assert main(["--verbose", "catalog"]) == 0
    assert logging.getLogger("deepmend").getEffectiveLevel() == logging.DEBUG


def test_progress_bars_honour_tqdm_disable(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert progress(range(3), disable=False).disable  # a caller asking for a bar does not override the user
    monkeypatch.setenv("TQDM_DISABLE", "0")
    assert not progress(range(3)).disable


def test_vector_command(tmp_path, capsys):
    out = tmp_path / "o"
    rc = main(["vector", *LYON, "--model", "probabilistic", "--site", "FRVB_Orange_Lyon_247", "--site", "FRVB_Orange_Lyon_1",
               "--cells", str(out / "cells.gpkg"), "--contours", str(out / "cont.geojson"), "--inspire", str(out / "t.parquet")])
    assert rc == 0, capsys.readouterr().err
    cells = gpd.read_file(out / "cells.gpkg")
    assert list(cells.site_id) == ["FRVB_Orange_Lyon_247", "FRVB_Orange_Lyon_1"]
    cont = gpd.read_file(out / "cont.geojson")
    assert cont.crs.to_epsg() == 4326 and sorted(set(cont.tau)) == [0.5, 0.9, 0.95]
    assert set(pd.read_parquet(out / "t.parquet").site_id) == {"FRVB_Orange_Lyon_247", "FRVB_Orange_Lyon_1"}
    assert main(["vector", *LYON, "--cells", str(out / "cells.shp")]) == 2
    assert "cells.shp" in capsys.readouterr().err and not (out / "cells.shp").exists()


def test_missing_optional_module_names_the_extra(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as in a base install without [serve]
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'deepmend[serve]'" in err and "Traceback" not in err
