"""The operator read from the codes people's lists carry (OpenCelliD's mcc+net, ARCEP's code_op), and
``--operator`` never ignored: one network per operator, or a refusal in one sentence (exit 2)."""

from __future__ import annotations

import numpy as np

from inputs_helpers import cli, one_error_line

NET = {"Orange": 1, "SFR": 10, "Free": 15, "Bouygues": 20}


def opencellid(path, n_per_op: int = 5):
    """An OpenCelliD-style list around Rennes: 4 French operators, SFR and Bouygues sharing one mast."""
    rows = ["radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"]
    rng = np.random.default_rng(3)
    cell = 1000
    for op, net in NET.items():
        for k in range(n_per_op):
            lon, lat = -1.68 + rng.uniform(-0.05, 0.05), 48.11 + rng.uniform(-0.04, 0.04)
            if k == 0 and op in ("SFR", "Bouygues"):
                lon, lat = -1.6800, 48.1100  # the shared mast
            cell += 1
            rows.append(f"LTE,208,{net},35000,{cell},0,{lon:.6f},{lat:.6f},1000,12,1,1500000000,1600000000,0")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_kind1_opencellid_mcc_net_is_the_operator(tmp_path):
    from deepmend.data.deployment import merge_colocated, split_networks
    from deepmend.data.readers import read_sites

    dep = read_sites(opencellid(tmp_path / "ocid.csv"))
    assert sorted(set(dep.operator)) == ["Bouygues", "Free", "Orange", "SFR"]
    nets = split_networks(merge_colocated(dep))
    assert sorted(nets) == ["Bouygues", "Free", "Orange", "SFR"] and all(len(d) == 5 for d in nets.values())
    for wanted in ("SFR", "sfr", "20810", "208-10"):
        sub = read_sites(tmp_path / "ocid.csv", operator=wanted)
        assert len(sub) == 5 and set(sub.operator) == {"SFR"}, wanted


def test_kind1_opencellid_operator_filter_cli(tmp_path):
    f = opencellid(tmp_path / "ocid.csv")
    rc, out, err = cli("predict", "--sites", f, "--operator", "20810", "--model", "voronoi", "--all", "--out", tmp_path / "m")
    assert rc == 0, err
    assert len(list((tmp_path / "m").glob("*.npz"))) == 5
    assert "kept the 5 of 20 rows of operator 20810" in err


def test_kind1_opencellid_upload_names_operators(client, tmp_path):
    f = opencellid(tmp_path / "ocid.csv")
    r = client.post("/api/uploads", files={"file": ("ocid.csv", f.read_bytes(), "text/csv")})
    assert r.status_code == 200, r.text
    assert r.json()["operators"] == ["Bouygues", "Free", "Orange", "SFR"]


def test_kind1_code_op_column_selects_by_code_or_name(tmp_path):
    from deepmend.data.readers import read_sites

    f = tmp_path / "arcep.csv"
    f.write_text("site_id;nom_op;code_op;x;y\nA;Orange France;20801;350000;6790000\nB;SFR;20810;352000;6791000\n"
                 "C;Orange France;20801;351000;6788000\nD;SFR;20810;353000;6789000\n")
    for wanted in ("20801", "Orange France", "208-01"):
        assert list(read_sites(f, crs="EPSG:2154", operator=wanted).site_ids) == ["A", "C"], wanted


def test_kind2_operator_without_operator_column_is_refused(tmp_path):
    f = tmp_path / "plain.csv"
    f.write_text("site_id,lat,lon\nA,48.11,-1.68\nB,48.12,-1.66\nC,48.10,-1.70\n")
    rc, out, err = cli("predict", "--sites", f, "--operator", "SFR", "--model", "voronoi", "--all", "--out", tmp_path / "m")
    msg = one_error_line(err)
    assert rc == 2 and "no operator column" in msg and "columns are site_id, lat, lon" in msg and "plain.csv" in msg, msg
    assert not (tmp_path / "m").exists() or not list((tmp_path / "m").glob("*.npz"))
