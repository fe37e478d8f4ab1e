"""The city view's data: each model's KS/EMD over a city's BSs, read from an evaluation's per-BS cache."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from deepmend.api.app import create_app
from deepmend.evaluation.runner import safe


def _record(run, scene, site, ks, emd):
    d = run / "bs" / safe(scene)
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{safe(site)}.json").write_text(json.dumps(
        {"scene": scene, "site_id": site, "metrics": {"voronoi": {"ks": ks, "emd_km": emd}, "deepmend": {"ks": ks / 2, "emd_km": emd / 2}}}))


def test_the_city_view_lists_each_runs_sorted_errors_of_that_scene_only(tmp_path, monkeypatch):
    run = tmp_path / "v3"
    for k, (ks, emd) in enumerate([(0.5, 6.0), (0.3, 4.0), (0.4, 5.0)]):
        _record(run, "FR/Orléans/Orange", f"S{k}", ks, emd)
    _record(run, "FR/Rennes/SFR", "R0", 0.9, 9.0)          # another scene
    _record(tmp_path / "other", "FR/Rennes/SFR", "R1", 0.9, 9.0)  # a run without this scene
    monkeypatch.setenv("DEEPMEND_EVAL_DIR", str(tmp_path))
    body = TestClient(create_app()).get("/api/evaluation", params={"country": "fr", "city": "orleans", "operator": "orange"}).json()
    assert body["scene"] == "FR/Orléans/Orange"
    assert [r["run"] for r in body["runs"]] == ["v3"] and body["runs"][0]["n_bs"] == 3
    models = body["runs"][0]["models"]
    assert models["voronoi"]["ks"] == [0.3, 0.4, 0.5] and models["deepmend"]["emd_km"] == [2.0, 2.5, 3.0]


def test_a_city_never_evaluated_has_no_run(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPMEND_EVAL_DIR", str(tmp_path))
    body = TestClient(create_app()).get("/api/evaluation", params={"country": "FR", "city": "Lyon", "operator": "Orange"}).json()
    assert body == {"scene": "FR/Lyon/Orange", "runs": []}
