"""Fuzzing every API parameter through the ASGI app: any value gives 200 with a correct
body, or a 4xx JSON {"error": "..."} — never a 500, never another shape.

Scenes: the bundled Lyon/Orange (voronoi and the α = 3 ground-truth stand-in: two fits in
all) and a 12-site upload whose models fit in milliseconds, so that random valid α values
can be fitted per example.
"""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _cases import count
from api_helpers import SCENE

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
CLIENT_ERRORS = {400, 404, 413, 422}

# text a URL can carry (no lone surrogates: those cannot be UTF-8 encoded by any client)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
ADVERSARIAL = st.sampled_from([
    "", " ", "../../../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "/etc/passwd", "C:\\Windows\\win.ini", "\x00", "%00", "null", "NaN",
    "inf", "-1", "0", "1e309", "9" * 200, "Lyon\x00.csv", "<script>alert(1)</script>", "' OR 1=1 --", "{{7*7}}", "${jndi:ldap://x}",
    "💥", "ＦＲ", "lyon", "LYON", " Lyon ", "FR/Lyon", "upload", "all", "0123456789abcdef", "../uploads/0123456789abcdef",
])
WORD = st.one_of(TEXT, ADVERSARIAL)
MAP_ENDPOINTS = ["/api/map", "/api/map.png", "/api/map.npy", "/api/map.tif", "/api/metrics"]
ALPHA = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True).map(repr), st.floats(0.05, 6).map(lambda a: f"{a:.3f}"),
                  st.sampled_from(["abc", "", "1,5", "0", "-2", "1e-320", "1e308", "0x10", "nan", "+inf", "1_000"]), TEXT)


def check(r, path: str) -> None:
    assert r.status_code != 500 and r.status_code < 500, f"{path}: {r.status_code} {r.text[:300]}"
    assert r.status_code == 200 or r.status_code in CLIENT_ERRORS, f"{path}: unexpected {r.status_code} {r.text[:300]}"
    if r.status_code != 200:
        body = r.json()
        assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body
        return
    ctype = r.headers["content-type"]
    if path in ("/api/map.png", "/api/feature.png"):
        assert ctype == "image/png" and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    elif path == "/api/map.npy":
        p = np.load(io.BytesIO(r.content), allow_pickle=False)
        assert p.dtype == np.float32 and np.isfinite(p).all() and (p >= 0).all() and abs(p.sum(dtype=np.float64) - 1) < 1e-3
    elif path == "/api/map.tif":
        assert r.content[:4] in (b"II*\x00", b"MM\x00*")
    else:
        assert ctype.startswith("application/json")
        r.json()


def _drop_none(q: dict) -> dict:
    return {k: v for k, v in q.items() if v is not None}


@FUZZ
@given(st.sampled_from(["/api/sites", "/api/region"]), st.one_of(WORD, st.just("FR"), st.just("upload")), st.one_of(WORD, st.just("Lyon")),
       st.one_of(WORD, st.just("Orange"), st.none()))
def test_fuzz_scene_parameters(client, small_upload, path, country, city, operator):
    count("api.scene_parameters")
    if city == "0123456789abcdef":
        city = small_upload["city"]
    r = client.get(path, params=_drop_none({"country": country, "city": city, "operator": operator}))
    check(r, path)


@FUZZ
@given(st.data(), st.sampled_from(MAP_ENDPOINTS))
def test_fuzz_map_parameters(client, small_upload, lyon_site, data, path):
    """Each map parameter in turn random (the others valid), or all of them random."""
    count("api.map_parameters")
    scene = data.draw(st.sampled_from(["lyon", "upload"]), label="scene")
    base = {**(SCENE if scene == "lyon" else small_upload), "site": lyon_site if scene == "lyon" else "H5",
            "model": data.draw(st.sampled_from(["voronoi", "groundtruth"] if scene == "lyon" else ["voronoi", "probabilistic", "groundtruth"]))}
    which = data.draw(st.sampled_from(["country", "city", "operator", "site", "model", "alpha", "all", "none"]), label="fuzzed")
    q = dict(base)
    if which in ("country", "city", "operator", "site", "model"):
        q[which] = data.draw(WORD, label=which)
    elif which == "alpha":
        q["alpha"] = data.draw(ALPHA, label="alpha")
        if scene == "lyon":
            q["model"] = "voronoi"  # α is ignored there; random valid α on Lyon would refit for seconds each
    elif which == "all":
        q = {k: data.draw(WORD, label=k) for k in ("country", "city", "operator", "site", "model")}
        q["alpha"] = data.draw(ALPHA, label="alpha")
    r = client.get(path, params=_drop_none(q))
    check(r, path)
    if which == "none":
        assert r.status_code == 200, r.text


@FUZZ
@given(st.sampled_from(["/api/features", "/api/feature.png"]), st.sampled_from(["site", "name", "country", "operator", "none"]), WORD)
def test_fuzz_feature_parameters(client, small_upload, path, which, value):
    count("api.feature_parameters")
    q = {**small_upload, "site": "H2", "name": "d1"}
    if which != "none":
        q[which] = value
    r = client.get(path, params=q)
    check(r, path)


@FUZZ
@given(st.one_of(
    st.binary(max_size=600),
    TEXT.map(str.encode),
    st.lists(st.lists(st.one_of(WORD, st.floats().map(repr)), min_size=1, max_size=5), max_size=8).map(
        lambda rows: ("site_id,lat,lon,operator\n" + "\n".join(",".join(c.replace("\n", " ").replace("\r", " ") for c in r) for r in rows)).encode()),
    st.lists(st.tuples(st.floats(44, 47), st.floats(3, 6)), min_size=0, max_size=12).map(
        lambda pts: ("site_id,lat,lon\n" + "\n".join(f"F{k},{a},{b}" for k, (a, b) in enumerate(pts))).encode()),
), st.one_of(TEXT, ADVERSARIAL, st.just("sites.csv")))
def test_fuzz_upload_content(client, content, filename):
    count("api.upload_content")
    r = client.post("/api/uploads", files={"file": (filename or "x.csv", content, "text/csv")})
    check(r, "/api/uploads")
    if r.status_code == 200:
        body = r.json()
        assert len(body["upload_id"]) == 16 and body["n_sites"] >= 1  # one site is a valid deployment (docs/INPUTS.md)
        # the stored upload is usable as a scene
        s = client.get("/api/sites", params={"country": "upload", "city": body["upload_id"], "operator": "all"})
        check(s, "/api/sites")
        assert s.status_code == 200


@FUZZ
@given(TEXT.filter(lambda s: "?" not in s and "#" not in s))
def test_fuzz_unknown_paths(client, tail):
    count("api.unknown_paths")
    from urllib.parse import quote

    r = client.get("/api/" + quote(tail, safe="/"))
    assert r.status_code < 500, r.text
