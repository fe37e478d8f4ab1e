"""Evaluation: splits, self-comparison (zero error, zero gain), resume, report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepmend.errors import InputError
from deepmend.evaluation.report import build_report, gains_table, results_frame
from deepmend.evaluation.runner import SceneJob, area_types, load_results, run_scene
from deepmend.evaluation.splits import SceneSpec, Split, check_split, parse_specs
from deepmend.metrics import gain
from deepmend.models.probabilistic import ProbabilisticModel
from deepmend.models.teacher import TeacherModel
from deepmend.models.voronoi import VoronoiModel


def test_overlapping_split_rejected():
    lyon = SceneSpec("FR", "Lyon", "Orange")
    with pytest.raises(InputError, match="shares its city"):
        check_split([lyon], [SceneSpec("FR", "Lyon", "SFR")])
    with pytest.raises(InputError, match="shares its city"):  # the 2018 file of the same city is the same city
        check_split([lyon], [SceneSpec("FR", "Lyon (2018)", "Orange")])
    with pytest.raises(InputError, match="also a training scene"):
        check_split([lyon], [SceneSpec("FR", "lyon", "orange")], cross_operator=True)
    check_split([lyon], [SceneSpec("FR", "Lyon", "SFR")], cross_operator=True)  # split by operator: allowed
    check_split([lyon], [SceneSpec("FR", "Nantes", "Orange")])
    with pytest.raises(InputError):
        Split((lyon,), (SceneSpec("FR", "LYON", "Free"),))


def test_parse_specs_resolves_catalog_names():
    (spec,) = parse_specs("fr/orleans/orange")
    assert spec.key == "FR/Orléans/Orange"
    with pytest.raises(InputError):
        parse_specs("FR/Lyon")
    with pytest.raises(InputError):
        parse_specs("FR/Atlantis/Orange")


def test_cli_rejects_overlapping_split(tmp_path, capsys):
    from deepmend.cli import main

    rc = main(["evaluate", "--train", "FR/Lyon/Orange", "--test", "FR/Lyon/SFR", "--out", str(tmp_path / "ev")])
    assert rc == 2
    assert "shares its city" in capsys.readouterr().err


def test_cli_refuses_a_label_of_a_model_not_evaluated(tmp_path, capsys):
    from deepmend.cli import main

    rc = main(["evaluate", "--models", "voronoi", "--label", "deepmend=Student", "--train", "FR/Calais/Free", "--test", "FR/Quimper/Free",
               "--out", str(tmp_path / "ev")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--label" in err and "deepmend=Student" in err and "voronoi" in err
    assert not (tmp_path / "ev").exists()  # refused before anything is written


def _job(scene, truth_alpha=1.3, models=None):
    truth = lambda: ProbabilisticModel(truth_alpha).fit(scene)  # noqa: E731
    models = models or {
        "self": lambda gt: ProbabilisticModel(truth_alpha).fit(scene),
        "voronoi": lambda gt: VoronoiModel().fit(scene),
    }
    return SceneJob("T/Synthetic/Op", scene, truth, models, scene.targets[:2], gallery={int(scene.targets[0])})


def test_model_against_itself_zero_error_and_zero_gain(small_scene, tmp_path):
    rows = run_scene(_job(small_scene), tmp_path, emd_block=20)
    assert len(rows) == 2
    for r in rows:
        assert r["metrics"]["self"] == {"ks": 0.0, "emd_km": 0.0, "js": 0.0, "tv": 0.0, "ks_c40": 0.0, "emd_km_c40": 0.0}
        assert r["metrics"]["voronoi"]["ks"] > 0
    df = results_frame(load_results(tmp_path))
    v = df[df.model == "voronoi"].ks.to_numpy()
    g = gain(v, v)
    assert g.mean == 0 and g.median == 0 and g.ci_low == 0 and g.ci_high == 0
    gt = gains_table(df, ["self", "voronoi"], seed=0)
    self_ks = gt[(gt.model == "self") & (gt.metric == "ks") & (gt.area == "all")].iloc[0]
    assert self_ks["mean"] == 1.0  # zero error → full gain over Voronoi


def test_rerun_resumes_without_refitting(small_scene, tmp_path):
    run_scene(_job(small_scene), tmp_path, emd_block=20)

    def boom(gt):
        raise AssertionError("refitted a model whose results are cached")

    job = _job(small_scene, models={"self": boom, "voronoi": boom})
    job.truth = lambda: (_ for _ in ()).throw(AssertionError("refitted the ground truth"))
    rows = run_scene(job, tmp_path, emd_block=20)
    assert len(rows) == 2


def test_teacher_in_evaluation_is_exact_on_planted_truth(small_scene, tmp_path):
    models = {"teacher": lambda gt: TeacherModel(ground_truth=gt, alphas=(0.5, 1.3, 3.0)).fit(small_scene)}
    rows = run_scene(_job(small_scene, models=models), tmp_path, emd_block=20)
    for r in rows:
        assert r["teacher_alpha"] == 1.3
        assert r["metrics"]["teacher"]["ks"] == 0.0


def test_area_types_follow_density(small_scene):
    a = area_types(small_scene)
    assert set(a) <= {"urban", "suburban", "rural"}
    assert len(a) == len(small_scene.deployment)


def test_report_from_cache(small_scene, tmp_path):
    run_scene(_job(small_scene), tmp_path, emd_block=20)
    run = {"command": "deepmend evaluate …", "out": str(tmp_path), "seed": 0, "max_bs": 3, "train_bs": 0, "emd_block": 20,
           "ground_truth": "probabilistic α=1.3 (test)", "models": ["voronoi", "self"], "pending": ["deepmend"], "labels": {},
           "best_alpha": None, "teacher_alphas": [], "data": "synthetic",
           "split": {"train": [], "test": ["T/Synthetic/Op"], "description": "synthetic"}, "notes": []}
    (tmp_path / "run.json").write_text(json.dumps(run))
    docs = tmp_path / "docs" / "RESULTS.md"
    path = build_report(tmp_path, docs)
    md = path.read_text()
    assert "| self | 0.000 | 0.000 | 0.00 | 0.00 |" in md
    assert "Pending" in md and "deepmend" in md
    assert (tmp_path / "per_bs.csv").exists() and (tmp_path / "gains.csv").exists()
    assert (tmp_path / "figures" / "ks_cdf.png").exists()
    assert list((tmp_path / "figures").glob("gallery_*.png"))
    assert docs.exists() and (docs.parent / "img" / "results" / "ks_cdf.png").exists()
    assert "img/results/ks_cdf.png" in docs.read_text()


def test_unavailable_model_is_skipped_and_reported(small_scene, tmp_path):
    def missing_weights(gt):
        raise InputError("weights config not found")

    job = _job(small_scene, models={"voronoi": lambda gt: VoronoiModel().fit(small_scene), "deepmend": missing_weights})
    rows = run_scene(job, tmp_path, emd_block=20)
    assert all(set(r["metrics"]) == {"voronoi"} for r in rows)
    assert "weights config not found" in job.unavailable["deepmend"]


def test_central_window_metrics_renormalise_the_crop():
    """KS/EMD on the central 40 km: both maps cropped and renormalised there (the published window)."""
    import numpy as np

    from deepmend.evaluation.runner import compare_maps
    from deepmend.metrics import ks2d

    truth = np.zeros((600, 600))
    truth[290:310, 290:310] = 1.0
    truth[10:20, 10:20] = 3.0  # far mass, outside the central window
    truth /= truth.sum()
    pred = np.zeros((600, 600))
    pred[290:310, 290:310] = 1.0
    pred /= pred.sum()
    m = compare_maps(pred, truth, emd_block=20)
    assert m["ks"] > 0.3 and m["emd_km"] > 5.0  # the full window sees the far mass
    assert m["ks_c40"] == 0.0 and m["emd_km_c40"] == 0.0  # inside the central window the two maps agree
    far = np.zeros((600, 600))
    far[0:50, 0:50] = 1.0 / 2500  # no mass in the central window: no central figure
    assert np.isnan(compare_maps(far, truth, emd_block=20)["ks_c40"])
    shifted = np.roll(pred, 30, axis=1)
    c = np.s_[100:500, 100:500]
    assert compare_maps(shifted, truth, emd_block=20)["ks_c40"] == ks2d(shifted[c] / shifted[c].sum(), truth[c] / truth[c].sum())


def test_evaluation_voronoiboost_keeps_the_split_trained_regressor(small_scene):
    """The evaluation trains VoronoiBoost on its training split and shares that regressor; fit()
    must not swap in the shipped one (it did once: GT2 test EMD 4.61 → 6.67 km)."""
    from deepmend.evaluation.cli import sharing_regressor
    from deepmend.models.voronoiboost import TAUS, VoronoiBoostModel, compute_features

    feats = compute_features(small_scene.deployment.xy)
    rng = np.random.default_rng(0)
    scales = np.exp(rng.normal(size=(len(feats), len(TAUS)))).cumsum(axis=1)
    trained = VoronoiBoostModel().train(feats, scales, ["Elsewhere"] * len(feats))
    model = sharing_regressor(trained).fit(small_scene)
    assert model.regressor_ is trained.regressor_ and model.source_ == "train"
