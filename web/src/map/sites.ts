// Base-station layers of the main map: two clustered GeoJSON sources (the chosen operator's sites,
// the other operators' sites), numeric feature ids (so that feature-state works whatever the site ids
// look like), a colour per operator.
import type { Feature, FeatureCollection, Point } from 'geojson';
import type { ExpressionSpecification, LayerSpecification } from 'maplibre-gl';
import type { SiteProperties, SitesCollection } from '../api';
import { operatorColor } from '../palette';

/** the chosen operator's sites (every site of an upload) */
export const SITES_SOURCE = 'sites';
/** the other operators' sites of the city, drawn dimmed below */
export const OTHER_SITES_SOURCE = 'sites-others';
export const SITES_OTHER_LAYER = 'sites-other';
export const SITES_CURRENT_LAYER = 'sites-current';
export const SITE_SELECTED_LAYER = 'site-selected';
/** the selected site alone (unclustered: its ring shows at every zoom) */
export const SELECTED_SOURCE = 'site-selected';
/** cluster discs of the chosen operator (its colour) and of the others (grey, dimmed) */
export const SITES_CLUSTER_LAYER = 'sites-cluster';
export const SITES_OTHER_CLUSTER_LAYER = 'sites-other-cluster';
export const CLUSTER_LAYERS = [SITES_CLUSTER_LAYER, SITES_OTHER_CLUSTER_LAYER];
const NEUTRAL = '#dbe4ee';
/**
 * Markers closer than this on screen merge into one cluster disc (MapLibre's GeoJSON source
 * clustering, supercluster) up to CLUSTER_MAX_ZOOM; beyond it every site is drawn. Small enough that
 * a city's fitted view keeps most of its separate sites, large enough that Paris's ~5,600 markers of
 * four operators do not pile into one blob.
 */
export const CLUSTER_RADIUS_PX = 14;
export const CLUSTER_MAX_ZOOM = 13;

/** The sites' GeoJSON source: clustered at low zoom. */
export function sitesSourceSpec(data: FeatureCollection<Point>) {
  return {
    type: 'geojson' as const,
    data,
    cluster: true,
    clusterRadius: CLUSTER_RADIUS_PX,
    clusterMaxZoom: CLUSTER_MAX_ZOOM,
  };
}
export const REGION_SOURCE = 'region';
export const REGION_FILL_LAYER = 'region-fill';
export const REGION_LINE_LAYER = 'region-line';
export const OVERLAY_SOURCE = 'overlay';
export const OVERLAY_LAYER = 'overlay';

export interface Site extends SiteProperties {
  /** numeric feature id inside the map source */
  fid: number;
  color: string;
}

export const siteKey = (operator: string, siteId: string | number) => `${operator}\u0000${String(siteId)}`;

export interface SiteIndex {
  sites: Site[];
  byFid: Map<number, Site>;
  byKey: Map<string, Site>;
  /** site id → sites with that id (several operators may reuse one id) */
  byId: Map<string, Site[]>;
  operators: string[];
  collection: FeatureCollection<Point>;
}

function num(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Flattens one or more site collections into an index and a source-ready collection. */
export function indexSites(collections: SitesCollection[]): SiteIndex {
  const sites: Site[] = [];
  const byFid = new Map<number, Site>();
  const byKey = new Map<string, Site>();
  const byId = new Map<string, Site[]>();
  const operators: string[] = [];
  const features: Feature<Point>[] = [];
  for (const fc of collections) {
    for (const f of fc?.features ?? []) {
      if (!f || !f.geometry || f.geometry.type !== 'Point') continue;
      const p = (f.properties ?? {}) as SiteProperties;
      const [gx, gy] = f.geometry.coordinates;
      const lon = num(p.lon) ?? gx;
      const lat = num(p.lat) ?? gy;
      const operator = String(p.operator ?? '');
      const siteId = p.site_id ?? String(sites.length);
      const key = siteKey(operator, siteId);
      if (byKey.has(key)) continue;
      const fid = sites.length;
      const site: Site = {
        ...p,
        site_id: siteId,
        operator,
        lat,
        lon,
        height_m: num(p.height_m),
        technology: p.technology === undefined || p.technology === null ? null : String(p.technology),
        fid,
        color: operatorColor(operator),
      };
      sites.push(site);
      byFid.set(fid, site);
      byKey.set(key, site);
      const list = byId.get(String(siteId));
      if (list) list.push(site);
      else byId.set(String(siteId), [site]);
      if (!operators.includes(operator)) operators.push(operator);
      features.push({
        type: 'Feature',
        id: fid,
        geometry: { type: 'Point', coordinates: [gx, gy] },
        // only what the style needs: nested values (members) are not useful inside the source
        properties: { operator, color: site.color },
      });
    }
  }
  return { sites, byFid, byKey, byId, operators, collection: { type: 'FeatureCollection', features } };
}

/** Finds a site by id, preferring the given operator. */
export function findSite(index: SiteIndex, siteId: string | number, operator?: string): Site | undefined {
  const list = index.byId.get(String(siteId));
  if (!list || list.length === 0) return undefined;
  return list.find((s) => s.operator === operator) ?? list[0];
}

const hovered: ExpressionSpecification = ['boolean', ['feature-state', 'hover'], false];

function radius(small: number, big: number, hoverBoost: number): ExpressionSpecification {
  return [
    'interpolate',
    ['linear'],
    ['zoom'],
    4,
    ['case', hovered, small + hoverBoost, small],
    10,
    ['case', hovered, (small + big) / 2 + hoverBoost, (small + big) / 2],
    15,
    ['case', hovered, big + hoverBoost, big],
  ];
}

const isCluster: ExpressionSpecification = ['has', 'point_count'];
const clusterRadius: ExpressionSpecification = ['interpolate', ['linear'], ['sqrt', ['get', 'point_count']], 1.4, 6, 4, 10, 10, 17];

/** The colour of the chosen operator's cluster discs (a neutral one for uploads, which show every operator). */
export function clusterColor(currentOperator: string | null): string {
  return currentOperator === null ? NEUTRAL : operatorColor(currentOperator);
}

/**
 * Layers for the sites: the other operators below (dimmed grey discs, dimmed markers), the chosen
 * operator on top (discs in its colour, markers), then the selection ring.
 */
export function siteLayers(currentOperator: string | null): LayerSpecification[] {
  return [
    {
      id: SITES_OTHER_CLUSTER_LAYER,
      type: 'circle',
      source: OTHER_SITES_SOURCE,
      filter: isCluster,
      paint: {
        'circle-color': NEUTRAL,
        'circle-opacity': 0.35,
        'circle-radius': clusterRadius,
        'circle-stroke-color': '#0b1620',
        'circle-stroke-width': 0.8,
        'circle-stroke-opacity': 0.6,
      },
    },
    {
      id: SITES_OTHER_LAYER,
      type: 'circle',
      source: OTHER_SITES_SOURCE,
      filter: ['!', isCluster],
      paint: {
        'circle-color': ['get', 'color'],
        'circle-radius': radius(1.8, 6, 2.5),
        'circle-opacity': ['case', hovered, 1, 0.55],
        'circle-stroke-color': '#0b1620',
        'circle-stroke-width': 0.5,
        'circle-stroke-opacity': 0.6,
      },
    },
    {
      id: SITES_CLUSTER_LAYER,
      type: 'circle',
      source: SITES_SOURCE,
      filter: isCluster,
      paint: {
        'circle-color': clusterColor(currentOperator),
        'circle-opacity': 0.75,
        'circle-radius': clusterRadius,
        // a white ring tells a disc of several sites from a single marker (dark ring)
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': 1.5,
      },
    },
    {
      id: SITES_CURRENT_LAYER,
      type: 'circle',
      source: SITES_SOURCE,
      filter: ['!', isCluster],
      paint: {
        'circle-color': ['get', 'color'],
        'circle-radius': radius(2.6, 8, 3),
        'circle-opacity': 0.95,
        'circle-stroke-color': ['case', hovered, '#ffffff', '#0b1620'],
        'circle-stroke-width': ['case', hovered, 2, 0.8],
      },
    },
    {
      id: SITE_SELECTED_LAYER,
      type: 'circle',
      source: SELECTED_SOURCE,
      paint: {
        'circle-color': ['get', 'color'],
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 4, 6, 15, 13],
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': 3,
      },
    },
  ];
}

/** Whether a site belongs to the chosen operator's source (every site when the operator is null). */
export function isCurrentSite(site: Pick<Site, 'operator'>, currentOperator: string | null): boolean {
  return currentOperator === null || site.operator === currentOperator;
}

/** The index's features split between the chosen operator's source and the others' source. */
export function splitSites(
  index: SiteIndex | null,
  currentOperator: string | null,
): { current: FeatureCollection<Point>; other: FeatureCollection<Point> } {
  const current: Feature<Point>[] = [];
  const other: Feature<Point>[] = [];
  for (const f of index?.collection.features ?? []) {
    (isCurrentSite({ operator: String(f.properties?.operator ?? '') }, currentOperator) ? current : other).push(f);
  }
  return { current: { type: 'FeatureCollection', features: current }, other: { type: 'FeatureCollection', features: other } };
}

/** The selected site as a one-feature collection (empty when none). */
export function selectedCollection(site: Site | null | undefined): FeatureCollection<Point> {
  return {
    type: 'FeatureCollection',
    features: site
      ? [{ type: 'Feature', id: site.fid, geometry: { type: 'Point', coordinates: [site.lon, site.lat] }, properties: { color: site.color } }]
      : [],
  };
}
