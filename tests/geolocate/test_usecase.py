"""The use case's independent radio model and count drawing (the full run is `deepmend usecase`)."""

from __future__ import annotations

import numpy as np

from deepmend.geolocate.usecase import City, draw_counts, independent_association
from deepmend.scene import Scene

from synthetic import X0, Y0, box_region, make_deployment


def _city():
    xy = np.array([[X0 - 2_000, Y0 - 2_000], [X0 + 2_000, Y0 - 1_500], [X0, Y0 + 2_500], [X0 + 3_000, Y0 + 3_000]])
    dep = make_deployment(xy, "uc")
    outer = (X0 - 5_000, Y0 - 5_000, X0 + 5_000, Y0 + 5_000)
    scene = Scene(dep, box_region(*outer))
    lat = scene.lattice
    r0, c0 = int(round((outer[1] - lat.y0) / lat.res)), int(round((outer[0] - lat.x0) / lat.res))
    return City(scene, (X0 - 2_500, Y0 - 2_500, X0 + 2_500, Y0 + 2_500), outer, slice(r0, r0 + 100), slice(c0, c0 + 100), np.ones((100, 100)))


def test_independent_association_is_a_distribution_and_best_server_near_sites():
    city = _city()
    a = independent_association(city, seed=1, shadow_db=0.0)
    assert a.shape == (4, 100, 100)
    np.testing.assert_allclose(a.sum(axis=0), 1.0, rtol=1e-6)
    # without shadowing, the cell under site 0 is served by site 0 alone
    r, c = int((Y0 - 2_000 - city.outer[1]) // 100), int((X0 - 2_000 - city.outer[0]) // 100)
    assert a[0, r, c] == 1.0
    assert city.inner == (slice(25, 75), slice(25, 75))


def test_draw_counts_poisson_around_the_association_totals():
    city = _city()
    a = independent_association(city, seed=2)
    u = np.full((100, 100), 50.0)
    v, truth = draw_counts(a, u, seed=0)
    lam = np.tensordot(a.astype(np.float64), u, axes=([1, 2], [0, 1]))
    heard = a.sum(axis=0) > 0  # cells below −120 dBm at every site hold no counted device
    assert v.shape == (4,) and heard.mean() > 0.9 and np.array_equal(truth, np.where(heard, u, 0.0))
    assert np.all(np.abs(v - lam) < 6 * np.sqrt(lam) + 1)  # Poisson: within 6 sd
    assert abs(v.sum() - truth.sum()) < 6 * np.sqrt(truth.sum())
