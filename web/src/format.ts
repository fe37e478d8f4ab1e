// Number formatting for the metrics panels.

export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a !== 0 && (a < 10 ** -digits || a >= 1e6)) return v.toExponential(2);
  return v.toFixed(digits);
}

export function fmtMs(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return v < 10 ? `${v.toFixed(2)} ms` : v < 1000 ? `${v.toFixed(1)} ms` : `${(v / 1000).toFixed(2)} s`;
}

export function fmtCoord(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return v.toFixed(5);
}

export function fmtHeight(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'unknown';
  return `${v.toFixed(1)} m`;
}

/** A signed gain, e.g. "+12.3%" for a relative gain of 0.123, "−0.05" for an absolute one. */
export function fmtSigned(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const s = fmt(Math.abs(v), digits);
  return v > 0 ? `+${s}` : v < 0 ? `−${s}` : s;
}

/** A relative gain (server: (baseline − model) / baseline) as a signed percentage. */
export function fmtGain(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const pct = Math.abs(v * 100);
  const s = pct >= 100 ? pct.toFixed(0) : pct.toFixed(1);
  return v > 0 ? `+${s}%` : v < 0 ? `−${s}%` : `${s}%`;
}

/** The same relative gain computed on the client: (baseline − model) / baseline. */
export function relativeGain(model: number | null | undefined, baseline: number | null | undefined): number | null {
  if (model === null || model === undefined || baseline === null || baseline === undefined) return null;
  if (!Number.isFinite(model) || !Number.isFinite(baseline) || baseline === 0) return null;
  return (baseline - model) / baseline;
}
