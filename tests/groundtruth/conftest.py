"""Fixtures of the ground-truth tests: a private cache directory and a fast config."""

from __future__ import annotations

import pytest

from deepmend.groundtruth.config import SimulatorConfig


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPMEND_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def fast_config() -> SimulatorConfig:
    return SimulatorConfig(prior="uniform")
