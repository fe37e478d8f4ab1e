"""A base-station deployment: positions in a metric CRS plus what is known of each site.

Everything downstream (grids, models, simulator) takes a :class:`Deployment`, so the
file format a user brings never leaks past :mod:`deepmend.data.readers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from deepmend.data.crs import to_wgs84
from deepmend.errors import InputError


@dataclass(frozen=True)
class Deployment:
    """Sites of one network, index-aligned arrays.

    ``members`` keeps every original id of a merged co-located site, so nothing a user
    supplied is lost when duplicates are merged for tessellation.
    """

    site_ids: np.ndarray  # str, unique
    operator: np.ndarray  # str
    x: np.ndarray  # float64 metres in ``crs``
    y: np.ndarray
    crs: str
    height_m: np.ndarray  # float64, NaN when unknown
    technology: np.ndarray  # str, "" when unknown
    azimuths: tuple[tuple[float, ...], ...] = ()  # per site, () when unknown
    members: tuple[tuple[str, ...], ...] = ()
    name: str = ""
    source: str = ""
    #: what the reader did that a user should know (rows skipped, sites filtered, …), one sentence each
    notes: tuple[str, ...] = ()
    _lonlat: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.site_ids)
        for attr in ("operator", "x", "y", "height_m", "technology"):
            if len(getattr(self, attr)) != n:
                raise ValueError(f"Deployment.{attr} has {len(getattr(self, attr))} entries, expected {n}")
        if not self.azimuths:
            object.__setattr__(self, "azimuths", tuple(() for _ in range(n)))
        if not self.members:
            object.__setattr__(self, "members", tuple((str(s),) for s in self.site_ids))

    def __len__(self) -> int:
        return len(self.site_ids)

    @property
    def xy(self) -> np.ndarray:
        """(n, 2) metric coordinates."""
        return np.column_stack([self.x, self.y])

    @property
    def lon(self) -> np.ndarray:
        return self._wgs84()[0]

    @property
    def lat(self) -> np.ndarray:
        return self._wgs84()[1]

    def _wgs84(self) -> tuple[np.ndarray, np.ndarray]:
        if "v" not in self._lonlat:
            self._lonlat["v"] = to_wgs84(self.x, self.y, self.crs)
        return self._lonlat["v"]

    def index_of(self, site_id: str) -> int:
        """Position of a site by its id or by any id merged into it.

        Raises
        ------
        InputError
            If no site has that id (the message lists a few valid ones).
        """
        hits = np.flatnonzero(self.site_ids == str(site_id))
        if hits.size:
            return int(hits[0])
        for i, ids in enumerate(self.members):
            if str(site_id) in ids:
                return i
        sample = ", ".join(map(str, self.site_ids[:5]))
        raise InputError(f"unknown site id; this deployment has {len(self)} sites, e.g. {sample}", column="site", value=site_id)

    def subset(self, keep: np.ndarray) -> "Deployment":
        """Sites selected by a boolean mask or an index array, keeping all attributes aligned."""
        idx = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep, dtype=int)
        return replace(
            self,
            site_ids=self.site_ids[idx],
            operator=self.operator[idx],
            x=self.x[idx],
            y=self.y[idx],
            height_m=self.height_m[idx],
            technology=self.technology[idx],
            azimuths=tuple(self.azimuths[i] for i in idx),
            members=tuple(self.members[i] for i in idx),
            _lonlat={},
        )

    def operators(self) -> list[str]:
        return sorted(set(map(str, self.operator)))


def merge_colocated(dep: Deployment, *, by_operator: bool = True, tolerance_m: float = 1.0) -> Deployment:
    """Merge sites at the same position (within ``tolerance_m``), keeping all ids.

    Tessellations and nearest-site rasters are undefined for duplicate points; the
    reference notebook groups antennas by position for the same reason. The first
    site of a group keeps its attributes; heights take the maximum known value.
    """
    if len(dep) == 0:
        return dep
    qx = np.round(dep.x / tolerance_m).astype(np.int64)
    qy = np.round(dep.y / tolerance_m).astype(np.int64)
    keys = np.column_stack([qx, qy])
    if by_operator:
        _, op_code = np.unique(dep.operator.astype(str), return_inverse=True)
        keys = np.column_stack([keys, op_code])
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    if first.size == len(dep):
        return dep
    order = np.sort(first)  # one representative per group, in file order
    rank_of_group = np.empty(first.size, dtype=int)
    rank_of_group[inverse[order]] = np.arange(order.size)
    members = [list(dep.members[i]) for i in order]
    heights = dep.height_m[order].copy()
    # only duplicates need work: attach each non-representative row to its group
    extra = np.setdiff1d(np.arange(len(dep)), order)
    for r in extra:
        k = rank_of_group[inverse[r]]
        members[k].extend(dep.members[r])
        h = dep.height_m[r]
        if np.isfinite(h) and not (heights[k] >= h):
            heights[k] = h
    merged = dep.subset(order)
    return replace(merged, members=tuple(tuple(m) for m in members), height_m=heights)


def split_networks(dep: Deployment) -> dict[str, Deployment]:
    """One deployment per operator, in name order: each operator's network is tessellated on its own.

    Two operators on one mast are two sites of two networks, each with its own cell;
    merging them first would give one of them no cell at all.
    """
    return {op: dep.subset(dep.operator == op) for op in dep.operators()}
