// A fixed colour per operator name: well-known operators get their brand-like colour, any other
// name gets a stable colour from a qualitative palette chosen by a hash of the name.

const KNOWN: Record<string, string> = {
  orange: '#ff7900',
  sfr: '#e2001a',
  bouygues: '#00a3e0',
  'bouygues telecom': '#00a3e0',
  free: '#8e44ad',
  'free mobile': '#8e44ad',
  ee: '#00b5b0',
  o2: '#1f4fd1',
  vodafone: '#e60000',
  three: '#2ecc40',
  '3': '#2ecc40',
  'three ireland': '#2ecc40',
  eir: '#d6336c',
  tesco: '#00539f',
  all: '#f5c542',
};

/** Tableau-like qualitative palette, readable on the dark-blue water and grey land. */
export const FALLBACK_PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

/** 32-bit FNV-1a hash of a string. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function operatorColor(name: string | null | undefined): string {
  const key = (name ?? '').trim().toLowerCase();
  if (!key) return '#cccccc';
  const known = KNOWN[key];
  if (known) return known;
  return FALLBACK_PALETTE[hashString(key) % FALLBACK_PALETTE.length];
}
