"""Every endpoint of docs/API.md on FR/Lyon/Orange, checking real content, not only status codes."""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.io import MemoryFile

LON_RANGE, LAT_RANGE = (4.3, 5.3), (45.4, 46.1)  # around Lyon, with the ±30 km of a window
MODELS = ["voronoi", "probabilistic"]
PNG_SIG = b"\x89PNG\r\n\x1a\n"


def test_catalog(client):
    r = client.get("/api/catalog")
    assert r.status_code == 200
    cat = r.json()
    fr = next(c for c in cat["countries"] if c["code"] == "FR")
    assert fr["crs"] == "EPSG:2154" and fr["name"] == "France"
    lyon = next(c for c in fr["cities"] if c["name"] == "Lyon")
    orange = next(o for o in lyon["operators"] if o["name"] == "Orange")
    assert orange["n_sites"] > 400 and lyon["source"]
    models = {m["name"]: m for m in cat["models"]}
    assert {"voronoi", "probabilistic", "voronoiboost", "teacher", "deepmend", "groundtruth"} <= set(models)
    assert models["voronoi"]["available"] and models["probabilistic"]["available"]
    assert all(isinstance(m["label"], str) and "description" in m for m in cat["models"])
    assert cat["default"]["country"] == "FR" and cat["default"]["city"] == "Lyon" and cat["default"]["operator"] == "Orange"
    assert models[cat["default"]["model"]]["available"]
    assert "Arcep" in cat["attribution"]


def test_sites(sites):
    assert len(sites) > 400
    ids = [f["properties"]["site_id"] for f in sites]
    assert len(set(ids)) == len(ids)
    for f in sites:
        p = f["properties"]
        assert f["type"] == "Feature" and f["geometry"]["type"] == "Point"
        assert f["geometry"]["coordinates"] == [p["lon"], p["lat"]]
        assert LON_RANGE[0] < p["lon"] < LON_RANGE[1] and LAT_RANGE[0] < p["lat"] < LAT_RANGE[1]
        assert p["operator"] == "Orange"
        assert p["height_m"] is None or p["height_m"] >= 0
        assert isinstance(p["members"], list) and p["site_id"] in p["members"] or p["members"]
        assert set(p) >= {"site_id", "operator", "lat", "lon", "height_m", "technology", "members"}


def test_sites_case_insensitive_names(client, sites):
    r = client.get("/api/sites", params={"country": "fr", "city": "lyon", "operator": "orange"})
    assert r.status_code == 200 and len(r.json()["features"]) == len(sites)


def test_region(client):
    r = client.get("/api/region", params={"country": "FR", "city": "Lyon"})
    assert r.status_code == 200
    doc = r.json()
    assert doc["type"] == "FeatureCollection" and doc["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    coords = np.array([pt for ring in _rings(doc["features"][0]["geometry"]) for pt in ring])
    assert LON_RANGE[0] < coords[:, 0].mean() < LON_RANGE[1] and LAT_RANGE[0] < coords[:, 1].mean() < LAT_RANGE[1]


def _rings(geom):
    if geom["type"] == "Polygon":
        return geom["coordinates"]
    return [ring for poly in geom["coordinates"] for ring in poly]


@pytest.mark.parametrize("model", MODELS)
def test_map_json(client, q, site_id, sites, model):
    r = client.get("/api/map", params=q(model=model))
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["site_id"] == site_id and m["model"] == model
    assert m["shape"] == [600, 600] and m["crs"] == "EPSG:2154"
    assert m["vmin"] == 1e-9 and m["vmax"] == 1e-2 and m["colormap"] == "jet"
    assert isinstance(m["inference_ms"], float) and 0 <= m["inference_ms"] < 10_000
    assert isinstance(m["cached"], bool)
    corners = np.array(m["corners"])
    assert corners.shape == (4, 2)
    tl, tr, br, bl = corners
    assert tl[1] > bl[1] and tr[1] > br[1] and tr[0] > tl[0] and br[0] > bl[0]  # north up, east right
    site = next(f["properties"] for f in sites if f["properties"]["site_id"] == site_id)
    centre = corners.mean(axis=0)
    assert abs(centre[0] - site["lon"]) < 0.01 and abs(centre[1] - site["lat"]) < 0.01
    # 60 km wide: ~0.77° of longitude and ~0.54° of latitude at 45.7° N
    assert 0.7 < tr[0] - tl[0] < 0.85 and 0.5 < tl[1] - bl[1] < 0.58
    for k, ext in (("png", "/api/map.png"), ("npy", "/api/map.npy"), ("geotiff", "/api/map.tif")):
        u = urlparse(m[k])
        assert u.path == ext
        qs = {a: b[0] for a, b in parse_qs(u.query).items()}
        assert qs["site"] == site_id and qs["model"] == model and qs["city"] == "Lyon"
        assert client.get(m[k]).status_code == 200
    if model == "probabilistic":
        assert m["params"] == {"alpha": 1.3} and "alpha=1.3" in m["png"]


@pytest.mark.parametrize("model", MODELS)
def test_map_png(client, q, model):
    r = client.get("/api/map.png", params=q(model=model))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content[:8] == PNG_SIG
    assert "max-age" in r.headers["cache-control"]
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (600, 600) and img.mode == "RGBA"
    a = np.asarray(img)
    alpha = a[..., 3]
    assert 0 < (alpha > 0).sum() < alpha.size  # some cells coloured, the rest transparent
    # the BS sits at the centre of its window: its mass is around the centre, in the red end of jet
    rr, cc = np.nonzero(alpha)
    assert abs(rr.mean() - 300) < 40 and abs(cc.mean() - 300) < 40
    if model == "probabilistic":
        centre = a[297:303, 297:303]
        assert (centre[..., 3] == 255).all() and centre[..., 0].mean() > 100


def check_download(r, media_type: str, suffix: str, model: str, site_id: str) -> None:
    """The headers every map download carries: media type, cache policy, attachment with a safe name."""
    from deepmend.api.app import MAP_CACHE_CONTROL

    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == media_type
    assert r.headers["cache-control"] == MAP_CACHE_CONTROL
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{model}_{site_id}")[:150] + suffix
    assert r.headers["content-disposition"] == f'attachment; filename="{name}"'


@pytest.mark.parametrize("model", MODELS)
def test_map_npy(client, q, model, site_id):
    r = client.get("/api/map.npy", params=q(model=model))
    check_download(r, "application/octet-stream", ".npy", model, site_id)
    p = np.load(io.BytesIO(r.content), allow_pickle=False)
    assert p.shape == (600, 600) and p.dtype == np.float32
    assert (p >= 0).all() and abs(float(p.sum(dtype=np.float64)) - 1.0) < 1e-4
    # rows north to south, as the PNG: the PNG's transparent cells are exactly the zeros
    png = np.asarray(Image.open(io.BytesIO(client.get("/api/map.png", params=q(model=model)).content)))
    assert np.array_equal(png[..., 3] > 0, p > 0)
    if model == "voronoi":
        vals = np.unique(p[p > 0])
        assert vals.size == 1  # uniform over the cell


@pytest.mark.parametrize("model", MODELS)
def test_map_geotiff(client, q, model, site_id):
    r = client.get("/api/map.tif", params=q(model=model))
    check_download(r, "image/tiff", ".tif", model, site_id)
    assert r.content[:4] in (b"II*\x00", b"MM\x00*")  # TIFF magic, little- or big-endian
    npy = np.load(io.BytesIO(client.get("/api/map.npy", params=q(model=model)).content))
    with MemoryFile(r.content) as mf, mf.open() as src:
        assert src.crs == rasterio.crs.CRS.from_epsg(2154)
        assert (src.width, src.height) == (600, 600) and src.transform.a == 100.0 and src.transform.e == -100.0
        data = src.read(1)
    valid = np.isfinite(data)
    assert abs(float(np.nansum(data, dtype=np.float64)) - 1.0) < 1e-4
    assert np.allclose(np.where(valid, data, 0), npy)


@pytest.mark.parametrize("model", MODELS)
def test_map_cached_second_call(client, q, model, site_id, sites):
    other = next(f["properties"]["site_id"] for f in sites if f["properties"]["site_id"] != site_id)
    params = q(model=model, site=other)
    first = client.get("/api/map", params=params).json()
    assert first["cached"] is False
    png1 = client.get("/api/map.png", params=params).content
    second = client.get("/api/map", params=params).json()
    assert second["cached"] is True
    assert {k: v for k, v in first.items() if k != "cached"} == {k: v for k, v in second.items() if k != "cached"}
    assert client.get("/api/map.png", params=params).content == png1
    assert client.get("/api/map.npy", params=params).content == client.get("/api/map.npy", params=params).content


def test_map_cache_survives_restart(client, q, service, app, api_service):
    """A new process (here: a new service on the same cache dir) reads the map from disk."""
    from fastapi.testclient import TestClient

    from deepmend.api.app import create_app

    params = q(model="voronoi")
    png = client.get("/api/map.png", params=params).content
    fresh = TestClient(create_app(static_dir=service.cache_root / "none", service=api_service(cache_root=service.cache_root)))
    r = fresh.get("/api/map", params=params)
    assert r.status_code == 200 and r.json()["cached"] is True
    assert fresh.get("/api/map.png", params=params).content == png


def test_alpha_changes_map(client, q):
    a = client.get("/api/map", params=q(model="probabilistic", alpha=2.0)).json()
    assert a["params"] == {"alpha": 2.0}
    p13 = np.load(io.BytesIO(client.get("/api/map.npy", params=q(model="probabilistic")).content))
    p20 = np.load(io.BytesIO(client.get(a["npy"]).content))
    assert not np.allclose(p13, p20)
    # a larger α concentrates the mass closer to the BS
    assert p20[290:310, 290:310].sum() > p13[290:310, 290:310].sum()


@pytest.mark.parametrize("model", MODELS)
def test_metrics(client, q, site_id, model):
    r = client.get("/api/metrics", params=q(model=model))
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["site_id"] == site_id and m["model"] == model
    assert m["ground_truth"] is True
    vs = m["vs_ground_truth"]
    assert 0 < vs["ks"] <= 1 and 0 <= vs["js"] <= 1 and 0 <= vs["tv"] <= 1 and 0 < vs["emd_km"] < 60
    assert set(m["baselines"]) == {"voronoi", "probabilistic"}
    assert m["baselines"][model] == {k: vs[k] for k in ("ks", "emd_km", "js")}
    other = "probabilistic" if model == "voronoi" else "voronoi"
    assert set(m["gain_over"]) == {other}
    b = m["baselines"][other]
    assert m["gain_over"][other]["ks"] == pytest.approx((b["ks"] - vs["ks"]) / b["ks"], abs=1e-3)
    assert m["gain_over"][other]["emd_km"] == pytest.approx((b["emd_km"] - vs["emd_km"]) / b["emd_km"], abs=1e-3)
    assert 0 <= m["r50_km"] <= m["r90_km"] < 45
    assert 0 <= m["mass_in_voronoi"] <= 1 + 1e-6
    if model == "voronoi":
        assert m["mass_in_voronoi"] == pytest.approx(1.0, abs=1e-4)
    else:
        assert m["mass_in_voronoi"] < 0.9 and m["r90_km"] > 3
    assert m["inference_ms"] == client.get("/api/map", params=q(model=model)).json()["inference_ms"]


def test_metrics_probabilistic_closer_to_alpha3_ground_truth(client, q):
    """The stand-in ground truth is probabilistic α=3: α=2 must beat α=1.3 on every distance."""
    near = client.get("/api/metrics", params=q(model="probabilistic", alpha=2.0)).json()["vs_ground_truth"]
    far = client.get("/api/metrics", params=q(model="probabilistic", alpha=1.3)).json()["vs_ground_truth"]
    for k in ("ks", "emd_km", "js", "tv"):
        assert near[k] < far[k]


def test_groundtruth_map(client, q):
    r = client.get("/api/map", params=q(model="groundtruth"))
    assert r.status_code == 200 and r.json()["model"] == "groundtruth"


def test_metrics_without_ground_truth(client, q, service, monkeypatch):
    monkeypatch.delitem(service.registry, "groundtruth")
    service.metrics_cache.clear()
    try:
        m = client.get("/api/metrics", params=q(model="voronoi")).json()
        assert m["ground_truth"] is False and m["vs_ground_truth"] is None
        assert m["baselines"] == {} and m["gain_over"] == {}
        assert m["r50_km"] > 0 and m["mass_in_voronoi"] == pytest.approx(1.0, abs=1e-4)
        r = client.get("/api/map", params=q(model="groundtruth"))
        assert r.status_code == 404 and r.json()["error"].startswith("ground truth not available")
        cat = {m["name"]: m for m in client.get("/api/catalog").json()["models"]}
        assert cat["groundtruth"]["available"] is False
    finally:
        service.metrics_cache.clear()


def test_features(client, q, site_id):
    params = {k: v for k, v in q().items()}
    r = client.get("/api/features", params=params)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["model"] == "deepmend"
    names = [f["name"] for f in doc["features"]]
    assert names[0] == "d0" and "d1" in names and "mask" in names
    assert np.array(doc["corners"]).shape == (4, 2)
    for f in doc["features"]:
        assert f["description"]
        u = urlparse(f["png"])
        assert u.path == "/api/feature.png" and parse_qs(u.query)["name"] == [f["name"]]
        img = client.get(f["png"])
        assert img.status_code == 200 and img.content[:8] == PNG_SIG
        pic = Image.open(io.BytesIO(img.content))
        assert pic.size == (600, 600)
        a = np.asarray(pic)
        assert a[..., 0].std() > 0 or f["name"] == "mask"
    # d0 grows away from the BS: centre dark, corners bright (where valid)
    d0 = np.asarray(Image.open(io.BytesIO(client.get(doc["features"][0]["png"]).content)))
    assert d0[300, 300, 0] < 10 and d0[300, 300, 3] == 255


def test_openapi_and_docs(client):
    spec = client.get("/openapi.json").json()
    for path in ("/api/catalog", "/api/sites", "/api/region", "/api/map", "/api/map.png", "/api/map.npy", "/api/map.tif",
                 "/api/metrics", "/api/features", "/api/feature.png", "/api/uploads"):
        assert path in spec["paths"], path
    assert "post" in spec["paths"]["/api/uploads"]
    r = client.get("/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()


def test_root_without_web_app_explains_how_to_build(client):
    r = client.get("/")
    assert r.status_code == 200 and "npm run build" in r.text


def test_root_serves_built_web_app(api_env, tmp_path, api_service):
    from fastapi.testclient import TestClient

    from deepmend.api.app import create_app

    (tmp_path / "index.html").write_text("<!doctype html><title>deepmend web</title>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app.js").write_text("console.log(1)")
    c = TestClient(create_app(static_dir=tmp_path, service=api_service()))
    assert "deepmend web" in c.get("/").text
    assert c.get("/assets/app.js").text == "console.log(1)"
    assert c.get("/api/catalog").status_code == 200
    r = c.get("/api/nothing-here")
    assert r.status_code == 404 and "error" in r.json()
    r = c.get("/../../etc/passwd")
    assert r.status_code == 404 or "root:" not in r.text


def test_no_cors_by_default(client):
    r = client.get("/api/catalog", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_when_configured(api_env, api_service):
    from fastapi.testclient import TestClient

    from deepmend.api.app import create_app

    c = TestClient(create_app(static_dir=api_env / "none", service=api_service(), cors_origins=["http://localhost:5173"]))
    r = c.get("/api/catalog", headers={"Origin": "http://localhost:5173"})
    assert r.headers["access-control-allow-origin"] == "http://localhost:5173"
    r = c.get("/api/catalog", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_slow_baseline_is_fitted_in_background(client, q, service, monkeypatch):
    """A baseline that takes long to fit (VoronoiBoost trains on other cities) never blocks /api/metrics."""
    import threading
    import time

    from deepmend.models.voronoi import VoronoiModel

    release = threading.Event()

    class SlowBaseline(VoronoiModel):
        name = "voronoiboost"

        def _fit(self, scene):
            release.wait(30)
            super()._fit(scene)

    monkeypatch.setitem(service.registry, "voronoiboost", SlowBaseline)
    service.metrics_cache.clear()
    try:
        t0 = time.perf_counter()
        m = client.get("/api/metrics", params=q(model="probabilistic")).json()
        assert time.perf_counter() - t0 < 20
        assert m["baselines"]["voronoiboost"] is None and m["gain_over"]["voronoiboost"] is None
        assert m["vs_ground_truth"]["ks"] > 0
        release.set()
        for _ in range(100):
            m = client.get("/api/metrics", params=q(model="probabilistic")).json()
            if m["baselines"]["voronoiboost"] is not None:
                break
            time.sleep(0.1)
        assert m["baselines"]["voronoiboost"] == m["baselines"]["voronoi"]  # same maps as Voronoi
        assert m["gain_over"]["voronoiboost"] == m["gain_over"]["voronoi"]
    finally:
        release.set()
        service.metrics_cache.clear()


def test_features_follow_the_channels_the_weights_declare(private_api, q, tmp_path, monkeypatch):
    """Weights with extra channels: /api/features lists d0 and exactly their channels, and each renders."""
    import deepmend.models.deepmend as dm
    from deepmend.models.deepmend.unet import UNet, UNetConfig

    chans = ["near1", "near2", "mean5", "mask", "dens3", "edge", "own"]
    arch = UNetConfig(in_channels=len(chans), base=4, levels=2)
    js = dm.save_weights(UNet(arch).state_dict(), {"arch": arch.as_dict(), "loss": "kl", "factor": 10, "channels": chans}, tmp_path / "w" / "deepmend.json")
    monkeypatch.setattr(dm, "DEFAULT_WEIGHTS", js)
    _, client = private_api()
    doc = client.get("/api/features", params=q()).json()
    names = [f["name"] for f in doc["features"]]
    assert names == ["d0", "d1", "d2", "dmean5", "mask", "dens3", "edge", "own"]
    for f in doc["features"][5:]:
        img = client.get(f["png"])
        assert img.status_code == 200 and img.content[:8] == PNG_SIG
        assert np.asarray(Image.open(io.BytesIO(img.content)))[..., 0].std() > 0, f["name"]
    assert client.get("/api/feature.png", params={**q(), "name": "dens1"}).status_code == 404
