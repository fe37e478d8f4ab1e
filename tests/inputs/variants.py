"""Variant inputs of the eight kinds (docs/INPUTS.md), written as new users have them: other encodings,
dialects, swaps in other countries, other CRSs, vector formats, co-location and degenerate patterns.

:func:`write_variants` writes them into a folder and returns, per file name, ``(outcome, a site id,
extra CLI options[, words of the refusal])``; ``outcome`` is ``ok`` or ``refuse``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Transformer


def tr(src, dst, x, y):
    return Transformer.from_crs(src, dst, always_xy=True).transform(x, y)


def write_variants(D: Path) -> dict:
    import geopandas as gpd

    D.mkdir(parents=True, exist_ok=True)
    exp = {}
    paris = [(2.3522, 48.8566), (2.2950, 48.8738), (2.3950, 48.8400), (2.3200, 48.8200), (2.3700, 48.8900), (2.2700, 48.8450)]
    ids_acc = ["Évry-01", "Châtelet", "Gare_Été", "Crémieux", "Ölund", "Saint-Étienne"]
    # v01 UTF-16 with BOM, tab separated (Excel "Unicode text"), accented ids
    txt = "site_id\toperator\tlat\tlon\n" + "".join(f"{i}\tOpA\t{la}\t{lo}\n" for i, (lo, la) in zip(ids_acc, paris))
    (D / "v01_utf16_bom_tab.txt").write_bytes(txt.encode("utf-16"))  # BOM included
    exp["v01_utf16_bom_tab.txt"] = ("ok", ids_acc[0], [])
    # v02 cp1252 ; accented ids
    txt = "site_id;operator;lat;lon\r\n" + "".join(f"{i};OpA;{la};{lo}\r\n" for i, (lo, la) in zip(ids_acc, paris))
    (D / "v02_cp1252_semicolon.csv").write_bytes(txt.encode("cp1252"))
    exp["v02_cp1252_semicolon.csv"] = ("ok", "Châtelet", [])
    # v03 ; decimal comma #N/A height
    txt = "id;opérateur;latitude;longitude;hauteur\n" + "".join(f"P{k};Orange;{str(la).replace('.', ',')};{str(lo).replace('.', ',')};{'#N/A' if k % 2 else '25,5'}\n" for k, (lo, la) in enumerate(paris))
    (D / "v03_semicolon_comma_NA.csv").write_text(txt, encoding="utf-8")
    exp["v03_semicolon_comma_NA.csv"] = ("ok", "P0", [])
    # v04 swapped GB London with --country GB
    london = [(-0.1276, 51.5072), (-0.0877, 51.5155), (-0.1420, 51.5010), (-0.1000, 51.4900), (-0.1600, 51.5200)]
    txt = "site_id,operator,lat,lon\n" + "".join(f"L{k},EE,{lo},{la}\n" for k, (lo, la) in enumerate(london))
    (D / "v04_swapped_london.csv").write_text(txt)
    exp["v04_swapped_london.csv"] = ("refuse", "L0", ["--country", "GB"], "swapped")
    # v05 swapped IE Dublin, no country
    dublin = [(-6.2603, 53.3498), (-6.2500, 53.3400), (-6.2800, 53.3550), (-6.2300, 53.3600)]
    txt = "site_id,operator,lat,lon\n" + "".join(f"D{k},Three,{lo},{la}\n" for k, (lo, la) in enumerate(dublin))
    (D / "v05_swapped_dublin.csv").write_text(txt)
    exp["v05_swapped_dublin.csv"] = ("refuse", "D0", [], "swapped")
    # v06 swapped BE Brussels --country BE
    bru = [(4.3517, 50.8503), (4.3700, 50.8400), (4.3300, 50.8600), (4.3900, 50.8550)]
    txt = "site_id,operator,lat,lon\n" + "".join(f"B{k},Proximus,{lo},{la}\n" for k, (lo, la) in enumerate(bru))
    (D / "v06_swapped_brussels.csv").write_text(txt)
    exp["v06_swapped_brussels.csv"] = ("refuse", "B0", ["--country", "BE"], "swapped")
    # v07 EPSG:3857 x/y Paris
    x, y = tr("EPSG:4326", "EPSG:3857", [p[0] for p in paris], [p[1] for p in paris])
    pd.DataFrame({"site_id": [f"M{k}" for k in range(6)], "x": x, "y": y}).to_csv(D / "v07_webmerc_paris.csv", index=False)
    exp["v07_webmerc_paris.csv"] = ("ok", "M0", ["--crs", "EPSG:3857"])
    # v08 EPSG:2154 with a crs column
    x, y = tr("EPSG:4326", "EPSG:2154", [p[0] for p in paris], [p[1] for p in paris])
    pd.DataFrame({"cell_id": [f"C{k}" for k in range(6)], "X": np.round(x, 1), "Y": np.round(y, 1), "crs": "EPSG:2154"}).to_csv(D / "v08_l93_crs_column.csv", index=False)
    exp["v08_l93_crs_column.csv"] = ("ok", "C0", [])
    # v09 per-row crs mixing EPSG:2154 and EPSG:3857
    x3, y3 = tr("EPSG:4326", "EPSG:3857", [p[0] for p in paris], [p[1] for p in paris])
    rows = [(f"X{k}", (x[k], y[k], "EPSG:2154") if k % 2 == 0 else (x3[k], y3[k], "EPSG:3857")) for k in range(6)]
    pd.DataFrame({"site_id": [r[0] for r in rows], "x": [r[1][0] for r in rows], "y": [r[1][1] for r in rows], "crs": [r[1][2] for r in rows]}).to_csv(D / "v09_mixed_2154_3857.csv", index=False)
    exp["v09_mixed_2154_3857.csv"] = ("ok", "X1", [])
    # v10 GeoPackage (EPSG:2154)
    g = gpd.GeoDataFrame({"site_id": [f"G{k}" for k in range(6)], "operator": "OpA"}, geometry=gpd.points_from_xy(x, y), crs="EPSG:2154")
    g.to_file(D / "v10_sites.gpkg", driver="GPKG")
    exp["v10_sites.gpkg"] = ("ok", "G0", [])
    # v11 Shapefile (EPSG:27700, London)
    xb, yb = tr("EPSG:4326", "EPSG:27700", [p[0] for p in london], [p[1] for p in london])
    gpd.GeoDataFrame({"CELL_ID": [f"S{k}" for k in range(5)], "MNO": "EE"}, geometry=gpd.points_from_xy(xb, yb), crs="EPSG:27700").to_file(D / "v11_london.shp")
    exp["v11_london.shp"] = ("ok", "S0", [])
    # v12 GeoJSON with crs member EPSG:3857
    feats = [{"type": "Feature", "properties": {"name": f"J{k}"}, "id": f"J{k}", "geometry": {"type": "Point", "coordinates": [x3[k], y3[k]]}} for k in range(6)]
    (D / "v12_webmerc_crs_member.geojson").write_text(json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}, "features": feats}))
    exp["v12_webmerc_crs_member.geojson"] = ("ok", "J0", [])
    # v13 CELL_ID with BOM
    txt = "CELL_ID,Operator,Latitude,Longitude\r\n" + "".join(f"{100 + k},OpA,{la},{lo}\r\n" for k, (lo, la) in enumerate(paris))
    (D / "v13_cellid_bom.csv").write_bytes(txt.encode("utf-8-sig"))
    exp["v13_cellid_bom.csv"] = ("ok", "100", [])
    # v14 two operators sharing every mast
    rows = [f"{op}{k},{op},{la},{lo}\n" for op in ("OpA", "OpB") for k, (lo, la) in enumerate(paris)]
    (D / "v14_shared_masts.csv").write_text("site_id,operator,lat,lon\n" + "".join(rows))
    exp["v14_shared_masts.csv"] = ("ok", "OpB0", [])
    # v16 one site, v17 two sites, v18 collinear
    (D / "v16_one_site.csv").write_text("site_id,lat,lon\nONLY,45.76,4.84\n")
    exp["v16_one_site.csv"] = ("ok", "ONLY", [])
    (D / "v17_two_sites.csv").write_text("site_id,lat,lon\nT1,48.85,2.35\nT2,48.86,2.36\n")
    exp["v17_two_sites.csv"] = ("ok", "T2", [])
    (D / "v18_collinear_diag.csv").write_text("site_id,lat,lon\n" + "".join(f"K{k},{50.60 + 0.02 * k},{3.00 + 0.03 * k}\n" for k in range(6)))
    exp["v18_collinear_diag.csv"] = ("ok", "K3", [])
    # v19 site 300 m off the coast (Marseille, Frioul side) with --region FR
    (D / "v19_offshore_300m.csv").write_text("site_id,lat,lon\nSEA1,43.2965,5.3530\nM1,43.3000,5.3800\nM2,43.2800,5.4000\nM3,43.3200,5.4000\n")
    exp["v19_offshore_300m.csv"] = ("ok", "SEA1", ["--region", "FR"])
    # v20 GeoParquet
    g.to_parquet(D / "v20_geoparquet.parquet")
    exp["v20_geoparquet.parquet"] = ("ok", "G0", [])
    # v22 ids with leading zeros
    (D / "v22_leading_zero_ids.csv").write_text("site_id,lat,lon\n007,48.85,2.35\n0070,48.86,2.36\n7,48.84,2.34\n")
    exp["v22_leading_zero_ids.csv"] = ("ok", "007", [])
    # v23 tab separated, quoted, lng
    (D / "v23_tab_quoted_lng.tsv").write_text('"antenna_id"\t"lat"\t"lng"\n' + "".join(f'"A {k}"\t"{la}"\t"{lo}"\n' for k, (lo, la) in enumerate(paris)))
    exp["v23_tab_quoted_lng.tsv"] = ("ok", "A 0", [])
    # v24 quoted decimal comma in a , CSV
    (D / "v24_quoted_decimal_comma.csv").write_text("site_id,lat,lon\n" + "".join(f'Q{k},"{str(la).replace(".", ",")}","{str(lo).replace(".", ",")}"\n' for k, (lo, la) in enumerate(paris)))
    exp["v24_quoted_decimal_comma.csv"] = ("ok", "Q0", [])
    # v26 DMS coordinates
    (D / "v26_dms.csv").write_text("site_id,lat,lon\nD1,48°51'24\"N,2°21'08\"E\nD2,48°52'N,2°20'E\n")
    exp["v26_dms.csv"] = ("refuse", "D1", [], "not a number")
    # v27 header only
    (D / "v27_header_only.csv").write_text("site_id,lat,lon\n")
    exp["v27_header_only.csv"] = ("refuse", "x", [], "no data rows")
    # v28 lat/lon in x/y columns with --crs EPSG:27700 (degrees in metric CRS)
    (D / "v28_degrees_as_bng.csv").write_text("site_id,easting,northing\n" + "".join(f"E{k},{lo},{la}\n" for k, (lo, la) in enumerate(london)))
    exp["v28_degrees_as_bng.csv"] = ("refuse", "E0", ["--crs", "EPSG:27700"], "degrees")
    # v29 spreadsheet leftovers: ",,,," rows and a blank line in the middle (row numbers stay the file's lines)
    (D / "v29_blank_rows.csv").write_text("site_id,lat,lon,,\nA,48.85,2.35,,\n,,,,\nB,48.86,2.36,,\n\nC,48.84,2.37,,\n,,,,\n")
    exp["v29_blank_rows.csv"] = ("ok", "C", [])
    # v30 regulator-style headers: "Site ID", "LATITUDE (WGS84)", "Long."
    (D / "v30_header_words.csv").write_text("Site ID;LATITUDE (WGS84);Long.\n" + "".join(f"H{k};{str(la).replace('.', ',')};{str(lo).replace('.', ',')}\n" for k, (lo, la) in enumerate(paris)))
    exp["v30_header_words.csv"] = ("ok", "H2", [])
    # v31 each operator numbered its own sites from 1: refused, saying so
    (D / "v31_ids_per_operator.csv").write_text("site_id,operator,lat,lon\n1,OpA,48.85,2.35\n2,OpA,48.86,2.36\n1,OpB,48.85,2.35\n2,OpB,48.84,2.34\n")
    exp["v31_ids_per_operator.csv"] = ("refuse", "1", [], "operators OpA (row 2) and OpB (row 4) use the same id")
    # v32 a blank line before a bad value: the row named is the file's line 5
    (D / "v32_bad_value_after_blank_line.csv").write_text("site_id,lat,lon\nA,48.85,2.35\n\nB,48.86,2.36\nC,48.87,east\n")
    exp["v32_bad_value_after_blank_line.csv"] = ("refuse", "A", [], "row 5, column 'lon', value 'east': not a number")
    # v33 an attribute export: GeoJSON features without geometry, coordinates in lat/lon properties
    (D / "v33_null_geometry_latlon.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"site_id": f"N{k}", "lat": la, "lon": lo}, "geometry": None} for k, (lo, la) in enumerate(paris)]}))
    exp["v33_null_geometry_latlon.geojson"] = ("ok", "N1", [])
    # v34 a MultiPoint of two points is not one site
    (D / "v34_multipoint.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"site_id": "MP"}, "geometry": {"type": "MultiPoint", "coordinates": [list(paris[0]), list(paris[1])]}}]}))
    exp["v34_multipoint.geojson"] = ("refuse", "MP", [], "feature is a MultiPoint, expected Point features")
    return exp


def write_national_with_overseas(D: Path, n: int = 24_000) -> Path:
    """``n`` random sites on France's land (Natural Earth 1:10m) plus one site on La Réunion (``R974``)."""
    import geopandas as gpd
    import shapely

    from deepmend.data.catalog import COUNTRIES, data_file

    fr = gpd.read_file(data_file(f"boundaries/{COUNTRIES['FR'].boundary}")).geometry.union_all()
    rng = np.random.default_rng(0)
    pts = []
    minx, miny, maxx, maxy = fr.bounds
    while len(pts) < n:
        px, py = rng.uniform(minx, maxx, 30000), rng.uniform(miny, maxy, 30000)
        ok = shapely.contains_xy(fr, px, py)
        pts += list(zip(px[ok], py[ok]))
    pts = pts[:n]
    df = pd.DataFrame({"site_id": [f"N{k:05d}" for k in range(n)], "operator": "OpA", "lat": [p[1] for p in pts], "lon": [p[0] for p in pts]})
    df = pd.concat([df, pd.DataFrame({"site_id": ["R974"], "operator": ["OpA"], "lat": [-20.8821], "lon": [55.4504]})])
    df.to_csv(D / "v15_national_24k_plus_reunion.csv", index=False)
    return D / "v15_national_24k_plus_reunion.csv"
