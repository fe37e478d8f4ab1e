// MapLibre GL set-up shared by every map of the app.
import * as maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
// v6 runs its worker as an ES module loaded from a URL; with a bundler that URL must be given.
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';

maplibregl.setWorkerUrl(workerUrl);

export default maplibregl;
export type { Map as MapLibreMap, StyleSpecification, GeoJSONSource, ImageSource } from 'maplibre-gl';
