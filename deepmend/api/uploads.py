"""Uploaded site lists: validated, stored by content hash, bounded per client and in total.

Nothing here reads a path a client supplied: uploads are stored under a name derived
from the SHA-256 of their content and looked up by that id only. The store is bounded
(count and bytes, least recently used first, with a quota per client so that one client
cannot evict another's uploads in use: :mod:`deepmend.api.upload_store`): an evicted id
answers 404 like an unknown one, and the client uploads the file again. Binary and
compressed content is refused unexpanded; site ids are at most 200 characters.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from pathlib import Path
from typing import Callable

from deepmend.api.upload_store import UploadFiles, check_site_ids, check_upload_content
from deepmend.errors import InputError, NotFoundError, TooLargeError

log = logging.getLogger("deepmend.api")

UPLOAD_COUNTRY = "upload"
UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{16}$")
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_ROWS = 20_000
#: Uploads kept on disk (oldest evicted first). Anyone may upload, so without a cap the
#: uploads folder would grow until the disk is full; 200 × ≤ 5 MB files stay well under
#: the byte cap in practice, which is there for deployments that raise the count.
MAX_STORED_UPLOADS = 200
MAX_STORED_UPLOAD_BYTES = 200 * 1024 * 1024
#: What one client (address) may hold of the store (upload_store.py).
MAX_UPLOADS_PER_CLIENT = 20
MAX_UPLOAD_BYTES_PER_CLIENT = 50 * 1024 * 1024


class UploadStore:
    """The uploads folder of a service.

    Parameters
    ----------
    root : Path
        The folder (created on first use).
    max_count, max_bytes : int
        Limits of the store; attributes, so operators and tests may change them on a
        running service.
    on_evict : callable, optional
        Called with each evicted upload id (the service drops its in-memory caches).
    per_client_count, per_client_bytes : int
        What one client may hold (:class:`~deepmend.api.upload_store.UploadFiles`).
    """

    def __init__(self, root: Path, max_count: int, max_bytes: int, on_evict: Callable[[str], None] | None = None, *,
                 per_client_count: int = MAX_UPLOADS_PER_CLIENT, per_client_bytes: int = MAX_UPLOAD_BYTES_PER_CLIENT) -> None:
        self.root = Path(root)
        self.files = UploadFiles(self.root, max_count=max_count, max_bytes=max_bytes,
                                 per_client_count=per_client_count, per_client_bytes=per_client_bytes)
        self.on_evict = on_evict

    @property
    def max_count(self) -> int:
        return self.files.max_count

    @max_count.setter
    def max_count(self, v: int) -> None:
        self.files.max_count = int(v)

    @property
    def max_bytes(self) -> int:
        return self.files.max_bytes

    @max_bytes.setter
    def max_bytes(self, v: int) -> None:
        self.files.max_bytes = int(v)

    @property
    def dir(self) -> Path:
        """The uploads folder, created if needed."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

    def check_id(self, value: str) -> str:
        """The normalised id of a stored upload.

        Raises
        ------
        NotFoundError
            Malformed id, or no such upload on this server (never stored, or evicted).
        """
        v = str(value).strip().lower()
        if not UPLOAD_ID_RE.match(v):
            raise NotFoundError("unknown upload id (expected the 16 hex digits returned by POST /api/uploads)", column="city", value=value)
        if v not in self.files:
            raise self.expired(value)
        self.files.touch(v)  # a use: the least recently used uploads are evicted first
        return v

    @staticmethod
    def expired(value: str) -> NotFoundError:
        """The one answer (404) for an id this server does not hold: never stored, or evicted."""
        return NotFoundError("unknown upload id (not on this server, or expired); upload the file again", column="city", value=value)

    def deployment(self, upload_id: str):
        """The :class:`~deepmend.data.deployment.Deployment` of a stored upload.

        Raises
        ------
        NotFoundError
            The upload was evicted meanwhile.
        InputError
            The stored file cannot be read (it was validated when stored).
        """
        from deepmend.data.readers import read_sites

        path = self.dir / f"{upload_id}.csv"
        try:
            return read_sites(path, audience="web")
        except (InputError, OSError):
            if not path.is_file():  # evicted between check_id() and this read: the id has expired
                raise self.expired(upload_id) from None
            raise

    def region(self, upload_id: str, crs: str, near=None):
        """The region stored with an upload (None when it has none), in ``crs``, clipped around ``near``'s sites
        (:func:`load_region`)."""
        path = self.files.region_path(upload_id)
        return load_region(path, crs, near) if path.is_file() else None

    def _region_doc(self, region_content: bytes | None, region_filename: str | None, region_name: str | None) -> tuple[dict | None, str | None]:
        """The region sidecar of an upload ({"bundled": "FR"} or a WGS84 polygon) and the country whose checks apply.

        Raises
        ------
        InputError
            Both or neither kind of region, an unknown bundled name, or a region file that is not a
            GeoJSON polygon (naming the client's file name).
        """
        import json

        import shapely

        from deepmend.data.catalog import COUNTRIES
        from deepmend.data.regions import read_polygons
        from deepmend.scene import bundled_region

        if region_content is not None and region_name:
            raise InputError("give either a region file or a bundled region name, not both", column="region", value=region_name)
        if region_name:
            name = str(region_name).strip()
            try:
                found = bundled_region(name, "EPSG:4326")
            except InputError as exc:
                raise InputError(f"unknown bundled region ({exc.message})", column="region", value=name) from None
            if found is None:
                raise InputError(f"unknown bundled region; choose a country ({', '.join(COUNTRIES)}) or country/city as in the catalog (e.g. FR/Lyon)",
                                 column="region", value=name)
            code = name.split("/")[0].strip().upper()
            return {"bundled": name}, ("GB" if code == "UK" else code)
        if region_content is None:
            return None, None
        shown = re.sub(r"[^A-Za-z0-9._ -]+", "_", Path(region_filename or "region.geojson").name)[:100] or "region.geojson"
        if len(region_content) > MAX_UPLOAD_BYTES:
            raise TooLargeError(f"{shown}: file is {len(region_content) / 1e6:.1f} MB, the limit is {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
        check_upload_content(region_content, shown)
        if not region_content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
            raise InputError("the region must be a GeoJSON file (export the polygon as GeoJSON)", file=shown)
        with tempfile.TemporaryDirectory(prefix=".region-", dir=self.dir) as tmp:
            path = Path(tmp) / "region.geojson"
            path.write_bytes(region_content)
            try:
                polys = read_polygons(path)
            except InputError as exc:
                raise type(exc)(str(exc).replace(str(path), shown).replace(tmp, "")) from None
            except Exception as exc:  # a reader bug must still answer 400 naming the file, not 500
                log.exception("region %s could not be read", shown)
                raise InputError(f"cannot be read as a region ({type(exc).__name__})", file=shown) from None
        geom = shapely.union_all(list(polys.values()))
        if geom.is_empty or geom.area == 0:
            raise InputError("region has no area", file=shown)
        return {"name": Path(shown).stem, "geometry": json.loads(shapely.to_geojson(geom))}, None

    def add(self, content: bytes, filename: str | None, client: str = "", *, region_content: bytes | None = None,
            region_filename: str | None = None, region_name: str | None = None) -> dict:
        """Validate a CSV (or Parquet) site list and store it by content hash for ``client``; returns the API's upload answer.

        A region (``region_content``: a GeoJSON polygon file in any CRS; or ``region_name``: a bundled
        country ``FR`` or ``CC/City``) is kept with the list: sites just outside it are snapped (≤ 2 km,
        the distance reported in ``notes``), sites far outside are neighbours (they shape the border
        cells and get no map), as for the command line (docs/INPUTS.md). A bundled country also applies
        that country's coordinate checks (points outside it, swapped lat/lon).

        Raises
        ------
        TooLargeError
            Over :data:`MAX_UPLOAD_BYTES` or :data:`MAX_UPLOAD_ROWS`.
        UnsupportedUploadError
            Binary or compressed content (zip/.npz, gzip …): refused unexpanded (422). Parquet is
            read through its size checks (:func:`parquet_as_csv`).
        StoreFullError
            The store is full of other clients' uploads in use (503, retry later).
        InputError
            Empty or unreadable file, or a site list no scene can be built from, naming the
            client's file name (never a server path).
        """
        import json

        from deepmend.data.deployment import split_networks
        from deepmend.data.readers import read_sites
        from deepmend.scene import Scene, check_extent

        shown = re.sub(r"[^A-Za-z0-9._ -]+", "_", Path(filename or "upload.csv").name)[:100] or "upload.csv"
        if len(content) > MAX_UPLOAD_BYTES:
            raise TooLargeError(f"{shown}: file is {len(content) / 1e6:.1f} MB, the limit is {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
        check_upload_content(content, shown)
        if content.startswith(PARQUET_MAGIC):
            content = parquet_as_csv(content, shown)
        lines = [ln for ln in content.splitlines() if ln.strip()]
        if len(lines) - 1 > MAX_UPLOAD_ROWS:
            raise TooLargeError(f"{shown}: {len(lines) - 1} rows, the limit is {MAX_UPLOAD_ROWS} sites")
        if not lines:
            raise InputError("file is empty", file=shown)
        region_doc, country = self._region_doc(region_content, region_filename, region_name)
        region_bytes = json.dumps(region_doc, sort_keys=True).encode() if region_doc is not None else b""
        # the id names the list and its region: the same sites in another region are another scene
        upload_id = hashlib.sha256(content + (b"\n#region " + region_bytes if region_doc is not None else b"")).hexdigest()[:16]
        notes: list[str] = []
        with tempfile.TemporaryDirectory(prefix=".upload-", dir=self.dir) as tmp:
            path = Path(tmp) / f"{upload_id}.csv"
            path.write_bytes(content)
            region_path = None
            if region_doc is not None:
                region_path = Path(tmp) / f"{upload_id}.region.json"
                region_path.write_bytes(region_bytes)
            try:
                dep = read_sites(path, audience="web", country=country)
                check_site_ids(dep.site_ids, shown)
                check_extent(dep)  # cost limit (docs/INPUTS.md), before any per-cell work
                for net in split_networks(dep).values():  # each operator's network on its own
                    reg = load_region(region_path, net.crs, net) if region_path is not None else None
                    notes.extend(Scene.from_files(net, reg).notes)
            except InputError as exc:  # same class (its HTTP status), message without server paths
                raise type(exc)(str(exc).replace(str(path), shown).replace(tmp, "")) from None
            except Exception as exc:  # a reader bug must still answer 400 naming the file, not 500
                log.exception("upload %s could not be read", shown)
                raise InputError(f"cannot be read as a site list ({type(exc).__name__})", file=shown) from None
            evicted = self.files.put(upload_id, path, client, region=region_path)
        for uid in evicted:
            if self.on_evict is not None:
                self.on_evict(uid)
        return {"upload_id": upload_id, "n_sites": int(len(dep)), "operators": dep.operators(), "country": UPLOAD_COUNTRY, "city": upload_id,
                "notes": list(dict.fromkeys([*dep.notes, *notes])),
                "region": None if region_doc is None else str(region_doc.get("bundled") or region_doc["name"])}


def load_region(path: Path, crs: str, near=None):
    """An upload's region sidecar (``{"bundled": "FR"}`` or ``{"name", "geometry"}`` in WGS84) as a
    :class:`~deepmend.data.regions.Region` in ``crs``, clipped to the box of ``near``'s sites (a
    :class:`~deepmend.data.deployment.Deployment`) plus the influence margin, so that a country's
    coastline is not rasterised in full for a city's sites."""
    import json

    import shapely

    from deepmend.data.regions import Region, project
    from deepmend.scene import INFLUENCE_MARGIN_M, bundled_region

    doc = json.loads(Path(path).read_text())
    if "bundled" in doc:
        reg = bundled_region(doc["bundled"], crs)
    else:
        geom = shapely.from_geojson(json.dumps(doc["geometry"]))
        reg = Region(str(doc["name"]), geom, project(geom, "EPSG:4326", crs), crs)
    if near is not None and len(near):
        m = INFLUENCE_MARGIN_M
        box = shapely.box(near.x.min() - m, near.y.min() - m, near.x.max() + m, near.y.max() + m)
        metric = shapely.intersection(reg.metric, box)
        if not metric.is_empty:
            reg = Region(reg.name, project(metric, crs, "EPSG:4326"), metric, crs)
    return reg


#: The first bytes of every Parquet file.
PARQUET_MAGIC = b"PAR1"


def parquet_as_csv(content: bytes, shown: str) -> bytes:
    """A Parquet site list as the CSV text the upload store keeps.

    The table is read by :func:`deepmend.data.limits.read_parquet`, which checks the footer's row
    count and uncompressed sizes (and the decoded size of dictionary strings) before expanding
    anything; nullable values (``<NA>``) become empty cells, which the site reader treats as missing.

    Raises
    ------
    TooLargeError
        More than :data:`MAX_UPLOAD_ROWS` rows, or an expanded size over 16 × the upload limit.
    InputError
        Not a readable Parquet file, naming the client's file name.
    """
    import tempfile

    from deepmend.data.limits import read_parquet

    with tempfile.NamedTemporaryFile(suffix=".parquet") as fh:
        fh.write(content)
        fh.flush()
        try:
            df = read_parquet(fh.name, max_rows=MAX_UPLOAD_ROWS, max_bytes=16 * MAX_UPLOAD_BYTES)
            df = _geoparquet_points(df, fh.name, shown)
        except InputError as exc:
            raise type(exc)(str(exc).replace(fh.name, shown)) from None
    return df.to_csv(index=False).encode()


def _geoparquet_points(df, path: str, shown: str):
    """A GeoParquet table (a ``geo`` schema entry) with its point geometry as ``lon``/``lat`` columns (WGS84);
    other tables unchanged.

    Raises
    ------
    InputError
        A geometry that is not a point, or a CRS that cannot be read (naming the client's file and the row).
    """
    import json

    import geopandas as gpd
    import pyarrow.parquet as pq

    meta = (pq.read_schema(path).metadata or {}).get(b"geo")
    if not meta:
        return df
    try:
        geo = json.loads(meta)
        col = geo.get("primary_column", "geometry")
        crs = (geo.get("columns", {}).get(col) or {}).get("crs", "OGC:CRS84")
        gs = gpd.GeoSeries.from_wkb(df[col], crs=crs if crs is not None else "OGC:CRS84")
    except Exception as exc:  # noqa: BLE001 - a malformed 'geo' entry or WKB: one sentence, never a 500
        raise InputError(f"GeoParquet geometry cannot be read ({type(exc).__name__})", file=shown, column="geometry") from None
    kinds = gs.geom_type.to_numpy()
    bad = [k for k, t in enumerate(kinds) if t is not None and t != "Point"]
    if bad:
        raise InputError(f"feature is a {kinds[bad[0]]}, expected Point features (sites)", file=shown, row=bad[0] + 1, column="geometry", value=str(kinds[bad[0]]))
    gs = gs.to_crs("EPSG:4326")
    out = df.drop(columns=[col])
    out["lon"], out["lat"] = gs.x.to_numpy(), gs.y.to_numpy()
    return out


def mentions_upload(key, upload_id: str) -> bool:
    """True when a cache key belongs to the upload ``upload_id``.

    Keys hold the scene as ``SceneSpec.as_tuple()`` (``("upload", id, operator)``), possibly
    nested, or as the JSON of a map key (``"scene": ["upload", id, …]``).
    """
    if isinstance(key, tuple):
        if len(key) >= 2 and key[0] == UPLOAD_COUNTRY and key[1] == upload_id:
            return True
        return any(mentions_upload(k, upload_id) for k in key)
    if isinstance(key, str):
        return f'"scene": ["{UPLOAD_COUNTRY}", "{upload_id}"' in key
    return False
