"""Per-BS values to geolocate (device counts, traffic, calls): read, validate, match to sites.

A table (CSV or Parquet) with a site id column, one or more value columns and optionally
a time column. Value columns are chosen with ``value=`` (``--value``); without it the only
candidate column is used, and several numeric candidates are an error that lists them
(never a silent pick). Every (value column, time slot) pair is one band, labelled
``column`` or ``column@time``. Every bad value — empty, non-numeric, NaN, infinite, negative — is an
:class:`InputError` naming the file, the row as a person counts it, the column and the
value; so is a repeated (site, time) pair, which would otherwise be summed silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deepmend.errors import InputError

SITE_COLUMNS = ("site_id", "site", "id", "bs", "bs_id", "cell_id", "station", "num_site", "antenna_id", "antenna", "cell", "sup_id")
#: Columns that are never values: site ids, times, and site descriptors a user may leave in.
NON_VALUE_COLUMNS = ("operator", "lat", "lon", "latitude", "longitude", "x", "y", "name", "technology", "tech", "tower_id", "height_m", "azimuths")
TIME_COLUMNS = ("time", "timestamp", "datetime", "date", "hour", "slot", "t")


@dataclass(frozen=True)
class ValueTable:
    """Values by site id: ``values[k, t]`` for site ``site_ids[k]`` and time slot ``times[t]``."""

    site_ids: np.ndarray  # str (n,)
    values: np.ndarray  # float64 (n, B): one band per (value column, time slot)
    times: list[str] | None  # None: no time column (one slot per column)
    source: str
    columns: tuple[str, ...] = ("value",)

    @property
    def n_slots(self) -> int:
        return self.values.shape[1]

    @property
    def labels(self) -> list[str]:
        """Band names: ``column`` without a time column, else ``column@time`` (column-major)."""
        if self.times is None:
            return list(self.columns)
        return [f"{c}@{t}" for c in self.columns for t in self.times]


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


def _value_columns(df: pd.DataFrame, chosen: list[str] | None, skip: set, path: Path) -> list:
    """The value columns: the chosen ones, else the only candidate; several numeric candidates are an error."""
    by_lower = {str(c).lower().strip(): c for c in df.columns}
    if chosen:
        missing = [c for c in chosen if c not in df.columns and c.lower().strip() not in by_lower]
        if missing:
            raise InputError(f"no such value column; columns are {', '.join(map(str, df.columns))}", file=str(path), column="--value", value=missing[0])
        cols = [c if c in df.columns else by_lower[c.lower().strip()] for c in chosen]
        if len(set(cols)) != len(cols):
            raise InputError("a value column is named twice", file=str(path), column="--value", value=",".join(chosen))
        return cols
    cand = [c for c in df.columns if c not in skip and str(c).lower().strip() not in NON_VALUE_COLUMNS]
    if not cand:
        raise InputError(f"no value column (found only {', '.join(map(str, df.columns))}); name it with --value COLUMN", file=str(path))
    if len(cand) == 1:
        return cand

    def numeric(c) -> bool:
        text = df[c].astype(str).str.strip()
        nums = pd.to_numeric(text.where(text != "", None), errors="coerce")
        return bool(nums.notna().any())

    num = [c for c in cand if numeric(c)]
    if len(num) == 1:
        return num
    if not num:
        raise InputError(f"no numeric value column among {', '.join(map(str, cand))}; name it with --value COLUMN", file=str(path))
    raise InputError(f"several numeric columns ({', '.join(map(str, num))}); choose with --value COLUMN (several: --value a,b, one band each)", file=str(path))


def _parse_column(df: pd.DataFrame, vcol, path: Path, offset: int) -> np.ndarray:
    """A value column as float64, or the first bad row as an InputError."""
    raw = df[vcol]
    text = raw.astype(str).str.strip()
    if df.attrs.get("decimal_comma"):  # "7,5" in a ';' or tab file, as site lists read it
        text = text.str.replace(r"^([-+]?\d+),(\d+)$", r"\1.\2", regex=True)
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
    return vals


def read_values(path: str | Path, value: str | list[str] | tuple[str, ...] | None = None, id_column: str | None = None) -> ValueTable:
    """Read and validate a value table (vectorised; the first bad row is reported).

    Parameters
    ----------
    path : CSV or Parquet with a site id column, value column(s) and optionally a time column.
    value : the value column(s) (a list, or one comma-separated string); default: the only
        non-id, non-time column, or the only numeric one.
    id_column : the site id column; default: recognised as in site lists
        (:func:`deepmend.data.readers.find_column`: ``site_id``, ``Site ID``, ``num_site`` …).

    The file is read as site lists are (encoding and delimiter sniffed, ``sep=`` line, decimal
    comma in ``;``/tab files).

    Raises
    ------
    InputError
        Naming file, row, column and value for any bad entry; listing the numeric columns
        when several are present and ``value`` is not given.
    """
    from deepmend.data.readers import _load_table, find_column

    path = Path(path)
    if path.suffix.lower() not in (".csv", ".txt", ".parquet", ".pq"):
        raise InputError("unsupported value table, use .csv or .parquet", file=str(path), value=path.suffix)
    df, offset = _load_table(path)
    if len(df) == 0:
        raise InputError("value table has no rows", file=str(path))
    chosen = [c.strip() for c in value.split(",") if c.strip()] if isinstance(value, str) else (list(value) if value else None)
    if id_column:
        scol = find_column(df.columns, "site_id", id_column)
        if scol is None:
            raise InputError(f"no column named {id_column!r}; columns are {', '.join(map(str, df.columns))}", file=str(path), column=str(id_column))
    else:
        scol = find_column(df.columns, "site_id") or _column(df, SITE_COLUMNS, "site id", path, required=False)
        if scol is None:
            raise InputError(f"no site id column; expected one of {', '.join(SITE_COLUMNS)} (found {', '.join(map(str, df.columns))}); "
                             "name it with --values-id-column", file=str(path))
    tcol = _column(df, TIME_COLUMNS, "time", path, required=False)
    vcols = _value_columns(df, chosen, {scol, tcol}, path)
    vals = np.column_stack([_parse_column(df, c, path, offset) for c in vcols])
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
    nt = uniq_times.size
    table = np.zeros((uniq_sites.size, len(vcols) * nt), dtype=np.float64)
    for j in range(len(vcols)):  # a loop over value columns, not rows
        table[s_idx.ravel(), j * nt + rank[t_idx.ravel()]] = vals[:, j]
    return ValueTable(uniq_sites, table, [str(t) for t in uniq_times[order]] if tcol is not None else None, str(path), tuple(str(c) for c in vcols))


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
