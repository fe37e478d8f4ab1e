"""Cost of DeepMEND's optional input channels (issue 19 ablation) against the reference set, same run.

Per-deployment work (site-count convolutions, edge distance transform, Voronoi raster) once, then
per BS: the features on the 120×120 grid (factor 5) with the reference 4 channels and with all 9,
and the network (the shipped architecture, random weights, onnxruntime, batch 8) with 4 and 9
input channels. CPU time of the process, 1 thread (the machine is shared), best of ``--repeat``.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_channels.py [--city Lyon --operator Orange]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

ALL = ("near1", "near2", "mean5", "mask", "dens1", "dens3", "dens10", "edge", "own")


def best(fn, repeat: int) -> float:
    """Best-of-``repeat`` CPU time (s) of ``fn()`` after one warm-up call."""
    fn()
    out = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        out = min(out, time.process_time() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--city", default="Lyon")
    ap.add_argument("--operator", default="Orange")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from deepmend.models.deepmend import OnnxRunner, export_onnx
    from deepmend.models.deepmend.unet import UNet, UNetConfig
    from deepmend.models.features import CHANNELS, FeatureBuilder
    from deepmend.scene import Scene

    scene = Scene.from_catalog("FR", args.city, args.operator)
    fb = FeatureBuilder(scene)
    sites = [int(i) for i in scene.targets[:8]]
    f = 5
    fb.batch(sites[:1], f)  # reference rasters
    t0 = time.process_time()
    fb.batch(sites[:1], f, ALL)
    setup = time.process_time() - t0
    ref = best(lambda: fb.batch(sites, f), args.repeat) / len(sites)
    ext = best(lambda: fb.batch(sites, f, ALL), args.repeat) / len(sites)
    net_ms = {}
    for ch in (CHANNELS, ALL):
        torch.manual_seed(0)
        net = UNet(UNetConfig(in_channels=len(ch), base=16, levels=4)).eval()
        run = OnnxRunner(export_onnx(net, 600 // f), {"factor": f, "sha256": "x" * 64, "channels": list(ch)}, 1)
        x, _ = fb.batch(sites, f, ch)
        net_ms[len(ch)] = best(lambda: run(x), args.repeat) / len(sites) * 1e3
    print(f"FR/{args.city}/{args.operator}: lattice {scene.lattice.shape}, {len(scene.deployment)} sites")
    print(f"per-deployment work of the 5 extra channels (once): {setup:.2f} s CPU")
    print(f"features per BS, factor 5: reference 4 channels {ref * 1e3:.3f} ms, all 9 {ext * 1e3:.3f} ms (ratio {ext / ref:.2f}×, +{(ext - ref) * 1e3:.3f} ms)")
    print(f"network per BS, onnxruntime batch 8: 4 inputs {net_ms[4]:.2f} ms, 9 inputs {net_ms[9]:.2f} ms (ratio {net_ms[9] / net_ms[4]:.2f}×)")


if __name__ == "__main__":
    main()
