"""Training: the loss falls on a small crop, checkpoints resume, logs and weights are written, losses are sane."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from deepmend.models.features import CHANNELS, FeatureBuilder
from deepmend.train.dataset import MapDataset, Shards
from deepmend.train.losses import ks2d_torch, loss_fn, to_mass
from deepmend.train.trainer import TrainConfig, build_net, train
from deepmend.models.deepmend.unet import UNet, UNetConfig

# One thread: tiny networks gain nothing from two, and on an oversubscribed machine
# OpenMP's spin-waiting makes two threads an order of magnitude slower (measured).
torch.set_num_threads(1)
FACTOR = 10  # 60×60 coarse windows: tiny and fast


def _example(scene, i: int, alpha: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Coarse channels and a probabilistic-map target (what a teacher soft label is)."""
    from deepmend.models.features import block_mean, block_sum
    from deepmend.models.probabilistic import ProbabilisticModel

    f, _ = FeatureBuilder(scene).window(i)
    p = ProbabilisticModel(alpha).fit(scene).predict(i).lattice_prob  # features are in lattice order
    return block_mean(f, FACTOR), block_sum(p, FACTOR)


@pytest.fixture
def shards(small_scene) -> Shards:
    xs, ts = zip(*(_example(small_scene, i) for i in range(4)))
    x, t = np.stack(xs).astype(np.float16), np.stack(ts).astype(np.float32)
    n = len(x)
    return Shards(x, t, t.copy(), np.full(n, 1.5, np.float32), np.zeros(n, np.float32), np.array(["synthetic"] * n))


@pytest.mark.parametrize("kind", ["kl", "reference", "kl+ks+emd"])
def test_tiny_network_loss_falls_on_a_small_crop(shards, kind):
    torch.manual_seed(0)
    net = build_net(TrainConfig(loss=kind, base=4, levels=2, factor=FACTOR))
    ds = MapDataset(shards.x[:1], shards.teacher[:1], augment=False, crop=32, seed=0)
    x, t = ds[0]
    x, t = x[None], t[None]
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = loss_fn(net(x), t, x[:, -1], kind, FACTOR)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_losses_and_ks_match_definitions(shards):
    t = torch.from_numpy(shards.teacher[:2])
    frac = torch.from_numpy(shards.x[:2, -1].astype(np.float32))
    z = torch.log(t / frac.clamp_min(1e-12) + 1e-30)  # the exact log-density of the target
    assert float(loss_fn(z, t, frac, "kl", FACTOR)) < 1e-4
    np.testing.assert_allclose(to_mass(z, frac, "kl", FACTOR).numpy(), t.numpy(), atol=1e-6)
    from deepmend.metrics import ks2d

    q = torch.roll(t, 3, dims=-1).double()
    for b in range(2):
        assert abs(float(ks2d_torch(q[b : b + 1], t[b : b + 1].double())[0]) - ks2d(q[b].numpy(), t[b].numpy())) < 1e-9
    assert float(loss_fn(z, t, frac, "kl+ks", FACTOR)) < 1e-3
    assert float(loss_fn(z, t, frac, "kl+ks+emd", FACTOR)) < 1e-3


def test_sliced_w1_is_a_lower_bound_of_the_emd_that_grows_with_the_shift():
    """A point mass moved by s cells: each slice sees s·|cos θ|, so the mean is s·mean|cos θ| ≤ s."""
    from deepmend.train.losses import SLICES, sliced_w1

    p = torch.zeros(1, 24, 24, dtype=torch.float64)
    p[0, 4, 4] = 1
    mean_cos = float(np.mean(np.abs(np.cos(np.arange(SLICES) * np.pi / SLICES))))
    prev = 0.0
    for s in (2, 5, 10):
        q = torch.roll(p, s, dims=-1)
        w = float(sliced_w1(p, q, 0.5)[0])
        assert w <= 0.5 * s + 1e-9 and w > prev
        assert abs(w - 0.5 * s * mean_cos) <= 0.5  # projections are rounded to 1-cell (0.5 km) bins
        prev = w
    assert float(sliced_w1(p, p, 0.5)[0]) == 0.0


def test_train_writes_weights_logs_and_resumes(shards, tmp_path):
    from deepmend.models.deepmend import load_weights

    cfg = TrainConfig(epochs=2, batch_size=2, lr=5e-3, base=4, levels=2, factor=FACTOR, seed=3)
    rec = train(shards, shards, tmp_path, cfg, progress=False)
    assert [r["epoch"] for r in rec["epochs"]] == [1, 2]
    assert (tmp_path / "log.csv").read_text().startswith("epoch,train_loss")
    net, wcfg, _ = load_weights(tmp_path / "deepmend.json")
    assert wcfg["factor"] == FACTOR and wcfg["training"]["n_train"] == 4
    cfg3 = TrainConfig(**{**cfg.__dict__, "epochs": 3})
    rec3 = train(shards, shards, tmp_path, cfg3, resume=True, progress=False)
    assert [r["epoch"] for r in rec3["epochs"]] == [1, 2, 3]
    assert json.loads((tmp_path / "log.json").read_text())["epochs"][-1]["epoch"] == 3


def test_unet_handles_sizes_not_multiple_of_its_depth():
    net = UNet(UNetConfig(base=4, levels=3)).eval()
    with torch.no_grad():
        assert net(torch.zeros(2, 4, 150, 150)).shape == (2, 150, 150)
        assert net(torch.zeros(1, 4, 37, 41)).shape == (1, 37, 41)


def test_envelope_learns_a_smaller_support_radius_for_compact_targets(shards):
    """A W1-weighted loss on maps far more compact than R0 pulls the per-BS radius R in, end to end."""
    from deepmend.models.deepmend.unet import ENVELOPE_R0_KM

    torch.manual_seed(0)
    cfg = TrainConfig(loss="kl+ks+emd", base=4, levels=2, factor=FACTOR, envelope=True)
    net = build_net(cfg)
    x = torch.from_numpy(shards.x[:2].astype(np.float32))
    n = x.shape[-1]
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    t = torch.from_numpy(np.exp(-(yy**2 + xx**2) / 2.0)[None].repeat(2, 0).astype(np.float32))  # ≈ 1 km wide
    t = t * x[:, -1]
    t = t / t.sum(dim=(1, 2), keepdim=True)

    def radius() -> np.ndarray:
        feats = x
        for k, block in enumerate(net.down):
            feats = block(torch.nn.functional.max_pool2d(feats, 2) if k else feats)
        return net.support_radius_km(feats).detach().numpy()

    net.eval()
    np.testing.assert_allclose(radius(), ENVELOPE_R0_KM, rtol=1e-6)  # zero-initialised: R = R0
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)
    for _ in range(40):
        loss = loss_fn(net(x), t, x[:, -1], cfg.loss, FACTOR, emd_weight=3.0, kl_weight=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    assert (radius() < 0.5 * ENVELOPE_R0_KM).all(), radius()


def test_fine_tuning_starts_from_the_given_weights_and_adds_the_envelope(shards, tmp_path):
    """--init-weights: every tensor of the source is loaded; with the envelope the output differs
    only by the initial taper −(r/R0)², zero at the window centre."""
    from deepmend.models.deepmend import load_weights
    from deepmend.models.deepmend.unet import ENVELOPE_R0_KM

    base = TrainConfig(epochs=1, batch_size=2, base=4, levels=2, factor=FACTOR, loss="kl+ks+emd")
    train(shards, shards, tmp_path, base, progress=False)
    src, _, _ = load_weights(tmp_path / "deepmend.json")
    net = build_net(TrainConfig(**{**base.__dict__, "envelope": True, "init": str(tmp_path / "deepmend.json")})).eval()
    x = torch.from_numpy(shards.x[:1].astype(np.float32))
    with torch.no_grad():
        d = (net(x) - src(x))[0].numpy()
    n = d.shape[-1]
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    r_km = np.hypot(yy, xx) * 0.1 * FACTOR
    np.testing.assert_allclose(d, -((r_km / ENVELOPE_R0_KM) ** 2), atol=1e-4)
    from deepmend.train.trainer import param_groups

    cfg = TrainConfig(**{**base.__dict__, "envelope": True})
    groups = param_groups(net, cfg)
    assert [len(g["params"]) for g in groups] == [len(list(net.parameters())) - 3, 3]  # radius weight + bias, β
    assert groups[1]["lr"] == cfg.lr * cfg.envelope_lr_scale and groups[1]["weight_decay"] == 0.0
    with pytest.raises(Exception, match="do not fit"):
        build_net(TrainConfig(**{**base.__dict__, "base": 8, "init": str(tmp_path / "deepmend.json")}))


def test_kl_weight_scales_only_the_kl_term(shards):
    t = torch.from_numpy(shards.teacher[:2])
    frac = torch.from_numpy(shards.x[:2, -1].astype(np.float32))
    z = torch.zeros_like(t)
    full = float(loss_fn(z, t, frac, "kl", FACTOR))
    assert float(loss_fn(z, t, frac, "kl", FACTOR, kl_weight=0.25)) == pytest.approx(0.25 * full, rel=1e-6)
    rest = float(loss_fn(z, t, frac, "kl+ks+emd", FACTOR, kl_weight=0.0))
    assert rest > 0 and float(loss_fn(z, t, frac, "kl+ks+emd", FACTOR)) == pytest.approx(full + rest, rel=1e-5)


def test_fine_tuning_with_extra_channels_starts_as_the_old_network(shards, small_scene, tmp_path):
    """--init-weights of the reference channels into a run with more: the new inputs' first-layer weights
    are zero, so the output and the validation loss at step 0 are the old network's; the run records its channels."""
    from deepmend.models.deepmend import load_config, load_weights
    from deepmend.train.trainer import FIRST_CONV, evaluate

    extra = CHANNELS + ("dens1", "dens3", "dens10", "edge", "own")
    fb = FeatureBuilder(small_scene)
    x9 = np.stack([fb.coarse(i, FACTOR, extra) for i in range(4)]).astype(np.float16)
    np.testing.assert_array_equal(x9[:, :4].astype(np.float32), np.stack([fb.coarse(i, FACTOR) for i in range(4)]).astype(np.float16).astype(np.float32))
    shards4 = Shards(x9[:, :4].copy(), shards.teacher, shards.gt, shards.alpha, shards.ks_teacher, shards.scene)
    shards9 = Shards(x9, shards.teacher, shards.gt, shards.alpha, shards.ks_teacher, shards.scene)
    base = TrainConfig(epochs=1, batch_size=2, base=4, levels=2, factor=FACTOR, loss="kl+ks+emd")
    train(shards4, shards4, tmp_path / "old", base, progress=False)
    src, _, _ = load_weights(tmp_path / "old" / "deepmend.json")
    cfg9 = TrainConfig(**{**base.__dict__, "channels": extra, "init": str(tmp_path / "old" / "deepmend.json")})
    net = build_net(cfg9).eval()
    w = net.state_dict()[FIRST_CONV]
    assert w.shape[1] == 9 and (w[:, 4:] == 0).all() and torch.equal(w[:, :4], src.state_dict()[FIRST_CONV])
    with torch.no_grad():
        new = net(torch.from_numpy(x9.astype(np.float32)))
        old = src(torch.from_numpy(x9[:, :4].astype(np.float32)))
    np.testing.assert_allclose(new.numpy(), old.numpy(), rtol=1e-5, atol=1e-5)
    dev = torch.device("cpu")
    a = evaluate(net, shards9.x, shards9.teacher, shards9.gt, cfg9, dev)  # the mask is channel 3, not the last
    b = evaluate(src, shards4.x, shards4.teacher, shards4.gt, base, dev)
    assert a == pytest.approx(b, rel=1e-5)
    train(shards9, shards9, tmp_path / "new", cfg9, progress=False)
    assert load_config(tmp_path / "new" / "deepmend.json")[0]["channels"] == list(extra)
    with pytest.raises(Exception, match="not the first"):
        build_net(TrainConfig(**{**cfg9.__dict__, "channels": ("edge",) + CHANNELS}))
    with pytest.raises(Exception, match="9 input channels"):
        train(shards9, shards9, tmp_path / "bad", base, progress=False)
