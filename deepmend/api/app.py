"""The FastAPI application: the endpoints of docs/API.md and the built web app.

Handlers only parse parameters and shape answers; the work is in :mod:`deepmend.api.service`.
Endpoints are plain ``def`` (FastAPI runs them in its thread pool); the ones that may wait
on a build (a scene, a fit, a map) are marked ``@heavy`` and run in their own bounded lane
(:mod:`deepmend.api.concurrency`), so that cheap requests (``/api/catalog``, ``/``, the web
app's files) are answered while every build slot is busy. The service's build pools start
with the server and stop with it (the app's lifespan). Each error type carries its HTTP
status (``DeepmendError.http_status``); one handler turns any of them into JSON.
"""

from __future__ import annotations

import functools
import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from deepmend import render
from deepmend.api import schemas
from deepmend.api.concurrency import DEFAULT_HEAVY_THREADS, HeavyLane
from deepmend.api.jobs import JOBS, warm_up
from deepmend.api.security import env_list, error_responses, install_guard
from deepmend.api.service import MAX_UPLOAD_BYTES, MapResult, Service
from deepmend.config import REPO_DIR
from deepmend.errors import BusyError, DeepmendError, InputError

log = logging.getLogger("deepmend.api")

#: Computed maps are deterministic for a given request (uploads are content-addressed).
MAP_CACHE_CONTROL = "public, max-age=86400"
#: Room for the multipart envelope around an upload of MAX_UPLOAD_BYTES (the largest body accepted).
UPLOAD_FORM_OVERHEAD = 64 * 1024

DEFAULT_STATIC_DIRS = (Path(__file__).resolve().parent.parent / "static", REPO_DIR / "web" / "dist")

NO_WEB_APP = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>DeepMEND API</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>DeepMEND API</h1>
<p>The web app has not been built. Build it with <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>
(or <code>make web</code>), then restart <code>deepmend serve</code>, or pass <code>--static DIR</code>.</p>
<p>The API is running: see <a href="/docs">/docs</a> and <a href="/openapi.json">/openapi.json</a>,
e.g. <a href="/api/catalog">/api/catalog</a>.</p></body></html>"""

#: Folder of the web build holding Swagger UI's files (web/vite.config.ts copies them there).
SWAGGER_DIR = "swagger-ui"
NO_SWAGGER_UI = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>DeepMEND API</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto"><h1>DeepMEND API</h1>
<p>The interactive documentation (Swagger UI) comes with the web app's build, which is missing:
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>. The schema is at <a href="/openapi.json">/openapi.json</a>;
the endpoints are described in docs/API.md.</p></body></html>"""

#: Models prepared in the background at server start, in this order (see ``warmup``).
WARMUP_MODELS = ("groundtruth", "deepmend", "probabilistic", "voronoiboost")
#: Share of a map's mass that the panels open on ("fit"): see :func:`_mass_extent`.
FIT_MASS = 0.95

# --- shared parameter declarations -------------------------------------------------------
Country = Query(..., description="Country code (FR, GB, IE, BE) or 'upload'", max_length=200)
City = Query(..., description="City name as in /api/catalog, or an upload_id", max_length=200)
Operator = Query(..., description="Operator as in /api/catalog ('all' for uploads)", max_length=200)
Site = Query(..., description="site_id (as in /api/sites)", max_length=500)
Model = Query(..., description="voronoi, probabilistic, voronoiboost, teacher, deepmend or groundtruth", max_length=100)
Alpha = Query(None, description="exponent of the probabilistic model (> 0, default 1.3)")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _hide_paths(msg: str, svc: Service) -> str:
    """Error messages name bundled files by their name only: server paths are no client's business."""
    from deepmend.config import data_dir

    for root in (data_dir(), svc.cache_root.resolve(), svc.cache_root):
        msg = msg.replace(str(root) + os.sep, "")
    return msg


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ()) if x not in ("query", "body")]
        where = loc[0] if loc else "request"
        val = err.get("input")
        shown = f" (got {val!r})" if isinstance(val, (str, int, float)) and err.get("type") != "missing" else ""
        parts.append(f"parameter '{where}': {err.get('msg', 'invalid')}{shown}")
    return "; ".join(parts) or "invalid request"


def _env_threads() -> int:
    try:
        return int(os.environ.get("DEEPMEND_API_HEAVY_THREADS", DEFAULT_HEAVY_THREADS))
    except ValueError:
        return DEFAULT_HEAVY_THREADS


def find_static_dir(static_dir: str | Path | None) -> Path | None:
    """The built web app's directory (the one holding ``index.html``), or None.

    Parameters
    ----------
    static_dir : str or Path, optional
        An explicit directory (``deepmend serve --static-dir``); used only if it holds
        ``index.html``. Without it: ``DEEPMEND_STATIC_DIR``, then the package's ``static/``,
        then the checkout's ``web/dist``.

    Returns
    -------
    Path or None
        None when no built web app is found (the API then serves a short HTML page instead).
    """
    if static_dir is not None:
        p = Path(static_dir)
        return p if (p / "index.html").is_file() else None
    env = os.environ.get("DEEPMEND_STATIC_DIR")
    for p in ([Path(env)] if env else []) + list(DEFAULT_STATIC_DIRS):
        if (p / "index.html").is_file():
            return p
    return None


def _mass_extent(dm) -> list[list[float]] | None:
    """[[west, south], [east, north]] (WGS84) of the square around the BS holding ``FIT_MASS`` of the map.

    The BS is at the centre of its window, so the square's half side is the radius of mass
    (:func:`deepmend.metrics.radii_of_mass`); None for a map without mass.
    """
    from deepmend.data.crs import to_wgs84
    from deepmend.metrics import radii_of_mass

    w = dm.window
    try:
        r_m = float(radii_of_mass(dm.prob, (w.size / 2, w.size / 2), [FIT_MASS], res_m=w.res)[0]) * 1000.0
    except ValueError:
        return None
    r_m = max(r_m, 5 * w.res)
    cx, cy = w.left + w.size * w.res / 2, w.bottom + w.size * w.res / 2
    lon, lat = to_wgs84([cx - r_m, cx + r_m], [cy - r_m, cy + r_m], w.crs)
    return [[round(float(lon[0]), 6), round(float(lat[0]), 6)], [round(float(lon[1]), 6), round(float(lat[1]), 6)]]


def create_app(static_dir: str | Path | None = None, *, service: Service | None = None, cors_origins: list[str] | None = None,
               allowed_hosts: list[str] | None = None, warmup: bool = False) -> FastAPI:
    """The API and, when built, the web app at ``/``.

    ``warmup``: at start-up, prepare the catalog's default scene (ground truth, the default
    model, VoronoiBoost) in a background thread, so that the first click finds them ready;
    progress is listed by ``/api/jobs``. ``deepmend serve`` turns it on.

    ``cors_origins``: other origins allowed to call the API (default none: the web app is
    served from the same origin, so browsers need no CORS; ``DEEPMEND_CORS_ORIGINS``,
    comma-separated, sets it from the environment).
    ``allowed_hosts``: names accepted in ``Host`` besides 127.0.0.1, localhost and [::1]
    (``DEEPMEND_ALLOWED_HOSTS``, comma-separated; see :mod:`deepmend.api.security`).
    """
    svc = service or Service()

    @asynccontextmanager
    async def lifespan(_app):
        svc.start()  # the build pools live as long as the server
        if warmup:
            from deepmend.data.catalog import DEFAULT

            warm_up(svc, DEFAULT, tuple(m for m in WARMUP_MODELS if m in svc.registry))
        try:
            yield
        finally:
            svc.shutdown()

    app = FastAPI(title="DeepMEND", version="0.1.0", description="Spatial diffusion maps of cellular base stations (docs/API.md).",
                  responses=error_responses(), lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.service = svc
    lane = HeavyLane(svc, _env_threads())
    app.state.heavy_lane = lane

    def heavy(fn):
        """Run the endpoint in the heavy lane (its own threads; waits bounded by the request's deadline)."""
        @functools.wraps(fn)
        async def endpoint(*args, **kwargs):
            return await lane.run(functools.partial(fn, *args, **kwargs))

        return endpoint

    origins = cors_origins if cors_origins is not None else env_list("DEEPMEND_CORS_ORIGINS")
    install_guard(app, allowed_hosts=allowed_hosts if allowed_hosts is not None else env_list("DEEPMEND_ALLOWED_HOSTS"),
                  allowed_origins=origins, max_body_bytes=MAX_UPLOAD_BYTES + UPLOAD_FORM_OVERHEAD)
    if origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"])

    # --- errors: always JSON {"error": …} -----------------------------------------------
    @app.exception_handler(DeepmendError)
    async def _deepmend_error(request: Request, exc: DeepmendError):
        msg = _hide_paths(str(exc), svc)
        if isinstance(exc, InputError) and exc.file is None and exc.column is not None and msg.startswith("column '"):
            msg = "parameter '" + msg[len("column '"):]  # a query parameter, not a file column
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, BusyError) else None
        return JSONResponse({"error": msg}, status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return _error(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        msg = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404:
            msg = f"not found: {request.url.path}"
        return JSONResponse({"error": msg}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _error(500, f"internal error ({type(exc).__name__}); this is a bug, please report it")

    # --- endpoints ------------------------------------------------------------------------
    @app.get("/api/catalog", summary="Countries, cities, operators, models", response_model=schemas.Catalog, responses=schemas.ERRORS)
    def get_catalog():
        return svc.catalog()

    @app.get("/api/jobs", summary="Long computations under way (ground-truth fits, trainings) and their progress",
             response_model=schemas.JobsOut)
    def get_jobs():
        return JOBS.snapshot()

    def _country_code(country: str) -> str:
        """The catalog's code of ``country`` (the resolver every command uses); unknown → 404 listing the valid ones."""
        from deepmend.data.catalog import find_country
        from deepmend.errors import NotFoundError

        try:
            return find_country(country)["code"]
        except InputError as exc:
            raise NotFoundError(exc.message, column="country", value=country) from None

    @app.get("/api/places", summary="Named places of a country for the basemap (GeoNames, population ≥ 15,000)",
             response_model=schemas.PlacesAnswer, responses=schemas.ERRORS)
    def get_places(country: str = Country):
        from deepmend.data.catalog import places

        return {"country": (code := _country_code(country)), "places": list(places(code))}

    @app.get("/api/outlines", summary="The country's 1:10m outline and its bundled administrative areas (GeoJSON, WGS84)",
             response_model=schemas.GeoJSON, responses=schemas.ERRORS)
    def get_outlines(country: str = Country):
        from deepmend.data.catalog import outlines

        return JSONResponse(outlines(_country_code(country)), headers={"Cache-Control": MAP_CACHE_CONTROL})

    @app.get("/api/population", summary="WorldPop 2020 density cells (~10 km) of a country (GeoJSON), the optional basemap layer",
             response_model=schemas.GeoJSON, responses=schemas.ERRORS)
    def get_population(country: str = Country):
        from deepmend.data.catalog import population_cells

        return JSONResponse(population_cells(_country_code(country)), headers={"Cache-Control": MAP_CACHE_CONTROL})

    @app.get("/api/evaluation", summary="Each model's KS and EMD over the city's BSs (sorted: their CDFs), from the evaluation's cache",
             response_model=schemas.EvaluationAnswer, responses=schemas.ERRORS)
    def get_evaluation(country: str = Country, city: str = City, operator: str = Operator):
        from deepmend.api.evaluation_view import city_errors, eval_roots

        ref = svc.resolve(country, city, operator)
        return city_errors(eval_roots(svc.cache_root), "/".join(ref.as_tuple()))

    @app.get("/api/sites", summary="Sites of a scene (GeoJSON)", response_model=schemas.SitesCollection, responses=schemas.ERRORS)
    @heavy
    def get_sites(country: str = Country, city: str = City, operator: str = Operator):
        return svc.sites_geojson(svc.resolve(country, city, operator))

    @app.get("/api/region", summary="Region outline of a city (GeoJSON, WGS84)", response_model=schemas.GeoJSON, responses=schemas.ERRORS)
    @heavy
    def get_region(country: str = Country, city: str = City):
        return svc.region_geojson(country, city)

    def _links(res: MapResult) -> dict[str, str]:
        q = urlencode(res.query())
        return {"png": f"/api/map.png?{q}", "npy": f"/api/map.npy?{q}", "geotiff": f"/api/map.tif?{q}"}

    @app.get("/api/map", summary="One base station's diffusion map: where to fetch it and how to place it", response_model=schemas.MapInfo,
             responses=schemas.ERRORS)
    @heavy
    def get_map(country: str = Country, city: str = City, operator: str = Operator, site: str = Site, model: str = Model, alpha: float | None = Alpha):
        res = svc.get_map(country, city, operator, site, model, alpha)
        dm = res.map
        body = {
            "site_id": res.site_id, "model": res.model, "corners": dm.window.corners_wgs84(), **_links(res),
            "inference_ms": dm.meta.get("inference_ms"), "vmin": render.VMIN, "vmax": render.VMAX, "colormap": render.COLORMAP,
            "shape": [dm.window.size, dm.window.size], "crs": dm.window.crs, "cached": res.cached,
        }
        body["extent95"] = _mass_extent(dm)
        if res.params:
            body["params"] = res.params
        return JSONResponse(body, headers={"Cache-Control": "no-cache"})

    def _file_name(res: MapResult, suffix: str) -> str:
        import re

        return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{res.model}_{res.site_id}")[:150] + suffix

    def _download(res: MapResult, body: bytes, media_type: str, suffix: str) -> Response:
        """A map file offered as a download: one place for the headers every download must carry.

        The file name is derived from the (sanitised) model and site id, never from raw client
        text, so it cannot break out of the header's quotes or name a path.
        """
        return Response(body, media_type=media_type, headers={
            "Cache-Control": MAP_CACHE_CONTROL, "Content-Disposition": f'attachment; filename="{_file_name(res, suffix)}"'})

    @app.get("/api/map.png", summary="The map as a PNG (jet on log10 P, 1e-9 … 1e-2, north up)", response_class=Response,
             responses={200: {"content": {"image/png": {}}}, **schemas.ERRORS})
    @heavy
    def get_map_png(country: str = Country, city: str = City, operator: str = Operator, site: str = Site, model: str = Model, alpha: float | None = Alpha):
        res = svc.get_map(country, city, operator, site, model, alpha)
        return Response(svc.map_png(res), media_type="image/png", headers={"Cache-Control": MAP_CACHE_CONTROL})

    @app.get("/api/diff.png", summary="The model's map minus the ground truth's (PNG, diverging symmetric-log scale, north up)",
             response_class=Response, responses={200: {"content": {"image/png": {}}}, **schemas.ERRORS})
    def get_diff_png(country: str = Country, city: str = City, operator: str = Operator, site: str = Site, model: str = Model, alpha: float | None = Alpha):
        res = svc.get_map(country, city, operator, site, model, alpha)
        gt = svc.get_map(country, city, operator, site, "groundtruth")
        png = render.png_bytes(render.diff_rgba(res.map.prob, gt.map.prob, res.map.mask))
        return Response(png, media_type="image/png", headers={"Cache-Control": MAP_CACHE_CONTROL})

    @app.get("/api/map.npy", summary="The raw float32 grid (.npy, rows north to south)", response_class=Response,
             responses={200: {"content": {"application/octet-stream": {}}}, **schemas.ERRORS})
    @heavy
    def get_map_npy(country: str = Country, city: str = City, operator: str = Operator, site: str = Site, model: str = Model, alpha: float | None = Alpha):
        res = svc.get_map(country, city, operator, site, model, alpha)
        return _download(res, svc.map_npy(res), "application/octet-stream", ".npy")

    @app.get("/api/map.tif", summary="The map as a GeoTIFF with its CRS (download)", response_class=Response,
             responses={200: {"content": {"image/tiff": {}}}, **schemas.ERRORS})
    @heavy
    def get_map_tif(country: str = Country, city: str = City, operator: str = Operator, site: str = Site, model: str = Model, alpha: float | None = Alpha):
        res = svc.get_map(country, city, operator, site, model, alpha)
        return _download(res, svc.map_tif(res), "image/tiff", ".tif")

    @app.get("/api/metrics", summary="Accuracy of a model's map vs the ground truth and the baselines", response_model=schemas.MetricsAnswer,
             responses=schemas.ERRORS)
    @heavy
    def get_metrics(country: str = Country, city: str = City, operator: str = Operator, site: str = Site, model: str = Model, alpha: float | None = Alpha):
        return svc.metrics(country, city, operator, site, model, alpha)

    @app.get("/api/features", summary="The input channels of DeepMEND for one base station", response_model=schemas.FeaturesAnswer,
             responses=schemas.ERRORS)
    @heavy
    def get_features(country: str = Country, city: str = City, operator: str = Operator, site: str = Site):
        ref, site_id, window, feats = svc.features(country, city, operator, site)
        base = {**ref.params(), "site": site_id}
        return {
            "model": "deepmend", "site_id": site_id,
            "features": [{"name": n, "description": d, "png": f"/api/feature.png?{urlencode({**base, 'name': n})}"} for n, d in feats],
            "corners": window.corners_wgs84(),
        }

    @app.get("/api/feature.png", summary="One input channel as a grey-scale PNG", response_class=Response,
             responses={200: {"content": {"image/png": {}}}, **schemas.ERRORS})
    @heavy
    def get_feature_png(country: str = Country, city: str = City, operator: str = Operator, site: str = Site,
                        name: str = Query(..., description="feature name, as listed by /api/features", max_length=100)):
        png = svc.feature_png(country, city, operator, site, name)
        return Response(png, media_type="image/png", headers={"Cache-Control": MAP_CACHE_CONTROL})

    @app.post("/api/uploads", summary="Upload a CSV site list (≤ 5 MB, ≤ 20,000 rows)", response_model=schemas.UploadAnswer,
              responses={413: {"model": schemas.ErrorBody, "description": "over 5 MB or 20,000 rows"}, **schemas.ERRORS})
    def post_upload(request: Request, file: UploadFile = File(..., description="CSV with site_id, lat, lon[, operator, height_m, technology]"),
                    region_file: UploadFile | None = File(None, description="Optional GeoJSON polygon(s) of the study area (any CRS with a 'crs' member)"),
                    region: str | None = Form(None, max_length=200, description="Optional bundled region instead: FR, GB, IE, BE, or country/city as in /api/catalog")):
        content = file.file.read(MAX_UPLOAD_BYTES + 1)
        region_content = region_file.file.read(MAX_UPLOAD_BYTES + 1) if region_file is not None else None
        return svc.upload(content, file.filename, client=request.client.host if request.client else "", region_content=region_content,
                          region_filename=region_file.filename if region_file is not None else None, region_name=region or None)

    @app.get("/api/{rest:path}", include_in_schema=False)
    def api_not_found(rest: str):
        return _error(404, f"no such endpoint: /api/{rest}; see /docs")

    # --- documentation, offline ---------------------------------------------------------
    static = find_static_dir(static_dir)

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def swagger_ui():
        """Swagger UI from the web build's local copy of swagger-ui-dist (no CDN: works offline)."""
        if static is None or not (static / SWAGGER_DIR / "swagger-ui-bundle.js").is_file():
            return HTMLResponse(NO_SWAGGER_UI)
        return get_swagger_ui_html(openapi_url="/openapi.json", title="DeepMEND API",
                                   swagger_js_url=f"/{SWAGGER_DIR}/swagger-ui-bundle.js",
                                   swagger_css_url=f"/{SWAGGER_DIR}/swagger-ui.css",
                                   swagger_favicon_url=f"/{SWAGGER_DIR}/favicon-32x32.png")

    @app.get("/about/groundtruth", include_in_schema=False, response_class=Response)
    def about_ground_truth():
        """How the simulated ground truth is made (docs/GROUNDTRUTH.md, as text), linked from the app."""
        doc = REPO_DIR / "docs" / "GROUNDTRUTH.md"
        if not doc.is_file():
            return _error(404, "docs/GROUNDTRUTH.md is not part of this installation")
        return Response(doc.read_text(encoding="utf-8"), media_type="text/plain; charset=utf-8")

    # --- the web app -------------------------------------------------------------------
    if static is not None:
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=static, html=True), name="web")
    else:
        @app.get("/", include_in_schema=False, response_class=HTMLResponse)
        def no_web_app():
            return HTMLResponse(NO_WEB_APP)

    return app
