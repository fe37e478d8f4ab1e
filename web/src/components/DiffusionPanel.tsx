import { useEffect, useRef, useState } from 'react';
import type { GeoJSONSource, ImageSource, Map as MapLibreMap } from 'maplibre-gl';
import maplibregl from '../map/maplibre';
import { attachWorld, baseStyle, currentTileUrl, whenStyleReady } from '../map/basemap';
import { bboxOfPoints, padBBox } from '../map/geo';
import { ApiError, getBlobUrl, isAbortError, type MapInfo } from '../api';
import ColorLegend from './ColorLegend';
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
}

const IMAGE_SOURCE = 'diffusion';
const IMAGE_LAYER = 'diffusion';
const BS_SOURCE = 'bs';
const EMPTY = { type: 'FeatureCollection' as const, features: [] };

// the small maps move together: a pan/zoom in one is applied to the others
const syncGroup = new Set<MapLibreMap>();
function syncFrom(source: MapLibreMap) {
  for (const m of syncGroup) {
    if (m === source) continue;
    m.jumpTo({ center: source.getCenter(), zoom: source.getZoom() });
  }
}

type PanelState = 'idle' | 'loading' | 'ready' | 'unavailable' | 'error';

export default function DiffusionPanel(props: Props) {
  const { testid, title, subtitle, info, loading, error, site, placeholder, extra } = props;
  const container = useRef<HTMLDivElement>(null);
  const mapRef = useRef<MapLibreMap | null>(null);
  const [ready, setReady] = useState(false);
  const [imgLoading, setImgLoading] = useState(false);
  const [imgError, setImgError] = useState<Error | null>(null);
  const [shownPng, setShownPng] = useState<string | null>(null);
  const lastExtent = useRef<string | null>(null);
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
    map.on('move', (e: { originalEvent?: Event }) => {
      if (e.originalEvent) syncFrom(map);
    });
    whenStyleReady(map, () => {
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
    getBlobUrl(info.png, ctrl.signal)
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
            'bs',
          );
        }
        map.setLayoutProperty(IMAGE_LAYER, 'visibility', 'visible');
        const extent = JSON.stringify(info.corners);
        if (lastExtent.current !== extent) {
          lastExtent.current = extent;
          const box = bboxOfPoints(info.corners);
          if (box) map.fitBounds(padBBox(box, 0.01, 0), { padding: 4, animate: false });
        }
        setShownPng(info.png);
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
  }, [ready, info]);

  const err = error ?? imgError;
  let state: PanelState = 'idle';
  if (loading || imgLoading) state = 'loading';
  else if (err) state = err instanceof ApiError && err.status === 404 ? 'unavailable' : 'error';
  else if (info && shownPng === info.png) state = 'ready';

  return (
    <section className="panel diffusion-panel" data-testid={testid} data-state={state}>
      <header className="panel-header">
        <h2>{title}</h2>
        {subtitle && <span className="panel-subtitle">{subtitle}</span>}
        {info && state === 'ready' && info.inference_ms !== null && info.inference_ms !== undefined && (
          <span
            className="panel-badge"
            title={`inference time${info.cached ? ' (map served from the cache)' : ''}`}
            data-cached={info.cached ? 'true' : 'false'}
          >
            {fmtMs(info.inference_ms)}
          </span>
        )}
        {extra}
      </header>
      <div className="panel-map-wrap">
        <div ref={container} className="panel-map" />
        {state === 'loading' && (
          <div className="map-loading">
            <Spinner />
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
      <ColorLegend vmin={info?.vmin ?? 1e-9} vmax={info?.vmax ?? 1e-2} />
    </section>
  );
}
