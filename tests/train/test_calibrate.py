"""Output calibration (issue 19): scaling the head by k gives exactly P^k renormalised, recorded in the config."""

import json

import numpy as np
import pytest

from deepmend.errors import InputError
from deepmend.models.deepmend import DeepMENDModel, load_config, save_weights
from deepmend.train.calibrate import scale_output

SHIPPED = "deepmend/weights/deepmend.json"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPMEND_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("k", [0.7, 1.6])
def test_scaled_head_gives_the_powered_map(small_scene, tmp_path, k):
    out = scale_output(SHIPPED, k, tmp_path / "cal" / "deepmend.json", note="test")
    i = int(small_scene.targets[0])
    base = DeepMENDModel(SHIPPED, runtime="torch").fit(small_scene).predict(i)
    cal = DeepMENDModel(out, runtime="torch").fit(small_scene).predict(i)
    want = np.where(base.mask, base.prob.astype(np.float64) ** k, 0.0)
    want /= want.sum()
    np.testing.assert_allclose(cal.prob, want, atol=1e-7)
    assert abs(float(cal.prob.sum()) - 1.0) < 1e-5
    # sharper (k > 1) maps hold more mass in their top cells, flatter (k < 1) less
    top = lambda p: np.sort(p.ravel())[-100:].sum()  # noqa: E731
    assert (top(cal.prob) > top(base.prob)) == (k > 1)
    cfg, _, _ = load_config(out)
    assert cfg["calibration"]["logit_scale"] == pytest.approx(k)
    assert cfg["calibration"]["from"] == json.loads(open(SHIPPED).read())["sha256"]
    again = scale_output(out, 2.0, tmp_path / "cal2" / "deepmend.json")
    assert load_config(again)[0]["calibration"]["logit_scale"] == pytest.approx(2 * k)
    with pytest.raises(InputError, match="exists"):  # never silently replaced
        scale_output(SHIPPED, 3.0, again)
    assert load_config(scale_output(SHIPPED, 3.0, again, overwrite=True))[0]["calibration"]["logit_scale"] == pytest.approx(3.0)


def test_refuses_bad_scale_and_heads(tmp_path):
    with pytest.raises(InputError, match="positive"):
        scale_output(SHIPPED, -1.0, tmp_path / "x.json")
    with pytest.raises(InputError, match="positive"):
        scale_output(SHIPPED, float("nan"), tmp_path / "x.json")
    before = open(SHIPPED, "rb").read()
    with pytest.raises(InputError, match="shipped weights folder"):  # even with overwrite
        scale_output(SHIPPED, 1.3, SHIPPED, overwrite=True)
    assert open(SHIPPED, "rb").read() == before
    cfg, _, npz = load_config(SHIPPED)
    state = dict(np.load(npz, allow_pickle=False))
    ref = save_weights(state, {k: v for k, v in cfg.items() if k not in ("sha256", "format", "onnx_sha256")} | {"loss": "reference"}, tmp_path / "ref" / "deepmend.json")
    with pytest.raises(InputError, match="reference head"):
        scale_output(ref, 1.5, tmp_path / "y.json")
    assert not (tmp_path / "y.json").exists()
