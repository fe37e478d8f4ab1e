"""DeepMEND inference benchmark: per-BS time split (features / network / post-processing) of this
version against the previous one in the same process (inputs at 100 m then block-averaged, and the
100 m post-processing of every map; now the inputs are computed on the network's grid and the
post-processing is lazy: a store keeps the network's output),
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


CLOCK = time.perf_counter
REPEAT = 3


def timeit(fn, repeat: int | None = None) -> float:
    """Best-of-``repeat`` time of ``fn()`` in seconds (after one warm-up call), on ``CLOCK``:
    wall time, or with ``--cpu`` the process's CPU time (all threads), which a machine shared
    with other work inflates far less than wall time."""
    fn()
    best = float("inf")
    for _ in range(repeat or REPEAT):
        t0 = CLOCK()
        fn()
        best = min(best, CLOCK() - t0)
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
    ap.add_argument("--cpu", action="store_true", help="time with the process CPU clock (contention-free cost; use --threads 1)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    global CLOCK, REPEAT
    REPEAT = args.repeat
    if args.cpu:
        CLOCK = time.process_time
    torch.set_num_threads(args.threads)

    from deepmend.models.deepmend import DeepMENDModel
    from deepmend.models.features import block_mean, brute_force_channels
    from deepmend.scene import Scene

    res: dict = {"threads": args.threads, "clock": "cpu" if args.cpu else "wall", "scene": f"{args.country}/{args.city}/{args.operator}"}
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

    def old_features():  # up to step 15: the 100 m channels, then block means
        fb = onnx.features_
        xo = np.empty_like(x)
        for b, i in enumerate(sites):
            xo[b] = block_mean(fb.window(i)[0], f)
        return xo

    res["features_old_ms"] = timeit(old_features) / len(sites) * 1e3
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
    rc = [scene.site_rc(i) for i in sites]
    res["post_finalize_ms"] = timeit(lambda: onnx.maps_from_coarse(out, masks, rc)) / len(sites) * 1e3
    # one batch of BSs, same run: the previous pipeline (old features + network + 100 m maps) vs this one
    # (features on the network's grid + network; the 100 m map only when it is output)
    def old_post(out):  # up to step 15: torch bilinear upsampling + exp + mask, then finalize per map
        import torch.nn.functional as F

        from deepmend.grid.diffusion_map import finalize

        with torch.inference_mode():
            o = F.interpolate(torch.from_numpy(out)[:, None], scale_factor=float(f), mode="bilinear", align_corners=False)[:, 0]
            m = torch.from_numpy(masks)
            top = torch.where(m, o, torch.full_like(o, -torch.inf)).flatten(1).amax(1)
            w = torch.where(m, torch.exp(o - top[:, None, None]), torch.zeros_like(o)).numpy()
        return [finalize(w[b], masks[b], rc[b]) for b in range(len(w))]

    res["post_old_ms"] = timeit(lambda: old_post(out)) / len(sites) * 1e3
    res["old_pipeline_ms"] = timeit(lambda: old_post(onnx.network(old_features()))) / len(sites) * 1e3
    res["new_compute_ms"] = timeit(lambda: onnx.coarse_batch(sites)) / len(sites) * 1e3
    res["new_with_maps_ms"] = timeit(lambda: onnx.maps_from_coarse(*onnx.coarse_batch(sites), rc)) / len(sites) * 1e3
    res["speedup_compute_vs_old"] = res["old_pipeline_ms"] / res["new_compute_ms"]

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
    print(f"\nsame run, per BS: previous pipeline {res['old_pipeline_ms']:.1f} ms (features {res['features_old_ms']:.1f}, post {res['post_old_ms']:.1f}); "
          f"now {res['new_compute_ms']:.1f} ms to the network's output (features {res['features_ms']:.2f}, network {res['network_onnx_batched_ms']:.1f}) "
          f"= {res['speedup_compute_vs_old']:.1f}×; {res['new_with_maps_ms']:.1f} ms with the 100 m maps (post {res['post_finalize_ms']:.1f})")
    print(f"\nDeepMEND end to end {res['end_to_end_ms_per_bs']:.1f} ms/BS ({res['maps_per_minute']:.0f} maps/min, {len(todo)} BSs of {res['scene']});"
          f" reference-style pipeline {ref_total:.0f} ms/BS → {res['speedup_vs_reference_style']:.0f}× faster;"
          f" vs vectorised inputs + full-res eager batch 1 ({vec_full:.0f} ms/BS): {res['speedup_vs_vectorised_full_res_b1']:.1f}×")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
