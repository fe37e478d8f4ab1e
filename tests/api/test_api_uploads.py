"""POST /api/uploads: a user's CSV becomes a scene; bad files answer 400/413 naming what is wrong."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from api_helpers import check_error, small_csv, upload


@pytest.fixture(scope="module")
def csv_text(sites):
    rows = ["site_id,lat,lon,operator,height_m"]
    for k, f in enumerate(sites[:40]):
        p = f["properties"]
        rows.append(f"U{k},{p['lat']},{p['lon']},{'A' if k % 2 else 'B'},{20 + k % 5}")
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def uploaded(client, csv_text):
    r = upload(client, csv_text)
    assert r.status_code == 200, r.text
    return r.json()


def test_upload_answer(uploaded, csv_text, service):
    assert uploaded["country"] == "upload" and uploaded["city"] == uploaded["upload_id"]
    assert uploaded["n_sites"] == 40 and uploaded["operators"] == ["A", "B"]
    assert len(uploaded["upload_id"]) == 16
    stored = service.cache_root / "uploads" / f"{uploaded['upload_id']}.csv"
    assert stored.read_text() == csv_text
    assert [p.name for p in (service.cache_root / "uploads").iterdir() if p.name.startswith(".")] == []


def test_upload_is_content_addressed(client, csv_text, uploaded):
    assert upload(client, csv_text, name="other-name.csv").json()["upload_id"] == uploaded["upload_id"]


def test_upload_scene_endpoints(client, uploaded):
    scene = {"country": "upload", "city": uploaded["upload_id"], "operator": "all"}
    sites = client.get("/api/sites", params=scene).json()["features"]
    assert len(sites) == 40
    region = client.get("/api/region", params={"country": "upload", "city": uploaded["upload_id"]})
    assert region.status_code == 200 and region.json()["type"] == "FeatureCollection"
    m = client.get("/api/map", params={**scene, "site": "U3", "model": "voronoi"})
    assert m.status_code == 200, m.text
    assert m.json()["crs"].startswith("EPSG:")
    png = client.get(m.json()["png"])
    assert png.status_code == 200 and Image.open(io.BytesIO(png.content)).size == (600, 600)
    p = np.load(io.BytesIO(client.get(m.json()["npy"]).content))
    assert abs(p.sum(dtype=np.float64) - 1) < 1e-4
    feats = client.get("/api/features", params={**scene, "site": "U3"}).json()["features"]
    assert client.get(feats[1]["png"]).status_code == 200


def test_upload_scene_by_operator(client, uploaded):
    scene = {"country": "upload", "city": uploaded["upload_id"]}
    a = client.get("/api/sites", params={**scene, "operator": "a"}).json()["features"]
    assert len(a) == 20 and {f["properties"]["operator"] for f in a} == {"A"}
    check_error(client.get("/api/sites", params={**scene, "operator": "C"}), 404, "operator", "C")
    # a site of operator B is not in operator A's scene
    check_error(client.get("/api/map", params={**scene, "operator": "A", "site": "U0", "model": "voronoi"}), 404, "site")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("site_id,lat,lon\nA,45.7,4.8\nB,north,4.9\nC,45.8,4.7\n", ("row 3", "lat", "north", "sites.csv")),
        ("site_id,lat,lon\nA,45.7,4.8\nB,45.75,4.9\nC,95.8,4.7\n", ("row 4", "lat", "range")),
        ("site_id,lat,lon\nA,45.7,4.8\nA,45.75,4.9\nC,45.8,4.7\n", ("duplicate", "site_id", "A")),
        ("name,foo,bar\nA,1,2\n", ("coordinate", "lat")),
        ("site_id,lat,lon\n", ("no data rows",)),
        ("", ("empty",)),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00\x01", ()),
        ("site_id,lat,lon,height_m\nA,45.7,4.8,10\nB,45.75,4.9,-5\nC,45.8,4.7,3\n", ("row 3", "height")),
    ],
)
def test_bad_upload_is_400(client, content, words):
    msg = check_error(upload(client, content), 400, *words)
    assert "uploads/" not in msg and ".upload-" not in msg


def test_upload_too_large_is_413(client):
    big = "site_id,lat,lon\n" + "".join(f"S{k},45.{k % 1000:03d},4.{k % 997:03d}\n" for k in range(400_000))
    assert len(big) > 5 * 1024 * 1024
    check_error(upload(client, big), 413, "MB")


def test_upload_too_many_rows_is_413(client):
    rows = "site_id,lat,lon\n" + "".join(f"{k},45.{k % 1000:03d},4.{k % 997:03d}\n" for k in range(20_001))
    assert len(rows) < 5 * 1024 * 1024
    check_error(upload(client, rows), 413, "20000")


def test_upload_without_file_is_422(client):
    check_error(client.post("/api/uploads", data={"x": "1"}), 422, "file")
    check_error(client.post("/api/uploads", content=b"site_id,lat,lon\n", headers={"content-type": "text/csv"}), 422)


def test_upload_filename_is_never_a_path(client, service, csv_text):
    r = upload(client, csv_text.replace("U1,", "V1,"), name="../../../../tmp/evil.csv")
    assert r.status_code == 200
    assert not (service.cache_root.parent / "evil.csv").exists()
    msg = check_error(upload(client, "site_id,lat,lon\nA,x,1\n", name="../../etc/passwd"), 400)
    assert "../" not in msg


def test_upload_store_evicts_least_recently_used(private_api):
    """With a cap of 2 uploads, a third evicts the least recently used: its id answers 404
    "expired", the others still work. An upload a request used is "used" as well as uploaded.

    A private service on its own cache dir, so that the shared app's uploads are not evicted.
    """
    svc, c = private_api(max_stored_uploads=2)
    store = svc.cache_root / "uploads"
    ids = []
    for k in range(3):
        r = upload(c, small_csv(k))
        assert r.status_code == 200, r.text
        ids.append(r.json()["upload_id"])
        # after the second upload, a request uses the first: the second is now the least recently used,
        # and its scene is in memory before it is evicted: memory must not keep serving it
        if k == 1:
            for uid in (ids[1], ids[0]):
                assert c.get("/api/sites", params={"country": "upload", "city": uid, "operator": "all"}).status_code == 200
            assert any(key[1] == ids[1] for key in svc.scenes._data)
        time.sleep(0.05)  # distinct use times even on a coarse clock
    assert len(set(ids)) == 3
    assert sorted(p.stem for p in store.glob("*.csv")) == sorted([ids[0], ids[2]])
    assert [p.name for p in store.iterdir() if p.name.startswith(".")] == []
    check_error(c.get("/api/sites", params={"country": "upload", "city": ids[1], "operator": "all"}), 404, "expired", "upload the file again")
    check_error(c.get("/api/map", params={"country": "upload", "city": ids[1], "operator": "all", "site": "K1_3", "model": "voronoi"}),
                404, "expired")
    assert not any(ids[1] in str(key) for key in svc.scenes._data)
    for uid in (ids[0], ids[2]):  # ids[0] used first, so ids[2] is now the most recently used
        r = c.get("/api/sites", params={"country": "upload", "city": uid, "operator": "all"})
        assert r.status_code == 200 and len(r.json()["features"]) == 12
        time.sleep(0.05)

    # uploading an evicted file again brings its (content-addressed) id back; ids[0] is now the LRU
    again = upload(c, small_csv(1))
    assert again.status_code == 200 and again.json()["upload_id"] == ids[1]
    assert sorted(p.stem for p in store.glob("*.csv")) == sorted([ids[1], ids[2]])

    # the byte cap: below one file's size only the upload just written is kept, never that one
    svc.max_stored_upload_bytes = 1
    r = upload(c, small_csv(3))
    assert r.status_code == 200, r.text
    assert [p.stem for p in store.glob("*.csv")] == [r.json()["upload_id"]]
    assert c.get("/api/sites", params={"country": "upload", "city": r.json()["upload_id"], "operator": "all"}).status_code == 200


def test_upload_evicted_between_resolve_and_read_is_expired(api_env, tmp_path, api_service):
    """A request that resolved an id just before another thread evicted it gets the expiry error, not a 500."""
    from deepmend.errors import InputError

    svc = api_service(cache_root=tmp_path / "cache")
    uid = svc.upload(small_csv(0).encode(), "s.csv")["upload_id"]
    ref = svc.resolve("upload", uid, "all")
    (svc.cache_root / "uploads" / f"{uid}.csv").unlink()
    with pytest.raises(InputError, match="expired") as exc:
        svc.scene(ref)
    assert exc.value.column == "city"
