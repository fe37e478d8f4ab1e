"""DeepMEND model: features vs brute force, weights I/O and errors, runtimes agree, maps are probabilities."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from deepmend.errors import InputError
from deepmend.registry import make_model
from deepmend.models.deepmend import DEFAULT_WEIGHTS, DeepMENDModel, load_weights, save_weights
from deepmend.models.features import CHANNELS, FeatureBuilder, block_mean, brute_force_channels
from deepmend.train.losses import LOSSES
from deepmend.models.deepmend.unet import UNet, UNetConfig

# One thread: tiny networks gain nothing from two, and on an oversubscribed machine
# OpenMP's spin-waiting makes two threads an order of magnitude slower (measured).
torch.set_num_threads(1)
TINY = UNetConfig(in_channels=len(CHANNELS), base=4, levels=2)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPMEND_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def tiny_weights(tmp_path):
    torch.manual_seed(0)
    net = UNet(TINY)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so eval mode matters
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return save_weights(net.state_dict(), {"arch": TINY.as_dict(), "loss": "kl", "factor": 10, "channels": list(CHANNELS)}, tmp_path / "w" / "deepmend.json")


def test_features_match_brute_force(small_scene):
    fb = FeatureBuilder(small_scene)
    rng = np.random.default_rng(1)
    for i in (0, 4, 8):
        f, mask = fb.window(i)
        rows, cols = rng.integers(0, 600, 400), rng.integers(0, 600, 400)
        ref = brute_force_channels(small_scene, i, rows, cols)
        np.testing.assert_allclose(f[:, rows, cols], ref, rtol=2e-5, atol=2e-6)
        assert (f[:3, ~mask] == 0).all() and f[3].sum() == mask.sum()
    x, masks = fb.batch([0, 4], factor=4)
    assert x.shape == (2, 4, 150, 150) and masks.shape == (2, 600, 600)
    np.testing.assert_array_equal(masks[1], fb.window(4)[1])
    # inputs on the network's grid: the mask channel is the valid fraction of each block …
    np.testing.assert_allclose(x[1, 3], block_mean(fb.window(4)[0], 4)[3], rtol=1e-6)
    # … and the distance channels are the reference's at each block's centre, times it
    for f in (5, 4):
        n = 600 // f
        c = fb.coarse(8, f)
        centre = np.arange(n) * f + f // 2  # odd f: the middle cell; even f: checked against the 4 central cells
        rows, cols = np.repeat(centre, n), np.tile(centre, n)
        if f % 2:
            ref = brute_force_channels(small_scene, 8, rows, cols).reshape(4, n, n)
            valid = ref[3] > 0
            np.testing.assert_allclose(c[:3][:, valid], (ref[:3] * c[3])[:, valid], rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(c[3], block_mean(fb.window(8)[0], f)[3], rtol=1e-6)


def test_maps_are_probabilities_and_batched_equals_single(small_scene, tiny_weights):
    model = DeepMENDModel(tiny_weights, runtime="torch", batch_size=4).fit(small_scene)
    maps = list(model.predict_many())
    assert len(maps) == len(small_scene.targets)
    for m in maps:
        assert m.model == "deepmend" and m.prob.dtype == np.float32
        assert abs(float(m.prob[m.mask].sum(dtype=np.float64)) - 1) < 1e-5
        assert (m.prob[~m.mask] == 0).all() and (m.prob >= 0).all()
        assert (~m.mask).any()  # the square region cuts the windows: the mask matters here
    single = model.predict(3)
    np.testing.assert_allclose(single.prob, maps[3].prob, rtol=1e-4, atol=1e-9)


def test_saved_and_reloaded_model_gives_identical_maps(small_scene, tiny_weights, tmp_path):
    a = DeepMENDModel(tiny_weights, runtime="torch").fit(small_scene).predict(2).prob
    net, cfg, _ = load_weights(tiny_weights)
    again = save_weights(net.state_dict(), {k: cfg[k] for k in ("arch", "loss", "factor", "channels")}, tmp_path / "again" / "deepmend.json")
    assert json.loads(again.read_text())["sha256"] == cfg["sha256"]
    b = DeepMENDModel(again, runtime="torch").fit(small_scene).predict(2).prob
    assert np.array_equal(a, b)


def test_onnx_and_torch_agree(small_scene, tiny_weights):
    t = DeepMENDModel(tiny_weights, runtime="torch").fit(small_scene)
    o = DeepMENDModel(tiny_weights, runtime="onnx").fit(small_scene)
    x, _ = t.features_.batch([0, 1, 2], t.factor_)
    np.testing.assert_allclose(o.network(x), t.network(x), atol=1e-4, rtol=1e-4)
    for mt, mo in zip(t.predict_many([0, 1, 2]), o.predict_many([0, 1, 2])):
        np.testing.assert_allclose(mo.prob, mt.prob, atol=1e-7, rtol=1e-3)


def test_registry_and_user_weights(small_scene, tiny_weights):
    m = make_model("deepmend", weights=str(tiny_weights))
    assert isinstance(m, DeepMENDModel) and m.get_params()["weights"] == str(tiny_weights)
    assert m.fit(small_scene).params()["sha256"] == json.loads(tiny_weights.read_text())["sha256"][:12]


def test_corrupt_missing_or_incompatible_weights_are_clear_errors(tiny_weights, tmp_path):
    npz = tiny_weights.with_suffix(".npz")
    bad = tmp_path / "bad"
    shutil.copytree(tiny_weights.parent, bad)
    data = bytearray((bad / "deepmend.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bad / "deepmend.npz").write_bytes(bytes(data))
    with pytest.raises(InputError, match="checksum mismatch") as e:
        load_weights(bad / "deepmend.json")
    assert "deepmend.npz" in str(e.value)

    with pytest.raises(InputError, match="not found") as e:
        load_weights(tmp_path / "nowhere" / "deepmend.json")
    assert "nowhere" in str(e.value)

    (bad / "deepmend.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_weights(bad / "deepmend.json")

    cfg = json.loads(tiny_weights.read_text())
    shutil.copy(npz, bad / "deepmend.npz")
    (bad / "deepmend.json").write_text(json.dumps(dict(cfg, arch=dict(cfg["arch"], base=8))))
    with pytest.raises(InputError, match="do not match the architecture"):
        load_weights(bad / "deepmend.json")

    (bad / "deepmend.json").write_text(json.dumps(dict(cfg, channels=["a", "b"])))
    with pytest.raises(InputError, match="incompatible weights"):
        load_weights(bad / "deepmend.json")

    (bad / "deepmend.npz").write_bytes(b"PK\x03\x04 garbage")
    (bad / "deepmend.json").write_text(json.dumps(dict(cfg, sha256=__import__("hashlib").sha256(b"PK\x03\x04 garbage").hexdigest())))
    with pytest.raises(InputError, match="not a readable weights archive"):
        load_weights(bad / "deepmend.json")


def test_shipped_weights_are_the_registry_default_and_give_probabilities(small_scene):
    """The shipped weights are tracked files: missing or corrupt, this FAILS (it used to skip).

    Made to fail once by renaming deepmend/weights/deepmend.npz: ``load_weights`` raised
    "weights arrays not found" and the test failed instead of skipping.
    """
    net, cfg, js = load_weights(None)
    assert js == DEFAULT_WEIGHTS and cfg["loss"] in LOSSES
    assert DEFAULT_WEIGHTS.with_suffix(".npz").stat().st_size < 20e6
    model = make_model("deepmend").fit(small_scene)
    assert model.runtime_ == "onnx"
    for m in model.predict_many([0, 5]):
        assert abs(float(m.prob[m.mask].sum(dtype=np.float64)) - 1) < 1e-5 and (m.prob[~m.mask] == 0).all()


SOFT_LABELS = DEFAULT_WEIGHTS.with_name("deepmend_softlabels.json")


def test_shipped_soft_label_weights_load_and_differ_from_the_default(small_scene):
    """The paper's soft-label student ships next to the default (trained on the ground truth).

    Tracked files: a missing one fails the test (no skip).
    """
    _, cfg, _ = load_weights(SOFT_LABELS)
    assert cfg["training"]["config"]["target"] == "teacher"
    assert load_weights(None)[1]["training"]["config"]["target"] == "gt"
    soft = make_model("deepmend", weights=str(SOFT_LABELS)).fit(small_scene).predict(0)
    default = make_model("deepmend").fit(small_scene).predict(0)
    assert abs(float(soft.prob.sum(dtype=np.float64)) - 1) < 1e-5
    assert not np.allclose(soft.prob, default.prob)


def test_shipped_weights_by_name_wherever_the_package_is(small_scene, tmp_path, monkeypatch):
    """A pip user has no deepmend/weights/ path: shipped weights are reachable by name from any directory."""
    from deepmend.models.deepmend import resolve_weights, shipped_weights

    monkeypatch.chdir(tmp_path)
    assert {"deepmend", "deepmend_v4", "deepmend_softlabels"} <= set(shipped_weights())
    assert resolve_weights("v4")[0] == DEFAULT_WEIGHTS.with_name("deepmend_v4.json")
    assert resolve_weights("deepmend_softlabels")[0] == SOFT_LABELS
    v4 = make_model("deepmend", weights="v4").fit(small_scene).predict(0)
    assert not np.allclose(v4.prob, make_model("deepmend").fit(small_scene).predict(0).prob)
    with pytest.raises(InputError, match="not the name of shipped weights .*softlabels, v4"):
        resolve_weights("v9")
    # a folder of that name (e.g. holding other weights) never shadows the shipped name; ./v4 reaches it
    (tmp_path / "v4").mkdir()
    shutil.copy(DEFAULT_WEIGHTS, tmp_path / "v4" / "deepmend.json")
    shutil.copy(DEFAULT_WEIGHTS.with_suffix(".npz"), tmp_path / "v4" / "deepmend.npz")
    assert resolve_weights("v4")[0] == DEFAULT_WEIGHTS.with_name("deepmend_v4.json")
    assert resolve_weights("./v4")[0].resolve() == tmp_path / "v4" / "deepmend.json"
    (tmp_path / "deepmend").mkdir()  # as in a source checkout's root: the package folder
    assert resolve_weights("deepmend")[0] == DEFAULT_WEIGHTS


def test_cli_predict_with_corrupt_weights_is_one_clear_error(tiny_weights, tmp_path, capsys):
    from deepmend.cli import main

    npz = tiny_weights.with_suffix(".npz")
    npz.write_bytes(npz.read_bytes()[:-10])
    rc = main(["predict", "--model", "deepmend", "--weights", str(tiny_weights), "--country", "FR", "--city", "Lyon",
               "--operator", "Orange", "--site", "x", "--out", str(tmp_path / "m.npz")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "deepmend.npz" in err and "checksum mismatch" in err


def test_shipped_onnx_graph_gives_the_maps_without_torch(small_scene):
    """With the shipped ``deepmend.onnx`` (checksummed in deepmend.json) inference never imports torch.

    A child process blocks ``import torch`` and predicts on the same synthetic scene; its
    maps equal the torch runtime's here (post-processing in numpy: bilinear weights agree
    to float32 rounding). Made to fail once by deleting ``onnx_sha256`` from the config:
    the child then fell back to the torch export and died on the blocked import.
    """
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent('''
        import sys

        class NoTorch:  # any "import torch" raises ImportError
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked in this test")

        sys.meta_path.insert(0, NoTorch())
        import numpy as np
        from synthetic import make_deployment, square_region, X0, Y0
        from deepmend.scene import Scene
        from deepmend.registry import make_model
        rng = np.random.default_rng(7)
        xy = np.column_stack([X0 + rng.uniform(-12_000, 12_000, 9), Y0 + rng.uniform(-12_000, 12_000, 9)])
        m = make_model("deepmend", runtime="onnx").fit(Scene(make_deployment(xy), square_region()))
        assert m.net_ is None and m.runtime_ == "onnx"
        np.save(sys.argv[1], np.stack([d.prob for d in m.predict_many([0, 4])]))
        assert "torch" not in sys.modules
    ''')
    out = Path(tempfile.mkdtemp()) / "maps.npy"
    tests_dir = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tests_dir), str(tests_dir.parent), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    child = np.load(out)
    ref = DeepMENDModel(runtime="torch").fit(small_scene)
    for k, i in enumerate([0, 4]):
        np.testing.assert_allclose(child[k], ref.predict(i).prob, rtol=1e-3, atol=1e-9)
