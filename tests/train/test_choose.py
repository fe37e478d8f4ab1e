"""deepmend.train.choose: weights scored as the evaluation scores them, gains over Voronoi per BS."""

from __future__ import annotations

import numpy as np


def test_a_model_equal_to_the_truth_scores_full_gain(small_scene):
    from deepmend.evaluation.runner import compare_maps
    from deepmend.models.probabilistic import ProbabilisticModel
    from deepmend.models.voronoi import VoronoiModel
    from deepmend.train.choose import score, table

    sites = np.asarray(small_scene.targets[:3])
    truth_model = ProbabilisticModel(1.5).fit(small_scene)
    truth = [truth_model.predict(int(i)) for i in sites]
    models = {"voronoi": VoronoiModel().fit(small_scene), "same": ProbabilisticModel(1.5).fit(small_scene), "other": ProbabilisticModel(4.0).fit(small_scene)}
    rows = score(small_scene, "synthetic", truth, sites, models)
    assert [r["ks"] for r in rows["same"]] == [0.0] * 3 and all(r["emd_km"] < 1e-9 for r in rows["same"])
    ref = compare_maps(models["other"].predict(int(sites[0])).prob, truth[0].prob)
    assert rows["other"][0]["ks"] == ref["ks"] and rows["other"][0]["emd_km_c40"] == ref["emd_km_c40"]
    md = table(rows).split("\n")
    same = next(ln for ln in md if ln.startswith("| same |"))
    assert "+100.0 % / +100.0 % | +100.0 % / +100.0 % | +2.00 |" in same
    other = next(ln for ln in md if ln.startswith("| other |"))
    assert "+100.0 %" not in other
