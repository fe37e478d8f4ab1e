// Reading the API's raw maps (/api/map.npy: float32, rows north to south) for the cursor readout.

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

/** Parses a little-endian float32 C-order .npy file (format 1.0, 2.0 or 3.0). */
export function parseNpy(buf: ArrayBuffer): NpyArray {
  const bytes = new Uint8Array(buf);
  const magic = String.fromCharCode(...bytes.slice(1, 6));
  if (bytes[0] !== 0x93 || magic !== 'NUMPY') throw new Error('not a .npy file');
  const major = bytes[6];
  const view = new DataView(buf);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(bytes.slice(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '';
  if (descr !== '<f4' || fortran !== 'False') throw new Error(`unsupported .npy (${descr}, fortran_order ${fortran})`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const offset = start + headerLen;
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: new Float32Array(buf.slice(offset, offset + 4 * n)) };
}

type LonLat = [number, number];

/**
 * (row, col) of the cell under `p` in an image placed on `corners` (top-left, top-right,
 * bottom-right, bottom-left), rows from the top; null outside. The window is a square in a
 * projected CRS, so over 60 km its WGS84 outline is a parallelogram to well under a cell.
 */
export function cellAt(corners: LonLat[], size: number, p: LonLat): [number, number] | null {
  const [tl, tr, , bl] = corners;
  const ax = tr[0] - tl[0], ay = tr[1] - tl[1];
  const bx = bl[0] - tl[0], by = bl[1] - tl[1];
  const px = p[0] - tl[0], py = p[1] - tl[1];
  const det = ax * by - ay * bx;
  if (det === 0) return null;
  const u = (px * by - py * bx) / det;
  const v = (ax * py - ay * px) / det;
  if (u < 0 || u >= 1 || v < 0 || v >= 1) return null;
  return [Math.floor(v * size), Math.floor(u * size)];
}

/** Great-circle distance in km (haversine, mean Earth radius 6371.0088 km). */
export function distanceKm(a: LonLat, b: LonLat): number {
  const r = Math.PI / 180;
  const dLat = (b[1] - a[1]) * r;
  const dLon = (b[0] - a[0]) * r;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * r) * Math.cos(b[1] * r) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(h)));
}
