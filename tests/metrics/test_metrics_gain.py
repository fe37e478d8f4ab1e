"""Gain over a baseline: hand examples and a loop-based bootstrap."""

from __future__ import annotations

import dataclasses
import importlib
import statistics

import numpy as np
import pytest

from deepmend.metrics import GainSummary, gain


def test_gain_hand_example():
    s = gain([1.0, 2.0], [2.0, 4.0])
    assert isinstance(s, GainSummary)
    assert s.mean == pytest.approx(0.5)
    assert s.median == pytest.approx(0.5)
    assert s.ci_low <= 0.5 <= s.ci_high
    assert (s.n, s.n_dropped) == (2, 0)


def test_gain_mixed_signs():
    # Gains +0.5 and −0.5: mean and median 0; every resample mean is −½, 0 or ½.
    s = gain([1.0, 3.0], [2.0, 2.0], n_boot=500)
    assert s.mean == pytest.approx(0.0)
    assert s.median == pytest.approx(0.0)
    assert -0.5 <= s.ci_low <= 0.0 <= s.ci_high <= 0.5


def test_identical_errors_give_zero_gain():
    e = np.random.default_rng(0).random(30) + 0.1
    s = gain(e, e)
    assert (s.mean, s.median, s.ci_low, s.ci_high) == (0.0, 0.0, 0.0, 0.0)
    assert s.n == 30


def test_zero_baseline_errors_are_dropped_and_counted():
    s = gain([0.5, 0.0, 1.0, 3.0], [0.0, 0.0, 2.0, 4.0])
    assert (s.n, s.n_dropped) == (2, 2)
    assert s.mean == pytest.approx((0.5 + 0.25) / 2)
    empty = gain([0.0, 1.0], [0.0, 0.0])
    assert (empty.n, empty.n_dropped) == (0, 2)
    assert np.isnan(empty.mean)


def test_gain_summary_is_frozen():
    s = gain([1.0], [2.0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.mean = 0.0  # type: ignore[misc]


@pytest.mark.parametrize("seed", range(2))
def test_gain_matches_loop_bootstrap(seed):
    rng = np.random.default_rng(seed)
    n = 60
    eb = rng.uniform(0.05, 1.0, n)
    em = eb * rng.uniform(0.2, 1.6, n)
    per_bs = [(b - m) / b for m, b in zip(em.tolist(), eb.tolist())]

    n_boot = 10_000
    s = gain(em, eb, n_boot=n_boot, seed=seed)
    assert s.mean == pytest.approx(statistics.fmean(per_bs), abs=1e-12)
    assert s.median == pytest.approx(statistics.median(per_bs), abs=1e-12)

    # Independent loop-based percentile bootstrap (other random stream): the
    # CIs agree to Monte-Carlo precision (~0.03 standard errors at 10 000 draws).
    loop_rng = np.random.default_rng(1000 + seed)
    means = []
    for _ in range(n_boot):
        sample = [per_bs[int(i)] for i in loop_rng.integers(0, n, n)]
        means.append(sum(sample) / n)
    lo, hi = np.quantile(means, [0.025, 0.975])
    se = statistics.stdev(per_bs) / np.sqrt(n)
    assert abs(s.ci_low - lo) < 0.15 * se
    assert abs(s.ci_high - hi) < 0.15 * se
    assert s.ci_low < s.mean < s.ci_high


def test_gain_is_reproducible_and_batching_is_unbiased(monkeypatch):
    rng = np.random.default_rng(5)
    eb = rng.uniform(0.1, 1.0, 200)
    em = eb * rng.uniform(0.3, 1.2, 200)
    a = gain(em, eb, seed=3)
    assert a == gain(em, eb, seed=3)
    # Force many small resampling batches: same statistics, CI within MC noise.
    # The package re-exports the function `gain`, which shadows the submodule
    # of the same name as an attribute; fetch the module itself.
    gain_module = importlib.import_module("deepmend.metrics.gain")
    monkeypatch.setattr(gain_module, "_MAX_BATCH_ELEMS", 1000)
    b = gain(em, eb, seed=3)
    assert (b.mean, b.median, b.n) == (a.mean, a.median, a.n)
    width = a.ci_high - a.ci_low
    assert abs(b.ci_low - a.ci_low) < 0.1 * width
    assert abs(b.ci_high - a.ci_high) < 0.1 * width


def test_gain_rejects_bad_input():
    with pytest.raises(ValueError):
        gain([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        gain([1.0, np.nan], [1.0, 1.0])
    with pytest.raises(ValueError):
        gain([-1.0], [1.0])
    with pytest.raises(ValueError):
        gain([1.0], [1.0], ci=1.5)
