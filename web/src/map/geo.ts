// Pure geometry helpers.
import type { GeoJSON, Position } from 'geojson';

export type BBox = [number, number, number, number]; // west, south, east, north

function walk(coords: unknown, visit: (p: Position) => void): void {
  if (!Array.isArray(coords)) return;
  if (typeof coords[0] === 'number' && typeof coords[1] === 'number') {
    visit(coords as Position);
    return;
  }
  for (const c of coords) walk(c, visit);
}

/** Bounding box of any GeoJSON object, or null when it holds no coordinates. */
export function bboxOf(obj: GeoJSON | null | undefined): BBox | null {
  if (!obj) return null;
  let w = Infinity;
  let s = Infinity;
  let e = -Infinity;
  let n = -Infinity;
  const visit = (p: Position) => {
    const [x, y] = p;
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    if (x < w) w = x;
    if (x > e) e = x;
    if (y < s) s = y;
    if (y > n) n = y;
  };
  const visitGeometry = (g: GeoJSON | null) => {
    if (!g) return;
    switch (g.type) {
      case 'FeatureCollection':
        g.features.forEach((f) => visitGeometry(f));
        break;
      case 'Feature':
        visitGeometry(g.geometry);
        break;
      case 'GeometryCollection':
        g.geometries.forEach((x) => visitGeometry(x));
        break;
      default:
        walk((g as { coordinates: unknown }).coordinates, visit);
    }
  };
  visitGeometry(obj);
  return Number.isFinite(w) ? [w, s, e, n] : null;
}

export function bboxOfPoints(points: Array<[number, number]>): BBox | null {
  return bboxOf({ type: 'MultiPoint', coordinates: points });
}

/** Grows a box by a fraction of its size (at least `minDeg` degrees on each side). */
export function padBBox([w, s, e, n]: BBox, frac = 0.05, minDeg = 0.005): BBox {
  const dx = Math.max((e - w) * frac, minDeg);
  const dy = Math.max((n - s) * frac, minDeg);
  return [w - dx, s - dy, e + dx, n + dy];
}
