// Pure logic for choosing a scene (country / city / operator) and models from the catalog.
import type { Catalog, CountryInfo, ModelInfo, UploadResult } from './api';
import { ALL_OPERATORS, UPLOAD_COUNTRY, type AppQuery, type Scene } from './urls';

export const GROUND_TRUTH = 'groundtruth';

export interface Option {
  value: string;
  label: string;
  disabled?: boolean;
  title?: string;
}

const eq = (a: string | undefined | null, b: string | undefined | null) =>
  !!a && !!b && a.trim().toLowerCase() === b.trim().toLowerCase();

export function findCountry(catalog: Catalog, key: string | undefined): CountryInfo | undefined {
  if (!key) return undefined;
  return catalog.countries.find((c) => c.code === key) ?? catalog.countries.find((c) => eq(c.code, key) || eq(c.name, key));
}

export function countryOptions(catalog: Catalog, uploads: UploadResult[]): Option[] {
  const opts: Option[] = catalog.countries.map((c) => ({ value: c.code, label: c.name }));
  if (uploads.length > 0) opts.push({ value: UPLOAD_COUNTRY, label: 'Uploaded sites' });
  return opts;
}

export function cityOptions(catalog: Catalog, uploads: UploadResult[], country: string): Option[] {
  if (country === UPLOAD_COUNTRY) {
    return uploads.map((u) => ({
      value: u.upload_id,
      label: u.n_sites > 0 ? `${u.upload_id} (${u.n_sites} sites)` : u.upload_id,
    }));
  }
  const c = findCountry(catalog, country);
  return (c?.cities ?? []).map((city) => ({ value: city.name, label: city.name, title: city.source ?? undefined }));
}

export function operatorOptions(catalog: Catalog, uploads: UploadResult[], country: string, city: string): Option[] {
  if (country === UPLOAD_COUNTRY) {
    const u = uploads.find((x) => x.upload_id === city);
    const ops = (u?.operators ?? []).filter((o) => o !== ALL_OPERATORS);
    return [{ value: ALL_OPERATORS, label: 'All operators' }, ...ops.map((o) => ({ value: o, label: o }))];
  }
  const c = findCountry(catalog, country);
  const ct = c?.cities.find((x) => x.name === city) ?? c?.cities.find((x) => eq(x.name, city));
  return (ct?.operators ?? []).map((o) => ({ value: o.name, label: `${o.name} (${o.n_sites})` }));
}

/**
 * The operators whose sites are drawn on the main map for a scene: every operator of a catalog
 * city (coloured by operator, the chosen one on top); for an upload, just the chosen value.
 */
export function operatorsToLoad(catalog: Catalog, uploads: UploadResult[], scene: Scene): string[] {
  if (scene.country === UPLOAD_COUNTRY) return [scene.operator || ALL_OPERATORS];
  const ops = operatorOptions(catalog, uploads, scene.country, scene.city).map((o) => o.value);
  if (!ops.includes(scene.operator) && scene.operator) ops.unshift(scene.operator);
  return ops;
}

/** Makes a (possibly partial or stale) scene valid for the catalog: unknown parts fall back to the first entry. */
export function resolveScene(
  catalog: Catalog,
  uploads: UploadResult[],
  wanted: Partial<Scene>,
): Scene | null {
  const countries = countryOptions(catalog, uploads);
  if (countries.length === 0) return null;
  let country: string;
  if (wanted.country === UPLOAD_COUNTRY && uploads.length > 0) country = UPLOAD_COUNTRY;
  else country = findCountry(catalog, wanted.country)?.code ?? countries[0].value;

  const cities = cityOptions(catalog, uploads, country);
  const city =
    cities.find((c) => c.value === wanted.city)?.value ??
    cities.find((c) => eq(c.value, wanted.city))?.value ??
    cities[0]?.value ??
    '';

  const ops = operatorOptions(catalog, uploads, country, city);
  const operator =
    ops.find((o) => o.value === wanted.operator)?.value ??
    ops.find((o) => eq(o.value, wanted.operator))?.value ??
    ops[0]?.value ??
    '';
  return { country, city, operator };
}

/** Models offered in the model selects (the ground truth has its own panel). */
export function modelOptions(catalog: Catalog): Option[] {
  return catalog.models
    .filter((m) => m.name !== GROUND_TRUTH)
    .map((m) => ({
      value: m.name,
      label: m.available ? m.label || m.name : `${m.label || m.name} (unavailable)`,
      disabled: !m.available,
      title: m.description,
    }));
}

/** The wanted model when it is offered and available, else the first available one. */
export function pickModel(catalog: Catalog, wanted: string | undefined): string {
  const models = catalog.models.filter((m) => m.name !== GROUND_TRUTH);
  const ok = (m: ModelInfo | undefined) => m && m.available;
  const w = models.find((m) => m.name === wanted);
  if (ok(w)) return w!.name;
  return models.find((m) => m.available)?.name ?? models[0]?.name ?? '';
}

export function modelLabel(catalog: Catalog | null, name: string): string {
  if (name === GROUND_TRUTH) return 'Simulated ground truth';
  return catalog?.models.find((m) => m.name === name)?.label || name;
}

/** The first scene: the page's query string first, then the catalog's `default`. */
export function initialScene(catalog: Catalog, uploads: UploadResult[], query: AppQuery): Scene | null {
  const d = catalog.default ?? {};
  if (query.country) {
    return resolveScene(catalog, uploads, { country: query.country, city: query.city, operator: query.operator });
  }
  return resolveScene(catalog, uploads, { country: d.country, city: d.city, operator: d.operator });
}

export const DEFAULT_ATTRIBUTION =
  'Data: Arcep & ANFR (France), VoronoiBoost study, NetMonster (UK), ComReg (Ireland), WorldPop, ' +
  'Natural Earth, IGN, ONS, © OpenStreetMap contributors.';

export function attributionText(catalog: Catalog | null): string {
  const a = catalog?.attribution;
  return typeof a === 'string' && a.trim() ? a.trim() : DEFAULT_ATTRIBUTION;
}
