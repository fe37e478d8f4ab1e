// A fixed colour per operator name from the Okabe–Ito palette, which stays distinct for the common
// colour-vision deficiencies (Okabe & Ito 2008, "Color Universal Design"). The operators that share a
// country's map get different hues: FR Orange/SFR/Bouygues/Free, GB EE/O2/Vodafone/Three, IE's two
// anonymised national operators (mno_1, mno_2) and the named Vodafone/Three. Any other name gets a
// stable colour of the same palette chosen by a hash of the name.

const OI = {
  orange: '#E69F00',
  sky: '#56B4E9',
  green: '#009E73',
  yellow: '#F0E442',
  blue: '#0072B2',
  vermillion: '#D55E00',
  purple: '#CC79A7',
  grey: '#BBBBBB',
};

const KNOWN: Record<string, string> = {
  orange: OI.orange,
  sfr: OI.purple,
  bouygues: OI.sky,
  'bouygues telecom': OI.sky,
  free: OI.green,
  'free mobile': OI.green,
  ee: OI.green,
  o2: OI.blue,
  vodafone: OI.vermillion,
  three: OI.yellow,
  '3': OI.yellow,
  'three ireland': OI.yellow,
  mno_1: OI.orange,
  mno_2: OI.sky,
  eir: OI.purple,
  tesco: OI.blue,
  proximus: OI.sky,
  all: OI.yellow,
};

/** The Okabe–Ito colours (black left out: it vanishes on the dark map). */
export const FALLBACK_PALETTE = Object.values(OI);

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
