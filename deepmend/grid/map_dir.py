"""A directory of per-BS map files: unique file names from site ids, and resumable filling.

Shared by every command that writes one map per BS (``predict --all``, ``groundtruth
simulate --all``), so that all of them resume the same way: a valid existing file is
kept, a missing or damaged one is (re)computed — but only when the directory was filled
by the same run: the same model and parameters over the same deployment and region
(:func:`run_fingerprint`, kept in ``.deepmend-run.json``). Anything else is refused with
a sentence that says what changed, never reported as "0 to go" over stale maps.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from deepmend.errors import DeepmendError, InputError
from deepmend.grid.diffusion_map import DiffusionMap
from deepmend.io import atomic_path, check_writable_dir, remove_stale_temporaries
from deepmend.log import progress as tqdm

RUN_FILE = ".deepmend-run.json"


def safe_name(site_id: str) -> str:
    """A portable file name for a site id (ids may hold '/', spaces, accents …)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", site_id)[:120] or "site"


def unique_names(site_ids: Iterable[str]) -> dict[str, str]:
    """A distinct file stem per site id: :func:`safe_name`, plus a short hash of the id when two ids
    clean to the same name (``Lyon Part-Dieu`` / ``Lyon_Part-Dieu``) or case-fold together."""
    ids = [str(s) for s in site_ids]
    base = {s: safe_name(s) for s in ids}
    counts: dict[str, int] = {}
    for s in ids:
        counts[base[s].lower()] = counts.get(base[s].lower(), 0) + 1
    out = {}
    for s in ids:
        stem = base[s]
        if counts[stem.lower()] > 1:
            stem = f"{stem[:110]}-{hashlib.sha256(s.encode()).hexdigest()[:8]}"
        out[s] = stem
    return out


# --- what a directory of maps was made from ----------------------------------------------
def deployment_digest(dep) -> str:
    """SHA-256 of a deployment's content: ids, operators, positions (to the centimetre), CRS, heights, azimuths.

    Independent of the row order (sites sorted by id, merged members sorted): a list with its
    rows swapped or reversed is the same deployment, and a resumed run keeps its maps."""
    ids = np.asarray(dep.site_ids).astype(str)
    order = np.lexsort((np.asarray(dep.operator).astype(str), ids))
    h = hashlib.sha256()
    h.update(str(dep.crs).encode())
    for arr in (ids[order], np.asarray(dep.operator).astype(str)[order]):
        h.update("\x1f".join(arr.tolist()).encode())
    h.update(np.round(np.column_stack([dep.x, dep.y])[order], 2).astype(np.float64).tobytes())
    h.update(np.nan_to_num(np.asarray(dep.height_m, float), nan=-1.0)[order].tobytes())
    h.update(json.dumps([list(dep.azimuths[i]) for i in order]).encode())
    h.update(json.dumps([sorted(map(str, dep.members[i])) for i in order]).encode())
    return h.hexdigest()


def region_digest(region) -> str:
    """SHA-256 of a region's WGS84 geometry (WKB)."""
    import shapely

    return hashlib.sha256(shapely.to_wkb(shapely.normalize(region.geometry), output_dimension=2)).hexdigest()


def run_fingerprint(model_name: str, params: dict, scenes: Iterable, token: str | None = None) -> dict:
    """What a directory (or store) of maps depends on: model, its parameters, the model's
    ``cache_token`` (its settings plus the checksum of any file it reads, e.g. DeepMEND's weights),
    and per network the content hash of the deployment and of the region, with the sites'
    positions for the diff."""
    nets = []
    for sc in scenes:
        dep = sc.deployment
        nets.append({
            "name": str(sc.name), "deployment": deployment_digest(dep), "region": region_digest(sc.mask_region),
            "sites": {str(dep.site_ids[i]): [round(float(dep.x[i]), 1), round(float(dep.y[i]), 1)] for i in sc.targets} if len(dep) <= 50_000 else {},
            "crs": str(dep.crs),
        })
    return {"version": 1, "model": str(model_name), "params": json.loads(json.dumps(params, default=str)), "token": token, "networks": nets}


def _token_change(old: str | None, new: str | None) -> str | None:
    """A phrase for a changed model token (None when equal, or when the old run predates tokens)."""
    if old is None or new is None or old == new:
        return None
    try:
        a, b = json.loads(old), json.loads(new)
    except (TypeError, json.JSONDecodeError):
        return "the model's settings changed"
    if isinstance(a, dict) and isinstance(b, dict) and a.get("sha256") != b.get("sha256"):
        return f"other weights (sha256 {str(a.get('sha256'))[:12]} → {str(b.get('sha256'))[:12]})"
    return "the model's settings changed"


def fingerprint_changes(old: dict, new: dict) -> list[str]:
    """What differs between two fingerprints, as short phrases (empty when they match)."""
    out = []
    if old.get("model") != new.get("model"):
        out.append(f"model {old.get('model')} → {new.get('model')}")
    elif old.get("params") != new.get("params"):
        out.append(f"parameters {json.dumps(old.get('params'), sort_keys=True)} → {json.dumps(new.get('params'), sort_keys=True)}")
    else:
        token = _token_change(old.get("token"), new.get("token"))
        if token:
            out.append(token)
    o_sites = {k: v for n in old.get("networks", []) for k, v in n.get("sites", {}).items()}
    n_sites = {k: v for n in new.get("networks", []) for k, v in n.get("sites", {}).items()}
    moved = sorted(k for k in o_sites.keys() & n_sites.keys() if np.hypot(o_sites[k][0] - n_sites[k][0], o_sites[k][1] - n_sites[k][1]) > 0.5)
    added, removed = sorted(n_sites.keys() - o_sites.keys()), sorted(o_sites.keys() - n_sites.keys())

    def few(xs):
        return ", ".join(xs[:3]) + (" …" if len(xs) > 3 else "")

    if moved:
        k = moved[0]
        d = float(np.hypot(o_sites[k][0] - n_sites[k][0], o_sites[k][1] - n_sites[k][1]))
        out.append(f"{len(moved)} site(s) moved ({few(moved)}; {k} by {d:,.0f} m)")
    if added:
        out.append(f"{len(added)} site(s) added ({few(added)})")
    if removed:
        out.append(f"{len(removed)} site(s) removed ({few(removed)})")
    o_dep = sorted(n["deployment"] for n in old.get("networks", []))
    n_dep = sorted(n["deployment"] for n in new.get("networks", []))
    if o_dep != n_dep and not (moved or added or removed):
        out.append("the deployment changed (neighbours, operators, heights or azimuths)")
    if sorted(n["region"] for n in old.get("networks", [])) != sorted(n["region"] for n in new.get("networks", [])):
        out.append("the region changed")
    return out


def check_resume(out_dir: Path, fingerprint: dict) -> None:
    """Refuse to fill ``out_dir`` when it holds maps of another run, saying what changed.

    A directory with map files but no fingerprint (an older version, or foreign files) is
    checked through the maps' own headers: another model is refused too.

    Parameters
    ----------
    out_dir : Path
        The output directory (may be empty).
    fingerprint : dict
        :func:`run_fingerprint` of the run about to write.

    Raises
    ------
    InputError
        If ``out_dir`` holds maps of another model, parameters, deployment or region.
    """
    run = out_dir / RUN_FILE
    if run.exists():
        try:
            old = json.loads(run.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = None
        if old is not None:
            changes = fingerprint_changes(old, fingerprint)
            if changes:
                raise InputError(f"holds maps of another run ({'; '.join(changes)}): write to a new directory, or delete this one to recompute",
                                 file=str(out_dir))
            return
    for f in sorted(out_dir.glob("*.npz"))[:5] + sorted(out_dir.glob("*.tif"))[:5]:
        try:
            m = DiffusionMap.load(f)
        except DeepmendError:
            continue
        params = (m.meta or {}).get("params") or {}
        if m.model != fingerprint["model"] or json.loads(json.dumps(params, default=str)) != fingerprint["params"]:
            raise InputError(f"holds maps of model {m.model} {json.dumps(params, sort_keys=True)} (e.g. {f.name}), not {fingerprint['model']} "
                             f"{json.dumps(fingerprint['params'], sort_keys=True)}: write to a new directory, or delete this one", file=str(out_dir))


def write_map_dir(model, scene, out_dir: Path, fmt: str = "npz", desc: str | None = None, echo: Callable[[str], None] = print) -> tuple[int, int]:
    """Write every target's map to ``out_dir/<site>.<fmt>``; returns (already there, written).

    ``scene`` is a Scene or a list of them (one per operator's network); each is mapped
    part by part (:meth:`deepmend.scene.Scene.parts`), so memory follows the windows, not
    the extent of the list. Files that load and validate are kept, so an interrupted run
    resumes where it stopped, after :func:`check_resume` made sure they belong to this run;
    each file is written atomically, so an interruption never leaves half a map. Every
    site gets its own file (:func:`unique_names`); the count reported is the files written.
    """
    scenes = list(scene) if isinstance(scene, (list, tuple)) else [scene]
    check_writable_dir(out_dir)
    fp = run_fingerprint(model.name, model.params(), scenes, model.cache_token())
    check_resume(out_dir, fp)
    gone = remove_stale_temporaries(out_dir, recursive=False)  # a killed run's half-written files
    if gone and echo:
        echo(f"removed {gone} temporary file(s) an interrupted run left in {out_dir}")
    with atomic_path(out_dir / RUN_FILE) as tmp:
        Path(tmp).write_text(json.dumps(fp), encoding="utf-8")
    names = unique_names(str(s) for sc in scenes for s in sc.deployment.site_ids[sc.targets])
    done = todo_n = 0
    todo_by_part = []
    for sc in scenes:
        for part in sc.parts():
            todo = []
            for i in part.targets:
                sid = str(part.deployment.site_ids[i])
                target = out_dir / f"{names[sid]}.{fmt}"
                if target.exists():
                    try:
                        if DiffusionMap.load(target).site_id == sid:
                            done += 1
                            continue
                    except DeepmendError:
                        pass  # corrupt or partial from an earlier run: recompute
                todo.append((int(i), target))
            if todo:
                todo_by_part.append((part, todo))
                todo_n += len(todo)
    if done:
        echo(f"resuming: {done} maps already in {out_dir}, {todo_n} to go")
    written = 0
    with tqdm(total=todo_n, desc=desc or f"{model.name} maps", unit="BS") as bar:
        for part, todo in todo_by_part:
            model.fit(part)
            for (_, target), m in zip(todo, model.predict_many([i for i, _ in todo])):  # batched where the model supports it
                m.save(target)
                written += 1
                bar.update(1)
    echo(f"wrote {written} maps to {out_dir} ({done + written} in all)")
    return done, written
