"""Write the ground-truth maps of a seeded sample of a scene's BSs to one .npz (for comparing simulator versions).

    PYTHONPATH=<checkout> python benchmarks/gt_sample_maps.py FR/Lyon/Orange 40 out.npz [SEED]

Run with ``PYTHONPATH`` pointing at the checkout whose simulator is wanted (this one, or an older
commit's worktree); ``benchmarks/check_groundtruth_reach.py --versus out.npz`` compares.
"""

from __future__ import annotations

import sys

import numpy as np


def main() -> None:
    from deepmend.groundtruth.simulator import GroundTruthSimulator
    from deepmend.models.base import sample_sites
    from deepmend.scene import Scene

    from deepmend.groundtruth.config import SimulatorConfig

    spec, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0  # another seed: the spread between two draws of one version
    scene = Scene.from_catalog(*spec.split("/"))
    model = GroundTruthSimulator(SimulatorConfig(seed=seed)).fit(scene)
    sites = sample_sites(scene, n, seed=0)
    maps = {str(scene.deployment.site_ids[i]): model.predict(int(i)).prob for i in sites}
    np.savez_compressed(out, **maps)


if __name__ == "__main__":
    main()
