// Typed client for the DeepMEND HTTP API (docs/API.md). All endpoints live under /api/ on the
// same origin as this app. Errors are JSON `{"error": "..."}` with a 4xx status; they are
// surfaced as `ApiError` whose message is the server's `error` text, verbatim.
import type { FeatureCollection, Geometry } from 'geojson';
import { apiUrl, sceneParams, siteParams, type Scene, type SiteQuery } from './urls';
import type { components } from './api.gen';

// Every answer's type comes from the server's OpenAPI schema (deepmend/api/schemas.py → `npm run gen:api`
// → api.gen.ts; tests/api/test_openapi_types.py fails when it is stale): nothing here is copied by hand.
type Schemas = components['schemas'];

export type LonLat = Schemas['PointGeometry']['coordinates'];
export type OperatorInfo = Schemas['OperatorInfo'];
export type CityInfo = Schemas['CityInfo'];
export type CountryInfo = Schemas['CountryInfo'];
export type ModelInfo = Schemas['ModelInfo'];
export type SceneDefault = Schemas['SceneDefault'];
export type Catalog = Schemas['Catalog'];
export type SiteProperties = Schemas['SiteProperties'];
export type SitesCollection = Schemas['SitesCollection'];
/** GET /api/region, /api/outlines, /api/population: GeoJSON (WGS84) whose geometries are any of GeoJSON's */
export type RegionCollection = Schemas['GeoJSON'] & FeatureCollection<Geometry>;
export type MapInfo = Schemas['MapInfo'];
export type Scores = Schemas['Scores'];
export type BaselineScores = Schemas['BaselineScores'];
export type Metrics = Schemas['MetricsAnswer'];
export type JobInfo = Schemas['JobOut'];
export type Jobs = Schemas['JobsOut'];
/** GET /api/evaluation: per run, each model's sorted KS and EMD over the city's BSs (their CDFs). */
export type EvaluationView = Schemas['EvaluationAnswer'];
export type FeatureChannel = Schemas['FeatureInfo'];
export type FeaturesInfo = Schemas['FeaturesAnswer'];
export type UploadResult = Schemas['UploadAnswer'];
export type Place = Schemas['Place'];
export type PlacesAnswer = Schemas['PlacesAnswer'];

type UploadForm = Schemas['Body_post_upload_api_uploads_post'];
/** The optional region of an upload (POST /api/uploads' form: `region`, a bundled name, or `region_file`, a GeoJSON
 * polygon file — the schema's binary field as a browser File). Field names come from the generated schema. */
export type UploadRegion = Pick<UploadForm, 'region'> & Partial<Record<'region_file' & keyof UploadForm, File | null>>;

export class ApiError extends Error {
  readonly status: number;
  readonly url: string;
  constructor(message: string, status: number, url: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.url = url;
  }
}

export function isAbortError(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

/** Reads the `error` field of a failed response, falling back to the HTTP status line. */
export async function errorFromResponse(res: Response, url: string): Promise<ApiError> {
  let message = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  try {
    const text = await res.text();
    try {
      const body = JSON.parse(text) as unknown;
      if (body && typeof body === 'object' && 'error' in body) {
        const err = (body as { error: unknown }).error;
        message = typeof err === 'string' ? err : JSON.stringify(err);
      } else if (body && typeof body === 'object' && 'detail' in body) {
        const det = (body as { detail: unknown }).detail;
        message = typeof det === 'string' ? det : JSON.stringify(det);
      }
    } catch {
      if (text && text.length < 300) message = `${message}: ${text}`;
    }
  } catch {
    /* body unreadable: keep the status line */
  }
  return new ApiError(message, res.status, url);
}

async function request(url: string, init?: RequestInit, attempt = 0): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (isAbortError(e)) throw e;
    throw new ApiError(`Network error while requesting ${url}: ${(e as Error).message}`, 0, url);
  }
  if (res.status === 503 && (init?.method ?? 'GET') === 'GET' && attempt < BUSY_RETRIES) {
    // the server is still building a shared resource (a ground-truth fit) for another request: wait, ask again
    const after = Math.min(Math.max(Number(res.headers.get('Retry-After')) || 2, 1), 10);
    await new Promise((r) => setTimeout(r, after * 1000));
    if (init?.signal?.aborted) throw new DOMException('aborted', 'AbortError');
    return request(url, init, attempt + 1);
  }
  if (!res.ok) throw await errorFromResponse(res, url);
  return res;
}

/** How many times a GET answered 503 (busy) is asked again (≈ 10 min at the longest Retry-After). */
const BUSY_RETRIES = 60;

export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const res = await request(url, { signal, headers: { Accept: 'application/json' } });
  return (await res.json()) as T;
}

/** Downloads a binary resource (e.g. a PNG) and returns an object URL for it. */
export async function getBlobUrl(url: string, signal?: AbortSignal): Promise<string> {
  const res = await request(url, { signal });
  return URL.createObjectURL(await res.blob());
}

// A small cache for the scene-level resources, which do not change during a session.
const cache = new Map<string, Promise<unknown>>();
function cached<T>(url: string, load: () => Promise<T>): Promise<T> {
  const hit = cache.get(url);
  if (hit) return hit as Promise<T>;
  const p = load();
  cache.set(url, p);
  p.catch(() => cache.delete(url));
  return p;
}

export const api = {
  catalog: (signal?: AbortSignal) => getJson<Catalog>(apiUrl('/api/catalog'), signal),

  sites: (scene: Scene) => {
    const url = apiUrl('/api/sites', sceneParams(scene));
    return cached(url, () => getJson<SitesCollection>(url));
  },

  region: (scene: Pick<Scene, 'country' | 'city'>) => {
    const url = apiUrl('/api/region', { country: scene.country, city: scene.city });
    return cached(url, () => getJson<RegionCollection>(url));
  },

  map: (q: SiteQuery, signal?: AbortSignal) => getJson<MapInfo>(apiUrl('/api/map', siteParams(q)), signal),

  metrics: (q: SiteQuery, signal?: AbortSignal) =>
    getJson<Metrics>(apiUrl('/api/metrics', siteParams(q)), signal),

  features: (q: Omit<SiteQuery, 'model' | 'alpha'>, signal?: AbortSignal) =>
    getJson<FeaturesInfo>(apiUrl('/api/features', siteParams(q)), signal),

  evaluation: (scene: Scene, signal?: AbortSignal) =>
    getJson<EvaluationView>(apiUrl('/api/evaluation', sceneParams(scene)), signal),

  jobs: (signal?: AbortSignal) => getJson<Jobs>(apiUrl('/api/jobs'), signal),

  /** `region`: a bundled region name (`BE`, `FR/Lyon`) or a GeoJSON polygon file kept with the list; none when absent. */
  upload: async (file: File, region?: UploadRegion): Promise<UploadResult> => {
    const form = new FormData();
    form.append('file', file, file.name);
    if (region?.region_file) form.append('region_file', region.region_file, region.region_file.name);
    else if (region?.region) form.append('region', region.region);
    // X-Requested-With: the server refuses cross-origin state-changing requests without it
    // (deepmend/api/security.py); same-origin pages may always send it.
    const res = await request(apiUrl('/api/uploads'), {
      method: 'POST',
      body: form,
      headers: { 'X-Requested-With': 'deepmend-web' },
    });
    return (await res.json()) as UploadResult;
  },
};
