"""More hypothesis properties, for what the second pass over the kinds added (docs/INPUTS.md).

* kind 1: geolocation over several networks = the sum of each network's own estimate, for every
  estimator, with each network's counts conserved;
* kind 3: lat/lon swapped in any of the four countries' cities is refused as swapped, with or without
  the country stated;
* kind 5: a quoted decimal comma in a ``,`` file gives the positions back to the metre;
* kind 8: a site at distance d off the user's region is snapped (d ≤ 2 km, the distance reported to
  10 m, its map sums to 1) or a neighbour without a map (d > 2 km).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepmend.data.crs import to_metric
from deepmend.data.readers import read_sites
from deepmend.data.regions import Region, project
from deepmend.errors import InputError
from deepmend.geolocate.estimators import ESTIMATORS, estimate, estimate_networks
from deepmend.models.voronoi import VoronoiModel
from deepmend.scene import SNAP_M, Scene

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@settings(max_examples=30, **SETTINGS)
@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4), m=st.integers(3, 40), seed=st.integers(0, 10_000),
       estimator=st.sampled_from(ESTIMATORS), bands=st.integers(1, 3))
def test_kind1_property_networks_estimated_on_their_own_and_summed(sizes, m, seed, estimator, bands):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    net = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(net)  # sites of the networks interleaved, as in a file
    dense = rng.random((n, m)) * (rng.random((n, m)) < 0.6)
    dense[np.arange(n), rng.integers(0, m, n)] += 0.1  # every map has mass
    P = sp.csr_matrix(dense / dense.sum(axis=1, keepdims=True))
    v = rng.integers(0, 1000, (n, bands)).astype(float)
    prior = rng.random(m) + 0.01
    kw = {"max_iter": 30} if estimator == "ml-em" else {}
    both = estimate_networks(estimator, P, v, net, prior, **kw)
    want = np.zeros((m, bands))
    C = sp.csr_matrix(rng.random((m, 2)))
    for g in range(len(sizes)):
        rows = np.flatnonzero(net == g)
        Pg = P[rows]
        cols = np.unique(Pg.indices)
        e = estimate(estimator, sp.csr_matrix(Pg[:, cols]), v[rows], prior[cols], **kw)
        want[cols] += e.density
        assert np.allclose(e.density.sum(axis=0), v[rows].sum(axis=0))  # each network's counts conserved
        for b in range(bands):  # each site's shares are its own network's
            assert np.allclose(both.weights(C, b)[rows].toarray(), e.weights(sp.csr_matrix(C[cols]), b).toarray())
    assert np.allclose(both.density, want)
    assert np.allclose(both.density.sum(axis=0), v.sum(axis=0))
    if estimator == "spread":  # spreading is linear: the same as one estimate over all sites
        assert np.allclose(both.density, estimate("spread", P, v).density)


CITIES = {"FR": (2.3522, 48.8566), "GB": (-1.8904, 52.4862), "IE": (-8.4756, 51.8985), "BE": (4.4025, 51.2194)}


@settings(max_examples=20, **SETTINGS)
@given(country=st.sampled_from(sorted(CITIES)), stated=st.booleans(),
       pts=st.lists(st.tuples(st.floats(-0.05, 0.05), st.floats(-0.05, 0.05)), min_size=2, max_size=6))
def test_kind3_property_swapped_in_any_country_refused_as_swapped(tmp_path, country, stated, pts):
    lon0, lat0 = CITIES[country]
    f = tmp_path / "s.csv"
    f.write_text("site_id,lat,lon\n" + "".join(f"S{k},{lon0 + dx:.5f},{lat0 + dy:.5f}\n" for k, (dx, dy) in enumerate(pts)))
    with pytest.raises(InputError, match="look swapped"):
        read_sites(f, **({"country": country} if stated else {}))


@settings(max_examples=25, **SETTINGS)
@given(pts=st.lists(st.tuples(st.integers(-2000, 2000), st.integers(-2000, 2000)), min_size=1, max_size=5, unique=True),
       digits=st.integers(3, 7))
def test_kind5_property_quoted_decimal_comma_read_to_the_metre(tmp_path, pts, digits):
    lon = np.array([4.8357 + dx * 1e-4 for dx, _ in pts])
    lat = np.array([45.7640 + dy * 1e-4 for _, dy in pts])
    def comma(v: float) -> str:
        return f"{v:.{digits}f}".replace(".", ",")

    f = tmp_path / "s.csv"
    f.write_text("site_id,lat,lon\n" + "".join(f'S{k},"{comma(la)}","{comma(lo)}"\n' for k, (la, lo) in enumerate(zip(lat, lon))))
    dep = read_sites(f)
    written = lambda vs: np.array([float(comma(v).replace(",", ".")) for v in vs])  # the text's value (np.round differs on ties: 4.7695)
    assert np.allclose(dep.lat, written(lat), atol=1e-9) and np.allclose(dep.lon, written(lon), atol=1e-9)


@settings(max_examples=10, **SETTINGS)
@given(d=st.floats(50, 6000), side=st.sampled_from(["east", "north", "west"]))
def test_kind8_property_a_site_off_the_region_snapped_or_a_neighbour(d, side):
    crs = "EPSG:2154"
    x0, y0 = 842_000.0, 6_519_000.0
    box = shapely.box(x0 - 5_000, y0 - 5_000, x0 + 5_000, y0 + 5_000)
    region = Region("square", project(box, crs, "EPSG:4326"), box, crs)
    inside = [(x0 - 2_000, y0 - 1_000), (x0 + 1_000, y0 + 2_000), (x0, y0)]
    off = {"east": (x0 + 5_000 + d, y0), "north": (x0, y0 + 5_000 + d), "west": (x0 - 5_000 - d, y0 + 500)}[side]
    xy = np.array(inside + [off])
    import pandas as pd

    ll = shapely.get_coordinates(project(shapely.MultiPoint(xy), crs, "EPSG:4326"))
    dep = read_sites(pd.DataFrame({"site_id": ["A", "B", "C", "OFF"], "lat": ll[:, 1], "lon": ll[:, 0]}), crs=crs)
    x, y = to_metric(dep.lon, dep.lat, dep.crs)
    scene = Scene.from_files(dep, region.to_crs(dep.crs))
    i = dep.index_of("OFF")
    true_d = float(shapely.distance(region.to_crs(dep.crs).metric, shapely.Point(x[i], y[i])))
    if true_d <= SNAP_M:
        assert i in scene.targets
        note = next(n for n in scene.notes if "snapped" in n)
        km = float(re.search(r"up to ([\d.]+) km outside", note).group(1))
        assert abs(km * 1000 - true_d) <= 10  # the distance reported, to 10 m
        m = VoronoiModel().fit(scene).predict(i)
        assert abs(float(m.prob.sum()) - 1) < 1e-6 and m.prob.max() > 0
    else:
        assert i not in scene.targets
        assert any("used as neighbours, no map" in n and "OFF" in n for n in scene.notes)
        assert len(scene.targets) == 3
