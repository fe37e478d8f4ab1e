"""The command line: real runs on bundled and user data; every bad input is one clear line, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from deepmend.cli import main
from deepmend.grid.diffusion_map import DiffusionMap

LYON = ["--country", "FR", "--city", "Lyon", "--operator", "Orange"]
SITES = "site_id,operator,lat,lon\nA,X,45.76,4.84\nB,X,45.70,4.90\nC,X,45.80,4.95\nD,X,45.72,4.78\n"


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def write(tmp_path, text, name="sites.csv"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_catalog_lists_countries(capsys):
    rc, out, _ = run(capsys, "catalog", "--json")
    cat = json.loads(out)
    assert rc == 0
    fr = next(c for c in cat["countries"] if c["code"] == "FR")
    lyon = next(c for c in fr["cities"] if c["name"] == "Lyon")
    assert {o["name"] for o in lyon["operators"]} == {"Orange", "SFR", "Bouygues", "Free"}
    assert {c["code"] for c in cat["countries"]} == {"FR", "GB", "IE", "BE"}


def test_predict_site_and_compare(tmp_path, capsys, lyon_scene):
    site = str(lyon_scene.deployment.site_ids[lyon_scene.targets[10]])
    a, b = tmp_path / "v.npz", tmp_path / "p.tif"
    assert run(capsys, "predict", *LYON, "--model", "voronoi", "--site", site, "--out", str(a))[0] == 0
    assert run(capsys, "predict", *LYON, "--model", "probabilistic", "--alpha", "1.3", "--site", site, "--out", str(b))[0] == 0
    mv, mp = DiffusionMap.load(a), DiffusionMap.load(b)
    assert mv.site_id == site and mp.meta["params"] == {"alpha": 1.3}
    rc, out, _ = run(capsys, "compare", str(a), str(b), "--json")
    res = json.loads(out)
    assert rc == 0 and 0 < res["ks"] < 1 and res["emd_km"] > 0 and 0 < res["js"] <= 1
    rc, out, _ = run(capsys, "compare", str(a), str(a), "--json")
    assert json.loads(out)["ks"] == 0


def test_predict_all_user_sites_resumes(tmp_path, capsys):
    out_dir = tmp_path / "maps"
    argv = ["predict", "--sites", write(tmp_path, SITES), "--country", "FR", "--model", "voronoi", "--all", "--out", str(out_dir)]
    assert run(capsys, *argv)[0] == 0
    files = sorted(out_dir.glob("*.npz"))
    assert [f.stem for f in files] == ["A", "B", "C", "D"]
    mtimes = [f.stat().st_mtime_ns for f in files]
    files[1].write_bytes(b"corrupt")  # a damaged map is recomputed, good ones are kept
    rc, out, _ = run(capsys, *argv)
    assert rc == 0 and "3 maps already" in out and "wrote 1 maps" in out
    assert [f.stat().st_mtime_ns for f in sorted(out_dir.glob("*.npz"))][::2] == mtimes[::2]
    total = sum(DiffusionMap.load(f).prob.sum(dtype=np.float64) for f in out_dir.glob("*.npz"))
    assert abs(total - 4) < 1e-4


def test_region_geojson(tmp_path, capsys):
    region = {"type": "Polygon", "coordinates": [[[4.6, 45.6], [5.1, 45.6], [5.1, 45.95], [4.6, 45.95], [4.6, 45.6]]]}
    rc, out, err = run(capsys, "predict", "--sites", write(tmp_path, SITES), "--region", write(tmp_path, json.dumps(region), "r.geojson"),
                       "--country", "FR", "--site", "B", "--out", str(tmp_path / "b.npz"))
    assert rc == 0, err
    m = DiffusionMap.load(tmp_path / "b.npz")
    assert 0.2 < m.mask.mean() < 0.9


BAD = [
    (["predict", *LYON, "--site", "nope", "--out", "X/o.npz"], "unknown site id"),
    (["predict", "--country", "XX", "--city", "Lyon", "--operator", "Orange", "--site", "1", "--out", "o.npz"], "unknown country; valid: FR, GB, IE, BE"),
    (["predict", "--country", "FR", "--city", "Atlantis", "--operator", "Orange", "--site", "1", "--out", "o.npz"], "unknown city for FR; valid: "),
    (["predict", "--country", "FR", "--city", "Lyon", "--operator", "Vodafone", "--site", "1", "--out", "o.npz"], "valid: Bouygues, Free, Orange, SFR"),
    (["predict", *LYON, "--model", "magic", "--site", "1", "--out", "o.npz"], "unknown model"),
    (["predict", *LYON, "--model", "probabilistic", "--alpha", "-2", "--site", "1", "--out", "o.npz"], "alpha must be a positive number"),
    (["predict", *LYON, "--all", "--site", "1", "--out", "o"], "exactly one of --site"),
    (["predict", *LYON, "--site", "1", "--out", "o.png"], "must end in .npz or .tif"),
    (["predict", "--city", "Lyon", "--site", "1", "--out", "o.npz"], "missing --country, --operator"),
    (["compare", "missing_a.npz", "missing_b.npz"], "map file not found"),
]


@pytest.mark.parametrize("argv, expect", BAD)
def test_bad_arguments(tmp_path, capsys, monkeypatch, argv, expect):
    monkeypatch.chdir(tmp_path)
    rc, out, err = run(capsys, *argv)
    assert rc == 2
    assert expect in err and "Traceback" not in err
    assert not list(tmp_path.rglob("*.npz"))


@pytest.mark.parametrize(
    "text, expect",
    [
        ("site_id,lat,lon\nA,4.84,45.76\nB,4.90,45.70\nC,4.95,45.80\n", "look swapped"),
        ("site_id,lat,lon\nA,45.76,4.84\nB,45.70,abc\n", "row 3, column 'lon', value 'abc'"),
        ("", "file is empty"),
    ],
)
def test_bad_site_files(tmp_path, capsys, text, expect):
    region = {"type": "Polygon", "coordinates": [[[4.6, 45.6], [5.1, 45.6], [5.1, 45.95], [4.6, 45.95], [4.6, 45.6]]]}
    rc, _, err = run(capsys, "predict", "--sites", write(tmp_path, text), "--region", write(tmp_path, json.dumps(region), "r.geojson"),
                     "--country", "FR", "--all", "--out", str(tmp_path / "maps"))
    assert rc == 2 and expect in err and "Traceback" not in err
    assert "sites.csv" in err
    assert not list(tmp_path.rglob("*.npz"))


def test_unwritable_output_directory(tmp_path):
    """An existing directory without write permission: exit 2, "not writable", no traceback — also under root.

    CI runs as root, whose CAP_DAC_OVERRIDE makes every directory writable. So the command
    runs in a child process whose capability bounding set lacks DAC_OVERRIDE,
    DAC_READ_SEARCH and FOWNER (``setpriv``, util-linux): root then obeys the 0o555 mode
    like anyone. Made to fail once by removing the ``os.access`` check from
    ``deepmend.io.check_writable_dir``: the command then failed later, at the write, with
    "cannot write output" instead of "not writable".
    """
    import shutil

    (tmp_path / "sites.csv").write_text(SITES)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    cmd = [sys.executable, "-m", "deepmend.cli", "predict", "--sites", str(tmp_path / "sites.csv"), "--country", "FR",
           "--site", "A", "--out", str(ro / "a.npz")]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "running as root: this test needs util-linux's setpriv to drop CAP_DAC_OVERRIDE"
        cmd = [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"] + cmd
    env = dict(os.environ, DEEPMEND_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "not writable" in proc.stderr and "Traceback" not in proc.stderr
    assert not (ro / "a.npz").exists()


def test_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a directory is expected")
    rc, _, err = run(capsys, "predict", "--sites", write(tmp_path, SITES), "--country", "FR", "--site", "A", "--out", str(blocker / "sub" / "a.npz"))
    assert rc == 2 and "cannot create output directory" in err and "Traceback" not in err


def test_real_entry_point_exit_code(tmp_path):
    """The installed console script, not just main(): exit 2 and one line on stderr."""
    proc = subprocess.run([sys.executable, "-m", "deepmend.cli", "predict", "--country", "FR", "--city", "Lyon", "--operator", "Nope", "--site", "1", "--out", str(tmp_path / "a.npz")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error:") and len(proc.stderr.strip().splitlines()) == 1


def test_help_lists_every_command_without_importing_them():
    """``deepmend --help`` lists every command with its package's help, importing no package command module.

    The listing reads each docstring from source (``deepmend.cli.source_help``); the loaded
    command's own short help must be the same. Made to fail once by giving ``catalog`` a
    ``help=`` in its decorator (the two texts differed), and once by importing
    ``deepmend.engine.cli`` at the top of ``deepmend/cli.py`` (numpy was then loaded).
    """
    import click

    from deepmend.cli import LAZY_COMMANDS, cli, source_help

    code = "import sys; from deepmend.cli import main; main(['--help']); print(sorted(m for m in sys.modules if m.startswith(('deepmend.', 'numpy'))))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=dict(os.environ, COLUMNS="80"))
    assert proc.returncode == 0, proc.stderr
    *listing, loaded = proc.stdout.strip().splitlines()
    assert loaded == "['deepmend.cli', 'deepmend.errors']", loaded
    rows = dict(line.strip().split(None, 1) for line in listing[listing.index("Commands:") + 1 :])
    assert sorted(rows) == sorted(LAZY_COMMANDS)
    limit = (80 - 2) - 6 - max(map(len, LAZY_COMMANDS))  # click: width = COLUMNS - 2; rows get width - 6 - longest name
    for name in LAZY_COMMANDS:
        cmd = cli.get_command(click.Context(cli), name)
        assert cmd is not None and cmd.name == name
        assert click.Command(name, help=source_help(name)).get_short_help_str(500) == cmd.get_short_help_str(500), name
        assert rows[name] == cmd.get_short_help_str(limit), name
