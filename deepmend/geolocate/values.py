"""Per-BS values to geolocate (device counts, traffic, calls): read, validate, match to sites.

A table (CSV or Parquet) with a site id column, a value column and optionally a time
column. Every bad value — empty, non-numeric, NaN, infinite, negative — is an
:class:`InputError` naming the file, the row as a person counts it, the column and the
value; so is a repeated (site, time) pair, which would otherwise be summed silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deepmend.errors import InputError

SITE_COLUMNS = ("site_id", "site", "id", "bs", "bs_id", "cell_id", "station", "num_site", "antenna_id", "cell", "sup_id")
VALUE_COLUMNS = ("value", "count", "counts", "devices", "users", "traffic", "calls", "n")
TIME_COLUMNS = ("time", "timestamp", "datetime", "date", "hour", "slot", "t")


@dataclass(frozen=True)
class ValueTable:
    """Values by site id: ``values[k, t]`` for site ``site_ids[k]`` and time slot ``times[t]``."""

    site_ids: np.ndarray  # str (n,)
    values: np.ndarray  # float64 (n, T)
    times: list[str] | None  # None: no time column (one slot)
    source: str

    @property
    def n_slots(self) -> int:
        return self.values.shape[1]

    @property
    def labels(self) -> list[str]:
        return self.times if self.times is not None else ["value"]


def _column(df: pd.DataFrame, names: tuple[str, ...], what: str, path: Path, required: bool = True) -> str | None:
    lower = {str(c).lower().strip(): c for c in df.columns}
    for n in names:
        if n in lower:
            return lower[n]
    if required:
        raise InputError(f"no {what} column; expected one of {', '.join(names)} (found {', '.join(map(str, df.columns))})", file=str(path))
    return None


def _sort_key(labels: np.ndarray) -> np.ndarray:
    """Time slots in natural order: numeric if they all parse as numbers, else as text (ISO dates sort)."""
    num = pd.to_numeric(pd.Series(labels), errors="coerce")
    return np.argsort(num.to_numpy(), kind="stable") if num.notna().all() else np.argsort(labels, kind="stable")


def read_values(path: str | Path) -> ValueTable:
    """Read and validate a value table (vectorised; the first bad row is reported)."""
    from deepmend.data.readers import _load_table

    path = Path(path)
    if path.suffix.lower() not in (".csv", ".txt", ".parquet", ".pq"):
        raise InputError("unsupported value table, use .csv or .parquet", file=str(path), value=path.suffix)
    df, offset = _load_table(path)
    if len(df) == 0:
        raise InputError("value table has no rows", file=str(path))
    scol = _column(df, SITE_COLUMNS, "site id", path)
    vcol = _column(df, VALUE_COLUMNS, "value", path)
    tcol = _column(df, TIME_COLUMNS, "time", path, required=False)
    raw = df[vcol]
    text = raw.astype(str).str.strip()
    vals = pd.to_numeric(text.where(text != "", None), errors="coerce").to_numpy(dtype=np.float64)
    lowered = text.str.lower()
    bad_kind = np.full(len(df), "", dtype=object)
    bad_kind[(text == "").to_numpy() | raw.isna().to_numpy()] = "missing value"
    bad_kind[(np.isnan(vals) & (bad_kind == "")) & lowered.isin(["nan", "na", "n/a", "null", "none"]).to_numpy()] = "value is NaN"
    bad_kind[np.isnan(vals) & (bad_kind == "")] = "not a number"
    bad_kind[np.isinf(vals) & (bad_kind == "")] = "value is infinite"
    bad_kind[(vals < 0) & (bad_kind == "")] = "negative value (values are counts or volumes, ≥ 0)"
    bad = np.flatnonzero(bad_kind != "")
    if bad.size:
        k = int(bad[0])
        more = f" ({bad.size} bad rows in all)" if bad.size > 1 else ""
        raise InputError(f"{bad_kind[k]}{more}", file=str(path), row=k + offset, column=str(vcol), value=str(raw.iloc[k]))
    sites = df[scol].astype(str).str.strip().to_numpy()
    empty = np.flatnonzero((sites == "") | df[scol].isna().to_numpy())
    if empty.size:
        raise InputError("missing site id", file=str(path), row=int(empty[0]) + offset, column=str(scol), value="")
    if tcol is not None:
        times = df[tcol].astype(str).str.strip().to_numpy()
        empty = np.flatnonzero(times == "")
        if empty.size:
            raise InputError("missing time", file=str(path), row=int(empty[0]) + offset, column=str(tcol), value="")
    else:
        times = np.zeros(len(df), dtype=str)
    keys = pd.DataFrame({"s": sites, "t": times})
    dup = np.flatnonzero(keys.duplicated().to_numpy())
    if dup.size:
        k = int(dup[0])
        raise InputError(f"site {sites[k]!r}{' at time ' + repr(times[k]) if tcol is not None else ''} appears twice ({dup.size} repeated rows); aggregate first",
                         file=str(path), row=k + offset, column=str(scol), value=sites[k])
    uniq_sites, s_idx = np.unique(sites, return_inverse=True)
    uniq_times, t_idx = np.unique(times, return_inverse=True)
    order = _sort_key(uniq_times)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    table = np.zeros((uniq_sites.size, uniq_times.size), dtype=np.float64)
    table[s_idx.ravel(), rank[t_idx.ravel()]] = vals
    return ValueTable(uniq_sites, table, [str(t) for t in uniq_times[order]] if tcol is not None else None, str(path))


@dataclass(frozen=True)
class Matched:
    """Values attached to deployment sites, and everything that did not match."""

    weights: np.ndarray  # float64 (n_deployment, T): values per (merged) site
    has_value: np.ndarray  # bool (n_deployment,)
    unknown_ids: list[str]  # value ids not in the deployment
    outside_ids: list[str]  # value ids of deployment sites that are not targets (outside the area)
    targets_without_value: list[str]  # target sites with no value row
    merged_ids: int  # value ids summed into a co-located site they were merged with


def match_values(table: ValueTable, id_index: dict[str, int], n_sites: int, targets: np.ndarray, site_ids: np.ndarray) -> Matched:
    """Attach values to sites by id (merged co-located sites sum their members' values)."""
    idx = np.array([id_index.get(s, -1) for s in table.site_ids], dtype=np.int64)  # a loop over value rows, not cells
    is_target = np.zeros(n_sites, dtype=bool)
    is_target[targets] = True
    known = idx >= 0
    in_area = known.copy()
    in_area[known] = is_target[idx[known]]
    weights = np.zeros((n_sites, table.n_slots), dtype=np.float64)
    np.add.at(weights, idx[in_area], table.values[in_area])
    has = np.zeros(n_sites, dtype=bool)
    has[idx[in_area]] = True
    merged = int(in_area.sum() - np.unique(idx[in_area]).size)
    return Matched(weights, has, [str(s) for s in table.site_ids[~known]], [str(s) for s in table.site_ids[known & ~in_area]],
                   [str(site_ids[i]) for i in targets if not has[i]], merged)
