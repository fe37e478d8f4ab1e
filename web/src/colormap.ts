// The `jet` colour map (as matplotlib defines it) and log-scale legend ticks.

type Segment = Array<[number, number]>;

// matplotlib's _jet_data: (x, value) control points per channel, linearly interpolated.
const JET: { r: Segment; g: Segment; b: Segment } = {
  r: [[0, 0], [0.35, 0], [0.66, 1], [0.89, 1], [1, 0.5]],
  g: [[0, 0], [0.125, 0], [0.375, 1], [0.64, 1], [0.91, 0], [1, 0]],
  b: [[0, 0.5], [0.11, 1], [0.34, 1], [0.65, 0], [1, 0]],
};

function interp(seg: Segment, t: number): number {
  if (t <= seg[0][0]) return seg[0][1];
  for (let i = 1; i < seg.length; i++) {
    const [x1, y1] = seg[i];
    if (t <= x1) {
      const [x0, y0] = seg[i - 1];
      return y0 + ((y1 - y0) * (t - x0)) / (x1 - x0);
    }
  }
  return seg[seg.length - 1][1];
}

/** jet(t) for t in [0, 1] as 0–255 integers. */
export function jet(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  return [interp(JET.r, x), interp(JET.g, x), interp(JET.b, x)].map((v) => Math.round(v * 255)) as [
    number,
    number,
    number,
  ];
}

export function rgbHex([r, g, b]: [number, number, number]): string {
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** CSS `linear-gradient` for the jet map, left (low) to right (high). */
export function jetGradientCss(steps = 16, direction = 'to right'): string {
  const stops: string[] = [];
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    stops.push(`${rgbHex(jet(t))} ${(t * 100).toFixed(2)}%`);
  }
  return `linear-gradient(${direction}, ${stops.join(', ')})`;
}

export interface Tick {
  value: number;
  exponent: number;
  /** position along the bar, 0 (vmin) to 1 (vmax) */
  position: number;
  label: string;
}

const SUPERSCRIPT: Record<string, string> = {
  '-': '⁻', '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹',
};

export function powerOfTenLabel(exponent: number): string {
  return `10${String(exponent).split('').map((c) => SUPERSCRIPT[c] ?? c).join('')}`;
}

/** One tick per power of ten between vmin and vmax (both > 0), placed on a log10 axis. */
export function logTicks(vmin: number, vmax: number, maxTicks = 10): Tick[] {
  if (!(vmin > 0) || !(vmax > vmin)) return [];
  const lo = Math.log10(vmin);
  const hi = Math.log10(vmax);
  const first = Math.ceil(lo - 1e-9);
  const last = Math.floor(hi + 1e-9);
  const n = last - first + 1;
  const stride = Math.max(1, Math.ceil(n / maxTicks));
  const ticks: Tick[] = [];
  for (let e = first; e <= last; e += stride) {
    ticks.push({ value: 10 ** e, exponent: e, position: (e - lo) / (hi - lo), label: powerOfTenLabel(e) });
  }
  return ticks;
}

/** Colour of a probability value on the log-scale jet map (null when outside the drawn range). */
export function colorForValue(p: number, vmin: number, vmax: number): string | null {
  if (!(p > 0)) return null;
  const t = (Math.log10(p) - Math.log10(vmin)) / (Math.log10(vmax) - Math.log10(vmin));
  return rgbHex(jet(t));
}
