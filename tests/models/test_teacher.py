"""Teacher: exhaustive per-BS α search recovers a planted α exactly."""

from __future__ import annotations

import numpy as np
import pytest

from deepmend.errors import InputError
from deepmend.models.probabilistic import REFERENCE_ALPHAS, ProbabilisticModel
from deepmend.models.teacher import TEACHER_ALPHAS, TeacherModel


def test_grid_contains_reference_and_is_finer():
    assert set(REFERENCE_ALPHAS) <= set(TEACHER_ALPHAS)
    assert len(TEACHER_ALPHAS) >= 2 * len(REFERENCE_ALPHAS)
    assert list(TEACHER_ALPHAS) == sorted(TEACHER_ALPHAS)


@pytest.mark.parametrize(("planted", "grid"), [pytest.param(2.0, TEACHER_ALPHAS, marks=pytest.mark.slow), (0.7, REFERENCE_ALPHAS + (0.6, 0.7, 0.8)), (10.0, REFERENCE_ALPHAS)])
def test_teacher_recovers_planted_alpha(small_scene, planted, grid):
    truth = ProbabilisticModel(planted).fit(small_scene)
    teacher = TeacherModel(ground_truth=truth, alphas=grid).fit(small_scene)
    for i in small_scene.targets[:2]:
        t = truth.predict(int(i))
        alpha, ks, label = teacher.choose(int(i), t)
        assert alpha == planted
        assert ks == 0.0
        np.testing.assert_array_equal(label, t.lattice_prob)  # soft labels are in the scene's lattice order
        m = teacher.predict(int(i))
        assert m.meta["params"]["alpha"] == planted
        np.testing.assert_array_equal(m.prob, t.prob)


def test_teacher_rejects_bad_grid():
    with pytest.raises(InputError):
        TeacherModel(alphas=[0.0, 1.0]).validate()


def test_label_scene_writes_alphas_and_maps_and_resumes(small_scene, tmp_path, monkeypatch):
    import csv

    from deepmend.groundtruth.reader import read_map
    from deepmend.models import teacher as teacher_mod
    from deepmend.train.teacher_labels import label_scene

    monkeypatch.setattr(teacher_mod, "TEACHER_ALPHAS", (0.5, 1.3, 3.0))
    monkeypatch.setattr(teacher_mod.TeacherModel.__init__, "__defaults__", (None, (0.5, 1.3, 3.0)))
    truth = ProbabilisticModel(3.0).fit(small_scene)
    sites = small_scene.targets[:2]
    rows = label_scene(small_scene, truth, tmp_path, sites)
    assert {r["alpha"] for r in rows.values()} == {"3"}
    with open(tmp_path / "alphas.csv") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 2 and float(table[0]["ks"]) == 0.0
    m = read_map(tmp_path / table[0]["file"])
    np.testing.assert_allclose(m.prob, truth.predict(int(sites[0])).prob, atol=1e-9)

    class Boom(ProbabilisticModel):
        def fit(self, scene):
            raise AssertionError("resume must not refit")

    assert len(label_scene(small_scene, Boom(1.0), tmp_path, sites)) == 2
