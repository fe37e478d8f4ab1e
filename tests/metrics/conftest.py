"""Shared fixtures for the metric tests: small random probability maps."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

MapFactory = Callable[..., np.ndarray]


@pytest.fixture
def random_map() -> MapFactory:
    """Factory for a random probability map with some empty cells (like a
    masked map), summing to 1."""

    def make(rng: np.random.Generator, shape: tuple[int, int], empty: float = 0.3) -> np.ndarray:
        p = rng.random(shape) ** 3  # skewed, like real maps
        p[rng.random(shape) < empty] = 0.0
        if p.sum() == 0:
            p.flat[rng.integers(p.size)] = 1.0
        return p / p.sum()

    return make
