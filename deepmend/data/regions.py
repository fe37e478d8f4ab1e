"""Regions of interest (country land, a city study area, a user's polygon) as shapely geometries.

A region decides which grid cells are valid: users are never at sea nor outside the
area a deployment describes. Geometries are kept in WGS84 (for maps) and projected
to the deployment's metric CRS (for rasterising).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from deepmend.data.crs import transformer
from deepmend.errors import InputError


@dataclass(frozen=True)
class Region:
    """A named polygonal area, in WGS84 (``geometry``) and in ``crs`` (``metric``)."""

    name: str
    geometry: shapely.Geometry  # WGS84 lon/lat
    metric: shapely.Geometry  # in ``crs``
    crs: str

    def to_crs(self, crs: str) -> "Region":
        return Region(self.name, self.geometry, project(self.geometry, "EPSG:4326", crs), crs)

    def intersection(self, other: "Region", name: str | None = None) -> "Region":
        other = other if other.crs == self.crs else other.to_crs(self.crs)
        return Region(name or f"{self.name} ∩ {other.name}", self.geometry.intersection(other.geometry), self.metric.intersection(other.metric), self.crs)

    def geojson(self) -> dict:
        """A FeatureCollection in WGS84, as the web map wants it."""
        return {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": self.name}, "geometry": mapping(self.geometry)}]}


def project(geom: shapely.Geometry, src: str, dst: str) -> shapely.Geometry:
    """Reproject a geometry with pyproj (vectorised over its coordinates)."""
    tr = transformer(src, dst)
    return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def _features(path: Path) -> list[dict]:
    if not path.exists():
        raise InputError("region file not found", file=str(path))
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid GeoJSON ({exc})", file=str(path)) from None
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        feats = doc.get("features")
    elif isinstance(doc, dict) and doc.get("type") == "Feature":
        feats = [doc]
    elif isinstance(doc, dict) and doc.get("type") in ("Polygon", "MultiPolygon"):
        feats = [{"type": "Feature", "properties": {}, "geometry": doc}]
    else:
        raise InputError("expected a GeoJSON FeatureCollection, Feature, Polygon or MultiPolygon", file=str(path))
    if not isinstance(feats, list) or not feats:
        raise InputError("GeoJSON has no features", file=str(path))
    return feats


def read_polygons(path: str | Path, *, name_field: str | None = None) -> dict[str, shapely.Geometry]:
    """Every polygon feature of a GeoJSON file by name (WGS84), validated."""
    path = Path(path)
    out: dict[str, shapely.Geometry] = {}
    for k, feat in enumerate(_features(path), start=1):
        geom_doc = (feat or {}).get("geometry")
        if not geom_doc or geom_doc.get("type") not in ("Polygon", "MultiPolygon"):
            raise InputError("feature is not a Polygon or MultiPolygon", file=str(path), row=k, column="geometry", value=(geom_doc or {}).get("type"))
        try:
            geom = shapely.make_valid(shape(geom_doc))
        except Exception as exc:
            raise InputError(f"invalid polygon coordinates ({exc})", file=str(path), row=k, column="geometry") from None
        minx, miny, maxx, maxy = geom.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise InputError("polygon coordinates are not WGS84 [lon, lat] (GeoJSON requires them)", file=str(path), row=k, column="geometry", value=[round(v, 3) for v in geom.bounds])
        props = feat.get("properties") or {}
        key = str(props.get(name_field) if name_field and name_field in props else props.get("name") or props.get("city") or props.get("nom") or f"feature {k}")
        out[key] = geom if key not in out else out[key].union(geom)
    return out


def read_region(path: str | Path, crs: str, name: str | None = None) -> Region:
    """A user's region: the union of all polygons in a GeoJSON file."""
    polys = read_polygons(path)
    geom = shapely.union_all(list(polys.values()))
    if geom.is_empty or geom.area == 0:
        raise InputError("region has no area", file=str(path))
    return Region(name or Path(path).stem, geom, project(geom, "EPSG:4326", crs), crs)
