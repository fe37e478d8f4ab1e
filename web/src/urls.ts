// Pure URL builders for the API (docs/API.md) and the app's own shareable query string.
import type { paths } from './api.gen';

/** A scene: the query of GET /api/sites (from the OpenAPI schema). */
export type Scene = paths['/api/sites']['get']['parameters']['query'];
type MapQuery = paths['/api/map']['get']['parameters']['query'];
/** One BS of a scene with a model: the query of GET /api/map (model optional where the endpoint has none). */
export type SiteQuery = Omit<MapQuery, 'model'> & Partial<Pick<MapQuery, 'model'>>;

export type Params = Record<string, string | number | boolean | null | undefined>;

/** `path?k=v&…` with parameters in the given order; null/undefined/'' values are left out. */
export function apiUrl(path: string, params: Params = {}): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') continue;
    if (typeof v === 'number' && !Number.isFinite(v)) continue;
    qs.append(k, String(v));
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

export function sceneParams(scene: Scene): Params {
  return { country: scene.country, city: scene.city, operator: scene.operator };
}

export function siteParams(q: Partial<SiteQuery> & Scene & { site: string | number }): Params {
  const p: Params = { ...sceneParams(q), site: q.site };
  if (q.model) p.model = q.model;
  // alpha only means something for the probabilistic model
  if (q.model === 'probabilistic' && q.alpha !== null && q.alpha !== undefined) p.alpha = q.alpha;
  return p;
}

export const mapUrl = (q: SiteQuery) => apiUrl('/api/map', siteParams(q));
export const metricsUrl = (q: SiteQuery) => apiUrl('/api/metrics', siteParams(q));
export const featuresUrl = (q: Omit<SiteQuery, 'model' | 'alpha'>) =>
  apiUrl('/api/features', siteParams(q));
export const sitesUrl = (s: Scene) => apiUrl('/api/sites', sceneParams(s));
export const regionUrl = (s: Pick<Scene, 'country' | 'city'>) =>
  apiUrl('/api/region', { country: s.country, city: s.city });

export const UPLOAD_COUNTRY = 'upload';
export const ALL_OPERATORS = 'all';

/** State kept in the page's own query string so that a view can be shared or reloaded. */
export interface AppQuery {
  country?: string;
  city?: string;
  operator?: string;
  model?: string;
  modelB?: string;
  site?: string;
  alpha?: number;
  tiles?: string;
}

export function parseAppQuery(search: string): AppQuery {
  const qs = new URLSearchParams(search);
  const get = (k: string) => {
    const v = qs.get(k);
    return v === null || v === '' ? undefined : v;
  };
  const alphaRaw = get('alpha');
  const alpha = alphaRaw === undefined ? undefined : Number(alphaRaw);
  return {
    country: get('country'),
    city: get('city'),
    operator: get('operator'),
    model: get('model'),
    modelB: get('model_b'),
    site: get('site'),
    alpha: alpha !== undefined && Number.isFinite(alpha) ? alpha : undefined,
    tiles: get('tiles'),
  };
}

export function formatAppQuery(q: AppQuery): string {
  return apiUrl('', {
    country: q.country,
    city: q.city,
    operator: q.operator,
    model: q.model,
    model_b: q.modelB,
    site: q.site,
    alpha: q.alpha,
    tiles: q.tiles,
  });
}
