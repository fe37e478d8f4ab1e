"""Progress of long computations: the job registry, its tqdm capture and ``GET /api/jobs``."""

from __future__ import annotations

import threading

import pytest
import tqdm as tqdm_module
from fastapi.testclient import TestClient

from deepmend.api import jobs as jobs_mod
from deepmend.api.app import create_app
from deepmend.api.jobs import JobRegistry, capture_tqdm


@pytest.fixture
def registry(monkeypatch):
    """A fresh registry with tqdm captured into it (tqdm is restored after the test)."""
    reg = JobRegistry()
    monkeypatch.setattr(tqdm_module, "tqdm", tqdm_module.tqdm)  # restored on teardown
    capture_tqdm(reg)
    return reg


def test_tqdm_bars_feed_the_job_of_their_thread_and_print_nothing(registry, capsys):
    from tqdm import tqdm  # what library code does: a lazy import

    with registry.track("fit", "voronoiboost", ("FR", "Lyon", "Orange"), "fitting voronoiboost") as job:
        for k in tqdm(range(4), desc="training scenes"):
            if k == 2:
                mid = registry.snapshot()["running"][0]
        assert job.fraction == 1.0
    assert mid["fraction"] == pytest.approx(0.5) and mid["step"] == "training scenes (2/4)" and not mid["done"]
    snap = registry.snapshot()
    assert snap["running"] == [] and snap["finished"][0]["done"] and snap["finished"][0]["fraction"] == 1.0
    out = capsys.readouterr()
    assert "training scenes" not in out.err + out.out  # the server's log stays a log


def test_a_bar_outside_any_job_is_harmless_and_errors_are_recorded(registry):
    from tqdm import tqdm

    assert list(tqdm([1, 2])) == [1, 2]
    with pytest.raises(ValueError):
        with registry.track("fit", "groundtruth", ("FR", "Lyon", "Orange"), "simulating"):
            raise ValueError("boom")
    assert registry.snapshot()["finished"][0]["error"] == "ValueError: boom"


def test_api_jobs_lists_a_running_fit(monkeypatch):
    """A model fit in progress is listed, with its label, while another request waits on it."""
    reg = JobRegistry()
    monkeypatch.setattr(jobs_mod, "JOBS", reg)
    monkeypatch.setattr("deepmend.api.app.JOBS", reg)
    started, release = threading.Event(), threading.Event()
    with reg_track_blocking(reg, started, release):
        client = TestClient(create_app())
        assert started.wait(10)
        body = client.get("/api/jobs").json()
        assert [j["model"] for j in body["running"]] == ["groundtruth"]
        assert body["running"][0]["city"] == "Lyon" and body["running"][0]["fraction"] is None
        release.set()


class reg_track_blocking:
    """A thread holding a job open until ``release`` is set."""

    def __init__(self, reg, started, release):
        self.reg, self.started, self.release = reg, started, release

    def __enter__(self):
        def work():
            with self.reg.track("fit", "groundtruth", ("FR", "Lyon", "Orange"), "simulating the ground truth of Lyon"):
                self.started.set()
                self.release.wait(10)

        self.t = threading.Thread(target=work)
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.t.join(10)



def test_the_ground_truth_fit_reports_its_fraction_to_its_job(small_scene):
    """The simulator's whole-deployment fit (a plain progress callable, no HTTP in the numerics) feeds the job that
    ``GET /api/jobs`` lists: its fraction rises per batch of sites and ends at 1, as the API's background fit wires it."""
    from deepmend.groundtruth.config import SimulatorConfig
    from deepmend.groundtruth.simulator import GroundTruthSimulator

    reg = JobRegistry()
    sim = GroundTruthSimulator(SimulatorConfig(prior="uniform"), use_cache=False, lazy=True, n_jobs=2).fit(small_scene)
    seen: list[float] = []
    with reg.track("fit", "groundtruth", ("upload", "x", "all"), "simulating the ground truth") as job:
        def hook(done: int, total: int) -> None:
            job.progress(done, total)
            seen.append(reg.snapshot()["running"][0]["fraction"])  # what GET /api/jobs answers now

        sim.fit_deployment(progress=hook)
    assert sim.deployment_fitted
    assert len(seen) == len(small_scene.deployment) and seen == sorted(seen) and 0 < seen[0] < 1 and seen[-1] == 1.0, seen
    done = reg.snapshot()["finished"][0]
    assert done["fraction"] == 1.0 and done["step"] == f"sites {len(seen)}/{len(seen)}"
