import { describe, expect, it } from 'vitest';
import type { Catalog, SitesCollection } from './api';
import {
  attributionText,
  DEFAULT_ATTRIBUTION,
  initialScene,
  modelOptions,
  operatorOptions,
  operatorsToLoad,
  pickModel,
  resolveScene,
} from './scene';
import { clusterColor, findSite, indexSites, splitSites } from './map/sites';

const catalog: Catalog = {
  countries: [
    {
      code: 'FR',
      name: 'France',
      crs: 'EPSG:2154',
      cities: [
        { name: 'Paris', operators: [{ name: 'SFR', n_sites: 900 }] },
        {
          name: 'Lyon',
          operators: [
            { name: 'Free', n_sites: 300 },
            { name: 'Orange', n_sites: 519 },
          ],
        },
      ],
    },
    { code: 'UK', name: 'United Kingdom', cities: [{ name: 'London', operators: [{ name: 'EE', n_sites: 10 }] }] },
  ],
  models: [
    { name: 'voronoi', label: 'Voronoi', available: true, description: '' },
    { name: 'deepmend', label: 'DeepMEND', available: false, description: '' },
    { name: 'groundtruth', label: 'Ground truth', available: true, description: '' },
  ],
  default: { country: 'FR', city: 'Lyon', operator: 'Orange', model: 'deepmend' },
  attribution: '',
};

describe('scene choice', () => {
  it('starts on the catalog default and falls back to the first available model', () => {
    expect(initialScene(catalog, [], {})).toEqual({ country: 'FR', city: 'Lyon', operator: 'Orange' });
    expect(pickModel(catalog, 'deepmend')).toBe('voronoi');
    expect(pickModel({ ...catalog, models: [{ name: 'deepmend', label: 'D', available: true, description: '' }] }, 'deepmend')).toBe(
      'deepmend',
    );
  });
  it('accepts a country name as well as a code, and repairs stale parts', () => {
    expect(resolveScene(catalog, [], { country: 'France', city: 'Lyon', operator: 'Orange' })).toEqual({
      country: 'FR',
      city: 'Lyon',
      operator: 'Orange',
    });
    expect(resolveScene(catalog, [], { country: 'UK', city: 'Lyon', operator: 'Orange' })).toEqual({
      country: 'UK',
      city: 'London',
      operator: 'EE',
    });
  });
  it('lists upload scenes with an "all" operator', () => {
    const uploads = [{ upload_id: 'u1', n_sites: 3, operators: ['A', 'B'], country: 'upload' as const, city: 'u1', notes: [] }];
    const s = resolveScene(catalog, uploads, { country: 'upload', city: 'u1', operator: 'all' });
    expect(s).toEqual({ country: 'upload', city: 'u1', operator: 'all' });
    expect(operatorOptions(catalog, uploads, 'upload', 'u1').map((o) => o.value)).toEqual(['all', 'A', 'B']);
    expect(operatorsToLoad(catalog, uploads, s!)).toEqual(['all']);
    expect(operatorsToLoad(catalog, [], { country: 'FR', city: 'Lyon', operator: 'Orange' })).toEqual([
      'Free',
      'Orange',
    ]);
  });
  it('keeps the ground truth out of the model selects', () => {
    const opts = modelOptions(catalog);
    expect(opts.map((o) => o.value)).toEqual(['voronoi', 'deepmend']);
    expect(opts[1].disabled).toBe(true);
  });
  it('uses the catalog attribution when present', () => {
    expect(attributionText({ ...catalog, attribution: 'Arcep, ANFR' })).toBe('Arcep, ANFR');
    expect(attributionText(catalog)).toBe(DEFAULT_ATTRIBUTION);
    expect(attributionText(null)).toBe(DEFAULT_ATTRIBUTION);
  });
});

describe('site index', () => {
  const fc = (operator: string, ids: string[]): SitesCollection => ({
    type: 'FeatureCollection',
    features: ids.map((id, i) => ({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [4.8 + i * 0.01, 45.7] },
      properties: { site_id: id, operator, lat: 45.7, lon: 4.8 + i * 0.01, height_m: null, technology: '4G', members: [id] },
    })),
  });
  it('gives numeric feature ids and finds sites by id, preferring an operator', () => {
    const idx = indexSites([fc('Orange', ['a', 'b']), fc('Free', ['a', '7'])]);
    expect(idx.sites.map((s) => s.fid)).toEqual([0, 1, 2, 3]);
    expect(idx.collection.features.map((f) => f.id)).toEqual([0, 1, 2, 3]);
    expect(idx.operators).toEqual(['Orange', 'Free']);
    expect(findSite(idx, 'a', 'Free')?.fid).toBe(2);
    expect(findSite(idx, 'a', 'Orange')?.fid).toBe(0);
    expect(findSite(idx, '7')?.operator).toBe('Free');
    expect(findSite(idx, 'zzz')).toBeUndefined();
    expect(idx.sites[0].color).toBe('#E69F00');
  });
  it('splits the sites between the chosen operator\'s clustered source and the others\'', () => {
    const idx = indexSites([fc('Orange', ['a', 'b']), fc('Free', ['a', '7', 'c'])]);
    const { current, other } = splitSites(idx, 'Free');
    expect(current.features.map((f) => f.id)).toEqual([2, 3, 4]);
    expect(other.features.map((f) => f.id)).toEqual([0, 1]);
    const all = splitSites(idx, null); // an upload: every operator is "current"
    expect(all.current.features).toHaveLength(5);
    expect(all.other.features).toHaveLength(0);
    expect(splitSites(null, 'Free').current.features).toHaveLength(0);
    expect(clusterColor('Orange')).toBe('#E69F00');
    expect(clusterColor(null)).not.toBe('#E69F00');
  });
});
