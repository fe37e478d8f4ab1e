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
from shapely.geometry import mapping

from deepmend.data.crs import CRSValueError, parse_crs, transformer
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
        """The part of this region inside ``other`` (reprojected to this region's CRS), named ``name`` (default ``"<this> ∩ <other>"``)."""
        other = other if other.crs == self.crs else other.to_crs(self.crs)
        return Region(name or f"{self.name} ∩ {other.name}", self.geometry.intersection(other.geometry), self.metric.intersection(other.metric), self.crs)

    def geojson(self) -> dict:
        """A FeatureCollection in WGS84, as the web map wants it."""
        return {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": self.name}, "geometry": mapping(self.geometry)}]}


def project(geom: shapely.Geometry, src: str, dst: str) -> shapely.Geometry:
    """Reproject a geometry with pyproj (vectorised over its coordinates)."""
    tr = transformer(src, dst)
    return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def check_geojson_crs(data: bytes, label: str) -> list:
    """Validate a GeoJSON document's ``crs`` member before GDAL sees it (a name is parsed by
    PROJ, a link names a file); returns the features' ``id`` members (GDAL turns integer ids
    into its FID, which cannot be told from a row number).

    Raises
    ------
    InputError
        If the bytes are not JSON, not a GeoJSON object, carry a ``crs`` member other than an
        EPSG name (or an unknown one), or ``features`` is not a list.
    """
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"invalid JSON ({exc})", file=label) from None
    if not isinstance(doc, dict):
        raise InputError("expected a GeoJSON FeatureCollection, Feature or geometry", file=label)
    member = doc.get("crs")
    if isinstance(member, dict):
        props = member.get("properties") or {}
        if member.get("type") != "name" or not isinstance(props, dict) or "name" not in props:
            raise InputError("unsupported GeoJSON 'crs' member (only {\"type\": \"name\"} with an EPSG name is read)", file=label, column="crs")
        try:
            parse_crs(props["name"])
        except CRSValueError as exc:
            raise InputError(str(exc), file=label, column="crs", value=str(props["name"])[:80]) from None
    feats = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc] if doc.get("type") == "Feature" else []
    if not isinstance(feats, list):
        raise InputError("GeoJSON 'features' is not a list", file=label)
    return [f.get("id") if isinstance(f, dict) else None for f in feats]


def read_polygons(path, *, name_field: str | None = None) -> dict[str, shapely.Geometry]:
    """Every polygon feature of a vector file (GeoJSON in any CRS, GeoPackage, Shapefile, …) or
    GeoDataFrame, by name, in WGS84, validated (geopandas/pyogrio).

    Raises
    ------
    InputError
        If the file is missing, a directory, not a readable vector file, or has no features;
        or a feature is not a (Multi)Polygon or its coordinates are not longitude/latitude
        (naming the file and the feature's row).
    """
    import geopandas as gpd

    if isinstance(path, gpd.GeoDataFrame):
        gdf, label = path, str(path.attrs.get("name", "GeoDataFrame"))
    else:
        path = Path(path)
        label = str(path)
        if not path.exists():
            raise InputError("region file not found", file=label)
        if path.is_dir():
            raise InputError("is a directory, expected a region file", file=label)
        if path.suffix.lower() in (".geojson", ".json"):
            check_geojson_crs(path.read_bytes(), label)
        try:
            gdf = gpd.read_file(path, engine="pyogrio")
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"cannot be read as a vector file ({first})", file=label) from None
        if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry is None:  # a table (CSV …): no geometry at all
            raise InputError("has no geometry: a region is a polygon file (GeoJSON, GeoPackage, Shapefile …)", file=label)
    if len(gdf) == 0:
        raise InputError("region file has no features", file=label)
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")
    elif not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")
    out: dict[str, shapely.Geometry] = {}
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    cols = {str(c).lower(): c for c in gdf.columns}
    for k, geom in enumerate(geoms, start=1):
        if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise InputError("feature is not a Polygon or MultiPolygon", file=label, row=k, column="geometry", value=None if geom is None else geom.geom_type)
        geom = shapely.make_valid(geom)
        minx, miny, maxx, maxy = geom.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise InputError("polygon coordinates are not longitude/latitude (a GeoJSON without a 'crs' member must be in WGS84)", file=label, row=k,
                             column="geometry", value=[round(v, 3) for v in geom.bounds])
        row = gdf.iloc[k - 1]
        key = None
        for f in ([name_field] if name_field else []) + ["name", "city", "nom"]:
            if f and f.lower() in cols and row[cols[f.lower()]] is not None and str(row[cols[f.lower()]]) not in ("", "nan"):
                key = str(row[cols[f.lower()]])
                break
        key = key or f"feature {k}"
        out[key] = geom if key not in out else out[key].union(geom)
    return out


def read_region(path, crs: str, name: str | None = None) -> Region:
    """A user's region: the union of all polygons of a vector file or GeoDataFrame (any CRS).

    Raises
    ------
    InputError
        From :func:`read_polygons`, or if the union of the polygons has no area.
    """
    polys = read_polygons(path)
    geom = shapely.union_all(list(polys.values()))
    if geom.is_empty or geom.area == 0:
        raise InputError("region has no area", file=str(path))
    return Region(name or (Path(path).stem if isinstance(path, (str, Path)) else "region"), geom, project(geom, "EPSG:4326", crs), crs)
