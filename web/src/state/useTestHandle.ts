// window.__deepmend: the handle the end-to-end suite drives the app through (tests/e2e/).
import { useCallback, useRef } from 'react';
import type { Map as MapLibreMap } from 'maplibre-gl';
import { findSite, type Site, type SiteIndex } from '../map/sites';
import type { Scene } from '../urls';
import type { Selection } from './useSelectionData';

export interface DeepmendTestHandle {
  map: MapLibreMap | null;
  selectSite: (siteId: string | number) => boolean;
  state: () => {
    scene: Scene | null;
    model: string;
    modelB: string;
    selected: Selection | null;
    sitesLoaded: boolean;
    siteCount: number;
  };
}

declare global {
  interface Window {
    __deepmend?: DeepmendTestHandle;
  }
}

interface Latest {
  index: SiteIndex | null;
  scene: Scene | null;
  onSelectSite: (site: Site) => void;
  setSelected: (s: Selection) => void;
  model: string;
  modelB: string;
  selected: Selection | null;
  loading: boolean;
}

/** Installs the handle once (it reads the latest state on every call); returns the main map's callback. */
export function useTestHandle(now: Latest): (m: MapLibreMap | null) => void {
  const latest = useRef(now);
  latest.current = now;
  if (!window.__deepmend) {
    window.__deepmend = {
      map: null,
      selectSite: (siteId) => {
        const { index: idx, scene: sc, onSelectSite: select, setSelected } = latest.current;
        if (!sc) return false;
        const site = idx ? findSite(idx, siteId, sc.operator) : undefined;
        if (site) {
          select(site);
          return true;
        }
        setSelected({ id: String(siteId), operator: sc.operator });
        return false;
      },
      state: () => {
        const l = latest.current;
        return {
          scene: l.scene,
          model: l.model,
          modelB: l.modelB,
          selected: l.selected,
          sitesLoaded: !!l.index && !l.loading,
          siteCount: l.index?.sites.length ?? 0,
        };
      },
    };
  }
  return useCallback((m: MapLibreMap | null) => {
    if (window.__deepmend) window.__deepmend.map = m;
  }, []);
}
