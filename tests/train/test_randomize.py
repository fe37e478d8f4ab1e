"""Domain randomisation (issue 19): every world's parameters inside the documented ranges, reproducible."""

import numpy as np

from deepmend.groundtruth.config import SimulatorConfig
from deepmend.train.randomize import HEIGHT_SCALE, PATHLOSS, RANGES, SECTORS, draw_world, world_summary


def test_parameters_within_their_ranges():
    base = SimulatorConfig()
    worlds = [draw_world(0, w) for w in range(200)]
    for name, (lo, hi, _) in RANGES.items():
        v = np.array([getattr(c, name) for c in worlds], dtype=float)
        assert v.min() >= lo and v.max() <= hi, name
        assert v.max() - v.min() > 0.5 * (hi - lo), name  # the range is explored, not a point
    assert {c.pathloss for c in worlds} == set(PATHLOSS)
    assert {c.sectors for c in worlds} == set(SECTORS)
    ratio = np.array([c.height_m[0] / base.height_m[0] for c in worlds])
    assert ratio.min() >= HEIGHT_SCALE[0] - 1e-3 and ratio.max() <= HEIGHT_SCALE[1] + 1e-3
    # what is not randomised stays at the simulator's defaults
    assert all(c.carrier_ghz == base.carrier_ghz and c.prior == base.prior for c in worlds)


def test_reproducible_and_distinct():
    assert draw_world(0, 3) == draw_world(0, 3)
    assert draw_world(0, 3).digest() == draw_world(0, 3).digest()
    assert draw_world(0, 3) != draw_world(0, 4)
    assert draw_world(0, 3) != draw_world(1, 3)
    assert draw_world(0, 3).seed != draw_world(0, 4).seed  # each world has its own radio draws
    s = world_summary(draw_world(0, 5))
    assert set(RANGES) <= set(s) and s["pathloss"] in PATHLOSS


def test_real_family_inside_its_narrower_ranges():
    import pytest

    from deepmend.train.randomize import REAL_RANGES

    worlds = [draw_world(0, w, family="real") for w in range(200)]
    for name, (lo, hi, _) in REAL_RANGES.items():
        v = np.array([getattr(c, name) for c in worlds], dtype=float)
        assert v.min() >= lo and v.max() <= hi, name
    t = np.array([c.temperature_db for c in worlds])
    assert t.max() <= 8.0 < RANGES["temperature_db"][1]  # narrower than the wide family
    assert min(c.rsrp_floor_dbm for c in worlds) >= -140.0
    assert draw_world(0, 3, family="real") != draw_world(0, 3)  # its own draws, not the wide world's
    with pytest.raises(ValueError, match="unknown family"):
        draw_world(0, 3, family="narrow")
