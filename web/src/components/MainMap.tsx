import { useEffect, useRef, useState } from 'react';
import type { GeoJSONSource, ImageSource, Map as MapLibreMap, MapMouseEvent, Popup } from 'maplibre-gl';
import maplibregl from '../map/maplibre';
import { attachPlaces } from '../map/places';
import { attachClusterCounts } from '../map/clusterCounts';
import { populationFill } from '../map/population';
import { attachCountry, attachWorld, baseStyle, currentTileUrl, whenStyleReady } from '../map/basemap';
import { bboxOf, padBBox, type BBox } from '../map/geo';
import {
  OVERLAY_LAYER,
  OVERLAY_SOURCE,
  REGION_FILL_LAYER,
  REGION_LINE_LAYER,
  REGION_SOURCE,
  CLUSTER_LAYERS,
  OTHER_SITES_SOURCE,
  SELECTED_SOURCE,
  SITES_CLUSTER_LAYER,
  SITES_CURRENT_LAYER,
  SITES_OTHER_LAYER,
  SITES_SOURCE,
  clusterColor,
  isCurrentSite,
  selectedCollection,
  siteLayers,
  sitesSourceSpec,
  splitSites,
  type Site,
  type SiteIndex,
} from '../map/sites';
import type { LonLat, RegionCollection } from '../api';
import { fmtCoord, fmtHeight } from '../format';
import Spinner from './Spinner';

export interface Overlay {
  url: string;
  corners: [LonLat, LonLat, LonLat, LonLat];
  opacity: number;
}

interface Props {
  index: SiteIndex | null;
  loading: boolean;
  /** operator drawn on top (null: every site is "current") */
  currentOperator: string | null;
  selectedFid: number | null;
  region: RegionCollection | null;
  /** the scene's country code (basemap outlines and place names); null for uploads */
  country?: string | null;
  /** draw WorldPop 2020 density (~10 km, GET /api/population) under the sites */
  population?: boolean;
  /** changes when the scene changes: the map fits the region (or the sites) once per key */
  fitKey: string;
  regionSettled: boolean;
  overlay: Overlay | null;
  onSelect: (site: Site) => void;
  onMap?: (map: MapLibreMap | null) => void;
  children?: React.ReactNode;
}

const EMPTY = { type: 'FeatureCollection' as const, features: [] };
const PICK_TOLERANCE_PX = 4;

function clusterPopupContent(count: number): HTMLElement {
  const root = document.createElement('div');
  root.className = 'site-popup';
  root.setAttribute('data-testid', 'cluster-popup');
  root.setAttribute('data-count', String(count));
  root.textContent = `${count.toLocaleString('en')} base stations here — click to zoom in`;
  return root;
}

function popupContent(site: Site): HTMLElement {
  const root = document.createElement('div');
  root.className = 'site-popup';
  root.setAttribute('data-testid', 'site-popup');
  root.setAttribute('data-site-id', String(site.site_id));
  const title = document.createElement('div');
  title.className = 'site-popup-title';
  const dot = document.createElement('span');
  dot.className = 'op-dot';
  dot.style.background = site.color;
  title.append(dot, document.createTextNode(`BS ${site.site_id}`));
  root.append(title);
  const rows: Array<[string, string]> = [
    ['id', String(site.site_id)],
    ['operator', site.operator || '—'],
    ['lat', fmtCoord(site.lat)],
    ['lon', fmtCoord(site.lon)],
    ['height', fmtHeight(site.height_m)],
    ['technology', site.technology ?? '—'],
  ];
  if (Array.isArray(site.members) && site.members.length > 1) rows.push(['merged', `${site.members.length} ids`]);
  const table = document.createElement('table');
  for (const [k, v] of rows) {
    const tr = document.createElement('tr');
    tr.setAttribute('data-field', k);
    const th = document.createElement('th');
    th.textContent = k;
    const td = document.createElement('td');
    td.textContent = v;
    tr.append(th, td);
    table.append(tr);
  }
  root.append(table);
  return root;
}

const POP_SOURCE = 'population';
const POP_LAYER = 'population-fill';
const popCache = new Map<string, Promise<GeoJSON.FeatureCollection>>();
function loadPopulation(country: string): Promise<GeoJSON.FeatureCollection> {
  let p = popCache.get(country);
  if (!p) {
    p = fetch(`/api/population?country=${encodeURIComponent(country)}`).then((r) => {
      if (!r.ok) throw new Error(`population: HTTP ${r.status}`);
      return r.json() as Promise<GeoJSON.FeatureCollection>;
    });
    popCache.set(country, p);
    p.catch(() => popCache.delete(country));
  }
  return p;
}

export default function MainMap(props: Props) {
  const container = useRef<HTMLDivElement>(null);
  const mapRef = useRef<MapLibreMap | null>(null);
  const [ready, setReady] = useState(false);
  const propsRef = useRef(props);
  propsRef.current = props;
  const fitted = useRef<string | null>(null);

  // create the map once
  useEffect(() => {
    const map = new maplibregl.Map({
      container: container.current!,
      style: baseStyle({ tileUrl: currentTileUrl() }),
      center: [4.85, 45.75],
      zoom: 9,
      attributionControl: false,
      dragRotate: false,
      pitchWithRotate: false,
      fadeDuration: 0,
    });
    mapRef.current = map;
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
    map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
    map.touchZoomRotate.disableRotation();

    const popup: Popup = new maplibregl.Popup({
      closeButton: false,
      closeOnClick: false,
      offset: 12,
      maxWidth: '280px',
      className: 'site-popup-container',
    });
    let hoveredFid: number | null = null;
    let hoveredSource = SITES_SOURCE;

    const setHover = (site: Site | null) => {
      const fid = site?.fid ?? null;
      if (hoveredFid === fid) return;
      if (hoveredFid !== null && map.getSource(hoveredSource)) {
        map.setFeatureState({ source: hoveredSource, id: hoveredFid }, { hover: false });
      }
      hoveredFid = fid;
      if (site) {
        hoveredSource = isCurrentSite(site, propsRef.current.currentOperator) ? SITES_SOURCE : OTHER_SITES_SOURCE;
        map.setFeatureState({ source: hoveredSource, id: site.fid }, { hover: true });
      }
    };

    /** the site under the pointer: the chosen operator first, then the nearest one */
    const pick = (e: MapMouseEvent): Site | null => {
      const index = propsRef.current.index;
      if (!index || !map.getLayer(SITES_CURRENT_LAYER)) return null;
      const t = PICK_TOLERANCE_PX;
      const box: [[number, number], [number, number]] = [
        [e.point.x - t, e.point.y - t],
        [e.point.x + t, e.point.y + t],
      ];
      for (const layer of [SITES_CURRENT_LAYER, SITES_OTHER_LAYER]) {
        const feats = map.queryRenderedFeatures(box, { layers: [layer] });
        let best: Site | null = null;
        let bestD = Infinity;
        for (const f of feats) {
          const site = index.byFid.get(Number(f.id));
          if (!site) continue;
          const p = map.project([site.lon, site.lat]);
          const d = (p.x - e.point.x) ** 2 + (p.y - e.point.y) ** 2;
          if (d < bestD) {
            bestD = d;
            best = site;
          }
        }
        if (best) return best;
      }
      return null;
    };

    /** the cluster disc under the pointer, if any */
    const pickCluster = (e: MapMouseEvent) => {
      if (!map.getLayer(SITES_CLUSTER_LAYER)) return null;
      const feats = map.queryRenderedFeatures(e.point, { layers: CLUSTER_LAYERS });
      return feats.length ? feats[0] : null; // the chosen operator's disc first (drawn on top)
    };
    let hoveredCluster: number | null = null;

    map.on('mousemove', (e: MapMouseEvent) => {
      const site = pick(e);
      if (!site) {
        setHover(null);
        const cluster = pickCluster(e);
        if (cluster) {
          map.getCanvas().style.cursor = 'zoom-in';
          const id = Number(cluster.properties?.cluster_id);
          if (hoveredCluster !== id || !popup.isOpen()) {
            hoveredCluster = id;
            const [lon, lat] = (cluster.geometry as GeoJSON.Point).coordinates;
            popup.setLngLat([lon, lat]).setDOMContent(clusterPopupContent(Number(cluster.properties?.point_count))).addTo(map);
          }
          return;
        }
        hoveredCluster = null;
        popup.remove();
        map.getCanvas().style.cursor = '';
        return;
      }
      hoveredCluster = null;
      map.getCanvas().style.cursor = 'pointer';
      if (hoveredFid !== site.fid || !popup.isOpen()) {
        setHover(site);
        popup.setLngLat([site.lon, site.lat]).setDOMContent(popupContent(site)).addTo(map);
      }
    });
    map.getCanvasContainer().addEventListener('mouseleave', () => {
      setHover(null);
      popup.remove();
    });
    map.on('click', (e: MapMouseEvent) => {
      const site = pick(e);
      if (site) {
        propsRef.current.onSelect(site);
        return;
      }
      // a cluster: zoom in until it splits
      const cluster = pickCluster(e);
      if (!cluster) return;
      const src = map.getSource(cluster.source) as GeoJSONSource;
      const center = (cluster.geometry as GeoJSON.Point).coordinates as [number, number];
      src
        .getClusterExpansionZoom(Number(cluster.properties?.cluster_id))
        .then((zoom) => map.easeTo({ center, zoom: Math.max(zoom, map.getZoom() + 1) }))
        .catch(() => map.easeTo({ center, zoom: map.getZoom() + 2 }));
    });

    // the style is inline: sources can be added as soon as it is parsed, before the basemap renders
    const setup = () => {
      if (map.getSource(SITES_SOURCE)) return;
      map.addSource(POP_SOURCE, { type: 'geojson', data: EMPTY });
      map.addLayer({
        id: POP_LAYER,
        type: 'fill',
        source: POP_SOURCE,
        layout: { visibility: 'none' },
        paint: {
          'fill-color': populationFill(),
          'fill-opacity': 0.45,
        },
      });
      map.addSource(REGION_SOURCE, { type: 'geojson', data: EMPTY });
      map.addLayer({
        id: REGION_FILL_LAYER,
        type: 'fill',
        source: REGION_SOURCE,
        paint: { 'fill-color': '#9fd3ff', 'fill-opacity': 0.06 },
      });
      map.addLayer({
        id: REGION_LINE_LAYER,
        type: 'line',
        source: REGION_SOURCE,
        paint: { 'line-color': '#9fd3ff', 'line-width': 1.6, 'line-opacity': 0.9 },
      });
      map.addSource(OTHER_SITES_SOURCE, sitesSourceSpec(EMPTY));
      map.addSource(SITES_SOURCE, sitesSourceSpec(EMPTY));
      map.addSource(SELECTED_SOURCE, { type: 'geojson', data: EMPTY });
      for (const layer of siteLayers(propsRef.current.currentOperator)) map.addLayer(layer);
      setReady(true);
    };
    whenStyleReady(map, setup);
    attachWorld(map).catch((e) => console.error('basemap', e));

    const ro = new ResizeObserver(() => map.resize());
    ro.observe(container.current!);
    propsRef.current.onMap?.(map);
    return () => {
      ro.disconnect();
      propsRef.current.onMap?.(null);
      popup.remove();
      map.remove();
      mapRef.current = null;
    };
  }, []);

  const { index, currentOperator, selectedFid, region, overlay, fitKey, regionSettled, country } = props;

  // optional population layer
  useEffect(() => {
    const map = mapRef.current;
    if (!ready || !map) return;
    const on = !!props.population && !!country;
    map.setLayoutProperty(POP_LAYER, 'visibility', on ? 'visible' : 'none');
    if (!on) return;
    let live = true;
    loadPopulation(country!)
      .then((fc) => {
        if (live) (map.getSource(POP_SOURCE) as GeoJSONSource).setData(fc);
      })
      .catch((e) => console.warn('population', e));
    return () => {
      live = false;
    };
  }, [ready, country, props.population]);

  // basemap of the scene's country: 1:10m coast, administrative areas, place names
  useEffect(() => {
    const map = mapRef.current;
    if (!ready || !map) return;
    attachCountry(map, country);
    return attachPlaces(map, country ?? null);
  }, [ready, country]);

  // the number of sites on each cluster disc (HTML labels: no glyphs offline)
  useEffect(() => {
    const map = mapRef.current;
    if (!ready || !map) return;
    return attachClusterCounts(map);
  }, [ready]);

  // data-ready turns true once the current sites are drawn in their final view (so that an
  // end-to-end test can project and hover them): every change below bumps `mutation`, and the
  // next 'idle' event settles it.
  const mutation = useRef(0);
  const [settled, setSettled] = useState(-1);
  const settleAfterIdle = (map: MapLibreMap) => {
    const id = ++mutation.current;
    map.once('idle', () => setSettled((s) => Math.max(s, id)));
  };

  useEffect(() => {
    const map = mapRef.current;
    if (!ready || !map) return;
    // ids are reassigned with each new index
    map.removeFeatureState({ source: SITES_SOURCE });
    map.removeFeatureState({ source: OTHER_SITES_SOURCE });
    const { current, other } = splitSites(index, currentOperator);
    (map.getSource(SITES_SOURCE) as GeoJSONSource).setData(current);
    (map.getSource(OTHER_SITES_SOURCE) as GeoJSONSource).setData(other);
    map.setPaintProperty(SITES_CLUSTER_LAYER, 'circle-color', clusterColor(currentOperator));
    settleAfterIdle(map);
  }, [ready, index, currentOperator]);

  useEffect(() => {
    const map = mapRef.current;
    if (!ready || !map) return;
    const site = selectedFid === null ? null : index?.byFid.get(selectedFid);
    (map.getSource(SELECTED_SOURCE) as GeoJSONSource).setData(selectedCollection(site));
  }, [ready, selectedFid, index]);

  useEffect(() => {
    const map = mapRef.current;
    if (!ready || !map) return;
    (map.getSource(REGION_SOURCE) as GeoJSONSource).setData(region ?? EMPTY);
  }, [ready, region]);

  // fit the region (or, without one, the sites) once per scene
  useEffect(() => {
    const map = mapRef.current;
    if (!ready || !map || fitted.current === fitKey) return;
    let box: BBox | null = region ? bboxOf(region) : null;
    if (!box) {
      if (!regionSettled) return; // wait for the region before falling back to the sites
      box = index ? bboxOf(index.collection) : null;
    }
    if (!box) return;
    fitted.current = fitKey;
    map.fitBounds(padBBox(box, 0.03), { padding: 24, animate: false, maxZoom: 13 });
    settleAfterIdle(map);
  }, [ready, fitKey, region, regionSettled, index]);

  useEffect(() => {
    const map = mapRef.current;
    if (!ready || !map) return;
    const src = map.getSource(OVERLAY_SOURCE) as ImageSource | undefined;
    if (!overlay) {
      if (map.getLayer(OVERLAY_LAYER)) map.removeLayer(OVERLAY_LAYER);
      if (src) map.removeSource(OVERLAY_SOURCE);
      return;
    }
    if (src) {
      src.updateImage({ url: overlay.url, coordinates: overlay.corners });
    } else {
      map.addSource(OVERLAY_SOURCE, { type: 'image', url: overlay.url, coordinates: overlay.corners });
      map.addLayer(
        {
          id: OVERLAY_LAYER,
          type: 'raster',
          source: OVERLAY_SOURCE,
          paint: { 'raster-opacity': overlay.opacity, 'raster-fade-duration': 0, 'raster-resampling': 'nearest' },
        },
        REGION_LINE_LAYER,
      );
    }
    map.setPaintProperty(OVERLAY_LAYER, 'raster-opacity', overlay.opacity);
  }, [ready, overlay]);

  return (
    <div className="main-map-wrap">
      <div
        ref={container}
        className="main-map"
        data-testid="main-map"
        data-ready={
          ready && !props.loading && index !== null && fitted.current === fitKey && settled === mutation.current
            ? 'true'
            : 'false'
        }
        data-site-count={index?.sites.length ?? 0}
      />
      {props.loading && (
        <div className="map-loading">
          <Spinner label="Loading base stations…" />
        </div>
      )}
      {props.children}
    </div>
  );
}
