"""Inference cost of the issue-19 ablation networks against the shipped one, same run.

End to end per BS with :meth:`DeepMENDModel.predict_many` (features on the network's grid, the
network in onnxruntime, post-processing to normalised 100 m maps) for each weights file given, on
the same BSs, CPU time of the process with 1 thread (the machine is shared), best of ``--repeat``;
ratios against the first weights.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_ablation_cost.py \\
        --weights shipped=deepmend/weights/deepmend.json --weights grid200m=.cache/student/runs/rF2/deepmend.json
"""

from __future__ import annotations

import argparse

from bench_channels import best  # best-of-n CPU time after a warm-up (same script folder)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--city", default="Lyon")
    ap.add_argument("--operator", default="Orange")
    ap.add_argument("--n", type=int, default=16, help="BSs per pass")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--weights", action="append", required=True, help="NAME=WEIGHTS.json (repeatable; the first is the baseline)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from deepmend.models.deepmend import DeepMENDModel
    from deepmend.scene import Scene

    scene = Scene.from_catalog("FR", args.city, args.operator)
    sites = [int(i) for i in scene.targets[: args.n]]
    rows = []
    for spec in args.weights:
        name, path = spec.split("=", 1)
        model = DeepMENDModel(path, runtime="onnx", batch_size=8).fit(scene)
        ms = best(lambda: [m for m in model.predict_many(sites)], args.repeat) / len(sites) * 1e3
        rows.append((name, model.params(), ms))
    base = rows[0][2]
    print(f"FR/{args.city}/{args.operator}, {len(sites)} BSs, end to end to normalised 100 m maps, CPU ms per BS (1 thread, best of {args.repeat})")
    for name, params, ms in rows:
        print(f"{name}: {ms:.2f} ms per BS ({ms / base:.2f}× {rows[0][0]})  {params}")


if __name__ == "__main__":
    main()
