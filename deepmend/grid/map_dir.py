"""A directory of per-BS map files: file names from site ids, and resumable filling.

Shared by every command that writes one map per BS (``predict --all``, ``groundtruth
simulate --all``), so that all of them resume the same way: a valid existing file is
kept, a missing or damaged one is (re)computed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from deepmend.log import progress as tqdm

from deepmend.errors import DeepmendError
from deepmend.grid.diffusion_map import DiffusionMap
from deepmend.io import check_writable_dir


def safe_name(site_id: str) -> str:
    """A portable file name for a site id (ids may hold '/', spaces, accents …)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", site_id)[:120] or "site"


def write_map_dir(model, scene, out_dir: Path, fmt: str = "npz", desc: str | None = None, echo: Callable[[str], None] = print) -> tuple[int, int]:
    """Write every target's map to ``out_dir/<site>.<fmt>``; returns (already there, written).

    Files that load and validate are kept, so an interrupted run resumes where it
    stopped; each file is written atomically, so an interruption never leaves half a map.
    """
    check_writable_dir(out_dir)
    todo, done = [], 0
    for i in scene.targets:
        target = out_dir / f"{safe_name(str(scene.deployment.site_ids[i]))}.{fmt}"
        if target.exists():
            try:
                DiffusionMap.load(target)
                done += 1
                continue
            except DeepmendError:
                pass  # corrupt or partial from an earlier run: recompute
        todo.append((int(i), target))
    if done:
        echo(f"resuming: {done} maps already in {out_dir}, {len(todo)} to go")
    if todo:
        model.fit(scene)
        maps = model.predict_many([i for i, _ in todo])  # batched where the model supports it
        for (_, target), m in tqdm(zip(todo, maps), total=len(todo), desc=desc or f"{model.name} maps", unit="BS"):
            m.save(target)
    echo(f"wrote {len(todo)} maps to {out_dir} ({done + len(todo)} in all)")
    return done, len(todo)
