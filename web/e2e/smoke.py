"""Manual end-to-end smoke check of the web app against a running `deepmend serve`.

    .venv/bin/deepmend serve --port 8765 &          # serves web/dist and /api
    .venv/bin/python web/e2e/smoke.py http://127.0.0.1:8765 [/tmp/screens]

Drives headless Chromium (/usr/bin/chromium, software WebGL) through the default scene:
hover a BS (popup), click it (ground truth + model panels, metrics), features, compare mode,
the overlay, a CSV upload and a bad upload (error banner). Screenshots go to the given folder.
Not collected by pytest (testpaths = tests); it shows how a test can reach the app through
the `data-testid` attributes and `window.__deepmend`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from playwright.sync_api import sync_playwright

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
OUT = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="deepmend-smoke-")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"]


def screen_point(page, lon: float, lat: float) -> tuple[float, float]:
    """Page coordinates of a lon/lat on the main map."""
    return page.evaluate(
        """([lon, lat]) => { const m = window.__deepmend.map; const p = m.project([lon, lat]);
        const r = m.getCanvas().getBoundingClientRect(); return [p.x + r.left, p.y + r.top]; }""",
        [lon, lat],
    )


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        t0 = time.time()
        page.goto(BASE + "/")
        # data-ready: the sites of the scene are drawn in their final view
        page.wait_for_selector("[data-testid=main-map][data-ready=true]", timeout=90_000)
        state = page.evaluate("() => window.__deepmend.state()")
        print(f"ready in {time.time() - t0:.1f} s:", state)
        scene = state["scene"]
        for t in ("select-country", "select-city", "select-operator", "select-model"):
            print(" ", t, "=", page.get_by_test_id(t).input_value())
        page.screenshot(path=f"{OUT}/1-start.png")

        sites = page.evaluate(
            "(s) => fetch(`/api/sites?country=${s.country}&city=${encodeURIComponent(s.city)}&operator=${s.operator}`).then(r => r.json())",
            scene,
        )
        feat = sites["features"][len(sites["features"]) // 2]
        x, y = screen_point(page, *feat["geometry"]["coordinates"])
        page.mouse.move(x, y)
        popup = page.get_by_test_id("site-popup")
        popup.wait_for(timeout=10_000)
        print("popup:", popup.inner_text().replace("\n", " | "))
        page.mouse.click(x, y)

        page.wait_for_selector("[data-testid=panel-model][data-state=ready]", timeout=180_000)
        page.wait_for_selector("[data-testid=panel-groundtruth]:not([data-state=loading])", timeout=180_000)
        print("ground truth panel:", page.get_by_test_id("panel-groundtruth").get_attribute("data-state"))
        page.wait_for_function(
            "() => { const e = document.querySelector('[data-testid=metric-inference]'); return e && e.textContent !== '—'; }",
            timeout=180_000,
        )
        for t in ("metric-ks", "metric-emd", "metric-js", "metric-inference"):
            print(" ", t, "=", page.get_by_test_id(t).inner_text())
        print("bs-details:", page.get_by_test_id("bs-details").inner_text().replace("\n", " "))
        print("geotiff:", page.get_by_test_id("download-geotiff").get_attribute("href"))
        page.screenshot(path=f"{OUT}/2-selected.png")

        page.get_by_test_id("toggle-features").click()
        page.wait_for_selector("[data-testid=features-grid][data-state=ready] img", timeout=60_000)
        print("features:", page.locator("[data-testid=features-grid] figure").count())

        models = [o for o in page.get_by_test_id("select-model-b").locator("option:not([disabled])").all() if o.get_attribute("value")]
        if models:
            page.get_by_test_id("select-model-b").select_option(models[0].get_attribute("value"))
            page.wait_for_selector("[data-testid=panel-model-b]:not([data-state=loading])", timeout=180_000)
            print("compare:", page.get_by_test_id("panel-model-b").get_attribute("data-state"))
        page.get_by_test_id("toggle-overlay").check()
        time.sleep(1)
        page.screenshot(path=f"{OUT}/3-compare.png")

        good = os.path.join(OUT, "sites.csv")
        with open(good, "w") as f:
            f.write("site_id,lat,lon,operator\n")
            f.writelines(f"s{i},{45.70 + (i % 5) * 0.02:.4f},{4.80 + (i // 5) * 0.03:.4f},OpA\n" for i in range(20))
        page.get_by_test_id("upload-input").set_input_files(good)
        page.wait_for_function(
            "() => { const s = window.__deepmend.state(); return s.scene.country === 'upload' && s.sitesLoaded; }",
            timeout=90_000,
        )
        print("after upload:", page.evaluate("() => window.__deepmend.state()"))
        page.screenshot(path=f"{OUT}/4-upload.png")

        bad = os.path.join(OUT, "bad.csv")
        with open(bad, "w") as f:
            f.write("foo,bar\n1,2\n")
        page.get_by_test_id("upload-input").set_input_files(bad)
        banner = page.get_by_test_id("error-banner")
        banner.wait_for(timeout=30_000)
        print("error banner:", banner.inner_text())

        print("page errors:", errors or "none")
        print("screenshots in", OUT)
        browser.close()


if __name__ == "__main__":
    main()
