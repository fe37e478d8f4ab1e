"""The difference view: model − ground truth on a diverging scale (render.diff_rgba, /api/diff.png)."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from deepmend import render
from deepmend.api.app import create_app


def test_more_mass_is_red_less_is_blue_equal_is_white_and_empty_is_transparent():
    truth = np.zeros((4, 4))
    model = np.zeros((4, 4))
    truth[0, 0], model[0, 0] = 1e-3, 1e-2      # the model puts more: red
    truth[0, 1], model[0, 1] = 1e-2, 1e-4      # less: blue
    truth[0, 2] = model[0, 2] = 5e-3           # the same: white
    img = render.diff_rgba(model, truth)
    r, g, b, a = (img[0, :, k].astype(int) for k in range(4))
    assert r[0] > b[0] + 50 and r[0] > g[0] + 50   # red
    assert b[1] > r[1] + 50 and b[1] > g[1] + 20   # blue
    assert min(r[2], g[2], b[2]) > 230        # white
    assert a[3] == 0 and a[0] == a[1] == a[2] == 255
    assert (img[1:, :, 3] == 0).all()         # both zero: transparent


def test_diff_png_names_an_unknown_model():
    r = TestClient(create_app()).get("/api/diff.png", params={"country": "FR", "city": "Lyon", "operator": "Orange",
                                                              "site": "FRVB_Orange_Lyon_234", "model": "nope"})
    assert r.status_code == 404 and "model" in r.json()["error"]


def test_diff_png_is_north_up_like_the_maps(client, q):
    """/api/diff.png lies on the map it is drawn over: north up, as /api/map.png.

    The stand-in ground truth is positive on the whole mask, so the difference is opaque exactly
    where its map.png is (the region's outline, not symmetric north–south). Made to fail once:
    ``diff_rgba`` flipped its rows (it took south-up arrays; maps are north-up since they are
    stored so), and the opaque parts differed.
    """
    import io

    from PIL import Image

    def alpha(path, **kw):
        r = client.get(path, params=q(**kw))
        assert r.status_code == 200, r.text
        return np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))[..., 3] > 0

    gt, diff = alpha("/api/map.png", model="groundtruth"), alpha("/api/diff.png", model="voronoi")
    assert gt.any() and not gt.all() and not np.array_equal(gt, gt[::-1])  # the check can see a flip
    assert np.array_equal(diff, gt)
