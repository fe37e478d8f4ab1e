"""DeepMEND student: a small U-Net maps position-only channels to a BS's diffusion map.

Pipeline per batch of BSs (METHOD.md §2, §5):

1. **features** — :class:`FeatureBuilder` slices the per-deployment knn rasters and
   computes the reference channels directly on the network's grid of each window
   (``factor`` 5 → 120×120 cells of 500 m, one value per block centre);
2. **network** — the U-Net on the coarse grid, batched, in onnxruntime (default: the
   faster on 2 cores, see benchmarks/RESULTS.md) or eager torch with channels-last;
3. **post-processing** — the coarse log-density is upsampled bilinearly to 100 m
   (interpolating the *log* keeps exponentially decaying tails smooth instead of
   blocky), exponentiated, masked at full resolution and normalised.

Why the network runs at 400 m: the maps it must reproduce are smooth at that scale
(the teacher's P(ℓ|i) is a power law of distances), it is 16× cheaper than 600×600,
and training fits in the 2-core budget. The cost at full resolution is measured in
docs/MODEL_CARD.md (KS of the teacher's own maps after the same down/up-sampling).

Weights: ``<name>.npz`` (the state dict as plain float arrays, read with
``allow_pickle=False`` — never pickle) and ``<name>.json`` (architecture, head,
factor, channels, training record and the SHA-256 of the ``.npz``). Anything missing,
corrupt or incompatible is an :class:`InputError` naming the file and the problem.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import warnings
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from deepmend.errors import InputError
from deepmend.grid.diffusion_map import DiffusionMap, finalize
from deepmend.models.base import DiffusionModel
from deepmend.models.features import CHANNELS, FeatureBuilder
from deepmend.scene import Scene

WEIGHTS_FORMAT = "deepmend-weights/1"
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "deepmend.json"
RUNTIMES = ("auto", "onnx", "torch")
#: BSs per network call: large enough to amortise per-call overhead, small enough
#: that a batch's full-resolution maps (B × 1.4 MB) stay in cache-friendly memory.
DEFAULT_BATCH = 8


# --- weights ----------------------------------------------------------------
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve_weights(path: str | Path | None) -> tuple[Path, Path]:
    """(config .json, arrays .npz) from a .json, a .npz or a directory holding deepmend.json."""
    p = Path(path) if path is not None else DEFAULT_WEIGHTS
    if p.is_dir():
        p = p / "deepmend.json"
    if p.suffix.lower() == ".npz":
        p = p.with_suffix(".json")
    elif p.suffix.lower() != ".json":
        raise InputError("weights must be a .json config (with its .npz beside it), a .npz, or a directory", file=str(p))
    if not p.is_file():
        raise InputError("weights config not found" + (" (the shipped weights are missing from this installation)" if path is None else ""), file=str(p))
    npz = p.with_suffix(".npz")
    if not npz.is_file():
        raise InputError("weights arrays not found (expected beside the config)", file=str(npz))
    return p, npz


def save_weights(state: dict, config: dict, path: str | Path) -> Path:
    """Write ``<path>.npz`` + ``<path>.json`` atomically; the JSON records the .npz checksum."""
    from deepmend.io import atomic_path

    path = Path(path)
    base = path.with_suffix("") if path.suffix in (".json", ".npz") else path / "deepmend"
    npz, js = base.with_suffix(".npz"), base.with_suffix(".json")
    arrays = {k: v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v) for k, v in state.items()}
    with atomic_path(npz) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    cfg = dict(config, format=WEIGHTS_FORMAT, sha256=sha256_file(npz))
    with atomic_path(js) as tmp:
        tmp.write_text(json.dumps(cfg, indent=1))
    return js


def load_weights(path: str | Path | None = None):
    """(UNet in eval mode, config dict, config path). Validates everything it reads."""
    import torch

    from deepmend.train.losses import LOSSES
    from deepmend.train.unet import UNet, UNetConfig

    js, npz = resolve_weights(path)
    try:
        cfg = json.loads(js.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"weights config is not valid JSON ({exc})", file=str(js)) from None
    if not isinstance(cfg, dict) or cfg.get("format") != WEIGHTS_FORMAT:
        raise InputError(f"incompatible weights config: format {cfg.get('format') if isinstance(cfg, dict) else None!r}, expected {WEIGHTS_FORMAT!r}", file=str(js))
    missing = {"arch", "loss", "factor", "channels", "sha256"} - set(cfg)
    if missing:
        raise InputError(f"weights config lacks {sorted(missing)}", file=str(js))
    if list(cfg["channels"]) != list(CHANNELS):
        raise InputError(f"incompatible weights: trained on channels {cfg['channels']}, this version computes {list(CHANNELS)}", file=str(js))
    if cfg["loss"] not in LOSSES or int(cfg["factor"]) not in (1, 2, 3, 4, 5, 6, 8, 10, 12):
        raise InputError(f"incompatible weights: head {cfg['loss']!r}, factor {cfg['factor']!r}", file=str(js))
    digest = sha256_file(npz)
    if digest != cfg["sha256"]:
        raise InputError(f"weights checksum mismatch: the file is corrupt or was changed (expected sha256 {cfg['sha256'][:12]}…, got {digest[:12]}…)", file=str(npz))
    try:
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:
        raise InputError(f"not a readable weights archive ({type(exc).__name__}: {exc})", file=str(npz)) from None
    try:
        net = UNet(UNetConfig(**cfg["arch"]))
    except TypeError as exc:
        raise InputError(f"incompatible architecture in weights config ({exc})", file=str(js)) from None
    ref = net.state_dict()
    bad = sorted(set(ref) ^ set(arrays))
    if bad:
        raise InputError(f"weights do not match the architecture {cfg['arch']}: {len(bad)} tensor name(s) differ, e.g. {bad[0]!r}", file=str(npz))
    for k, v in ref.items():
        if tuple(arrays[k].shape) != tuple(v.shape):
            raise InputError(f"weights do not match the architecture: {k} has shape {arrays[k].shape}, expected {tuple(v.shape)}", file=str(npz))
        if arrays[k].dtype.kind == "f" and not np.isfinite(arrays[k]).all():
            raise InputError(f"weights contain NaN or infinity in {k}", file=str(npz))
    net.load_state_dict({k: torch.from_numpy(np.array(arrays[k], dtype=ref[k].numpy().dtype)) for k in ref})
    net.eval()
    return net, cfg, js


# --- runtimes -----------------------------------------------------------------
class TorchRunner:
    """Eager torch, channels-last (NHWC convolutions are faster on CPU for few channels)."""

    def __init__(self, net, channels_last: bool = True) -> None:
        import torch

        self.torch = torch
        self.channels_last = channels_last
        self.net = net.to(memory_format=torch.channels_last) if channels_last else net

    def __call__(self, x: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            t = torch.from_numpy(x)
            if self.channels_last:
                t = t.contiguous(memory_format=torch.channels_last)
            return self.net(t).numpy()


def export_onnx(net, size: int) -> bytes:
    """The network as ONNX bytes (dynamic batch, fixed ``size``×``size`` input)."""
    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net.to(memory_format=torch.contiguous_format), (torch.zeros(1, len(CHANNELS), size, size),), buf, dynamo=False,
            input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=17,
        )
    return buf.getvalue()


class OnnxRunner:
    """onnxruntime on the exported graph (cached on disk by weights checksum)."""

    def __init__(self, net, cfg: dict, threads: int | None) -> None:
        import onnxruntime as ort
        import torch

        from deepmend.config import cache_dir

        size = 600 // int(cfg["factor"])
        path = cache_dir() / "onnx" / f"deepmend_{cfg['sha256'][:16]}_{size}.onnx"
        if path.is_file():
            model = path.read_bytes()
        else:
            model = export_onnx(net, size)
            from deepmend.io import atomic_path

            with atomic_path(path) as tmp:
                tmp.write_bytes(model)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or torch.get_num_threads())
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        except Exception:  # a damaged cache: re-export once
            model = export_onnx(net, size)
            path.write_bytes(model)
            self.session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"x": np.ascontiguousarray(x, dtype=np.float32)})[0]


# --- the model ------------------------------------------------------------------
class DeepMENDModel(DiffusionModel):
    name = "deepmend"
    label = "DeepMEND (student U-Net)"
    description = "U-Net whose inputs are distances to the BS and its 5 nearest sites only; default weights trained on simulated ground truth (docs/MODEL_CARD.md)."

    def __init__(self, weights: str | Path | None = None, runtime: str = "auto", batch_size: int = DEFAULT_BATCH, threads: int | None = None) -> None:
        if runtime not in RUNTIMES:
            raise InputError(f"unknown runtime; valid: {', '.join(RUNTIMES)}", column="runtime", value=runtime)
        self.net, self.config, self.weights_path = load_weights(weights)
        self.factor = int(self.config["factor"])
        self.kind = str(self.config["loss"])
        self.batch_size = max(1, int(batch_size))
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        self.threads = threads
        if runtime == "auto":
            runtime = "onnx" if _has_onnxruntime() else "torch"
        self.runtime = runtime
        self.runner = OnnxRunner(self.net, self.config, threads) if runtime == "onnx" else TorchRunner(self.net)
        self.timings_ = {"features": 0.0, "network": 0.0, "post": 0.0, "maps": 0}

    def params(self) -> dict:
        return {"weights": self.weights_path.name, "sha256": self.config["sha256"][:12], "runtime": self.runtime, "factor": self.factor}

    def _fit(self, scene: Scene) -> None:
        self.features_ = FeatureBuilder(scene)

    # --- batched core ---------------------------------------------------------
    def network(self, x: np.ndarray) -> np.ndarray:
        """Raw coarse output (B, S, S) for coarse inputs (B, 4, S, S)."""
        return self.runner(x)

    def postprocess(self, out: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """Coarse raw output → full-resolution unnormalised weights (B, 600, 600), 0 off-mask."""
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            o = torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))[:, None]
            if self.factor > 1:
                o = F.interpolate(o, scale_factor=float(self.factor), mode="bilinear", align_corners=False)
            o = o[:, 0]
            m = torch.from_numpy(masks)
            if self.kind == "reference":
                from deepmend.train.losses import reference_prob

                p = reference_prob(o)
            else:  # log-density: subtract the per-map max over valid cells before exp
                top = torch.where(m, o, torch.full_like(o, -torch.inf)).flatten(1).amax(1)
                p = torch.exp(o - torch.nan_to_num(top, neginf=0.0)[:, None, None])
            return torch.where(m, p, torch.zeros_like(p)).numpy()

    def raw_batch(self, sites: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(unnormalised weights (B, 600, 600), masks) of ``sites``; accumulates timings."""
        t0 = time.perf_counter()
        x, masks = self.features_.batch(sites, self.factor)
        t1 = time.perf_counter()
        out = self.network(x)
        t2 = time.perf_counter()
        w = self.postprocess(out, masks)
        t3 = time.perf_counter()
        tm = self.timings_
        tm["features"] += t1 - t0
        tm["network"] += t2 - t1
        tm["post"] += t3 - t2
        tm["maps"] += len(sites)
        return w, masks

    def _raw(self, i: int) -> np.ndarray:
        return self.raw_batch([i])[0][0]

    def predict_many(self, sites: Iterable[int | str] | None = None) -> Iterator[DiffusionMap]:
        """Maps of ``sites`` (default: the scene's targets), computed ``batch_size`` BSs per network call."""
        scene = self.scene_
        idx = [scene.site_index(s) for s in (scene.targets if sites is None else sites)]
        for a in range(0, len(idx), self.batch_size):
            chunk = idx[a : a + self.batch_size]
            t0 = time.perf_counter()
            w, masks = self.raw_batch(chunk)
            probs = [finalize(w[b], masks[b], scene.site_rc(i)) for b, i in enumerate(chunk)]
            ms = (time.perf_counter() - t0) * 1e3 / len(chunk)
            for b, i in enumerate(chunk):
                meta = {"params": self.params(), "inference_ms": round(ms, 3), "batch": len(chunk), "members": list(scene.deployment.members[i])}
                yield DiffusionMap(scene.window(i), probs[b], masks[b], str(scene.deployment.site_ids[i]), self.name, meta)




def _has_onnxruntime() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True
