"""Calibrate the sharpness of a trained student: scale its output log-density by a factor k.

The student's head gives a log-density z per cell and P(ℓ|i) ∝ exp(z) (METHOD.md §2). A
student trained with a KL term on a *family* of worlds learns the family's mixture — the
mean of maps that differ in how far their users reach — whose tails are wider than any one
world's; the EMD punishes that far mass (issue 19). Raising the map to a power k,

    P_k(ℓ|i) ∝ P(ℓ|i)^k = exp(k·z(ℓ)),

is temperature scaling of the output (Guo et al., "On calibration of modern neural networks",
ICML 2017, §4.2, with T = 1/k): one scalar fitted on held-out data, the shape's ordering kept,
k > 1 drawing mass in, k < 1 spreading it. Because z is the output of the network's final 1×1
convolution and the bilinear upsampling that follows is linear, ``P^k`` is exactly what the
network gives with that convolution's weight and bias multiplied by k, so a calibrated student
is an ordinary weights file: same architecture, same inference path, same cost.

k is chosen on the second ground truth at the validation city (``python -m deepmend.train.choose
--truth sim2``, docs/MODEL_CARD.md), never on a test city::

    python -m deepmend.train.calibrate --weights RUN/deepmend.json --scale 1.3 --out RUN_k1.3/deepmend.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

#: The state-dict entries of the network's final 1×1 convolution (its output is z).
HEAD_KEYS = ("head.weight", "head.bias")


def scale_output(weights: str | Path, k: float, out: str | Path, note: str = "", overwrite: bool = False) -> Path:
    """Write a copy of ``weights`` whose maps are P(ℓ|i)^k renormalised (temperature 1/k).

    Temperature scaling (Guo et al., ICML 2017) folded into the final 1×1 convolution: its
    weight and bias are multiplied by ``k``; every other array is copied unchanged.

    Parameters
    ----------
    weights : str or Path
        A weights ``.json`` (its ``.npz`` beside it) with a log-density head and no envelope.
    k : float
        The factor, > 0 (1 returns an identical network).
    out : str or Path
        The ``.json`` to write (its ``.npz`` beside it; directories created).
    note : str, optional
        Recorded in the config's ``calibration`` entry (e.g. how ``k`` was chosen).
    overwrite : bool, default False
        Replace an existing ``out`` (never one of the weights shipped with the package).

    Returns
    -------
    Path
        The written ``.json``; its config gains ``calibration = {"logit_scale": k, "from":
        <source sha256>, "note": note}`` (a further scaling multiplies ``logit_scale``).

    Raises
    ------
    deepmend.errors.InputError
        ``k`` not a positive finite number; weights with the reference head (p = 10^(−1/y)
        is not a log-density) or with the radial envelope (its log-envelope is added after
        the head, so scaling the head alone would not give P^k); weights that fail to load; an
        ``out`` inside the package's weights folder, or an existing one without ``overwrite``.
    """
    from deepmend.errors import InputError
    from deepmend.models.deepmend import DEFAULT_WEIGHTS, load_weights, save_weights

    if not (np.isfinite(k) and k > 0):
        raise InputError("the output scale must be a positive number", column="--scale", value=str(k))
    target = Path(out)
    target = target.with_suffix(".json") if target.suffix in (".json", ".npz") else target / "deepmend.json"
    if target.resolve().parent == DEFAULT_WEIGHTS.parent.resolve():
        raise InputError("refusing to write into the package's shipped weights folder; choose another --out", file=str(out))
    if not overwrite and (target.exists() or target.with_suffix(".npz").exists()):
        raise InputError("exists; choose another --out or pass --force to replace it", file=str(target))
    net, cfg, js = load_weights(weights)
    if cfg["loss"] == "reference":
        raise InputError("the reference head (p = 10^(-1/y)) is not a log-density; only kl/kl+ks/kl+ks+emd weights can be scaled", file=str(js))
    if cfg["arch"].get("envelope"):
        raise InputError("weights with a radial envelope cannot be scaled at the head alone", file=str(js))
    state = {name: t.detach().clone() for name, t in net.state_dict().items()}
    for name in HEAD_KEYS:
        state[name] = state[name] * float(k)
    prev = dict(cfg.get("calibration") or {})
    config = {key: v for key, v in cfg.items() if key not in ("sha256", "format", "onnx_sha256")}
    config["calibration"] = {"logit_scale": float(k) * float(prev.get("logit_scale", 1.0)), "from": cfg["sha256"], "note": note}
    return save_weights(state, config, out)


def main() -> None:
    """Command-line entry (``python -m deepmend.train.calibrate``): see the module docstring.

    Raises
    ------
    SystemExit
        Exit code 2 with one line on stderr when :func:`scale_output` refuses its input.
    """
    from deepmend.errors import InputError

    ap = argparse.ArgumentParser(prog="python -m deepmend.train.calibrate", description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True, help="Weights to scale: a .json (its .npz beside it), a folder, or a shipped name (deepmend, v4, softlabels).")
    ap.add_argument("--scale", required=True, type=float, help="k: the maps become P^k renormalised (k > 1 sharper).")
    ap.add_argument("--out", required=True, type=Path, help="The .json to write (its .npz beside it) or a folder; never the shipped weights.")
    ap.add_argument("--note", default="", help="Recorded in the new config's calibration entry (e.g. how k was chosen).")
    ap.add_argument("--force", action="store_true", help="Replace an existing --out.")
    args = ap.parse_args()
    try:
        js = scale_output(args.weights, args.scale, args.out, args.note, overwrite=args.force)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(json.dumps({"weights": str(js), "logit_scale": json.loads(js.read_text())["calibration"]["logit_scale"]}))


if __name__ == "__main__":
    main()
