"""``/docs`` works offline: Swagger UI is served from the web build's local files, never a CDN."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from deepmend.api.app import SWAGGER_DIR, create_app


def _static(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    sw = tmp_path / SWAGGER_DIR
    sw.mkdir()
    for f in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        (sw / f).write_text(f"/* {f} */")
    return tmp_path


def test_docs_reference_only_local_assets_that_are_served(tmp_path):
    client = TestClient(create_app(_static(tmp_path)))
    html = client.get("/docs").text
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and not [u for u in urls if "://" in u or u.startswith("//")], urls
    for u in urls:
        assert client.get(u).status_code == 200, u
    assert "/openapi.json" in html


def test_docs_without_the_web_build_say_how_to_build_it(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html>")
    r = TestClient(create_app(tmp_path)).get("/docs")
    assert r.status_code == 200 and "npm run build" in r.text and "://" not in r.text.split("<body")[1]


def test_ground_truth_explanation_is_served():
    r = TestClient(create_app()).get("/about/groundtruth")
    assert r.status_code == 200 and "ground truth" in r.text.lower()
