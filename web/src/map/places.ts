// Place names on the main map (GeoNames cities from GET /api/places), as HTML labels: the offline
// style has no glyphs for MapLibre's text layers. Fewer, larger places at low zoom.
import type { Map as MapLibreMap, Marker } from 'maplibre-gl';
import maplibregl from './maplibre';
import type { Place, PlacesAnswer } from '../api';

export type { Place };

/** Smallest population labelled at a zoom level. */
export function minPopulation(zoom: number): number {
  return zoom < 6 ? 500_000 : zoom < 7.5 ? 150_000 : zoom < 9 ? 50_000 : zoom < 10.5 ? 25_000 : 0;
}

/** The places to label in a view: inside `bounds` ([w, s, e, n]), big enough for `zoom`, at most `max`. */
export function placesToLabel(places: Place[], bounds: [number, number, number, number], zoom: number, max = 40): Place[] {
  const [w, s, e, n] = bounds;
  const min = minPopulation(zoom);
  return places
    .filter((p) => p.population >= min && p.lon >= w && p.lon <= e && p.lat >= s && p.lat <= n)
    .sort((a, b) => b.population - a.population)
    .slice(0, max);
}

/**
 * Keeps the larger of two places whose labels would overlap on screen (`places` ordered by
 * importance; a label is taken as 7 px per character by 16 px, centred on its point).
 */
export function declutter(places: Place[], toScreen: (p: Place) => [number, number]): Place[] {
  const boxes: [number, number, number, number][] = [];
  const out: Place[] = [];
  for (const p of places) {
    const [x, y] = toScreen(p);
    const hw = (p.name.length * 7) / 2 + 4;
    const box: [number, number, number, number] = [x - hw, y - 10, x + hw, y + 10];
    if (boxes.some((b) => box[0] < b[2] && box[2] > b[0] && box[1] < b[3] && box[3] > b[1])) continue;
    boxes.push(box);
    out.push(p);
  }
  return out;
}

const cache = new Map<string, Promise<Place[]>>();
function loadPlaces(country: string): Promise<Place[]> {
  let p = cache.get(country);
  if (!p) {
    p = fetch(`/api/places?country=${encodeURIComponent(country)}`)
      .then((r): Promise<Pick<PlacesAnswer, 'places'>> => (r.ok ? r.json() : Promise.resolve({ places: [] })))
      .then((b) => b.places);
    cache.set(country, p);
    p.catch(() => cache.delete(country));
  }
  return p;
}

/** Keeps the labels of `country`'s places on `map` in step with the view; returns a detach function. */
export function attachPlaces(map: MapLibreMap, country: string | null): () => void {
  const shown = new Map<string, Marker>();
  let places: Place[] = [];
  let stopped = false;
  const update = () => {
    const b = map.getBounds();
    const want = declutter(
      placesToLabel(places, [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()], map.getZoom()),
      (p) => {
        const pt = map.project([p.lon, p.lat]);
        return [pt.x, pt.y];
      },
    );
    const keys = new Set(want.map((p) => `${p.name}|${p.lon}|${p.lat}`));
    for (const [k, m] of shown) {
      if (!keys.has(k)) {
        m.remove();
        shown.delete(k);
      }
    }
    for (const p of want) {
      const k = `${p.name}|${p.lon}|${p.lat}`;
      if (shown.has(k)) continue;
      const el = document.createElement('div');
      el.className = `place-label${p.population >= 200_000 ? ' place-major' : ''}`;
      el.textContent = p.name;
      shown.set(k, new maplibregl.Marker({ element: el, anchor: 'center' }).setLngLat([p.lon, p.lat]).addTo(map));
    }
  };
  if (country) {
    loadPlaces(country)
      .then((ps) => {
        if (stopped) return;
        places = ps;
        update();
      })
      .catch(() => undefined);
    map.on('moveend', update);
  }
  return () => {
    stopped = true;
    map.off('moveend', update);
    for (const m of shown.values()) m.remove();
    shown.clear();
  };
}
