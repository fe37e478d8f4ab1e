// Offline basemap: Natural Earth 1:50m country polygons (npm `world-atlas`) as land fill and
// borders on a plain water background. An optional raster tile layer can be drawn on top.
import type { FeatureCollection, Geometry, MultiLineString, Feature } from 'geojson';
import type { StyleSpecification } from 'maplibre-gl';
import { feature, mesh } from 'topojson-client';
import type { Topology, GeometryCollection } from 'topojson-specification';
import worldUrl from 'world-atlas/countries-50m.json?url';

export const COLORS = {
  water: '#0f2233',
  land: '#26313d',
  landOutline: '#4a5a6a',
  border: '#5c6f82',
  admin: '#3f5063',
};

/** world-atlas names of the catalog's countries: their 1:50m land is replaced by the 1:10m outline. */
const WORLD_NAMES: Record<string, string> = { FR: 'France', GB: 'United Kingdom', IE: 'Ireland', BE: 'Belgium' };

const outlineCache = new Map<string, Promise<FeatureCollection<Geometry>>>();

/** Draws a country's 1:10m outline and administrative areas (GET /api/outlines) on `map`. */
export function attachCountry(map: import('maplibre-gl').Map, code: string | null | undefined): void {
  const name = code ? WORLD_NAMES[code] : undefined;
  whenStyleReady(map, () => {
    // the 1:50m land of the scene's country, fill and coast, gives way to its 1:10m outline
    // (otherwise the coarse coast cuts across Dublin Bay as a straight line)
    map.setFilter('land-fill', name ? ['!=', ['get', 'name'], name] : null);
    map.setFilter('land-outline', name ? ['!=', ['get', 'name'], name] : null);
    if (!name) (map.getSource('detail') as import('maplibre-gl').GeoJSONSource | undefined)?.setData(EMPTY);
  });
  if (!code || !name) return;
  let p = outlineCache.get(code);
  if (!p) {
    p = fetch(`/api/outlines?country=${encodeURIComponent(code)}`).then((r) => {
      if (!r.ok) throw new Error(`outlines: HTTP ${r.status}`);
      return r.json() as Promise<FeatureCollection<Geometry>>;
    });
    outlineCache.set(code, p);
    p.catch(() => outlineCache.delete(code));
  }
  p.then((fc) =>
    whenStyleReady(map, () => (map.getSource('detail') as import('maplibre-gl').GeoJSONSource | undefined)?.setData(fc)),
  ).catch((e) => {
    console.warn('basemap outlines', e);
    whenStyleReady(map, () => {
      map.setFilter('land-fill', null);
      map.setFilter('land-outline', null);
    });
  });
}

export interface World {
  land: FeatureCollection<Geometry>;
  borders: Feature<MultiLineString>;
}

export function topologyToWorld(topology: Topology): World {
  const countries = topology.objects.countries as GeometryCollection;
  const land = feature(topology, countries) as unknown as FeatureCollection<Geometry>;
  // shared borders only (a !== b): coastlines come from the land polygons' outline
  const borders = mesh(topology, countries, (a, b) => a !== b) as Feature<MultiLineString> | MultiLineString;
  const bordersFeature: Feature<MultiLineString> =
    'type' in borders && borders.type === 'Feature'
      ? borders
      : { type: 'Feature', properties: {}, geometry: borders as MultiLineString };
  return { land, borders: bordersFeature };
}

let worldPromise: Promise<World> | null = null;

/** Loads and converts the world once; every map shares the result. */
export function loadWorld(): Promise<World> {
  if (!worldPromise) {
    worldPromise = fetch(worldUrl)
      .then((r) => {
        if (!r.ok) throw new Error(`basemap: HTTP ${r.status}`);
        return r.json() as Promise<Topology>;
      })
      .then(topologyToWorld)
      .catch((e) => {
        worldPromise = null;
        throw e;
      });
  }
  return worldPromise;
}

/** The raster tile URL, from `?tiles=` first, then from the build-time VITE_TILE_URL. */
export function tileUrlFrom(search: string, envUrl: string | undefined): string | null {
  const q = new URLSearchParams(search).get('tiles');
  if (q && q.trim()) return q.trim();
  if (envUrl && envUrl.trim()) return envUrl.trim();
  return null;
}

export function currentTileUrl(): string | null {
  const search = typeof window === 'undefined' ? '' : window.location.search;
  return tileUrlFrom(search, import.meta.env?.VITE_TILE_URL);
}

const EMPTY: FeatureCollection = { type: 'FeatureCollection', features: [] };

/** The style every map starts from: water, land, borders (and tiles when configured). */
export function baseStyle(opts: { tileUrl?: string | null; tileAttribution?: string } = {}): StyleSpecification {
  const style: StyleSpecification = {
    version: 8,
    sources: {
      land: { type: 'geojson', data: EMPTY },
      borders: { type: 'geojson', data: EMPTY },
      detail: { type: 'geojson', data: EMPTY },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': COLORS.water } },
      { id: 'land-fill', type: 'fill', source: 'land', paint: { 'fill-color': COLORS.land } },
      // the scene's country at 1:10m (a coast that fits a city) and its administrative areas (/api/outlines)
      {
        id: 'detail-land',
        type: 'fill',
        source: 'detail',
        filter: ['==', ['get', 'kind'], 'country'],
        paint: { 'fill-color': COLORS.land },
      },
      {
        id: 'detail-admin',
        type: 'line',
        source: 'detail',
        filter: ['==', ['get', 'kind'], 'admin'],
        paint: { 'line-color': COLORS.admin, 'line-width': 0.6 },
      },
      {
        id: 'detail-coast',
        type: 'line',
        source: 'detail',
        filter: ['==', ['get', 'kind'], 'country'],
        paint: { 'line-color': COLORS.landOutline, 'line-width': 0.8 },
      },
      {
        id: 'land-outline',
        type: 'line',
        source: 'land',
        paint: { 'line-color': COLORS.landOutline, 'line-width': 0.6 },
      },
      {
        id: 'borders',
        type: 'line',
        source: 'borders',
        paint: { 'line-color': COLORS.border, 'line-width': 0.8, 'line-dasharray': [3, 2] },
      },
    ],
  };
  if (opts.tileUrl) {
    style.sources.tiles = {
      type: 'raster',
      tiles: [opts.tileUrl],
      tileSize: 256,
      attribution: opts.tileAttribution ?? import.meta.env?.VITE_TILE_ATTRIBUTION ?? '',
    };
    style.layers.push({ id: 'tiles', type: 'raster', source: 'tiles', paint: { 'raster-opacity': 0.9 } });
  }
  return style;
}

/** Runs `fn` once the map's style is parsed (its sources can then be read and added). */
export function whenStyleReady(map: import('maplibre-gl').Map, fn: () => void): void {
  // isStyleLoaded() is also false while any source is still loading, so ask for a source instead
  if (map.getSource('land')) fn();
  else map.once('style.load', fn);
}

/** Fills the land and borders sources of a map once the world is loaded. */
export async function attachWorld(map: import('maplibre-gl').Map): Promise<void> {
  const world = await loadWorld();
  whenStyleReady(map, () => {
    const land = map.getSource('land') as import('maplibre-gl').GeoJSONSource | undefined;
    const borders = map.getSource('borders') as import('maplibre-gl').GeoJSONSource | undefined;
    land?.setData(world.land);
    borders?.setData(world.borders);
  });
}
