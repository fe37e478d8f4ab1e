"""``deepmend groundtruth build`` → ``deepmend train`` end to end on two tiny real scenes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepmend.cli import main

SCENES = "FR/Orléans (2018)/Free,FR/Le Mans (2018)/Free"


@pytest.mark.slow  # ground truth of two real scenes, labels and one epoch: ~1–2 min
def test_build_then_train_with_parallel_labels(tmp_path, capsys):
    data, out = tmp_path / "gt", tmp_path / "run"
    assert main(["groundtruth", "build", "--scenes", SCENES, "--out", str(data)]) == 0
    rc = main(["train", "--data", str(data), "--out", str(out), "--val-cities", "Le Mans (2018)", "--epochs", "1",
               "--factor", "10", "--base", "4", "--levels", "2", "--loss", "kl+ks+emd", "--jobs", "2", "--threads", "1"])
    assert rc == 0, capsys.readouterr().err
    rec = json.loads((out / "deepmend.json").read_text())
    assert rec["loss"] == "kl+ks+emd"
    shards = sorted(p.name for p in (data / "student").glob("*.npz"))
    assert len(shards) == 2  # one per scene, written by the worker processes
    with np.load(data / "student" / shards[0]) as z:
        assert np.allclose(z["teacher"].sum(axis=(1, 2)), 1.0, atol=1e-4)
        assert z["x"].shape[1:] == (4, 60, 60)
    # --target gt needs no teacher labels: its shard skips the α search and is cached apart
    from deepmend.train.dataset import TEACHER_ALPHAS, prepare_scene, read_index

    scenes = read_index(data)["scenes"]
    key = sorted(scenes)[0]
    path = prepare_scene(data, key, scenes[key], 10, TEACHER_ALPHAS, None, 0, labels=False)
    assert path.name.endswith("_gt.npz") and path.name not in shards
    with np.load(path) as z, np.load(data / "student" / path.name.replace("_gt.npz", ".npz")) as ref:
        np.testing.assert_array_equal(z["teacher"], z["gt"])
        np.testing.assert_array_equal(z["gt"], ref["gt"])
        np.testing.assert_array_equal(z["x"], ref["x"])
        assert np.isnan(z["alpha"]).all()
    # issue 19 ablation: fine-tune the run's weights with extra channels; the labels come from the
    # reference shards, the inputs are computed for the new set into a shard of its own
    extra = "near1,near2,mean5,mask,dens1,dens3,dens10,edge,own"
    rc = main(["train", "--data", str(data), "--out", str(tmp_path / "run9"), "--val-cities", "Le Mans (2018)", "--epochs", "1",
               "--factor", "10", "--base", "4", "--levels", "2", "--loss", "kl+ks+emd", "--threads", "1", "--channels", extra,
               "--init-weights", str(out / "deepmend.json")])
    assert rc == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "run9" / "deepmend.json").read_text())["channels"] == extra.split(",")
    new = sorted(set(p.name for p in (data / "student").glob("*.npz")) - set(shards) - {path.name})
    assert len(new) == 2 and all("_c" in n for n in new)
    with np.load(data / "student" / new[0]) as z, np.load(data / "student" / shards[0]) as ref:
        assert z["x"].shape[1:] == (9, 60, 60)
        np.testing.assert_array_equal(z["x"][:, :4], ref["x"])
        np.testing.assert_array_equal(z["teacher"], ref["teacher"])


@pytest.mark.parametrize("flag", ["--emd-weight", "--ks-weight", "--kl-weight", "--jobs"])
def test_negative_weights_or_jobs_are_one_clear_error(tmp_path, capsys, flag):
    rc = main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"), flag, "-1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error:") and flag in err and "\n" not in err


def test_unknown_channel_is_one_clear_error(tmp_path, capsys):
    rc = main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"), "--channels", "near1,near2,mean5,mask,dens2"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error:") and "--channels" in err and "'dens2'" in err and "\n" not in err


def test_envelope_with_random_crops_is_one_clear_error(tmp_path, capsys):
    rc = main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"), "--envelope", "--crop", "30"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error:") and "--crop" in err and "envelope" in err and "\n" not in err


def test_train_worlds_must_be_integers(tmp_path, capsys):
    from deepmend.groundtruth.dataset import FORMAT, GroundTruthDataset

    GroundTruthDataset(tmp_path / "gt").write({"format": FORMAT, "scenes": {}})
    rc = main(["train", "--data", str(tmp_path / "gt"), "--out", str(tmp_path / "run"), "--train-worlds", "1,two"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--train-worlds" in err and "1,two" in err and "\n" not in err
