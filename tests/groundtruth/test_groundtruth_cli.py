import pytest

from deepmend.cli import main


@pytest.mark.parametrize("argv, needle", [
    (["groundtruth", "simulate", "--country", "FR", "--city", "Lyon", "--operator", "Orange", "--out", "x.npz"], "exactly one of"),
    (["groundtruth", "simulate", "--site", "a", "--out", "x.png"], "must end in .npz"),
    (["groundtruth", "simulate", "--site", "a", "--out", "x.npz"], "--country"),
    (["groundtruth", "simulate", "--site", "a", "--out", "x.npz", "--param", "nope=1", "--country", "FR", "--city", "Lyon", "--operator", "Orange"], "unknown simulator parameter"),
    (["groundtruth", "simulate", "--site", "a", "--out", "x.npz", "--param", "temperature_db", "--country", "FR"], "KEY=VALUE"),
    # the site-file options of predict (one command body, cli_options.write_maps): made to fail before simulate had them
    (["groundtruth", "simulate", "--site", "a", "--out", "x.npz", "--strict", "--country", "FR", "--city", "Lyon", "--operator", "Orange"], "go with --sites"),
    (["groundtruth", "build", "--scenes", "FR/Lyon", "--out", "ds"], "COUNTRY/CITY/OPERATOR"),
    (["groundtruth", "stats", "nowhere"], "dataset directory or a scene"),
])
def test_cli_errors_exit_2_one_line(tmp_path, monkeypatch, capsys, argv, needle):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and needle in err and "\n" not in err


def test_stats_on_non_dataset_dir(tmp_path, capsys):
    assert main(["groundtruth", "stats", str(tmp_path)]) == 2
    assert "index.json" in capsys.readouterr().err


def _files(tmp_path):
    """A CSV of 5 sites and a GeoJSON square around them (lat/lon)."""
    import json as _json

    import numpy as np
    import shapely
    from shapely.geometry import mapping

    from deepmend.data.crs import to_wgs84
    from deepmend.data.regions import project
    from gt_synth import CRS, X0, Y0

    xs = X0 + np.array([0, 2000, -1500, 500, -800.0])
    ys = Y0 + np.array([0, 500, 1200, -2000, -900.0])
    lon, lat = to_wgs84(xs, ys, CRS)
    sites = tmp_path / "sites.csv"
    sites.write_text("site_id,operator,lat,lon\n" + "".join(f"a{k},Op,{la:.7f},{lo:.7f}\n" for k, (la, lo) in enumerate(zip(lat, lon))))
    box = project(shapely.box(X0 - 6000, Y0 - 6000, X0 + 6000, Y0 + 6000), CRS, "EPSG:4326")
    region = tmp_path / "region.geojson"
    region.write_text(_json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "sq"}, "geometry": mapping(box)}]}))
    return sites, region


@pytest.mark.slow
def test_simulate_all_is_resumable(tmp_path, capsys):
    from deepmend.grid.diffusion_map import DiffusionMap

    sites, region = _files(tmp_path)
    out = tmp_path / "maps"
    argv = ["groundtruth", "simulate", "--sites", str(sites), "--region", str(region), "--all", "--out", str(out), "--param", "prior=uniform", "--param", "sectors=0"]
    assert main(argv) == 0
    files = sorted(out.glob("*.npz"))
    assert len(files) == 5
    m = DiffusionMap.load(files[0])
    assert m.meta["params"]["sectors"] == 0 and m.model == "groundtruth"
    capsys.readouterr()
    assert main(argv) == 0
    assert "resuming: 5 maps" in capsys.readouterr().out


@pytest.mark.slow  # two scene fits of a real city: ~1 min on 2 idle cores
def test_stats_report_per_area_alpha_and_the_probabilistic_reference(capsys):
    """On a tiny bundled scene: the simulator's report has the α table; ``--probabilistic`` reports that model."""
    scene = "FR/Orléans (2018)/Free"
    assert main(["groundtruth", "stats", scene, "--sample", "4", "--alpha-sample", "4"]) == 0
    out = capsys.readouterr().out
    assert "| area | n | best α | KS at best α | KS at α = 1.3 |" in out
    rows = [r for r in out.splitlines() if r.startswith("| all | 4 |")]
    assert len(rows) == 2  # the realism table and the α table
    assert main(["groundtruth", "stats", scene, "--sample", "4", "--alpha-sample", "4", "--probabilistic", "1.3"]) == 0
    out = capsys.readouterr().out
    assert "probabilistic model α = 1.3" in out
    # the probabilistic model at α = 1.3 is best fitted by itself: KS 0 at the best α, which is 1.3
    alpha_all = [r for r in out.splitlines() if r.startswith("| all | 4 |")][-1]
    assert alpha_all.split("|")[3].strip().startswith("1.30") and alpha_all.split("|")[4].strip().startswith("0.00")
    assert main(["groundtruth", "stats", scene, "--probabilistic", "0"]) == 2
