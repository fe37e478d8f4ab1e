"""The noise ceiling (issue 19): the mean of other seeds of a simulated truth, as a model and as a row of the evaluation.

Made to fail once each: renormalising on the whole window instead of the mask (sum test), averaging
seeds 0…k−1 (k=1 and own-seed tests), ignoring ``seeds`` (seed-list test), and dropping the
report's sentence / the targets-table row (report tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deepmend.errors import InputError, ParameterError
from deepmend.evaluation.ceiling import CEILING_NAME, CEILING_SENTENCE, NoiseCeilingModel
from deepmend.evaluation.runner import SceneJob, run_scene
from deepmend.groundtruth.config import SimulatorConfig
from deepmend.groundtruth.sim2 import Sim2Config, SignalDominanceSimulator
from deepmend.groundtruth.simulator import GroundTruthSimulator
from deepmend.models.voronoi import VoronoiModel

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPMEND_CACHE_DIR", str(tmp_path / "cache"))


def gt1(seed: int = 0) -> GroundTruthSimulator:
    return GroundTruthSimulator(SimulatorConfig(prior="uniform", seed=seed), use_cache=False)


def gt2(seed: int = 0) -> SignalDominanceSimulator:
    return SignalDominanceSimulator(Sim2Config(seed=seed), use_cache=False)


def test_maps_sum_to_one_on_the_mask(small_scene):
    m = NoiseCeilingModel(gt1(), k=2).fit(small_scene).predict(int(small_scene.targets[0]))
    assert (~m.mask).any()  # the region is smaller than the window
    assert abs(float(m.prob[m.mask].sum(dtype=np.float64)) - 1.0) < 1e-5
    assert not m.prob[~m.mask].any() and (m.prob >= 0).all()
    assert m.model == CEILING_NAME and m.meta["params"]["seeds"] == [1, 2]


@pytest.mark.parametrize("make", [gt1, gt2], ids=["sim1", "sim2"])
def test_k1_is_the_truth_fitted_with_seed_1(small_scene, make):
    i = int(small_scene.targets[1])
    ceiling = NoiseCeilingModel(make(0), k=1).fit(small_scene).predict(i).prob
    seed1 = make(1).fit(small_scene).predict(i).prob  # GT1: the whole-deployment path; the ceiling uses the per-BS one
    np.testing.assert_allclose(ceiling, seed1, rtol=1e-5, atol=1e-9)
    assert not np.allclose(ceiling, make(0).fit(small_scene).predict(i).prob)  # not the evaluated truth


def test_refuses_the_truths_own_seed_and_bad_input(small_scene):
    with pytest.raises(ParameterError, match="own seed 0"):
        NoiseCeilingModel(gt1(0), seeds=[0, 1]).fit(small_scene)
    with pytest.raises(ParameterError, match="own seed 3"):
        NoiseCeilingModel(gt2(3), seeds=(3,)).fit(small_scene)
    assert NoiseCeilingModel(gt2(3), k=2).validate().seeds_() == (4, 5)  # default: the next k seeds
    with pytest.raises(ParameterError):
        NoiseCeilingModel(gt1(), k=0).fit(small_scene)
    with pytest.raises(ParameterError):
        NoiseCeilingModel(gt1(), seeds=[1, 1]).fit(small_scene)
    with pytest.raises(InputError, match="simulated ground truth"):
        NoiseCeilingModel(VoronoiModel(), k=2).fit(small_scene)


def test_the_seed_list_changes_the_map(small_scene):
    i = int(small_scene.targets[0])
    a = NoiseCeilingModel(gt2(), seeds=[1, 2]).fit(small_scene).predict(i).prob
    b = NoiseCeilingModel(gt2(), seeds=[3, 4]).fit(small_scene).predict(i).prob
    c = NoiseCeilingModel(gt2(), seeds=[2, 1]).fit(small_scene).predict(i).prob
    assert not np.allclose(a, b)
    np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-12)  # a mean: the order does not matter


def _evaluate(scene, out: Path, truth) -> None:
    """One scene through the evaluation's runner, with the CLI's run.json fields for the ceiling."""
    models = {"voronoi": lambda gt: VoronoiModel().fit(scene), CEILING_NAME: lambda gt: NoiseCeilingModel(ground_truth=gt, k=2).fit(scene)}
    job = SceneJob("T/Synthetic/Op", scene, lambda: truth.fit(scene), models, scene.targets[:3], gallery={int(scene.targets[0])})
    rows = run_scene(job, out, emd_block=20)
    assert all(set(r["metrics"]) == {"voronoi", CEILING_NAME} for r in rows)
    run = {"command": "deepmend evaluate …", "out": str(out), "seed": 0, "max_bs": 3, "train_bs": 0, "emd_block": 20,
           "ground_truth": "test", "models": ["voronoi", CEILING_NAME], "ceiling_seeds": 2, "pending": [],
           "labels": {CEILING_NAME: "Noise ceiling (K=2)"}, "best_alpha": None, "teacher_alphas": [], "data": "synthetic",
           "split": {"train": [], "test": ["T/Synthetic/Op"], "description": "synthetic"}, "notes": []}
    (out / "run.json").write_text(json.dumps(run))


def test_evaluation_and_report_show_the_row(small_scene, tmp_path):
    from deepmend.evaluation.report import build_report, build_two_truths

    _evaluate(small_scene, tmp_path / "g1", gt1())
    _evaluate(small_scene, tmp_path / "g2", gt2())
    md = build_report(tmp_path / "g1").read_text()
    assert "| Noise ceiling (K=2) | " in md and CEILING_SENTENCE in md and "K = 2" in md
    assert (tmp_path / "g1" / "gallery" / "T_Synthetic_Op").exists()
    docs = build_two_truths(tmp_path / "g1", tmp_path / "g2", tmp_path / "docs" / "RESULTS.md").read_text()
    assert CEILING_SENTENCE in docs
    target_rows = [ln for ln in docs.splitlines() if ln.startswith("| Noise ceiling (K=2) | ks gain over voronoi ≥ 56 %")]
    assert len(target_rows) == 1 and ("the ceiling reaches it" in target_rows[0] or "the ceiling itself misses it" in target_rows[0])


def test_cli_refuses_the_ceiling_without_a_simulated_truth(tmp_path, capsys):
    from deepmend.cli import main

    rc = main(["evaluate", "--models", "voronoi,noise-ceiling", "--ground-truth", str(tmp_path / "maps"), "--train", "FR/Calais/Free",
               "--test", "FR/Quimper/Free", "--out", str(tmp_path / "ev")])
    assert rc == 2
    assert "simulated truth" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_evaluate_with_the_ceiling_end_to_end(tmp_path):
    """A real `deepmend evaluate --models voronoi,noise-ceiling` on the second truth (2 Quimper BSs, K = 2; ~1 min on 2 cores)."""
    out = tmp_path / "ev"
    env = {**os.environ, "DEEPMEND_CACHE_DIR": str(tmp_path / "cache"), "TQDM_DISABLE": "1", "PYTHONPATH": str(REPO)}
    base = [sys.executable, "-m", "deepmend.cli", "evaluate", "--models", "voronoi,noise-ceiling", "--ground-truth", "sim2",
            "--train", "FR/Calais/Free", "--test", "FR/Quimper/Free", "--max-bs", "2", "--emd-block", "20", "--out", str(out)]
    run = subprocess.run([*base, "--ceiling-seeds", "2", "--label", "voronoi=Voronoi cells (uniform)"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    md = (out / "REPORT.md").read_text()
    assert "| Voronoi cells (uniform) | " in md  # --label names the row
    assert "| Noise ceiling (mean of 2 other draws of the truth; the KL optimum, a reference in KS/EMD) | " in md and CEILING_SENTENCE in md
    recs = [json.loads(p.read_text()) for p in (out / "bs").glob("*/*.json")]
    assert len(recs) == 2 and all(0 < r["metrics"][CEILING_NAME]["ks"] < 1 for r in recs)
    again = subprocess.run([*base, "--ceiling-seeds", "3"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "--ceiling-seeds 2" in again.stderr
