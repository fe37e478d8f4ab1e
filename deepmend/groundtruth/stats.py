"""Realism report: how simulated (or real) ground truth compares with the published targets.

Every figure is computed like the targets of issue 8 (:data:`TARGETS`: three real BSs of a
French operator, METHOD.md §4, docs/GROUNDTRUTH.md): on the central 40 km × 40 km of the
BS's window (the part the authors' figures show), with the mass renormalised there. The
statistics are those of :mod:`deepmend.metrics` (METHOD.md §3: radii of mass, mass in the
Voronoi cell, anisotropy, 2-D KS of Peacock 1983 / Fasano & Franceschini 1987), and the
best-fit α is that of the probabilistic model of Traag et al. (2011).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepmend.grid.diffusion_map import DiffusionMap
from deepmend.scene import Scene

CROP = slice(100, 500)  # central 400×400 cells of a 600×600 window
ALPHAS = (0.5, 0.75, 1.0, 1.15, 1.3, 1.5, 1.75, 2.0, 2.5, 3.0, 5.0, 10.0)

#: Issue 8's targets: three real BSs of a French operator (name, r50, r90, mass in Voronoi, KS to Voronoi, anisotropy).
TARGETS = (("A", 3.1, 9.5, 0.15, 0.63, 1.14), ("B", 3.9, 14.8, 0.30, 0.51, 1.38), ("C", 1.0, 7.7, 0.39, 0.41, 1.75))
TARGET_RANGES = {"r50_km": (1.0, 4.0), "r90_km": (7.0, 15.0), "mass_in_voronoi": (0.15, 0.40), "ks_to_voronoi": (0.40, 0.65), "anisotropy": (1.1, 1.8)}
COLUMNS = ("r50_km", "r90_km", "mass_in_voronoi", "frac_above_1e-7_peak", "anisotropy", "ks_to_voronoi")


@dataclass
class MapStats:
    """The realism figures of one map.

    Parameters
    ----------
    site_id : str
        The BS.
    area : str
        Its area type ("urban", "suburban", "rural" or "" when unknown).
    values : dict
        :data:`COLUMNS` → value (radii in km, masses and KS as fractions, anisotropy ≥ 1).
    """
    site_id: str
    area: str
    values: dict


def _crop_norm(p: np.ndarray) -> np.ndarray:
    c = np.asarray(p, dtype=np.float64)[CROP, CROP]
    s = c.sum()
    return c / s if s > 0 else c


def map_stats(m: DiffusionMap, scene: Scene, i: int, area: str = "") -> MapStats:
    """The realism figures of one map of ``scene``'s site ``i``.

    Parameters
    ----------
    m : DiffusionMap
        A north-up map of site ``i`` (its lattice-order view is used, like the scene's arrays).
    scene : Scene
        The scene the map belongs to.
    i : int
        Site index.
    area : str, optional
        Area type recorded with the figures.

    Returns
    -------
    MapStats
        r50/r90 (km) about the BS, mass in its Voronoi cell, fraction of cells above 1e-7 of
        the peak, anisotropy and KS to the Voronoi map, all on the central 40 km.
    """
    from deepmend.metrics import anisotropy, ks2d, mass_inside, radii_of_mass

    w = m.window
    p = _crop_norm(m.lattice_prob)  # lattice order (row 0 = south), like the scene's arrays
    mask = m.lattice_mask
    valid = mask[CROP, CROP]
    rs, cs = scene.slices(i)
    vor = (scene.nearest[rs, cs] == i) & mask
    q = _crop_norm(vor.astype(np.float64))
    x, y = float(scene.deployment.x[i]), float(scene.deployment.y[i])
    centre = ((y - w.bottom) / w.res - CROP.start, (x - w.left) / w.res - CROP.start)
    r50, r90 = radii_of_mass(p, centre, [0.5, 0.9], res_m=w.res)
    peak = float(p.max())
    vals = {
        "r50_km": float(r50),
        "r90_km": float(r90),
        "mass_in_voronoi": mass_inside(p, vor[CROP, CROP]),
        "frac_above_1e-7_peak": float(((p > 1e-7 * peak) & valid).sum() / max(valid.sum(), 1)),
        "anisotropy": anisotropy(p),
        "ks_to_voronoi": ks2d(p, q) if q.sum() > 0 else float("nan"),
    }
    return MapStats(str(scene.deployment.site_ids[i]), area, vals)


def best_alpha(maps: list[tuple[DiffusionMap, int]], scene: Scene, alphas: tuple[float, ...] = ALPHAS) -> list[dict]:
    """Per map, the probabilistic model's KS to it for each α (cropped like the targets).

    Parameters
    ----------
    maps : list of (DiffusionMap, int)
        Maps and their site indices in ``scene``.
    scene : Scene
        The scene.
    alphas : tuple of float, default ALPHAS
        The α tried.

    Returns
    -------
    list of dict
        Per map: ``site_id``, the best ``alpha``, its ``ks`` and ``ks_by_alpha``.
    """
    from deepmend.metrics import ks2d
    from deepmend.models.probabilistic import denominators, weights_on_window

    den = denominators(scene, np.asarray(alphas))
    out = []
    for m, i in maps:
        w = weights_on_window(scene, i, np.asarray(alphas), den) * m.lattice_mask[None]
        ks = {a: ks2d(_crop_norm(m.lattice_prob), _crop_norm(w[k])) for k, a in enumerate(alphas)}
        a_best = min(ks, key=ks.get)
        out.append({"site_id": m.site_id, "alpha": a_best, "ks": ks[a_best], "ks_by_alpha": ks})
    return out


def _fmt(v: np.ndarray) -> str:
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "–"
    return f"{np.median(v):.2f} [{np.percentile(v, 10):.2f}–{np.percentile(v, 90):.2f}]"


def report(stats: list[MapStats], alpha_fits: list[dict] | None = None, title: str = "") -> str:
    """Markdown: median [p10–p90] per area type and overall, then the targets.

    Parameters
    ----------
    stats : list of MapStats
        One per map.
    alpha_fits : list of dict, optional
        :func:`best_alpha` output, summarised after the table.
    title : str, optional
        Heading of the section.

    Returns
    -------
    str
        Markdown.
    """
    lines = [f"### {title}" if title else "", "", "| area | n | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---|" * len(COLUMNS)]
    groups = {}
    for s in stats:
        groups.setdefault(s.area or "all", []).append(s)
    order = [a for a in ("urban", "suburban", "rural") if a in groups] + [a for a in groups if a not in ("urban", "suburban", "rural")]
    if len(groups) > 1 or "all" not in groups:
        order.append("all")
        groups["all"] = stats
    for a in order:
        g = groups[a]
        cells = [_fmt(np.array([s.values[c] for s in g], dtype=float)) for c in COLUMNS]
        lines.append(f"| {a} | {len(g)} | " + " | ".join(cells) + " |")
    lines.append("| **target range** | 3 | " + " | ".join(
        f"{TARGET_RANGES[c][0]}–{TARGET_RANGES[c][1]}" if c in TARGET_RANGES else "–" for c in COLUMNS) + " |")
    for name, r50, r90, mv, ks, an in TARGETS:
        lines.append(f"| real BS {name} | 1 | {r50} | {r90} | {mv} | – | {an} | {ks} |")
    if stats:
        inside = {c: float(np.mean([(TARGET_RANGES[c][0] <= s.values[c] <= TARGET_RANGES[c][1]) for s in stats])) for c in TARGET_RANGES}
        lines += ["", "Share of maps inside the target range: " + ", ".join(f"{c} {100 * v:.0f} %" for c, v in inside.items())]
    if alpha_fits:
        lines += ["", "Best-fit probabilistic α (target: α ≈ 1.3 with KS ≈ 0.09; KS 0.11 at α = 1, 0.45 at α = 3):", "",
                  "| area | n | best α | KS at best α | KS at α = 1.3 |", "|---|---|---|---|---|"]
        by_area: dict[str, list[dict]] = {}
        for f in alpha_fits:
            by_area.setdefault(f.get("area") or "all", []).append(f)
        if len(by_area) > 1 or "all" not in by_area:
            by_area["all"] = list(alpha_fits)
        for a in [a for a in ("urban", "suburban", "rural") if a in by_area] + ["all"]:
            g = by_area.get(a, [])
            if not g:
                continue
            al = np.array([f["alpha"] for f in g])
            ks = np.array([f["ks"] for f in g])
            k13 = np.array([f["ks_by_alpha"].get(1.3, np.nan) for f in g])
            lines.append(f"| {a} | {al.size} | {_fmt(al)} | {_fmt(ks)} | {_fmt(k13)} |")
    return "\n".join(lines).strip() + "\n"


def coverage_report(worlds: dict[str, tuple[list[MapStats], list[dict] | None]]) -> str:
    """Where a family of simulated worlds covers the real statistics, per area type (issue 19).

    ``worlds``: world key → (its maps' :class:`MapStats`, its α fits with an ``area``). For every
    area type and statistic: the spread of the per-world medians (min–max over worlds with ≥ 3
    maps of that type), the 10th–90th percentile over all maps, whether each of the three real
    BSs' values lies inside that percentile band, and whether the band meets the target range.
    The best-fit probabilistic α is checked against the published α ≈ 1.3.

    Parameters
    ----------
    worlds : dict of str to (list of MapStats, list of dict or None)
        As above.

    Returns
    -------
    str
        Markdown table, one row per (area type, statistic).
    """
    cols = [*TARGET_RANGES, "best_alpha"]
    real = {c: [t[k] for t in TARGETS] for k, c in enumerate(("", "r50_km", "r90_km", "mass_in_voronoi", "ks_to_voronoi", "anisotropy")) if c}
    real["best_alpha"] = [1.3]
    lines = ["| area | statistic | world medians (min–max, n worlds) | all maps p10–p90 (n) | real values inside p10–p90 | target range | covered |",
             "|---|---|---|---|---|---|---|"]
    for area in ("urban", "suburban", "rural", "all"):
        for c in cols:
            per_world, every = [], []
            for st, fits in worlds.values():
                if c == "best_alpha":
                    v = [f["alpha"] for f in (fits or []) if area == "all" or f.get("area") == area]
                else:
                    v = [s.values[c] for s in st if area == "all" or s.area == area]
                v = [x for x in v if np.isfinite(x)]
                every += v
                if len(v) >= 3:
                    per_world.append(float(np.median(v)))
            if not every:
                continue
            lo, hi = np.percentile(every, [10, 90])
            inside = [x for x in real[c] if lo <= x <= hi]
            tr = TARGET_RANGES.get(c, (1.3, 1.3))
            meets = lo <= tr[1] and hi >= tr[0]
            wm = f"{min(per_world):.2f}–{max(per_world):.2f} ({len(per_world)})" if per_world else "–"
            verdict = "yes" if len(inside) == len(real[c]) else ("partly" if inside or meets else "**no**")
            lines.append(f"| {area} | {c} | {wm} | {lo:.2f}–{hi:.2f} ({len(every)}) | {len(inside)}/{len(real[c])}: "
                         f"{', '.join(f'{x:g}' for x in inside) or '–'} | {tr[0]:g}–{tr[1]:g} | {verdict} |")
    return "\n".join(lines) + "\n"
