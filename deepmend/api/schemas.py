"""Pydantic models of every API answer, so that ``/openapi.json`` describes each one (and its errors)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


#: a WGS84 position
LonLat = tuple[float, float]
#: a window's corners, [lon, lat] each: top-left, top-right, bottom-right, bottom-left
Corners = tuple[LonLat, LonLat, LonLat, LonLat]


class _Open(BaseModel):
    """Documents the listed fields; other fields (GeoJSON members, catalog details) pass through."""

    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    """Every error answer: one line naming the parameter (or file, row, column) and the value."""

    error: str = Field(..., examples=["parameter 'site', value 'x': site is not one of the 519 sites of Lyon (Orange)"])


class ModelInfo(BaseModel):
    """A registered model: its name (the ``model`` parameter), label, description and whether it can run here (e.g. weights present)."""
    name: str
    label: str
    description: str
    available: bool


class OperatorInfo(BaseModel):
    """An operator of a city and the number of its bundled sites."""
    name: str
    n_sites: int


class CityInfo(BaseModel):
    """A catalog city: its name, the source of its sites and its operators."""
    name: str
    source: str | None = Field(None, description="where the city's sites come from (or why there are none)")
    operators: list[OperatorInfo] = Field(description="empty where no public site list is bundled (upload your own)")


class CountryInfo(BaseModel):
    """A catalog country: ISO code, name, metric CRS and its cities."""
    code: str = Field(description="ISO 3166-1 alpha-2")
    name: str
    crs: str | None = Field(None, description="the country's metric CRS (its 100 m lattice)")
    cities: list[CityInfo]


class SceneDefault(BaseModel):
    """The scene and model the web app opens on."""
    country: str
    city: str
    operator: str
    model: str


class Catalog(BaseModel):
    """The bundled countries, cities and operators, the models, the default scene and the data attribution."""
    countries: list[CountryInfo]
    models: list[ModelInfo]
    default: SceneDefault
    attribution: str = Field(description="the data's sources and licences, to show with any map")


class GeoJSON(_Open):
    """A GeoJSON object in WGS84 (EPSG:4326)."""

    type: str


class PointGeometry(BaseModel):
    """A GeoJSON Point, [lon, lat] in WGS84."""
    type: Literal["Point"]
    coordinates: LonLat


class SiteProperties(BaseModel):
    """One site (co-located sites of one operator merged: ``members`` lists their ids)."""

    site_id: str
    operator: str
    lat: float
    lon: float
    height_m: float | None = None
    technology: str | None = None
    members: list[str] | None = None


class SiteFeature(BaseModel):
    """One site as a GeoJSON Feature (WGS84)."""
    type: Literal["Feature"]
    geometry: PointGeometry
    properties: SiteProperties


class SitesCollection(BaseModel):
    """The sites of a scene, a GeoJSON FeatureCollection of points (WGS84)."""

    type: Literal["FeatureCollection"]
    features: list[SiteFeature]


class Place(BaseModel):
    """A named place of the basemap (GeoNames): name, WGS84 position, population."""
    name: str
    lon: float
    lat: float
    population: int


class PlacesAnswer(BaseModel):
    """The named places of a country for the basemap."""
    country: str
    places: list[Place] = Field(description="GeoNames cities on the country's land, most populous first")


class ModelErrors(BaseModel):
    """One model's per-BS errors of an evaluation, each list sorted ascending (KS; EMD in km)."""
    ks: list[float] = Field(description="2-D KS of each evaluated BS, ascending (its empirical CDF)")
    emd_km: list[float] = Field(description="EMD (km) of each evaluated BS, ascending")


class EvaluationRun(BaseModel):
    """One cached evaluation of a scene: its directory name, the number of BSs and each model's errors."""
    run: str
    n_bs: int
    models: dict[str, ModelErrors]


class EvaluationAnswer(BaseModel):
    """The evaluations that covered a scene: per model, the per-BS KS and EMD (their CDFs)."""
    scene: str = Field(description="COUNTRY/City/Operator")
    runs: list[EvaluationRun] = Field(description="every cached evaluation that covered the scene (none: never evaluated)")


class MapInfo(BaseModel):
    """One base station's diffusion map: where to fetch it (PNG, .npy, GeoTIFF) and how to place it (WGS84 corners, CRS, shape; north up)."""
    site_id: str
    model: str
    corners: Corners = Field(..., description="[lon, lat] of the top-left, top-right, bottom-right, bottom-left corners")
    png: str
    npy: str
    geotiff: str
    inference_ms: float | None = None
    vmin: float
    vmax: float
    colormap: str
    shape: tuple[int, int]
    crs: str
    cached: bool
    params: dict[str, Any] | None = Field(None, description="the parameters that explain the map, e.g. {'alpha': 1.3}")
    extent95: tuple[LonLat, LonLat] | None = Field(
        None, description="[[west, south], [east, north]]: the square around the BS holding 95 % of the map's mass (the panels open on it)")


class BaselineScores(BaseModel):
    """A baseline's scores vs the ground truth (:func:`deepmend.metrics.compare` without TV)."""

    ks: float | None
    emd_km: float | None
    js: float | None


class Scores(BaselineScores):
    """The model's scores vs the ground truth: KS, EMD (km), Jensen–Shannon, total variation."""

    tv: float | None


class MetricsAnswer(BaseModel):
    """One map's scores: vs the ground truth (KS, EMD in km, JS, TV), the baselines' scores, gains over them, r50/r90 (km) and the mass in the BS's Voronoi cell."""
    site_id: str
    model: str
    inference_ms: float | None
    ground_truth: bool
    vs_ground_truth: Scores | None
    baselines: dict[str, BaselineScores | None]
    gain_over: dict[str, dict[str, float | None] | None]
    r50_km: float | None
    r90_km: float | None
    mass_in_voronoi: float | None
    incomplete: bool = Field(False, description="true while a slow baseline (VoronoiBoost) is being fitted: its entries are null; ask again")


class FeatureInfo(BaseModel):
    """One input channel of DeepMEND: its name, what it is, and the URL of its grey-scale PNG."""
    name: str
    description: str
    png: str


class FeaturesAnswer(BaseModel):
    """The input channels of DeepMEND for one base station, with the WGS84 corners of its window."""
    model: Literal["deepmend"]
    site_id: str
    features: list[FeatureInfo]
    corners: Corners


class UploadAnswer(BaseModel):
    """An accepted upload of sites: its id (use it as the city with ``country=upload``), its sites' count and operators, and what the reader did."""
    upload_id: str
    n_sites: int
    operators: list[str]
    country: Literal["upload"]
    city: str
    #: what the reader did on its own, one sentence each (e.g. rows without coordinates skipped; docs/INPUTS.md)
    notes: list[str] = []
    #: the region kept with the list (a bundled name such as "FR", or the region file's name); null: 30 km around the sites
    region: str | None = None


#: The error answers every scene/model endpoint may give, for OpenAPI.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "bad input (file content, parameter)"},
    404: {"model": ErrorBody, "description": "unknown country, city, operator, site, model, feature or upload id; model not available"},
    422: {"model": ErrorBody, "description": "missing or malformed parameter (e.g. alpha ≤ 0)"},
    500: {"model": ErrorBody, "description": "a bug (reported)"},
    503: {"model": ErrorBody, "description": "a resource is still being built by another request; retry after Retry-After seconds"},
}


class JobOut(BaseModel):
    """One long computation of the server (see deepmend/api/jobs.py)."""

    id: int
    kind: str = Field(description="'fit': a model fitted on a scene")
    model: str
    country: str
    city: str
    operator: str
    label: str = Field(description="what is being done, in words")
    step: str | None = Field(None, description="the current step, e.g. 'VoronoiBoost training scenes (3/9)'")
    fraction: float | None = Field(None, description="share done in [0, 1]; null when the computation cannot tell")
    elapsed_s: float
    done: bool
    error: str | None = None


class JobsOut(BaseModel):
    """Long computations of the server: the running ones and the last finished ones."""
    running: list[JobOut]
    finished: list[JobOut] = Field(description="the last finished jobs, newest first")
