"""Read a user's (or a bundled) site list into a :class:`Deployment`, refusing bad input in one sentence.

Formats (see docs/INPUTS.md): CSV/TXT (pandas; encoding sniffed by charset-normalizer —
UTF-8 with or without BOM, UTF-16/32 with BOM, cp1252/Latin-1 —, delimiter sniffed by
:class:`csv.Sniffer` among ``,`` ``;`` tab ``|``, decimal comma accepted), Parquet
(nullable dtypes; GeoParquet through geopandas), and every vector format GDAL reads
through pyogrio (GeoJSON in any CRS with a ``crs`` member, GeoPackage, Shapefile,
FlatGeobuf). A pandas DataFrame or a GeoDataFrame is accepted wherever a file is. The
format is decided by the content first (an upload stored as ``.csv`` may be GeoJSON).

Checks, each one sentence naming the file, row (as a person counts it: the CSV line,
the feature number), column and value: coordinates present and numeric (rows without
coordinates are skipped and reported unless ``strict``), lat/lon in range, x/y not in
degrees, points inside the stated country (and "looks swapped" when swapping lat/lon
puts them inside), CRS values safe (:func:`deepmend.data.crs.parse_crs`), an id column
found (never invented ids), ids unique and not empty, the operator filter matching.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from deepmend.data.crs import (
    COUNTRY_CRS, CRSValueError, is_local_metric, local_metric_crs, parse_crs, to_metric, transformer,
)
from deepmend.data.deployment import Deployment
from deepmend.data.regions import check_geojson_crs
from deepmend.data.limits import read_parquet
from deepmend.errors import DeepmendError, InputError

ALIASES: dict[str, tuple[str, ...]] = {
    "site_id": ("site_id", "id", "antenna_id", "cell_id", "cell", "sup_id", "site", "num_site", "anfr_support_id",
                "support_id", "station_id", "bs_id", "enodeb_id", "name"),
    "operator": ("operator", "nom_op", "operateur", "opérateur", "mno", "network", "op"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "long", "longitude"),
    "x": ("x", "x_l93", "easting", "coord_x"),
    "y": ("y", "y_l93", "northing", "coord_y"),
    "height_m": ("height_m", "height", "hauteur", "antenna_height"),
    "technology": ("technology", "tech", "rat"),
    "azimuths": ("azimuths", "azimuth", "azimut"),
    "crs": ("crs", "epsg", "srid"),
}

#: Cells read as "missing" in every column (pandas' own spellings plus Excel's).
MISSING = ["", "NA", "N/A", "n/a", "<NA>", "#N/A", "#NA", "NaN", "nan", "NULL", "null", "None", "none"]

#: ``id_column`` value that numbers sites by their row ("row2", "row3", …): an explicit choice, never a default.
ROW_IDS = "@row"

#: Longest accepted site id (ids become file names and URL parameters).
MAX_ID_LENGTH = 200

#: A site this far outside the stated country's land still counts as inside it (coarse coastlines, border sites).
COUNTRY_TOLERANCE_M = 20_000.0

#: Common MCC-MNC codes → operator names, so that ``operator="Orange"`` selects rows coded ``20801``.
MCC_MNC = {
    "20801": "Orange", "20802": "Orange", "20810": "SFR", "20811": "SFR", "20813": "SFR", "20815": "Free", "20816": "Free",
    "20820": "Bouygues", "20821": "Bouygues", "23410": "O2", "23415": "Vodafone", "23420": "Three", "23430": "EE",
    "23433": "EE", "27201": "Vodafone", "27202": "Three", "27203": "Eir", "27205": "Three", "20601": "Proximus",
    "20610": "Orange", "20620": "Base",
}

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".fgb", ".gml", ".kml", ".zip")
SUPPORTED = (".csv", ".txt", ".tsv", ".parquet", ".pq", ".geoparquet") + VECTOR_SUFFIXES

#: How a refusal tells the user to fix it, per interface (the web app has no command-line flags).
_ADVICE = {
    "id": {"cli": "choose one with --id-column NAME (or --id-column @row to number sites by their row)",
           "python": "choose one with id_column='NAME' (or id_column='@row' to number sites by their row)",
           "web": "name the id column site_id"},
    "crs": {"cli": "pass --crs (e.g. --crs EPSG:2154) or add a 'crs' column",
            "python": "pass crs='EPSG:…' or add a 'crs' column",
            "web": "add a 'crs' column (e.g. EPSG:2154), or give lat/lon columns in WGS84"},
    "strict": {"cli": "--strict", "python": "strict=True", "web": "strict mode"},
    "operator": {"cli": "--operator", "python": "operator=", "web": "the operator"},
}


def _advice(kind: str, audience: str) -> str:
    return _ADVICE[kind].get(audience, _ADVICE[kind]["python"])


@dataclass
class _Table:
    """A loaded table: raw columns, the row numbering and the CRS of a vector geometry."""

    df: pd.DataFrame
    label: str  # the file as the user named it
    offset: int  # data index → row number a person sees
    row_word: str = "row"
    geom_crs: str | None = None  # vector input: CRS of the __x/__y columns
    notes: list[str] = field(default_factory=list)


# --- loading --------------------------------------------------------------------------
def _decode(data: bytes, label: str) -> str:
    """Text of a CSV file whatever its encoding (BOM first, then UTF-8, then charset-normalizer)."""
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                     (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(enc)
            except UnicodeDecodeError as exc:
                raise InputError(f"starts with a {enc} byte-order mark but is not valid {enc} ({exc.reason})", file=label) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    import charset_normalizer

    # Western single-byte code pages first: spreadsheets exported on Windows in FR/GB/IE/BE
    best = charset_normalizer.from_bytes(data[:200_000], cp_isolation=["cp1252", "latin_1", "utf_16", "utf_32"]).best()
    if best is not None:
        return data.decode(best.encoding, errors="strict")
    if b"\x00" in data[:4096]:
        raise InputError("not a text file (no known text encoding fits: a spreadsheet or binary file saved as CSV?)", file=label)
    # too little text to tell (one accented letter): Windows' Western code page, as spreadsheets write it
    return data.decode("cp1252", errors="replace")


def _sniff_sep(text: str) -> str:
    """The delimiter, sniffed by :class:`csv.Sniffer` on the header line (decimal commas make data lines ambiguous)."""
    header = next((ln for ln in text.splitlines() if ln.strip()), "")
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _read_csv(data: bytes, label: str, raw: bool = False) -> _Table:
    text = _decode(data, label)
    sep = _sniff_sep(text)
    try:
        # blank lines are kept as empty rows (skipped and reported by read_sites), so that row numbers are the file's lines
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[] if raw else MISSING,
                         skipinitialspace=True, engine="python", skip_blank_lines=raw)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot be read as CSV ({first})", file=label) from None
    if not raw and len(df):
        filled = ~df.isna().all(axis=1).to_numpy()
        df = df.iloc[: int(np.flatnonzero(filled)[-1]) + 1 if filled.any() else 0]  # blank lines at the end are no rows
    t = _Table(df, label, 2)
    if sep != ",":  # decimal comma ("45,7640") in numeric columns of a ';' or tab file
        t.df.attrs["decimal_comma"] = True
    return t


def _vector_table(gdf, label: str) -> _Table:
    """Point features → a table with __x/__y in the layer's CRS (missing geometry = missing coordinates)."""
    import shapely

    geom = np.asarray(gdf.geometry.values, dtype=object) if len(gdf) else np.array([], dtype=object)
    types = shapely.get_type_id(geom)
    single = types == 4  # a MultiPoint of one point is a point
    if single.any():
        n = shapely.get_num_geometries(geom[single])
        geom = geom.copy()
        geom[np.flatnonzero(single)[n == 1]] = shapely.get_geometry(geom[single][n == 1], 0)
        types = shapely.get_type_id(geom)
    bad = (types != 0) & (types != -1) & ~shapely.is_empty(geom)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"feature is a {geom[i].geom_type}, expected Point features (sites)",
                         file=label, row=i + 1, column="geometry", value=geom[i].geom_type)
    pts = types == 0
    if len(geom) and not pts.any():  # no feature has a geometry: coordinates in the properties (lat/lon or x/y), as attribute exports have them
        props = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
        names = [str(c).replace("\ufeff", "").strip() for c in props.columns]
        if (_find(names, "lat") and _find(names, "lon")) or (_find(names, "x") and _find(names, "y")):
            return _Table(props, label, 1, "feature")
    x = np.full(len(geom), np.nan)
    y = np.full(len(geom), np.nan)
    x[pts], y[pts] = shapely.get_x(geom[pts]), shapely.get_y(geom[pts])
    df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
    df["__x"], df["__y"] = x, y
    crs = None
    if gdf.crs is not None:
        epsg = gdf.crs.to_epsg(min_confidence=90)
        crs = f"EPSG:{epsg}" if epsg else gdf.crs.to_wkt()
    return _Table(df, label, 1, "feature", geom_crs=crs)


def _read_vector(src, label: str, data: bytes | None = None, is_geojson: bool = False) -> _Table:
    import geopandas as gpd

    ids = check_geojson_crs(data, label) if is_geojson and data is not None else None
    try:
        gdf = gpd.read_file(io.BytesIO(data) if data is not None else src, engine="pyogrio")
        if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry is None:
            raise InputError("has no geometry (expected Point features)", file=label)
        t = _vector_table(gdf, label)
    except InputError:
        raise
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot be read as a vector file ({first})", file=label) from None
    if ids is not None and len(ids) == len(t.df) and all(i is not None for i in ids) and "id" not in [c.lower() for c in t.df.columns]:
        t.df.insert(0, "id", [str(i) for i in ids])  # GeoJSON feature ids
    return t


def _load(source, encoding: str | None = None, raw: bool = False) -> _Table:
    """The raw table of a path or a (Geo)DataFrame, format decided by content before suffix."""
    if isinstance(source, pd.DataFrame):
        label = str(source.attrs.get("name", "DataFrame"))
        if hasattr(source, "geometry") and getattr(source, "_geometry_column_name", None) in source.columns:
            return _vector_table(source, label)
        return _Table(source.reset_index(drop=True).copy(), label, 1)
    path = Path(source)
    label = str(path)
    if not path.exists():
        raise InputError("file not found", file=label)
    if path.is_dir():
        raise InputError("is a directory, expected a site file", file=label)
    if path.stat().st_size == 0:
        raise InputError("file is empty", file=label)
    suffix = path.suffix.lower()
    if suffix in (".shp", ".gpkg", ".fgb", ".gml", ".kml", ".zip"):
        return _read_vector(path, label)
    data = path.read_bytes()
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if data[:4] == b"PAR1":
        return _read_parquet(path, label)
    if data[:16] == b"SQLite format 3\x00" or data[:3] == b"fgb":
        return _read_vector(path, label)
    if head[:1] in (b"{", b"["):
        return _read_vector(path, label, data, is_geojson=True)
    if data[:4] == b"PK\x03\x04":
        raise InputError("is a ZIP archive (an Excel workbook?): save the sheet as CSV", file=label)
    if suffix not in (".csv", ".txt", ".tsv", ".parquet", ".pq", ".geoparquet", ".geojson", ".json", ""):
        raise InputError(f"unsupported file type '{suffix}', expected one of {', '.join(SUPPORTED)}", file=label)
    if encoding:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputError(f"cannot be decoded as {encoding} ({exc})", file=label) from None
        return _read_csv(text.encode("utf-8"), label, raw)
    return _read_csv(data, label, raw)


def _read_parquet(path: Path, label: str) -> _Table:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
        if b"geo" in meta:
            import geopandas as gpd

            return _vector_table(gpd.read_parquet(path), label)
        return _Table(read_parquet(path), label, 1)  # size-checked before it is expanded (data/limits.py)
    except DeepmendError:  # too large (413) or unreadable, as data/limits.py says
        raise
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot be read as Parquet ({first})", file=label) from None


# --- columns and values ---------------------------------------------------------------
def _clean_columns(df: pd.DataFrame) -> list[str]:
    cols = [str(c).replace("\ufeff", "").strip() for c in df.columns]
    df.columns = cols
    return cols


def _norm(name: str) -> str:
    """A column name as matched: case folded, a unit or CRS in brackets dropped, spaces, dots and dashes as '_'
    (``"Site ID"`` → ``site_id``, ``"LATITUDE (WGS84)"`` → ``latitude``, ``"Long."`` → ``long``)."""
    text = re.sub(r"[\(\[\{][^)\]\}]*[\)\]\}]", " ", str(name).replace("\ufeff", "").lower())
    return re.sub(r"[\s.\-]+", "_", text).strip("_")


def _find(columns: list[str], key: str) -> str | None:
    lower = {c.lower(): c for c in columns}
    for alias in ALIASES[key]:
        if alias in lower:
            return lower[alias]
    normed: dict[str, str] = {}
    for c in columns:
        normed.setdefault(_norm(c), c)
    for alias in ALIASES[key]:
        if _norm(alias) in normed:
            return normed[_norm(alias)]
    return None


def _is_missing(raw: pd.Series) -> np.ndarray:
    missing = raw.isna().to_numpy(bool).copy()
    if raw.dtype == object:
        missing |= raw.map(lambda v: isinstance(v, str) and v.strip() in MISSING).to_numpy(bool)
    return missing


def _numbers(t: _Table, col: str, degrees: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(values float64, missing bool); a present value that is not a number is refused naming its row.

    A decimal comma ("45,7640") is read in ``;``/tab files, and in a ``,`` file where the cell is
    quoted: always for degrees (``degrees=True``: lat/lon never carry thousands separators), else
    unless exactly three digits follow the comma ("652,123": decimal comma or thousands separator?
    refused as ambiguous).
    """
    raw = t.df[col]
    missing = _is_missing(raw)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        values = raw.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    else:
        text = raw.astype(object).where(~missing, None).map(lambda v: None if v is None else str(v).strip())
        comma = text.map(lambda v: isinstance(v, str) and re.fullmatch(r"[-+]?\d+,\d+", v) is not None).to_numpy(bool)
        if comma.any() and not t.df.attrs.get("decimal_comma") and not degrees:
            odd = np.flatnonzero(comma & text.map(lambda v: isinstance(v, str) and re.fullmatch(r"[-+]?\d+,\d{3}", v) is not None).to_numpy(bool))
            if odd.size:
                i = int(odd[0])
                raise InputError("ambiguous number: a decimal comma or a thousands separator? write it without the comma, or with a decimal point",
                                 file=t.label, row=i + t.offset, column=col, value=raw.iloc[i])
        if comma.any():
            text = text.where(~comma, text.map(lambda v: v.replace(",", ".") if isinstance(v, str) else v))
        values = pd.to_numeric(text, errors="coerce").to_numpy(float)
    bad = np.isnan(values) & ~missing
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError("not a number", file=t.label, row=i + t.offset, column=col, value=raw.iloc[i])
    inf = np.isinf(values)
    if inf.any():
        i = int(np.flatnonzero(inf)[0])
        raise InputError("not a finite number", file=t.label, row=i + t.offset, column=col, value=raw.iloc[i])
    return values, missing | np.isnan(values)


def _rows(t: _Table, idx: np.ndarray, k: int = 5) -> str:
    nums = [str(int(i) + t.offset) for i in idx[:k]]
    return ", ".join(nums) + (", …" if idx.size > k else "")


def _azimuths(t: _Table, col: str | None) -> tuple[tuple[float, ...], ...]:
    if col is None:
        return tuple(() for _ in range(len(t.df)))
    out = []
    missing = _is_missing(t.df[col])
    for i, v in enumerate(t.df[col].tolist()):
        text = "" if missing[i] else str(v)
        parts = [p for p in text.replace(",", ";").replace("|", ";").split(";") if p.strip()]
        try:
            az = tuple(float(p) % 360.0 for p in parts)
        except ValueError:
            raise InputError("azimuths must be numbers in degrees separated by ';'", file=t.label, row=i + t.offset, column=col, value=v) from None
        out.append(az)
    return tuple(out)


def _crs_or_error(value, t: _Table, column: str, row: int | None = None) -> str:
    try:
        return parse_crs(value)
    except CRSValueError as exc:
        raise InputError(str(exc), file=t.label, row=row, column=column, value=str(value)[:80]) from None


# --- coordinates ----------------------------------------------------------------------
def _lonlat(t: _Table, cols: list[str], crs: str | None, audience: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, str | None]:
    """WGS84 lon/lat of every row (NaN where missing), the missing mask, and the source CRS when there is one."""
    df = t.df
    if "__x" in df.columns:  # vector geometry
        x, mx = _numbers(t, "__x")
        y, my = _numbers(t, "__y")
        src = _crs_or_error(crs, t, "crs") if crs else t.geom_crs or "EPSG:4326"
        return (*_to_lonlat(t, x, y, mx | my, np.full(len(df), src, dtype=object), "geometry"), src)
    c_lat, c_lon, c_x, c_y = (_find(cols, k) for k in ("lat", "lon", "x", "y"))
    if c_lat and c_lon:
        lat, m1 = _numbers(t, c_lat, degrees=True)
        lon, m2 = _numbers(t, c_lon, degrees=True)
        _check_range(t, lat, lon, c_lat, c_lon)
        return lon, lat, m1 | m2, None
    if not (c_x and c_y):
        raise InputError(f"no coordinate columns: expected 'lat' and 'lon' (WGS84) or 'x' and 'y' with a CRS; found columns {', '.join(cols)}",
                         file=t.label)
    x, mx = _numbers(t, c_x)
    y, my = _numbers(t, c_y)
    missing = mx | my
    c_crs = _find(cols, "crs")
    if crs:
        srcs = np.full(len(df), _crs_or_error(crs, t, "crs"), dtype=object)
    elif c_crs:
        raw = df[c_crs]
        miss_crs = _is_missing(raw) & ~missing
        if miss_crs.any():
            i = int(np.flatnonzero(miss_crs)[0])
            raise InputError("missing CRS for a row with x/y", file=t.label, row=i + t.offset, column=c_crs, value="")
        srcs = np.empty(len(df), dtype=object)
        for value in pd.unique(raw[~missing].astype(str)):  # a loop over distinct CRS values, each parsed once
            rows = np.flatnonzero((raw.astype(str) == value).to_numpy() & ~missing)
            srcs[rows] = _crs_or_error(value, t, c_crs, int(rows[0]) + t.offset)
    elif c_x.lower() == "x_l93":
        srcs = np.full(len(df), "EPSG:2154", dtype=object)
    else:
        raise InputError(f"x/y columns need their CRS: {_advice('crs', audience)}", file=t.label, column=c_x)
    lon, lat, missing = _to_lonlat(t, x, y, missing, srcs, c_x)
    distinct = sorted(set(srcs[~missing]))
    return lon, lat, missing, distinct[0] if len(distinct) == 1 else None


def _to_lonlat(t: _Table, x, y, missing, srcs: np.ndarray, col: str):
    lon = np.full(x.shape, np.nan)
    lat = np.full(x.shape, np.nan)
    for src in sorted(set(srcs[~missing])):
        rows = np.flatnonzero((srcs == src) & ~missing)
        from pyproj import CRS

        c = CRS.from_user_input(src)
        if c.is_geographic:
            lo, la = x[rows], y[rows]
        else:
            if np.all(np.abs(x[rows]) <= 180) and np.all(np.abs(y[rows]) <= 90):
                i = int(rows[0])
                raise InputError(f"x/y values look like degrees (lon/lat), not metres of {src}: name the columns lon and lat",
                                 file=t.label, row=i + t.offset, column=col, value=float(x[i]))
            lo, la = transformer(src, "EPSG:4326").transform(x[rows], y[rows])
            lo, la = np.asarray(lo, float), np.asarray(la, float)
            bad = ~(np.isfinite(lo) & np.isfinite(la))
            if bad.any():
                i = int(rows[np.flatnonzero(bad)[0]])
                raise InputError(f"x/y lie outside the area {src} can represent", file=t.label, row=i + t.offset, column=col, value=float(x[i]))
        lon[rows], lat[rows] = lo, la
    _check_range(t, lat, lon, "lat" if "__x" not in t.df.columns else "geometry", "lon" if "__x" not in t.df.columns else "geometry")
    return lon, lat, missing


def _check_range(t: _Table, lat, lon, c_lat: str, c_lon: str) -> None:
    for vals, col, lim in ((lat, c_lat, 90.0), (lon, c_lon, 180.0)):
        bad = np.abs(vals) > lim
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            other = lon if vals is lat else lat
            hint = " (are lat and lon swapped?)" if vals is lat and np.nanmax(np.abs(other), initial=0) <= 90 else ""
            value = t.df[col].iloc[i] if col in t.df.columns else float(vals[i])
            raise InputError(f"out of range [-{lim:g}, {lim:g}]{hint}", file=t.label, row=i + t.offset, column=col, value=value)


def _check_country(t: _Table, country: str, lon, lat, ids) -> str | None:
    """Refuse sites mostly outside the stated country (saying when lat/lon look swapped); a note for a few outside."""
    from deepmend.data.catalog import COUNTRIES, country_region  # lazy: the catalog reads its files with this module

    code = "GB" if country.upper() == "UK" else country.upper()
    if code not in COUNTRIES:
        return None
    import shapely

    land = country_region(code)

    def outside(lo, la):
        x, y = to_metric(lo, la, land.crs)
        out = ~shapely.contains_xy(land.metric, x, y)
        if out.any():
            out[out] = ~shapely.dwithin(land.metric, shapely.points(x[out], y[out]), COUNTRY_TOLERANCE_M)
        return out

    out = outside(lon, lat)
    if not out.any():
        return None
    k = int(np.flatnonzero(out)[0])
    where = f"e.g. site {ids[k]} at lat {lat[k]:.4f}, lon {lon[k]:.4f}"
    if out.mean() > 0.5:
        swapped = outside(lat, lon) if np.all(np.abs(lon) <= 90) else np.ones_like(out)
        if swapped.mean() < 0.5:
            raise InputError(f"{int(out.sum())} of {out.size} sites fall outside {land.name} ({where}) but inside it with lat and lon swapped: "
                             "the lat and lon columns look swapped", file=t.label)
        raise InputError(f"{int(out.sum())} of {out.size} sites fall outside {land.name} ({where}): wrong country, or wrong coordinates?",
                         file=t.label, row=k + t.offset)
    return f"{int(out.sum())} of {out.size} sites lie outside {land.name} ({where}); they are kept and mapped in their own local CRS"


def _check_swapped_anywhere(t: _Table, lon, lat, ids) -> None:
    """No country stated: refuse when swapping lat/lon moves most sites into a bundled country (FR, GB, IE, BE)
    while as written they lie in none of them (a map in the Indian Ocean is never what was meant)."""
    if not np.all(np.abs(lon) <= 90):
        return
    from pyproj import CRS

    slon, slat = float(np.median(lat)), float(np.median(lon))
    for code in ("FR", "GB", "IE", "BE"):
        aou = CRS.from_user_input(COUNTRY_CRS[code]).area_of_use
        if not (aou.west <= slon <= aou.east and aou.south <= slat <= aou.north):
            continue
        from deepmend.data.catalog import COUNTRIES, country_region

        if code not in COUNTRIES:
            continue
        import shapely

        try:
            land = country_region(code)
        except Exception:  # boundary data not installed
            return
        sx, sy = to_metric(lat, lon, land.crs)
        x, y = to_metric(lon, lat, land.crs)
        swapped_in = shapely.contains_xy(land.metric, sx, sy).mean()
        as_is_in = shapely.contains_xy(land.metric, x, y).mean()
        if swapped_in > 0.5 and as_is_in < 0.5:
            raise InputError(f"the sites lie at lat {np.median(lat):.4f}, lon {np.median(lon):.4f} (e.g. site {ids[0]}), but inside {land.name} "
                             "with lat and lon swapped: the lat and lon columns look swapped", file=t.label)


# --- the reader -----------------------------------------------------------------------
def read_sites(
    source,
    *,
    crs: str | None = None,
    country: str | None = None,
    operator: str | None = None,
    id_column: str | None = None,
    strict: bool = False,
    encoding: str | None = None,
    audience: str = "python",
) -> Deployment:
    """Read a site list into a :class:`Deployment` in a metric CRS.

    Parameters
    ----------
    source : path or pandas.DataFrame or geopandas.GeoDataFrame
        CSV/TXT, Parquet/GeoParquet or any vector file of points (GeoJSON, GeoPackage,
        Shapefile, FlatGeobuf), or a (Geo)DataFrame with the same columns.
    crs : str, optional
        CRS of x/y columns (``EPSG:n``, WKT or PROJJSON only); a ``crs`` column is read row
        by row instead. Positions end in a local metric CRS: the given one when it is
        conformal with metre units and meant for the sites' area, else ``country``'s
        national CRS, else the one of the sites' median position
        (:func:`deepmend.data.crs.local_metric_crs`: national CRS in FR/GB/IE/BE, else UTM).
    country : str, optional
        ISO code; sites mostly outside that country's land are refused.
    operator : str, optional
        Keep only this operator's rows (matched case-insensitively, by name or MCC-MNC
        code). Without an operator column, names the operator of every site.
    id_column : str, optional
        The id column (default: the first of ``ALIASES['site_id']`` present, case- and
        BOM-insensitive); ``"@row"`` numbers sites by their row. Without either: refused.
    strict : bool
        Refuse rows without coordinates instead of skipping (and reporting) them.
    encoding : str, optional
        Text encoding of a CSV, overriding detection.
    audience : {"python", "cli", "web"}
        How refusals phrase their advice (option names, or none for a web user).

    Returns
    -------
    Deployment
        Unmerged (co-located rows stay separate), ``notes`` says what was skipped or filtered.

    Raises
    ------
    InputError
        One sentence naming the file, the row and column where there is one, and the cause.
    """
    t = _load(source, encoding)
    label = t.label
    if len(t.df) == 0:
        raise InputError("no data rows (only a header?)", file=label)
    cols = _clean_columns(t.df)
    notes = list(t.notes)
    if crs:
        crs = _crs_or_error(crs, t, "--crs" if audience == "cli" else "crs")

    # ids: named, never invented
    if id_column and id_column != ROW_IDS:
        c_id = next((c for c in cols if c.lower() == str(id_column).replace("\ufeff", "").strip().lower()), None)
        if c_id is None:
            raise InputError(f"no column named {id_column!r}; columns are {', '.join(c for c in cols if not c.startswith('__'))}", file=label, column=str(id_column))
    elif id_column == ROW_IDS:
        c_id = None
    else:
        c_id = _find(cols, "site_id")
        if c_id is None:
            shown = ", ".join(c for c in cols if not c.startswith("__"))
            raise InputError(f"no site id column (looked for {', '.join(ALIASES['site_id'][:6])}, …); columns are {shown}: "
                             f"{_advice('id', audience)}", file=label)
    if c_id is None:
        ids = np.array([f"row{i + t.offset}" for i in range(len(t.df))])
    else:
        raw = t.df[c_id]
        empty = _is_missing(raw)
        ids = raw.astype(object).where(~empty, "").map(lambda v: _id_text(v)).to_numpy().astype(str)
        empty = empty | (ids == "")
    lon, lat, missing, src = _lonlat(t, cols, crs, audience)

    # operator: filter before anything that depends on the set of sites
    c_op = _find(cols, "operator")
    if c_op:
        ops = t.df[c_op].astype(object).where(~_is_missing(t.df[c_op]), "").map(lambda v: _id_text(v)).to_numpy().astype(str)
    else:
        ops = np.full(len(t.df), str(operator) if operator else "unknown")
    keep = np.ones(len(t.df), dtype=bool)
    blank = np.logical_and.reduce([_is_missing(t.df[c]) for c in cols]) if cols else keep & False
    if blank.any():  # ",,,," lines a spreadsheet leaves at the end: nothing in them to read
        notes.append(f"skipped {int(blank.sum())} empty row(s) ({t.row_word}s {_rows(t, np.flatnonzero(blank))})")
        keep &= ~blank
    if operator and c_op:
        keep = _operator_rows(ops, str(operator))
        if not keep.any():
            found = sorted(set(ops) - {""})
            raise InputError(f"no rows of operator {operator!r}; operators in the file: {', '.join(found[:20])}", file=label, column=c_op, value=str(operator))
        if not keep.all():
            notes.append(f"kept the {int(keep.sum())} of {keep.size} rows of operator {operator}")

    if c_id is not None:
        bad = empty & keep
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError("empty site id", file=label, row=i + t.offset, column=c_id, value="")
        long_ = np.char.str_len(ids) > MAX_ID_LENGTH
        if long_.any():
            i = int(np.flatnonzero(long_)[0])
            raise InputError(f"site id longer than {MAX_ID_LENGTH} characters", file=label, row=i + t.offset, column=c_id, value=ids[i][:40] + "…")
    gone = missing & keep
    if gone.any():
        if strict:
            i = int(np.flatnonzero(gone)[0])
            raise InputError("row without coordinates", file=label, row=i + t.offset, column="geometry" if "__x" in cols else None)
        notes.append(f"skipped {int(gone.sum())} row(s) without coordinates ({t.row_word}s {_rows(t, np.flatnonzero(gone))})"
                     + (f"; {_advice('strict', audience)} refuses them instead" if audience != "web" else ""))
        keep &= ~missing
    if not keep.any():
        raise InputError("no row has coordinates", file=label)
    idx = np.flatnonzero(keep)
    ids, ops, lon, lat = ids[idx], ops[idx], lon[idx], lat[idx]
    if c_id is not None:
        uniq, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            dup = uniq[counts > 1][0]
            two = np.flatnonzero(ids == dup)[:2]
            rows = idx[two] + t.offset
            if ops[two[0]] != ops[two[1]]:  # each operator numbered its own sites
                raise InputError(f"duplicate site id: operators {ops[two[0]]} ({t.row_word} {rows[0]}) and {ops[two[1]]} ({t.row_word} {rows[1]}) "
                                 "use the same id; ids must be unique in the list: prefix them with the operator, or keep one operator",
                                 file=label, row=int(rows[1]), column=c_id, value=str(dup))
            raise InputError(f"duplicate site id ({t.row_word}s {rows[0]} and {rows[1]}); co-located antennas need their own ids",
                             file=label, row=int(rows[1]), column=c_id, value=str(dup))
    if country:
        note = _check_country(t, str(country), lon, lat, ids)
        if note:
            notes.append(note)
    else:
        _check_swapped_anywhere(t, lon, lat, ids)

    # the metric CRS: a local conformal one, never Web Mercator nor another place's zone
    clon, clat = float(np.median(lon)), float(np.median(lat))
    if src and not country and _safe_local(src, clon, clat):
        target = src
    elif crs and "__x" not in cols and _find(cols, "x") is None and _safe_local(crs, clon, clat):
        target = parse_crs(crs)  # lat/lon input projected to the CRS the user asked for
    else:
        target = local_metric_crs(clon, clat, country if country and str(country).upper() in COUNTRY_CRS else None)
    x, y = to_metric(lon, lat, target)

    sub = t.df.iloc[idx].reset_index(drop=True)
    st = _Table(sub, label, t.offset, t.row_word)
    st.df.attrs.update(t.df.attrs)
    c_h = _find(cols, "height_m")
    if c_h:
        height, _ = _numbers(_Table(sub, label, t.offset), c_h)
        if (height < 0).any():
            i = int(np.flatnonzero(height < 0)[0])
            raise InputError("negative antenna height", file=label, row=int(idx[i]) + t.offset, column=c_h, value=float(height[i]))
    else:
        height = np.full(idx.size, np.nan)
    c_t = _find(cols, "technology")
    tech = sub[c_t].astype(object).where(~_is_missing(sub[c_t]), "").astype(str).to_numpy() if c_t else np.full(idx.size, "")
    name = Path(label).stem if isinstance(source, (str, Path)) else label
    return Deployment(
        site_ids=ids.astype(str), operator=ops.astype(str), x=np.asarray(x, float), y=np.asarray(y, float), crs=target,
        height_m=np.asarray(height, float), technology=tech.astype(str), azimuths=_azimuths(st, _find(cols, "azimuths")),
        name=name, source=label, notes=tuple(notes),
    )


def _id_text(v) -> str:
    """An id cell as text: integers stay integers ("12", not "12.0")."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _safe_local(crs: str, lon: float, lat: float) -> bool:
    try:
        return is_local_metric(crs, lon, lat)
    except Exception:
        return False


def _operator_rows(ops: np.ndarray, wanted: str) -> np.ndarray:
    """Rows of one operator, by name or MCC-MNC code, case-insensitively."""
    w = wanted.strip().lower()
    names = np.array([MCC_MNC.get(o, o).lower() for o in ops]) if ops.size else ops
    codes = {c for c, n in MCC_MNC.items() if n.lower() == w}
    return (np.char.lower(ops.astype(str)) == w) | (names == w) | np.isin(ops, list(codes))



def load_table(path) -> tuple[pd.DataFrame, int]:
    """The raw table of a CSV/Parquet file (encoding and delimiter sniffed, BOM and spaces stripped
    from the column names) and the offset turning a 0-based index into the row a person sees.
    For the other tables a user brings (per-BS value tables)."""
    t = _load(path, raw=True)
    _clean_columns(t.df)
    if t.offset == 2:  # CSV: a short row's missing cells are empty text, like an empty cell
        t.df = t.df.fillna("")
    return t.df, t.offset


_load_table = load_table  # the name deepmend.geolocate.values imports
