"""Metric coordinate reference systems: every grid lives in one, per METHOD.md §1."""

from __future__ import annotations

import json
import re
from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer

WGS84 = "EPSG:4326"

#: National metric CRS per ISO country code (METHOD.md §1); others use their UTM zone.
COUNTRY_CRS: dict[str, str] = {
    "FR": "EPSG:2154",  # Lambert-93
    "GB": "EPSG:27700",  # British National Grid
    "UK": "EPSG:27700",
    "IE": "EPSG:2157",  # Irish Transverse Mercator
    "BE": "EPSG:3812",  # Belgian Lambert 2008
}


def utm_crs(lon: float, lat: float) -> str:
    """The WGS84 UTM zone holding (lon, lat): the fallback metric CRS for any other place."""
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def metric_crs_for(country: str | None, lon: float, lat: float) -> str:
    """The metric CRS to use for a country code, or the local UTM zone."""
    if country and country.upper() in COUNTRY_CRS:
        return COUNTRY_CRS[country.upper()]
    return utm_crs(lon, lat)


@lru_cache(maxsize=64)
def transformer(src: str, dst: str) -> Transformer:
    """A cached always-xy transformer (lon/lat order for geographic CRSs)."""
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def to_metric(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS84 lon/lat arrays to ``crs``."""
    x, y = transformer(WGS84, crs).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x, float), np.asarray(y, float)


def to_wgs84(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Project metric x/y arrays back to WGS84 lon/lat."""
    lon, lat = transformer(crs, WGS84).transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon, float), np.asarray(lat, float)


def is_metric(crs: str) -> bool:
    """True when ``crs`` is projected with metre units (a grid of 100 m cells needs one)."""
    c = CRS.from_user_input(crs)
    return bool(c.is_projected) and all(a.unit_name in ("metre", "meter") for a in c.axis_info[:2])


# --- untrusted CRS strings ---------------------------------------------------------
_EPSG_RE = re.compile(r"^\s*(?:epsg\s*:\s*|urn:ogc:def:crs:epsg:[0-9.]*:)?(\d{4,6})\s*$", re.IGNORECASE)
_WKT_RE = re.compile(r"^\s*(PROJCS|GEOGCS|GEOCCS|COMPD_CS|VERT_CS|PROJCRS|GEOGCRS|GEODCRS|GEODETICCRS|PROJECTEDCRS|BOUNDCRS|COMPOUNDCRS)\s*\[", re.IGNORECASE)
#: Substrings that make PROJ/GDAL open a file or a grid: never passed on from user input.
_FORBIDDEN = ("+init", "init=", "nadgrids", "geoidgrids", "+proj", "file:", "@")
#: Projection methods whose metres are ground metres near their area of use (conformal,
#: local): a metric x/y CRS with another method (Web Mercator, equal-area, …) is reprojected.
CONFORMAL_METHODS = ("transverse mercator", "lambert conic conformal", "oblique stereographic", "polar stereographic",
                     "hotine oblique mercator", "oblique mercator", "stereographic")


class CRSValueError(ValueError):
    """A CRS string that is not accepted (unsafe or unknown); the message says why."""


def parse_crs(value: object) -> str:
    """A user's CRS as a canonical string (``EPSG:n`` or WKT), refusing anything that could name a file.

    Accepted: ``EPSG:n`` (also ``epsg:n``, a bare code ``n`` and ``urn:ogc:def:crs:EPSG::n``),
    WKT (1 or 2) and PROJJSON. Refused: PROJ strings (``+proj=…``, ``+init=…``), grid or
    file references, and anything PROJ does not know. Untrusted values (a ``crs`` column of
    an uploaded file) only reach PROJ through this function.

    Raises
    ------
    CRSValueError
        With a one-line reason.
    """
    text = str(value).strip()
    if not text or text.lower() in ("nan", "none", "null", "<na>", "na", "#n/a"):
        raise CRSValueError("empty CRS")
    if len(text) > 20_000:
        raise CRSValueError("CRS text too long")
    m = _EPSG_RE.match(text)
    if m:
        src = f"EPSG:{int(m.group(1))}"
    else:
        low = text.lower()
        if any(f in low for f in _FORBIDDEN):
            raise CRSValueError("only EPSG:n, WKT or PROJJSON are accepted (PROJ strings, +init and file references are not)")
        if text.startswith("{"):
            try:
                doc = json.loads(text)
            except json.JSONDecodeError:
                raise CRSValueError("not valid PROJJSON") from None
            if not isinstance(doc, dict) or "type" not in doc:
                raise CRSValueError("not valid PROJJSON")
        elif not _WKT_RE.match(text):
            raise CRSValueError("not a CRS: expected EPSG:n (e.g. EPSG:2154), WKT or PROJJSON")
        src = text
    try:
        crs = CRS.from_user_input(src)
    except Exception:
        raise CRSValueError("unknown CRS") from None
    epsg = crs.to_epsg(min_confidence=90)
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def is_local_metric(crs: str, lon: float, lat: float) -> bool:
    """True when ``crs`` measures ground metres at (lon, lat): projected, metre axes, a conformal
    method and an area of use holding the point (Web Mercator's "metres" at 60° N are half a metre)."""
    c = CRS.from_user_input(crs)
    if not is_metric(crs):
        return False
    method = (c.coordinate_operation.method_name if c.coordinate_operation else "").lower()
    if "pseudo" in method or not any(m in method for m in CONFORMAL_METHODS) or method in ("mercator (variant a)", "mercator (variant b)"):
        return False
    aou = c.area_of_use
    if aou is None:
        return True
    return aou.west - 1.0 <= lon <= aou.east + 1.0 and aou.south - 1.0 <= lat <= aou.north + 1.0


def local_metric_crs(lon: float, lat: float, country: str | None = None) -> str:
    """The metric CRS of sites centred at (lon, lat): the country's national CRS (FR, GB, IE, BE)
    when given or when the point lies in that CRS's area of use, else the point's UTM zone."""
    if country and country.upper() in COUNTRY_CRS:
        return COUNTRY_CRS[country.upper()]
    for code in ("BE", "IE", "GB", "FR"):
        aou = CRS.from_user_input(COUNTRY_CRS[code]).area_of_use
        if aou is not None and aou.west <= lon <= aou.east and aou.south <= lat <= aou.north and _in_country(code, lon, lat):
            return COUNTRY_CRS[code]
    return utm_crs(lon, lat)


def _in_country(code: str, lon: float, lat: float) -> bool:
    """Whether (lon, lat) lies within 20 km of the country's land (Natural Earth, via the catalog)."""
    try:
        from deepmend.data.catalog import country_region  # lazy: the catalog reads site files through this module's users
        import shapely

        land = country_region(code)
        x, y = to_metric(np.array([lon]), np.array([lat]), land.crs)
        return bool(shapely.dwithin(land.metric, shapely.points(x[0], y[0]), 20_000.0))
    except Exception:  # no boundary data installed: the area of use alone decides
        return True
