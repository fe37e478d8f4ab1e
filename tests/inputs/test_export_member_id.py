"""A merged co-located antenna keeps its members' ids: ``export --site <member id>`` finds its map in the store,
as ``predict --site`` does."""

from __future__ import annotations

import numpy as np

from inputs_helpers import cli

SITES = "site_id,lat,lon\nA1,48.110,-1.680\nA2,48.110,-1.680\nB,48.120,-1.660\nC,48.100,-1.700\nD,48.090,-1.650\n"


def test_kind1_export_accepts_a_merged_member_id(tmp_path):
    from deepmend.grid.diffusion_map import DiffusionMap

    f = tmp_path / "s.csv"
    f.write_text(SITES)
    rc, out, err = cli("predict", "--sites", f, "--model", "voronoi", "--all", "--store", tmp_path / "s.zarr")
    assert rc == 0, err
    rc, out, err = cli("export", tmp_path / "s.zarr", "--site", "A2", "--out", tmp_path / "a2.tif")
    assert rc == 0, err
    rc, out, err = cli("export", tmp_path / "s.zarr", "--site", "A1", "--out", tmp_path / "a1.tif")
    assert rc == 0, err
    a1, a2 = DiffusionMap.load(tmp_path / "a1.tif"), DiffusionMap.load(tmp_path / "a2.tif")
    assert np.array_equal(a1.prob, a2.prob)
