import { countLabel } from './map/clusterCounts';
import { declutter, placesToLabel } from './map/places';
import { cellAt, distanceKm, parseNpy } from './npy';
import { jobsFor } from './hooks';
import { describe, expect, it } from 'vitest';
import { FALLBACK_PALETTE, hashString, operatorColor } from './palette';
import { colorForValue, jet, jetGradientCss, logTicks, powerOfTenLabel, rgbHex } from './colormap';
import { apiUrl, featuresUrl, formatAppQuery, mapUrl, metricsUrl, parseAppQuery, regionUrl, sitesUrl } from './urls';
import { bboxOf, bboxOfPoints, padBBox } from './map/geo';
import { fmt, fmtGain, fmtHeight, fmtMs, fmtSigned, relativeGain } from './format';
import { tileUrlFrom } from './map/basemap';

describe('operator palette', () => {
  it('gives known operators fixed colours, case-insensitively', () => {
    expect(operatorColor('Orange')).toBe('#E69F00');
    expect(operatorColor('orange')).toBe('#E69F00');
    expect(operatorColor(' SFR ')).toBe('#CC79A7');
  });
  it('gives the operators sharing a map different colours', () => {
    for (const ops of [['Orange', 'SFR', 'Bouygues', 'Free'], ['EE', 'O2', 'Vodafone', 'Three'], ['mno_1', 'mno_2', 'Vodafone', 'Three']]) {
      expect(new Set(ops.map(operatorColor)).size).toBe(ops.length);
    }
  });
  it('gives unknown operators a stable palette colour', () => {
    const c = operatorColor('Some New Operator');
    expect(FALLBACK_PALETTE).toContain(c);
    expect(operatorColor('Some New Operator')).toBe(c);
    expect(hashString('abc')).toBe(hashString('abc'));
    expect(hashString('abc')).not.toBe(hashString('abd'));
  });
  it('uses grey for a missing name', () => {
    expect(operatorColor('')).toBe('#cccccc');
    expect(operatorColor(null)).toBe('#cccccc');
  });
});

describe('jet colour map and log ticks', () => {
  it('matches matplotlib jet at the ends and the middle', () => {
    expect(jet(0)).toEqual([0, 0, 128]);
    expect(jet(1)).toEqual([128, 0, 0]);
    expect(jet(0.5)[1]).toBe(255); // green at the centre
    expect(jet(-3)).toEqual(jet(0));
    expect(jet(7)).toEqual(jet(1));
    expect(rgbHex([0, 0, 128])).toBe('#000080');
  });
  it('builds a CSS gradient', () => {
    const css = jetGradientCss(4);
    expect(css.startsWith('linear-gradient(to right, #000080 0.00%')).toBe(true);
    expect(css.endsWith('#800000 100.00%)')).toBe(true);
  });
  it('puts one tick per decade from 1e-9 to 1e-2', () => {
    const ticks = logTicks(1e-9, 1e-2);
    expect(ticks.map((t) => t.exponent)).toEqual([-9, -8, -7, -6, -5, -4, -3, -2]);
    expect(ticks[0].position).toBeCloseTo(0);
    expect(ticks[7].position).toBeCloseTo(1);
    expect(ticks[1].position).toBeCloseTo(1 / 7);
    expect(ticks[0].label).toBe('10⁻⁹');
    expect(powerOfTenLabel(-2)).toBe('10⁻²');
  });
  it('thins ticks and rejects bad ranges', () => {
    expect(logTicks(1e-20, 1, 5).length).toBeLessThanOrEqual(5);
    expect(logTicks(0, 1)).toEqual([]);
    expect(logTicks(1, 1)).toEqual([]);
  });
  it('colours values on the log scale', () => {
    expect(colorForValue(1e-9, 1e-9, 1e-2)).toBe('#000080');
    expect(colorForValue(1e-2, 1e-9, 1e-2)).toBe('#800000');
    expect(colorForValue(0, 1e-9, 1e-2)).toBeNull();
  });
});

describe('URL builders', () => {
  const scene = { country: 'FR', city: 'Lyon', operator: 'Orange' };
  it('builds API URLs in contract order and skips empty values', () => {
    expect(apiUrl('/api/catalog')).toBe('/api/catalog');
    expect(sitesUrl(scene)).toBe('/api/sites?country=FR&city=Lyon&operator=Orange');
    expect(regionUrl(scene)).toBe('/api/region?country=FR&city=Lyon');
    expect(mapUrl({ ...scene, site: 'A 1', model: 'deepmend' })).toBe(
      '/api/map?country=FR&city=Lyon&operator=Orange&site=A+1&model=deepmend',
    );
    expect(metricsUrl({ ...scene, site: '42', model: 'voronoi', alpha: 2 })).toBe(
      '/api/metrics?country=FR&city=Lyon&operator=Orange&site=42&model=voronoi',
    );
    expect(mapUrl({ ...scene, site: '42', model: 'probabilistic', alpha: 1.5 })).toContain('&alpha=1.5');
    expect(featuresUrl({ ...scene, site: '7' })).toBe('/api/features?country=FR&city=Lyon&operator=Orange&site=7');
    expect(apiUrl('/x', { a: undefined, b: null, c: '', d: 0, e: Number.NaN })).toBe('/x?d=0');
  });
  it('round-trips the page query string', () => {
    const q = { country: 'upload', city: 'abc123', operator: 'all', model: 'deepmend', modelB: 'voronoi', site: '9' };
    expect(parseAppQuery(formatAppQuery(q))).toMatchObject(q);
    expect(parseAppQuery('?alpha=x').alpha).toBeUndefined();
  });
});

describe('geometry and formatting helpers', () => {
  it('computes bounding boxes', () => {
    expect(
      bboxOf({
        type: 'FeatureCollection',
        features: [
          { type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [4, 45] } },
          {
            type: 'Feature',
            properties: {},
            geometry: { type: 'Polygon', coordinates: [[[5, 46], [6, 44], [5.5, 47], [5, 46]]] },
          },
        ],
      }),
    ).toEqual([4, 44, 6, 47]);
    expect(bboxOf({ type: 'FeatureCollection', features: [] })).toBeNull();
    expect(bboxOfPoints([[1, 2], [3, -4]])).toEqual([1, -4, 3, 2]);
    expect(padBBox([0, 0, 10, 10], 0.1)).toEqual([-1, -1, 11, 11]);
  });
  it('formats numbers', () => {
    expect(fmt(0.12345)).toBe('0.123');
    expect(fmt(null)).toBe('—');
    expect(fmtMs(3.456)).toBe('3.46 ms');
    expect(fmtMs(2500)).toBe('2.50 s');
    expect(fmtHeight(null)).toBe('unknown');
    expect(fmtSigned(0.5)).toBe('+0.500');
    expect(fmtSigned(-0.5)).toBe('−0.500');
    expect(fmtGain(0.1234)).toBe('+12.3%');
    expect(fmtGain(-1.5)).toBe('−150%');
    expect(fmtGain(null)).toBe('—');
    expect(relativeGain(0.2, 0.4)).toBeCloseTo(0.5);
    expect(relativeGain(0.2, 0)).toBeNull();
  });
  it('takes the tile URL from ?tiles= before VITE_TILE_URL', () => {
    expect(tileUrlFrom('?tiles=http://x/{z}/{x}/{y}.png', 'http://env')).toBe('http://x/{z}/{x}/{y}.png');
    expect(tileUrlFrom('', 'http://env/{z}')).toBe('http://env/{z}');
    expect(tileUrlFrom('', undefined)).toBeNull();
  });
});

describe('jobsFor', () => {
  const job = (model: string, city: string) => ({
    id: 1, kind: 'fit', model, country: 'FR', city, operator: 'Orange', label: `fitting ${model}`,
    step: null, fraction: null, elapsed_s: 3, done: false, error: null,
  });
  it('keeps the jobs of this scene and these models only', () => {
    const jobs = [job('groundtruth', 'Lyon'), job('voronoiboost', 'Lyon'), job('groundtruth', 'Paris')];
    const got = jobsFor(jobs, { country: 'FR', city: 'Lyon', operator: 'Orange' }, ['groundtruth']);
    expect(got.map((j) => `${j.model}/${j.city}`)).toEqual(['groundtruth/Lyon']);
    expect(jobsFor(jobs, null, ['groundtruth'])).toEqual([]);
  });
});

describe('cursor readout', () => {
  it('parses a float32 .npy', () => {
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    const pad = 64 - ((10 + header.length + 1) % 64);
    const h = header + ' '.repeat(pad % 64) + '\n';
    const buf = new ArrayBuffer(10 + h.length + 24);
    const u8 = new Uint8Array(buf);
    u8.set([0x93, ...'NUMPY'.split('').map((c) => c.charCodeAt(0)), 1, 0]);
    new DataView(buf).setUint16(8, h.length, true);
    u8.set(h.split('').map((c) => c.charCodeAt(0)), 10);
    new Float32Array(buf, 10 + h.length, 6).set([0, 1, 2, 3, 4, 5.5]);
    const a = parseNpy(buf);
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.data)).toEqual([0, 1, 2, 3, 4, 5.5]);
  });
  it('finds the cell under a point, rows from the top', () => {
    const corners: [number, number][] = [[0, 10], [10, 10], [10, 0], [0, 0]];
    expect(cellAt(corners, 10, [0.5, 9.5])).toEqual([0, 0]);
    expect(cellAt(corners, 10, [9.5, 0.5])).toEqual([9, 9]);
    expect(cellAt(corners, 10, [3.2, 7.9])).toEqual([2, 3]);
    expect(cellAt(corners, 10, [11, 5])).toBeNull();
  });
  it('measures great-circle distances', () => {
    expect(distanceKm([2.3488, 48.8534], [4.8357, 45.764])).toBeCloseTo(392, -1);
  });
});

describe('place labels', () => {
  const places = [
    { name: 'Paris', lon: 2.35, lat: 48.85, population: 2_138_551 },
    { name: 'Lyon', lon: 4.84, lat: 45.76, population: 520_774 },
    { name: 'Villeurbanne', lon: 4.88, lat: 45.77, population: 131_445 },
    { name: 'Bron', lon: 4.91, lat: 45.74, population: 38_000 },
  ];
  it('labels fewer, larger places at low zoom and only those in view', () => {
    expect(placesToLabel(places, [-5, 41, 10, 51], 5).map((p) => p.name)).toEqual(['Paris', 'Lyon']);
    expect(placesToLabel(places, [4.5, 45.5, 5.2, 46], 11).map((p) => p.name)).toEqual(['Lyon', 'Villeurbanne', 'Bron']);
    expect(placesToLabel(places, [4.5, 45.5, 5.2, 46], 8).map((p) => p.name)).toEqual(['Lyon', 'Villeurbanne']);
  });
  it('drops the smaller of two overlapping labels', () => {
    const px = (p: { lon: number; lat: number }): [number, number] => [p.lon * 1000, -p.lat * 1000];
    expect(declutter(places.slice(1), px).map((p) => p.name)).toEqual(['Lyon', 'Bron']);
  });
});

describe('population layer classes', () => {
  it('labels each class and paints the same steps', async () => {
    const { POPULATION_CLASSES, populationFill, populationLabels } = await import('./map/population');
    expect(populationLabels()).toEqual(['< 10', '10–50', '50–200', '200–1,000', '≥ 1,000']);
    expect(populationFill()).toEqual([
      'step', ['get', 'density_per_km2'], '#440154', 10, '#3b528b', 50, '#21918c', 200, '#5ec962', 1000, '#fde725',
    ]);
    expect(POPULATION_CLASSES).toHaveLength(5);
  });
});

describe('cluster counts', () => {
  it('labels a disc with its number of sites, abbreviated from a thousand', () => {
    expect([2, 999, 1000, 1234, 9999, 12_345].map(countLabel)).toEqual(['2', '999', '1.0k', '1.2k', '10.0k', '12k']);
  });
});
