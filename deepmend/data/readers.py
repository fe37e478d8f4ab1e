"""Read a user's (or a bundled) site list into a :class:`Deployment`, rejecting bad rows clearly.

Accepted shapes: CSV, Parquet or GeoJSON Points; WGS84 lat/lon, or projected x/y with a
CRS; optional operator, height, technology and azimuths. Column names follow the bundled
files and the common Arcep/ANFR spellings (see ``ALIASES``). Errors name the file, the
row as a person counts it (CSV: the line number), the column and the offending value.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from deepmend.data.crs import is_metric, metric_crs_for, to_metric, transformer
from deepmend.data.deployment import Deployment
from deepmend.data.limits import read_parquet
from deepmend.errors import InputError

ALIASES: dict[str, tuple[str, ...]] = {
    "site_id": ("site_id", "id", "site", "num_site", "anfr_support_id", "sup_id", "name"),
    "operator": ("operator", "nom_op", "operateur", "mno", "network"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "long", "longitude"),
    "x": ("x", "x_l93", "easting"),
    "y": ("y", "y_l93", "northing"),
    "height_m": ("height_m", "height", "hauteur", "antenna_height"),
    "technology": ("technology", "tech", "rat"),
    "azimuths": ("azimuths", "azimuth", "azimut"),
    "crs": ("crs", "epsg"),
}

SUPPORTED = (".csv", ".txt", ".parquet", ".pq", ".geojson", ".json")


def _find(columns: list[str], key: str) -> str | None:
    lower = {c.lower().strip(): c for c in columns}
    for alias in ALIASES[key]:
        if alias in lower:
            return lower[alias]
    return None


def _load_table(path: Path) -> tuple[pd.DataFrame, int]:
    """The raw table and the offset that turns a 0-based data index into the row a person sees."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError("file not found", file=str(path))
    if path.is_dir():
        raise InputError("is a directory, expected a site file", file=str(path))
    if path.stat().st_size == 0:
        raise InputError("file is empty", file=str(path))
    try:
        if suffix in (".csv", ".txt"):
            return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, sep=None, engine="python"), 2
        if suffix in (".parquet", ".pq"):
            return read_parquet(path), 1  # size-checked before it is expanded (data/limits.py)
        if suffix in (".geojson", ".json"):
            return _geojson_table(path), 1
    except InputError:
        raise
    except UnicodeDecodeError as exc:
        raise InputError(f"not a text file ({exc.reason})", file=str(path)) from None
    except Exception as exc:  # parser errors from pandas/pyarrow: report, never a traceback
        raise InputError(f"cannot be parsed as {suffix[1:]}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=str(path)) from None
    raise InputError(f"unsupported file type '{suffix}', expected one of {', '.join(SUPPORTED)}", file=str(path))


def _geojson_table(path: Path) -> pd.DataFrame:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", file=str(path)) from None
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise InputError("expected a GeoJSON FeatureCollection of Point features", file=str(path))
    rows = []
    for k, feat in enumerate(features, start=1):
        geom = (feat or {}).get("geometry") or {}
        if geom.get("type") != "Point" or not isinstance(geom.get("coordinates"), list) or len(geom["coordinates"]) < 2:
            raise InputError("feature is not a Point with [lon, lat] coordinates", file=str(path), row=k, column="geometry", value=geom.get("type"))
        props = dict(feat.get("properties") or {})
        props["lon"], props["lat"] = geom["coordinates"][0], geom["coordinates"][1]
        rows.append(props)
    return pd.DataFrame(rows)


def _numeric(df: pd.DataFrame, col: str, path: Path, offset: int, *, required: bool) -> np.ndarray:
    raw = df[col]
    values = pd.to_numeric(raw.map(lambda v: v.strip() if isinstance(v, str) else v).replace("", np.nan), errors="coerce").to_numpy(float)
    blank = raw.map(lambda v: v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and v.strip() == "")).to_numpy(bool)
    bad = np.isnan(values) & ~blank
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError("not a number", file=str(path), row=i + offset, column=col, value=raw.iloc[i])
    if required and np.isnan(values).any():
        i = int(np.flatnonzero(np.isnan(values))[0])
        raise InputError("missing value (empty or NaN)", file=str(path), row=i + offset, column=col, value=raw.iloc[i])
    inf = ~np.isfinite(values) & ~np.isnan(values)
    if inf.any():
        i = int(np.flatnonzero(inf)[0])
        raise InputError("not a finite number", file=str(path), row=i + offset, column=col, value=raw.iloc[i])
    return values


def _azimuths(df: pd.DataFrame, col: str | None, path: Path, offset: int) -> tuple[tuple[float, ...], ...]:
    if col is None:
        return tuple(() for _ in range(len(df)))
    out = []
    for i, v in enumerate(df[col].tolist()):
        text = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
        parts = [p for p in text.replace(",", ";").replace("|", ";").split(";") if p.strip()]
        try:
            az = tuple(float(p) % 360.0 for p in parts)
        except ValueError:
            raise InputError("azimuths must be numbers in degrees separated by ';'", file=str(path), row=i + offset, column=col, value=v) from None
        out.append(az)
    return tuple(out)


def read_sites(
    path: str | Path,
    *,
    crs: str | None = None,
    country: str | None = None,
    operator: str | None = None,
) -> Deployment:
    """Read a site list; positions are projected to ``crs`` (default: the country's metric CRS).

    ``crs`` also names the CRS of x/y columns when the file has no lat/lon. ``operator``
    fills a missing operator column.
    """
    path = Path(path)
    df, offset = _load_table(path)
    if len(df) == 0:
        raise InputError("no data rows (only a header?)", file=str(path))
    cols = [str(c) for c in df.columns]
    df.columns = cols
    c_lat, c_lon, c_x, c_y = (_find(cols, k) for k in ("lat", "lon", "x", "y"))
    has_ll = c_lat is not None and c_lon is not None
    has_xy = c_x is not None and c_y is not None
    if not (has_ll or has_xy):
        raise InputError(
            f"no coordinate columns: expected 'lat' and 'lon' (WGS84) or 'x' and 'y' with a CRS; found columns {cols}",
            file=str(path),
        )

    if has_ll:
        lat = _numeric(df, c_lat, path, offset, required=True)
        lon = _numeric(df, c_lon, path, offset, required=True)
        for vals, col, lim in ((lat, c_lat, 90.0), (lon, c_lon, 180.0)):
            bad = np.abs(vals) > lim
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                hint = " (are lat and lon swapped?)" if col == c_lat and np.all(np.abs(lon) <= 90) else ""
                raise InputError(f"out of range [-{lim:g}, {lim:g}]{hint}", file=str(path), row=i + offset, column=col, value=df[col].iloc[i])
        target = crs if (crs and is_metric(crs)) else metric_crs_for(country, float(np.median(lon)), float(np.median(lat)))
        x, y = to_metric(lon, lat, target)
    else:
        x = _numeric(df, c_x, path, offset, required=True)
        y = _numeric(df, c_y, path, offset, required=True)
        c_crs = _find(cols, "crs")
        src = crs or (str(df[c_crs].iloc[0]) if c_crs else None) or ({"x_l93": "EPSG:2154"}.get(c_x.lower()))
        if not src:
            raise InputError("x/y columns need a CRS: pass --crs (e.g. EPSG:2154) or add a 'crs' column", file=str(path), column=c_x)
        try:
            metric_ok = is_metric(src)
        except Exception:
            raise InputError("unknown CRS", file=str(path), column="crs", value=src) from None
        if not metric_ok:
            raise InputError("x/y must be in a projected CRS with metre units", file=str(path), column="crs", value=src)
        target = src
        if country:
            wanted = metric_crs_for(country, 0.0, 0.0)
            if wanted != src:
                lon_, lat_ = transformer(src, "EPSG:4326").transform(x, y)
                x, y = to_metric(np.asarray(lon_), np.asarray(lat_), wanted)
                target = wanted

    c_id = _find(cols, "site_id")
    ids = (df[c_id].astype(str).str.strip().to_numpy() if c_id else np.array([f"site_{i}" for i in range(len(df))])).astype(str)
    if c_id:
        blank = ids == ""
        if blank.any():
            i = int(np.flatnonzero(blank)[0])
            raise InputError("empty site id", file=str(path), row=i + offset, column=c_id, value="")
        uniq, first, counts = np.unique(ids, return_index=True, return_counts=True)
        if (counts > 1).any():
            dup = uniq[counts > 1][0]
            rows = np.flatnonzero(ids == dup)[:2] + offset
            raise InputError(f"duplicate site id (rows {rows[0]} and {rows[1]})", file=str(path), row=int(rows[1]), column=c_id, value=str(dup))

    c_op = _find(cols, "operator")
    ops = df[c_op].astype(str).str.strip().to_numpy().astype(str) if c_op else np.full(len(df), operator or "unknown")
    c_h = _find(cols, "height_m")
    height = _numeric(df, c_h, path, offset, required=False) if c_h else np.full(len(df), np.nan)
    if c_h is not None and (height < 0).any():
        i = int(np.flatnonzero(height < 0)[0])
        raise InputError("negative antenna height", file=str(path), row=i + offset, column=c_h, value=df[c_h].iloc[i])
    c_t = _find(cols, "technology")
    tech = df[c_t].fillna("").astype(str).to_numpy().astype(str) if c_t else np.full(len(df), "")

    return Deployment(
        site_ids=ids,
        operator=ops,
        x=np.asarray(x, float),
        y=np.asarray(y, float),
        crs=target,
        height_m=height,
        technology=tech,
        azimuths=_azimuths(df, _find(cols, "azimuths"), path, offset),
        name=path.stem,
        source=str(path),
    )
