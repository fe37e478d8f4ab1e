"""DeepMEND inference benchmark: per-BS time split (features / network / post-processing),
runtimes compared (onnxruntime vs eager torch, channels-last vs not, batch 1 vs batched), and
maps per minute for a whole city — with the ratio against a reference-style per-BS pipeline
measured in the same process.

Reference-style pipeline (METHOD.md §5): inputs built with one KD-tree query per cell
(a Python loop over the 360,000 cells; timed on a sample of cells and scaled), and the
network run in eager torch at full resolution (600×600), batch 1.

    .venv/bin/python benchmarks/bench_deepmend.py [--city Lyon --operator Orange] [--n 0] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def timeit(fn, repeat: int = 3) -> float:
    """Best-of-``repeat`` wall time of ``fn()`` in seconds (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--country", default="FR")
    ap.add_argument("--city", default="Lyon")
    ap.add_argument("--operator", default="Orange")
    ap.add_argument("--n", type=int, default=0, help="BSs for the whole-city run (0 = every target)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--json", default=None, help="Also write the figures to this JSON file.")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from deepmend.models.deepmend import DeepMENDModel
    from deepmend.models.features import brute_force_channels
    from deepmend.scene import Scene

    res: dict = {"threads": args.threads, "scene": f"{args.country}/{args.city}/{args.operator}"}
    t0 = time.perf_counter()
    scene = Scene.from_catalog(args.country, args.city, args.operator)
    _ = scene.mask
    res["scene_s"] = time.perf_counter() - t0
    onnx = DeepMENDModel(args.weights, runtime="onnx", batch_size=args.batch, threads=args.threads)
    t0 = time.perf_counter()
    onnx.fit(scene)
    res["fit_s"] = time.perf_counter() - t0  # knn(5) on the lattice, once per deployment
    eager = DeepMENDModel(args.weights, runtime="torch", batch_size=args.batch, threads=args.threads).fit(scene)
    eager.features_ = onnx.features_
    sites = [int(i) for i in scene.targets[: args.batch]]
    f = onnx.factor_

    # --- stages, per BS ---------------------------------------------------------
    x, masks = onnx.features_.batch(sites, f)
    res["features_ms"] = timeit(lambda: onnx.features_.batch(sites, f)) / len(sites) * 1e3
    out = onnx.network(x)
    res["network_onnx_batched_ms"] = timeit(lambda: onnx.network(x)) / len(sites) * 1e3
    res["network_onnx_b1_ms"] = timeit(lambda: onnx.network(x[:1]))* 1e3
    res["network_torch_cl_batched_ms"] = timeit(lambda: eager.network(x)) / len(sites) * 1e3
    res["network_torch_cl_b1_ms"] = timeit(lambda: eager.network(x[:1])) * 1e3
    plain = DeepMENDModel(args.weights, runtime="torch", batch_size=args.batch, threads=args.threads).fit(scene)
    from deepmend.models.deepmend import TorchRunner

    plain.runner_ = TorchRunner(plain.net_, channels_last=False)
    res["network_torch_contiguous_batched_ms"] = timeit(lambda: plain.network(x)) / len(sites) * 1e3
    res["post_ms"] = timeit(lambda: onnx.postprocess(out, masks)) / len(sites) * 1e3

    # --- whole city, end to end (features + network + post + normalisation) --------
    todo = [int(i) for i in (scene.targets if args.n <= 0 else scene.targets[: args.n])]
    onnx.timings_ = {"features": 0.0, "network": 0.0, "post": 0.0, "maps": 0}
    t0 = time.perf_counter()
    for m in onnx.predict_many(todo):
        pass
    city_s = time.perf_counter() - t0
    res["city_bs"] = len(todo)
    res["city_s"] = city_s
    res["end_to_end_ms_per_bs"] = city_s / len(todo) * 1e3
    res["maps_per_minute"] = 60.0 * len(todo) / city_s
    res["city_split_ms_per_bs"] = {k: v / max(onnx.timings_["maps"], 1) * 1e3 for k, v in onnx.timings_.items() if k != "maps"}

    # --- reference-style per-BS pipeline in this process ----------------------------
    i = sites[0]
    cells = 3000
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 600, cells), rng.integers(0, 600, cells)
    win = scene.window(i)
    xs, ys = win.centers()

    def loop_inputs() -> None:  # the reference: one KD-tree query per cell, in Python
        for r, c in zip(rows, cols):
            scene.tree.query((xs[c], ys[r]), k=5)

    res["reference_inputs_ms"] = timeit(loop_inputs, repeat=1) * 360_000 / cells * 1e3
    full = torch.from_numpy(onnx.features_.batch([i], 1)[0])
    net = plain.net_

    def full_res() -> None:
        with torch.inference_mode():
            net(full)

    res["reference_network_full_res_b1_ms"] = timeit(full_res, repeat=1) * 1e3
    ref_total = res["reference_inputs_ms"] + res["reference_network_full_res_b1_ms"] + res["post_ms"]
    res["reference_per_bs_ms"] = ref_total
    res["speedup_vs_reference_style"] = ref_total / res["end_to_end_ms_per_bs"]
    vec_full = res["features_ms"] + res["reference_network_full_res_b1_ms"] + res["post_ms"]
    res["speedup_vs_vectorised_full_res_b1"] = vec_full / res["end_to_end_ms_per_bs"]
    print(json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in res.items()}, indent=1))
    print(f"\nDeepMEND end to end {res['end_to_end_ms_per_bs']:.1f} ms/BS ({res['maps_per_minute']:.0f} maps/min, {len(todo)} BSs of {res['scene']});"
          f" reference-style pipeline {ref_total:.0f} ms/BS → {res['speedup_vs_reference_style']:.0f}× faster;"
          f" vs vectorised inputs + full-res eager batch 1 ({vec_full:.0f} ms/BS): {res['speedup_vs_vectorised_full_res_b1']:.1f}×")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
