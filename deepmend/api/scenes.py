"""Scenes of the API: a request's names → a canonical :class:`SceneSpec` → a built scene (single flight)."""

from __future__ import annotations

import numpy as np

from deepmend.api.cache import OnceLRU
from deepmend.api.uploads import UPLOAD_COUNTRY, UploadStore
from deepmend.errors import InputError, NotFoundError
from deepmend.scene_spec import SceneSpec


def _not_found(exc: InputError) -> NotFoundError:
    """The catalog's refusal of a name, as the "no such resource" it is for the API."""
    if isinstance(exc, NotFoundError):
        return exc
    return NotFoundError(exc.message, file=exc.file, row=exc.row, column=exc.column, value=exc.value)


class Scenes:
    """Resolve and build scenes, catalog or uploaded, each once per spec.

    Parameters
    ----------
    uploads : UploadStore
        Where uploaded site lists live.
    cache : OnceLRU
        Built scenes by ``SceneSpec.as_tuple()``.
    wait_s : float
        Longest wait for a scene another request is building (then 503).
    """

    def __init__(self, uploads: UploadStore, cache: OnceLRU, wait_s: float) -> None:
        self.uploads, self.cache, self.wait_s = uploads, cache, wait_s

    def resolve(self, country: str, city: str, operator: str | None) -> SceneSpec:
        """Canonical names of a scene request (catalog spelling; uploads by id).

        Raises
        ------
        NotFoundError
            Unknown country, city, operator or upload id, naming the parameter.
        InputError
            A city without bundled sites.
        """
        if str(country).lower() == UPLOAD_COUNTRY:
            upload_id = self.uploads.check_id(city)
            op = operator or "all"
            if op.lower() == "all":
                return SceneSpec(UPLOAD_COUNTRY, upload_id, "all")
            ops = self.uploads.deployment(upload_id).operators()
            match = [o for o in ops if o.lower() == op.lower()]
            if not match:
                raise NotFoundError(f"unknown operator for upload {upload_id}; valid: all, {', '.join(ops)}", column="operator", value=op)
            return SceneSpec(UPLOAD_COUNTRY, upload_id, match[0])
        from deepmend.data.catalog import find_city, find_operator

        try:
            centry, cty = find_city(country, city)
        except InputError as exc:
            raise _not_found(exc) from None
        if operator is None:
            return SceneSpec(centry["code"], cty["name"], "")
        try:  # the catalog's one resolver: accent- and case-insensitive
            return SceneSpec(centry["code"], cty["name"], find_operator(cty, operator))
        except InputError as exc:
            raise _not_found(exc) from None

    def scene(self, spec: SceneSpec):
        """The built :class:`~deepmend.scene.Scene` of ``spec`` (built once; waiters share it)."""

        def build():
            from deepmend.scene import Scene

            if spec.country == UPLOAD_COUNTRY:
                dep = self.uploads.deployment(spec.city)
                if spec.operator != "all":
                    dep = dep.subset(dep.operator == spec.operator)
                # the upload's region, if one was given: snapping and neighbours as on the command line
                return Scene.from_files(dep, self.uploads.region(spec.city, dep.crs, dep), several_networks=True)
            return Scene.from_catalog(spec.country, spec.city, spec.operator)

        return self.cache.get(spec.as_tuple(), build, self.wait_s)[0]

    def network(self, spec: SceneSpec, site: str) -> SceneSpec:
        """An upload's "all" operators, for one site: that site's own operator's network (each is tessellated on its own)."""
        if spec.country != UPLOAD_COUNTRY or spec.operator != "all":
            return spec
        dep = self.scene(spec).deployment
        if len(dep.operators()) < 2:
            return spec
        try:
            i = dep.index_of(str(site))
        except InputError as exc:
            raise _not_found(exc) from None
        return SceneSpec(UPLOAD_COUNTRY, spec.city, str(dep.operator[i]))

    @staticmethod
    def site(scene, spec: SceneSpec, site: str) -> int:
        """Index of a target site by id (or a merged member's id).

        Raises
        ------
        NotFoundError
            No such target site in the scene.
        """
        try:
            i = scene.deployment.index_of(str(site))
        except InputError as exc:
            raise _not_found(exc) from None
        if not np.isin(i, scene.targets):
            raise NotFoundError(f"site is not one of the {scene.targets.size} sites of {spec.city} ({spec.operator})", column="site", value=site)
        return i

    def sites_geojson(self, spec: SceneSpec) -> dict:
        """The target sites of a scene as a GeoJSON FeatureCollection (WGS84 points)."""
        scene = self.scene(spec)
        dep = scene.deployment
        lon, lat = dep.lon, dep.lat
        feats = []
        for i in scene.targets:
            h = float(dep.height_m[i])
            tech = str(dep.technology[i])
            feats.append({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(float(lon[i]), 7), round(float(lat[i]), 7)]},
                "properties": {
                    "site_id": str(dep.site_ids[i]), "operator": str(dep.operator[i]),
                    "lat": round(float(lat[i]), 7), "lon": round(float(lon[i]), 7),
                    "height_m": h if np.isfinite(h) else None, "technology": tech or None,
                    "members": [str(m) for m in dep.members[i]],
                },
            })
        return {"type": "FeatureCollection", "features": feats}

    def region_geojson(self, country: str, city: str) -> dict:
        """The region outline of a city (or of an upload's scene) as GeoJSON (WGS84)."""
        if str(country).lower() == UPLOAD_COUNTRY:
            spec = self.resolve(country, city, "all")
            return self.scene(spec).mask_region.geojson()
        from deepmend.data.catalog import city_region

        spec = self.resolve(country, city, None)  # unknown names: 404
        return city_region(spec.country, spec.city).geojson()
