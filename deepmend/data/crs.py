"""Metric coordinate reference systems: every grid lives in one, per METHOD.md §1."""

from __future__ import annotations

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
