"""The real server and the built web app in headless Chromium (Playwright).

Starts ``deepmend serve`` on a free port of 127.0.0.1, drives the app through its
``data-testid`` hooks (docs/API.md) and checks what it shows against the API's JSON.
Screenshots go to $DEEPMEND_SCREENSHOTS_DIR when set (``DEEPMEND_SCREENSHOTS_DIR=docs/img``
refreshes the README's app_*.png), else to a temporary folder: a test run never edits
tracked files. Skipped, saying why, without web/dist or chromium.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "web" / "dist"
CHROMIUM = os.environ.get("DEEPMEND_CHROMIUM", "/usr/bin/chromium")
#: where screenshots go (see the module docstring)
IMG = Path(os.environ.get("DEEPMEND_SCREENSHOTS_DIR") or tempfile.mkdtemp(prefix="deepmend-e2e-shots-"))
SCENE = {"country": "FR", "city": "Lyon", "operator": "Orange"}
MODEL = "probabilistic"
#: The first ground-truth fit of a city takes minutes on a fresh cache (then it is on disk).
GT_TIMEOUT_S = 540
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    if not (DIST / "index.html").is_file():
        pytest.skip("web/dist is missing: build the web app first (make web, or cd web && npm ci && npm run build)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make browser installs Debian's chromium)")
    port = _free_port()
    exe = Path(sys.executable).with_name("deepmend")
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "deepmend.cli"]),
           "serve", "--host", "127.0.0.1", "--port", str(port), "--static", str(DIST), "--log-level", "warning"]
    log = open(REPO / ".cache" / "e2e-server.log", "w") if (REPO / ".cache").is_dir() else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"deepmend serve exited with {proc.returncode}")
            try:
                if httpx.get(f"{base}/api/catalog", timeout=30).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                pytest.fail("deepmend serve did not answer within 90 s")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def site(server):
    """A central Lyon site, with its metrics computed once through the API (fits the ground truth)."""
    feats = httpx.get(f"{server}/api/sites", params=SCENE, timeout=60).json()["features"]
    best = min(feats, key=lambda f: (f["properties"]["lon"] - 4.832) ** 2 + (f["properties"]["lat"] - 45.758) ** 2)
    props = best["properties"]
    r = httpx.get(f"{server}/api/metrics", params={**SCENE, "site": props["site_id"], "model": MODEL}, timeout=GT_TIMEOUT_S)
    assert r.status_code == 200, r.text
    return props


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
        pg = ctx.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.errors = errors  # type: ignore[attr-defined]
        yield pg
        ctx.close()
        browser.close()


def fmt(v, digits=3):
    """The web app's number format (web/src/format.ts)."""
    if v is None:
        return "—"
    a = abs(v)
    if a != 0 and (a < 10**-digits or a >= 1e6):
        m, e = f"{v:.2e}".split("e")
        return f"{m}e{'+' if int(e) >= 0 else '-'}{abs(int(e))}"
    return f"{v:.{digits}f}"


def _wait_js(page, expr: str, timeout_s: float = 60):
    page.wait_for_function(expr, timeout=timeout_s * 1000)


def test_app_end_to_end(server, site, page):
    IMG.mkdir(parents=True, exist_ok=True)
    page.goto(server + "/")
    page.get_by_test_id("select-country").wait_for(timeout=60_000)
    _wait_js(page, "() => document.querySelector('[data-testid=select-country]').options.length > 0")
    # choose through the selects (a select already showing the value is left alone: re-selecting
    # the country would reset the city to the first one of the list)
    for tid, value in (("select-country", SCENE["country"]), ("select-city", SCENE["city"]),
                       ("select-operator", SCENE["operator"]), ("select-model", MODEL)):
        _wait_js(page, f"() => [...document.querySelector('[data-testid={tid}]').options].some(o => o.value === {value!r})")
        sel = page.get_by_test_id(tid)
        if sel.input_value() != value:
            sel.select_option(value)
        assert sel.input_value() == value
    _wait_js(page, "() => window.__deepmend && window.__deepmend.map && window.__deepmend.state().sitesLoaded && window.__deepmend.state().siteCount > 400", 90)
    st = page.evaluate("() => window.__deepmend.state()")
    assert st["scene"]["city"] == "Lyon" and st["scene"]["operator"] == "Orange" and st["model"] == MODEL

    # centre the map on the site, close enough that its dot stands apart from its neighbours
    page.evaluate(f"() => window.__deepmend.map.jumpTo({{center: [{site['lon']}, {site['lat']}], zoom: 15}})")
    _wait_js(page, "() => window.__deepmend.map.loaded() && !window.__deepmend.map.isMoving()", 60)
    page.wait_for_timeout(500)
    page.screenshot(path=str(IMG / "app_overview.png"))
    pt = page.evaluate(f"() => window.__deepmend.map.project([{site['lon']}, {site['lat']}])")
    box = page.get_by_test_id("main-map").bounding_box()
    x, y = box["x"] + pt["x"], box["y"] + pt["y"]

    page.mouse.move(x - 30, y - 30)
    page.mouse.move(x, y, steps=5)
    popup = page.get_by_test_id("site-popup")
    popup.wait_for(timeout=15_000)
    assert popup.get_attribute("data-site-id") == str(site["site_id"])
    text = popup.inner_text()
    assert str(site["site_id"]) in text and "Orange" in text and f"{site['lat']:.5f}" in text and f"{site['lon']:.5f}" in text

    page.mouse.click(x, y)
    try:
        _wait_js(page, f"() => (window.__deepmend.state().selected || {{}}).id == {str(site['site_id'])!r}", 15)
    except Exception:
        page.screenshot(path=str(REPO / ".cache" / "e2e-click-failed.png"))
        raise AssertionError(f"click did not select the site; state: {page.evaluate('() => window.__deepmend.state()')}") from None
    model_panel = page.get_by_test_id("panel-model")
    page.wait_for_function("() => document.querySelector('[data-testid=panel-model]').dataset.state === 'ready'", timeout=60_000)
    page.wait_for_function("() => ['ready', 'unavailable'].includes(document.querySelector('[data-testid=panel-groundtruth]').dataset.state)",
                           timeout=GT_TIMEOUT_S * 1000)
    assert page.get_by_test_id("panel-groundtruth").get_attribute("data-state") == "ready"
    assert model_panel.get_attribute("data-state") == "ready"

    metrics = httpx.get(f"{server}/api/metrics", params={**SCENE, "site": site["site_id"], "model": MODEL}, timeout=60).json()
    vs = metrics["vs_ground_truth"]
    assert metrics["ground_truth"] and vs is not None
    expected = {"metric-ks": fmt(vs["ks"]), "metric-emd": fmt(vs["emd_km"], 2), "metric-js": fmt(vs["js"])}
    for tid, want in expected.items():
        loc = page.get_by_test_id(tid).first
        page.wait_for_function(f"() => (document.querySelector('[data-testid={tid}]') || {{}}).textContent === {want!r}", timeout=30_000)
        assert loc.inner_text().strip() == want
    page.wait_for_timeout(500)
    page.screenshot(path=str(IMG / "app_site.png"))

    page.get_by_test_id("toggle-features").click()
    grid = page.get_by_test_id("features-grid")
    page.wait_for_function("() => (document.querySelector('[data-testid=features-grid]') || {dataset: {}}).dataset.state === 'ready'", timeout=60_000)
    feats = httpx.get(f"{server}/api/features", params={**SCENE, "site": site["site_id"]}, timeout=60).json()["features"]
    page.wait_for_function(
        f"() => {{ const im = [...document.querySelectorAll('[data-testid=features-grid] img')];"
        f" return im.length === {len(feats)} && im.every(i => i.complete && i.naturalWidth === 600); }}", timeout=60_000)
    names = grid.locator("[data-feature]").evaluate_all("els => els.map(e => e.dataset.feature)")
    assert names == [f["name"] for f in feats]
    page.wait_for_timeout(300)
    page.screenshot(path=str(IMG / "app_features.png"))
    assert not page.errors, page.errors  # type: ignore[attr-defined]
    banner = page.get_by_test_id("error-banner")
    assert banner.count() == 0, banner.first.inner_text()


def test_csp_lets_the_app_work_and_its_upload_pass(server, tmp_path):
    """The app under the server's Content-Security-Policy (deepmend/api/security.py): the map draws
    (MapLibre's blob: workers, inline styles), an upload goes through the same-origin guard (the
    app sends X-Requested-With), and the browser reports no CSP violation and no page error."""
    from playwright.sync_api import sync_playwright

    from deepmend.api.security import APP_CSP

    r = httpx.get(server + "/", timeout=30)
    assert r.headers["content-security-policy"] == APP_CSP and r.headers["x-content-type-options"] == "nosniff"
    csv = tmp_path / "sites.csv"
    csv.write_text("site_id,lat,lon,operator\n" + "\n".join(
        f"U{k},{45.70 + 0.014 * (k // 4) + 0.001 * (k % 3):.5f},{4.80 + 0.019 * (k % 4) + 0.0007 * (k % 5):.5f},Op" for k in range(12)) + "\n")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1200, "height": 800})
        pg = ctx.new_page()
        errors: list[str] = []
        console: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: console.append(m.text) if m.type in ("error", "warning") else None)
        pg.add_init_script("window.__csp = []; document.addEventListener('securitypolicyviolation',"
                           " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")
        uploads: list[int] = []
        pg.on("response", lambda resp: uploads.append(resp.status) if resp.url.endswith("/api/uploads") else None)
        pg.goto(server + "/")
        _wait_js(pg, "() => window.__deepmend && window.__deepmend.map && window.__deepmend.map.loaded()"
                     " && window.__deepmend.state().sitesLoaded", 90)
        pg.get_by_test_id("upload-input").set_input_files(str(csv))
        _wait_js(pg, "() => window.__deepmend.state().scene && window.__deepmend.state().scene.country === 'upload'"
                     " && window.__deepmend.state().sitesLoaded", 60)
        _wait_js(pg, "() => window.__deepmend.map.loaded() && !window.__deepmend.map.isMoving()", 60)
        pg.screenshot(path=str(IMG / "csp_upload.png"))
        violations = pg.evaluate("() => window.__csp")
        ctx.close()
        browser.close()
    assert uploads == [200], uploads
    assert violations == [], violations
    assert not [c for c in console if "Content Security Policy" in c], console
    assert not errors, errors
