import { useEffect, useRef, useState } from 'react';
import type { GeoJSONSource, ImageSource, Map as MapLibreMap } from 'maplibre-gl';
import maplibregl from '../map/maplibre';
import { attachCountry, attachWorld, baseStyle, currentTileUrl, whenStyleReady } from '../map/basemap';
import { bboxOfPoints, padBBox } from '../map/geo';
import { ApiError, getBlobUrl, isAbortError, type JobInfo, type LonLat, type MapInfo, type RegionCollection } from '../api';
import ColorLegend, { DiffLegend } from './ColorLegend';
import { cellAt, distanceKm, parseNpy, type NpyArray } from '../npy';
import Spinner from './Spinner';
import { fmtMs } from '../format';

interface Props {
  testid: string;
  title: string;
  subtitle?: string;
  info: MapInfo | null;
  loading: boolean;
  error: Error | null;
  /** the selected BS, drawn as a marker */
  site: { lon: number; lat: number } | null;
  placeholder?: string;
  extra?: React.ReactNode;
  /** running server jobs this panel waits for (shown under the spinner) */
  jobs?: JobInfo[];
  /** extent the panel opens on ("fit"): the ground truth's 95 % mass square, else the map's own */
  fitExtent?: [LonLat, LonLat] | null;
  /** a link shown next to the title (e.g. how the simulated ground truth is made) */
  titleLink?: { href: string; text: string };
  /** the city's outline, drawn on the panel so that a map cut at a border reads as such */
  region?: RegionCollection | null;
  /** the model − ground truth image of this map (a "difference" toggle appears when given) */
  diffUrl?: string | null;
  /** the scene's country code (1:10m coast and administrative areas on the basemap) */
  country?: string | null;
}

const IMAGE_SOURCE = 'diffusion';
const IMAGE_LAYER = 'diffusion';
const BS_SOURCE = 'bs';
const REGION_SOURCE = 'region';
const EMPTY = { type: 'FeatureCollection' as const, features: [] };

// the small maps move together: a pan/zoom in one (drag, wheel, buttons, "fit") is applied to the
// others. `syncing` marks the moves this code makes, so that they are not echoed back.
const syncGroup = new Set<MapLibreMap>();
let syncing = false;
function syncFrom(source: MapLibreMap) {
  if (syncing) return;
  syncing = true;
  try {
    for (const m of syncGroup) {
      if (m === source) continue;
      m.jumpTo({ center: source.getCenter(), zoom: source.getZoom() });
    }
  } finally {
    syncing = false;
  }
}

function jobText(j: JobInfo): string {
  const pct = typeof j.fraction === 'number' ? ` — ${Math.round(j.fraction * 100)} %` : '';
  return `${j.label}${j.step ? `: ${j.step}` : ''}${pct} (${Math.round(j.elapsed_s)} s)`;
}

type PanelState = 'idle' | 'loading' | 'ready' | 'unavailable' | 'error';

export default function DiffusionPanel(props: Props) {
  const { testid, title, subtitle, info, loading, error, site, placeholder, extra, jobs, fitExtent, titleLink, region, diffUrl, country } = props;
  const [diff, setDiff] = useState(false);
  const imageUrl = info ? (diff && diffUrl ? diffUrl : info.png) : null;
  const container = useRef<HTMLDivElement>(null);
  const section = useRef<HTMLElement>(null);
  const mapRef = useRef<MapLibreMap | null>(null);
  const [ready, setReady] = useState(false);
  const [imgLoading, setImgLoading] = useState(false);
  const [imgError, setImgError] = useState<Error | null>(null);
  const [shownPng, setShownPng] = useState<string | null>(null);
  const lastExtent = useRef<string | null>(null);
  const fitRef = useRef<[LonLat, LonLat] | null>(fitExtent ?? null);
  fitRef.current = fitExtent ?? info?.extent95 ?? null;
  // what the user waited: from the moment the panel started loading until its image is on screen
  const waitStart = useRef<number | null>(null);
  const [waited, setWaited] = useState<{ png: string; ms: number } | null>(null);
  useEffect(() => {
    if (loading && waitStart.current === null) waitStart.current = performance.now();
  }, [loading]);
  const blobUrls = useRef<string[]>([]);
  // the map (a WebGL context) is only created once the panel first has something to show
  const [wanted, setWanted] = useState(false);
  if (!wanted && (info || loading || error)) setWanted(true);

  useEffect(() => {
    if (!wanted) return;
    const map = new maplibregl.Map({
      container: container.current!,
      style: baseStyle({ tileUrl: currentTileUrl() }),
      center: [4.85, 45.75],
      zoom: 8,
      attributionControl: false,
      dragRotate: false,
      pitchWithRotate: false,
      fadeDuration: 0,
    });
    mapRef.current = map;
    map.touchZoomRotate.disableRotation();
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
    map.on('move', () => {
      syncFrom(map);
      if (section.current) {
        // read by the e2e tests
        section.current.dataset.zoom = map.getZoom().toFixed(4);
        const c = map.getCenter();
        section.current.dataset.center = `${c.lng.toFixed(6)},${c.lat.toFixed(6)}`;
      }
    });
    whenStyleReady(map, () => {
      map.addSource(REGION_SOURCE, { type: 'geojson', data: EMPTY });
      map.addLayer({
        id: 'region-outline',
        type: 'line',
        source: REGION_SOURCE,
        paint: { 'line-color': '#222222', 'line-width': 1.5, 'line-dasharray': [3, 2] },
      });
      map.addSource(BS_SOURCE, { type: 'geojson', data: EMPTY });
      map.addLayer({
        id: 'bs',
        type: 'circle',
        source: BS_SOURCE,
        paint: {
          'circle-radius': 4,
          'circle-color': '#ffffff',
          'circle-stroke-color': '#000000',
          'circle-stroke-width': 1.5,
        },
      });
      setReady(true);
    });
    attachWorld(map).catch((e) => console.error('basemap', e));
    syncGroup.add(map);
    const ro = new ResizeObserver(() => map.resize());
    ro.observe(container.current!);
    return () => {
      ro.disconnect();
      syncGroup.delete(map);
      map.remove();
      mapRef.current = null;
      for (const u of blobUrls.current) URL.revokeObjectURL(u);
      blobUrls.current = [];
    };
  }, [wanted]);

  useEffect(() => {
    const map = mapRef.current;
    if (!ready || !map) return;
    attachCountry(map, country);
  }, [ready, country]);

  // city outline
  useEffect(() => {
    const map = mapRef.current;
    if (!ready || !map) return;
    (map.getSource(REGION_SOURCE) as GeoJSONSource).setData(region ?? EMPTY);
  }, [ready, region]);

  // BS marker
  useEffect(() => {
    const map = mapRef.current;
    if (!ready || !map) return;
    (map.getSource(BS_SOURCE) as GeoJSONSource).setData(
      site
        ? { type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [site.lon, site.lat] } }
        : EMPTY,
    );
  }, [ready, site?.lon, site?.lat]);

  // diffusion image
  useEffect(() => {
    const map = mapRef.current;
    if (!ready || !map) return;
    if (!info) {
      if (map.getLayer(IMAGE_LAYER)) map.setLayoutProperty(IMAGE_LAYER, 'visibility', 'none');
      setShownPng(null);
      setImgError(null);
      return;
    }
    const ctrl = new AbortController();
    setImgLoading(true);
    setImgError(null);
    getBlobUrl(imageUrl!, ctrl.signal)
      .then((url) => {
        if (ctrl.signal.aborted) {
          URL.revokeObjectURL(url);
          return;
        }
        blobUrls.current.push(url);
        // keep the last two object URLs alive: MapLibre may still be decoding the previous one
        while (blobUrls.current.length > 2) URL.revokeObjectURL(blobUrls.current.shift()!);
        const src = map.getSource(IMAGE_SOURCE) as ImageSource | undefined;
        if (src) src.updateImage({ url, coordinates: info.corners });
        else {
          map.addSource(IMAGE_SOURCE, { type: 'image', url, coordinates: info.corners });
          map.addLayer(
            {
              id: IMAGE_LAYER,
              type: 'raster',
              source: IMAGE_SOURCE,
              paint: { 'raster-opacity': 0.85, 'raster-fade-duration': 0, 'raster-resampling': 'nearest' },
            },
            'region-outline',
          );
        }
        map.setLayoutProperty(IMAGE_LAYER, 'visibility', 'visible');
        const extent = JSON.stringify(info.corners);
        if (lastExtent.current !== extent) {
          lastExtent.current = extent;
          fitTo(map, fitRef.current ?? info.extent95 ?? null, info.corners);
        }
        setShownPng(imageUrl);
        setImgLoading(false);
      })
      .catch((e: unknown) => {
        if (ctrl.signal.aborted || isAbortError(e)) return;
        setImgError(e instanceof Error ? e : new Error(String(e)));
        setImgLoading(false);
      });
    return () => {
      ctrl.abort();
      setImgLoading(false);
    };
  }, [ready, info, imageUrl]);

  useEffect(() => {
    if (!shownPng || shownPng !== info?.png || (waited && waited.png === shownPng)) return;
    const t0 = waitStart.current;
    waitStart.current = null;
    setWaited({ png: shownPng, ms: t0 === null ? 0 : performance.now() - t0 });
  }, [shownPng, waited, info?.png]);

  // a new ground-truth extent (it may arrive after this panel's own image): open on it
  const fitKey = JSON.stringify(fitExtent ?? null);
  useEffect(() => {
    const map = mapRef.current;
    if (!ready || !map || !fitExtent || !info) return;
    fitTo(map, fitExtent, info.corners);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ready, fitKey]);

  // readout of P(ℓ|i), distance to the BS and cell under the cursor (the raw map is fetched on first hover)
  const [readout, setReadout] = useState<string | null>(null);
  const raw = useRef<{ url: string; arr: NpyArray | null; loading: boolean } | null>(null);
  useEffect(() => {
    const map = mapRef.current;
    if (!ready || !map || !info) return;
    const onMove = (e: { lngLat: { lng: number; lat: number } }) => {
      const p: LonLat = [e.lngLat.lng, e.lngLat.lat];
      if (!raw.current || raw.current.url !== info.npy) {
        raw.current = { url: info.npy, arr: null, loading: true };
        const mine = raw.current;
        fetch(info.npy)
          .then((r) => r.arrayBuffer())
          .then((b) => {
            mine.arr = parseNpy(b);
          })
          .catch(() => undefined)
          .finally(() => {
            mine.loading = false;
          });
      }
      const arr = raw.current.arr;
      const cell = cellAt(info.corners, info.shape[0], p);
      const dist = site ? `${distanceKm([site.lon, site.lat], p).toFixed(2)} km from the BS` : '';
      if (!cell) {
        setReadout(`outside the window${dist ? ` · ${dist}` : ''}`);
        return;
      }
      const v = arr ? arr.data[cell[0] * info.shape[1] + cell[1]] : null;
      const pv = v === null ? '…' : v > 0 ? v.toExponential(2) : '0';
      setReadout(`P(ℓ|i) = ${pv} · ${dist} · cell row ${cell[0]}, col ${cell[1]}`);
    };
    const onOut = () => setReadout(null);
    map.on('mousemove', onMove);
    map.on('mouseout', onOut);
    return () => {
      map.off('mousemove', onMove);
      map.off('mouseout', onOut);
    };
  }, [ready, info, site?.lon, site?.lat]);

  const err = error ?? imgError;
  let state: PanelState = 'idle';
  if (loading || imgLoading) state = 'loading';
  else if (err) state = err instanceof ApiError && err.status === 404 ? 'unavailable' : 'error';
  else if (info && shownPng === imageUrl) state = 'ready';

  return (
    <section ref={section} className="panel diffusion-panel" data-testid={testid} data-state={state}>
      <header className="panel-header">
        <h2>{title}</h2>
        {subtitle && <span className="panel-subtitle">{subtitle}</span>}
        {titleLink && (
          <a className="panel-link" href={titleLink.href} target="_blank" rel="noreferrer">
            {titleLink.text}
          </a>
        )}
        {info && state === 'ready' && waited && waited.png === info.png && (
          <span
            className="panel-badge"
            data-testid={`${testid}-time`}
            title={`what you waited for this map (request and image)${
              info.inference_ms !== null && info.inference_ms !== undefined ? `; computing it took ${fmtMs(info.inference_ms)}` : ''
            }${info.cached ? '; served from the cache' : ''}`}
            data-cached={info.cached ? 'true' : 'false'}
          >
            {fmtMs(waited.ms)}
            {info.cached && <span className="cached-mark"> · cached</span>}
          </span>
        )}
        {extra}
      </header>
      <div className="panel-map-wrap">
        <div ref={container} className="panel-map" />
        {state === 'loading' && (
          <div className="map-loading">
            <Spinner />
            {jobs && jobs.length > 0 && (
              <div className="job-progress" data-testid={`${testid}-progress`}>
                {jobs.map((j) => (
                  <div key={j.id} className="job-line">
                    <span>{jobText(j)}</span>
                    {typeof j.fraction === 'number' && (
                      <progress max={1} value={j.fraction} aria-label={j.label} />
                    )}
                  </div>
                ))}
              </div>
            )}
          </div>
        )}
        {state === 'ready' && info && (
          <div className="panel-view-buttons">
            <button
              type="button"
              data-testid={`${testid}-fit`}
              title="zoom to the square holding 95 % of the ground truth's mass"
              onClick={() => mapRef.current && fitTo(mapRef.current, fitRef.current, info.corners)}
            >
              fit
            </button>
            {diffUrl && (
              <button
                type="button"
                data-testid={`${testid}-diff`}
                aria-pressed={diff}
                className={diff ? 'active' : ''}
                title="show this map minus the ground truth (red: more probability than the ground truth, blue: less)"
                onClick={() => setDiff((d) => !d)}
              >
                {diff ? 'map' : 'difference'}
              </button>
            )}
            <button
              type="button"
              data-testid={`${testid}-full`}
              title="show the BS's whole 60 km window"
              onClick={() => mapRef.current && fitTo(mapRef.current, null, info.corners)}
            >
              full window
            </button>
          </div>
        )}
        {state === 'idle' && !info && (
          <div className="panel-message">{placeholder ?? 'Click a base station on the map'}</div>
        )}
        {state === 'unavailable' && (
          <div className="panel-message panel-message-warn" data-testid={`${testid}-error`}>
            <strong>not available</strong>
            <small>{err?.message}</small>
          </div>
        )}
        {state === 'error' && (
          <div className="panel-message panel-message-error" data-testid={`${testid}-error`}>
            <strong>Error</strong>
            <small>{err?.message}</small>
          </div>
        )}
      </div>
      {readout && state === 'ready' && (
        <div className="panel-readout" data-testid={`${testid}-readout`}>
          {readout}
        </div>
      )}
      {diff && diffUrl ? (
        <DiffLegend />
      ) : (
        <ColorLegend vmin={info?.vmin ?? 1e-9} vmax={info?.vmax ?? 1e-2} />
      )}
    </section>
  );
}

/** Zoom `map` on `extent` (else on the whole window `corners`); the other panels follow. */
function fitTo(map: MapLibreMap, extent: [LonLat, LonLat] | null, corners: LonLat[]) {
  const box = extent ? (([extent[0][0], extent[0][1], extent[1][0], extent[1][1]] as [number, number, number, number])) : bboxOfPoints(corners);
  if (!box) return;
  map.fitBounds(extent ? [box[0], box[1], box[2], box[3]] : padBBox(box, 0.01, 0), { padding: 4, animate: false });
  syncFrom(map);
}
