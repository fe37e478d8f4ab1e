// The number of sites on each visible cluster disc of the chosen operator, as HTML labels: the offline style has no
// glyphs for MapLibre's text layers (as for the place names, places.ts). Recomputed when the map settles ('idle').
import type { Map as MapLibreMap, Marker } from 'maplibre-gl';
import maplibregl from './maplibre';
import { SITES_CLUSTER_LAYER } from './sites';

/** At most this many labels (the discs' own size already says "many" beyond it). */
const MAX_LABELS = 400;

/** A cluster's count as drawn: 2 … 999, then 1.2k, 12k. */
export function countLabel(n: number): string {
  if (n < 1000) return String(n);
  return n < 10_000 ? `${(n / 1000).toFixed(1)}k` : `${Math.round(n / 1000)}k`;
}

/** Keeps a count label on each visible cluster disc of `SITES_CLUSTER_LAYER`; returns a detach function. */
export function attachClusterCounts(map: MapLibreMap): () => void {
  const shown = new Map<string, Marker>();
  const update = () => {
    if (!map.getLayer(SITES_CLUSTER_LAYER)) return;
    const feats = map.queryRenderedFeatures({ layers: [SITES_CLUSTER_LAYER] }).slice(0, MAX_LABELS);
    const want = new Map<string, { lonlat: [number, number]; n: number }>();
    for (const f of feats) {
      const [lon, lat] = (f.geometry as GeoJSON.Point).coordinates;
      const n = Number(f.properties?.point_count);
      want.set(`${f.properties?.cluster_id}|${n}|${lon}|${lat}`, { lonlat: [lon, lat], n });
    }
    for (const [k, m] of shown) {
      if (!want.has(k)) {
        m.remove();
        shown.delete(k);
      }
    }
    for (const [k, { lonlat, n }] of want) {
      if (shown.has(k)) continue;
      const el = document.createElement('div');
      el.className = 'cluster-count';
      el.setAttribute('data-testid', 'cluster-count');
      el.textContent = countLabel(n);
      shown.set(k, new maplibregl.Marker({ element: el, anchor: 'center' }).setLngLat(lonlat).addTo(map));
    }
  };
  map.on('idle', update);
  update();
  return () => {
    map.off('idle', update);
    for (const m of shown.values()) m.remove();
    shown.clear();
  };
}
