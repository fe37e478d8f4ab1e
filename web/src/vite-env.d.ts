/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Optional raster tile URL template ({z}/{x}/{y}) drawn over the offline basemap. */
  readonly VITE_TILE_URL?: string;
  readonly VITE_TILE_ATTRIBUTION?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
