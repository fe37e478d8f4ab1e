import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, type Catalog, type UploadResult } from './api';
import { jobsFor, useAsync } from './hooks';
import { useSceneData } from './state/useSceneData';
import { useSelectionData, type Selection } from './state/useSelectionData';
import { useQueryString } from './state/useQueryString';
import { findSite, type Site } from './map/sites';
import {
  GROUND_TRUTH,
  attributionText,
  initialScene,
  modelLabel as labelOf,
  modelOptions,
  operatorOptions,
  operatorsToLoad,
  pickModel,
  resolveScene,
} from './scene';
import {
  ALL_OPERATORS,
  apiUrl,
  siteParams,
  UPLOAD_COUNTRY,
  parseAppQuery,
  type Scene,
} from './urls';
import MainMap, { type Overlay } from './components/MainMap';
import DiffusionPanel from './components/DiffusionPanel';
import TopBar from './components/TopBar';
import NoSiteList from './components/NoSiteList';
import MapControls from './components/MapControls';
import ErrorBanner from './components/ErrorBanner';
import DetailsPanel from './components/DetailsPanel';
import Spinner from './components/Spinner';
import FeaturesGrid from './components/FeaturesGrid';
import CityErrors from './components/CityErrors';
import UploadNotes from './components/UploadNotes';
import { useTestHandle } from './state/useTestHandle';


const initialQuery = parseAppQuery(window.location.search);

/** How the simulated ground truth is made (served by the API from docs/GROUNDTRUTH.md). */
const GROUND_TRUTH_DOC = '/about/groundtruth';

function placeholderUploads(): UploadResult[] {
  if (initialQuery.country !== UPLOAD_COUNTRY || !initialQuery.city) return [];
  return [{ upload_id: initialQuery.city, n_sites: 0, operators: [], country: UPLOAD_COUNTRY, city: initialQuery.city, notes: [] }];
}

// The first requests start before React and the maps spin up: the catalog, then (through the
// API client's cache) the first scene's sites and region, which the app asks for again later.
let catalogOnce: Promise<Catalog> | null = null;
function loadCatalog(): Promise<Catalog> {
  if (!catalogOnce) {
    const p = api.catalog();
    catalogOnce = p;
    p.then((c) => {
      const uploads = placeholderUploads();
      const s = initialScene(c, uploads, initialQuery);
      if (!s) return;
      for (const op of operatorsToLoad(c, uploads, s)) api.sites({ ...s, operator: op }).catch(() => undefined);
      api.region(s).catch(() => undefined);
    }).catch(() => {
      catalogOnce = null;
    });
  }
  return catalogOnce;
}
loadCatalog();

export default function App() {
  const catalogState = useAsync<Catalog>('catalog', () => loadCatalog());
  const catalog = catalogState.data;
  const [uploads, setUploads] = useState<UploadResult[]>(placeholderUploads);
  const [scene, setScene] = useState<Scene | null>(null);
  const [model, setModel] = useState('');
  const [modelB, setModelB] = useState('');
  const [alpha, setAlpha] = useState<number | null>(initialQuery.alpha ?? null);
  const [selected, setSelected] = useState<Selection | null>(null);
  const [overlayOn, setOverlayOn] = useState(false);
  const [overlayOpacity, setOverlayOpacity] = useState(0.7);
  const [showFeatures, setShowFeatures] = useState(false);
  const [showCity, setShowCity] = useState(false);
  const [showPopulation, setShowPopulation] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // the answer of the last upload: its notes (sites snapped onto the region, neighbours without a map) are shown
  const [lastUpload, setLastUpload] = useState<UploadResult | null>(null);

  // first scene, once the catalog is there
  useEffect(() => {
    if (!catalog || scene) return;
    const s = initialScene(catalog, uploads, initialQuery);
    if (!s) {
      setError('The catalog lists no country.');
      return;
    }
    setScene(s);
    setModel(pickModel(catalog, initialQuery.model ?? catalog.default?.model));
    if (initialQuery.modelB) setModelB(pickModel(catalog, initialQuery.modelB));
    if (initialQuery.site) setSelected({ id: initialQuery.site, operator: s.operator });
  }, [catalog, scene, uploads]);

  useEffect(() => {
    if (catalogState.error) setError(catalogState.error.message);
  }, [catalogState.error]);

  const isUpload = scene?.country === UPLOAD_COUNTRY;
  // a city offered without any bundled site list (Belgium): the upload flow comes first
  const noSiteList =
    !!catalog && !!scene && !isUpload && !!scene.city && operatorOptions(catalog, uploads, scene.country, scene.city).length === 0;

  const countryName = catalog?.countries.find((c) => c.code === scene?.country)?.name ?? scene?.country ?? '';
  // one line saying why the scene's tools (city errors, features) are off where there is no scene
  const noScene = noSiteList ? `no site list is bundled for ${countryName}; upload one first` : null;

  const { sitesState, index, regionState } = useSceneData(catalog, uploads, scene, isUpload, setError);
  const cityKey = showCity && scene && !isUpload && scene.operator ? `${scene.country}/${scene.city}/${scene.operator}` : null;
  const cityView = useAsync(cityKey, (sig) => api.evaluation(scene!, sig));

  const selectedSite: Site | null = useMemo(
    () => (index && selected ? (findSite(index, selected.id, selected.operator) ?? null) : null),
    [index, selected],
  );

  const { qA, qB, mapGT, mapA, mapB, metricsA, metricsB, jobs, jobScene, features, fitExtent } = useSelectionData(
    scene,
    selected,
    model,
    modelB,
    alpha,
    showFeatures,
  );

  const overlay: Overlay | null = useMemo(
    () => (overlayOn && mapA.data ? { url: mapA.data.png, corners: mapA.data.corners, opacity: overlayOpacity } : null),
    [overlayOn, mapA.data, overlayOpacity],
  );

  useQueryString(scene, model, modelB, selected?.id, alpha, initialQuery.tiles);

  const changeScene = useCallback(
    (part: Partial<Scene>) => {
      if (!catalog || !scene) return;
      const next = resolveScene(catalog, uploads, { ...scene, ...part });
      if (!next) return;
      setScene(next);
      setSelected(null);
      setError(null); // errors of the previous scene no longer apply
    },
    [catalog, scene, uploads],
  );

  const onSelectSite = useCallback(
    (site: Site) => {
      if (!scene || !catalog) return;
      if (scene.country === UPLOAD_COUNTRY) {
        setSelected({ id: String(site.site_id), operator: scene.operator || ALL_OPERATORS });
        return;
      }
      const ops = operatorOptions(catalog, uploads, scene.country, scene.city).map((o) => o.value);
      if (site.operator !== scene.operator && ops.includes(site.operator)) {
        setScene({ ...scene, operator: site.operator });
      }
      setSelected({ id: String(site.site_id), operator: ops.includes(site.operator) ? site.operator : scene.operator });
    },
    [scene, catalog, uploads],
  );

  const onUploaded = useCallback(
    (r: UploadResult) => {
      setUploads((prev) => [...prev.filter((u) => u.upload_id !== r.upload_id), r]);
      setScene({ country: UPLOAD_COUNTRY, city: r.city || r.upload_id, operator: ALL_OPERATORS });
      setSelected(null);
      setError(null);
      setLastUpload(r);
    },
    [],
  );

  // when an upload scene was opened from the URL, learn its operators from the sites
  useEffect(() => {
    if (!isUpload || !index || !scene) return;
    setUploads((prev) =>
      prev.map((u) =>
        u.upload_id === scene.city && u.operators.length === 0 && u.n_sites === 0
          ? { ...u, n_sites: index.sites.length, operators: index.operators.filter(Boolean) }
          : u,
      ),
    );
  }, [isUpload, index, scene]);

  // handle for end-to-end tests
  const onMap = useTestHandle({
    index, scene, onSelectSite, setSelected, model, modelB, selected, loading: sitesState.loading,
  });

  const modelLabel = useCallback((name: string) => labelOf(catalog, name), [catalog]);

  const operatorsOnMap = useMemo(() => {
    if (!index) return [];
    const counts = new Map<string, number>();
    for (const s of index.sites) counts.set(s.operator, (counts.get(s.operator) ?? 0) + 1);
    return [...counts.entries()].map(([name, count]) => ({ name, count }));
  }, [index]);

  const site = selectedSite ? { lon: selectedSite.lon, lat: selectedSite.lat } : null;
  const compare = !!modelB;

  return (
    <div className="app">
      <TopBar
        catalog={catalog}
        uploads={uploads}
        scene={scene}
        isUpload={isUpload}
        model={model}
        onScene={changeScene}
        onModel={setModel}
        onUploaded={onUploaded}
        onError={setError}
      />
      <ErrorBanner message={error} onDismiss={() => setError(null)} />
      {catalogState.loading && (
        <div className="app-loading">
          <Spinner label="Loading catalog…" />
        </div>
      )}
      <main className={`layout${compare ? ' layout-compare' : ''}`}>
        <div className="left">
          <MainMap
            index={index}
            loading={sitesState.loading}
            currentOperator={isUpload ? null : (scene?.operator ?? null)}
            selectedFid={selectedSite?.fid ?? null}
            region={regionState.data}
            country={isUpload ? null : (scene?.country ?? null)}
            population={showPopulation}
            regionSettled={!regionState.loading}
            fitKey={scene ? `${scene.country}|${scene.city}` : ''}
            overlay={overlay}
            onSelect={onSelectSite}
            onMap={onMap}
          >
            {noSiteList && scene && (
              <NoSiteList
                city={scene.city}
                country={countryName}
                countryCode={scene.country}
                onUploaded={onUploaded}
                onError={setError}
              />
            )}
            <MapControls
              isUpload={isUpload}
              operators={operatorsOnMap}
              currentOperator={isUpload ? null : (scene?.operator ?? null)}
              onOperator={isUpload ? undefined : (operator) => changeScene({ operator })}
              noSites={!!index && index.sites.length === 0 && !sitesState.loading && !noSiteList}
              modelLabel={model ? modelLabel(model) : 'model'}
              overlayOn={overlayOn}
              onOverlay={setOverlayOn}
              overlayOpacity={overlayOpacity}
              onOverlayOpacity={setOverlayOpacity}
              population={showPopulation}
              onPopulation={setShowPopulation}
              onToggleCity={() => setShowCity((v) => !v)}
              noScene={noScene}
            />
            {isUpload && lastUpload && scene?.city === lastUpload.upload_id && (
              <UploadNotes upload={lastUpload} onClose={() => setLastUpload(null)} />
            )}
            {showCity && cityKey && (
              <CityErrors
                scene={cityKey}
                data={cityView.data}
                loading={cityView.loading}
                error={cityView.error}
                modelLabel={modelLabel}
                onClose={() => setShowCity(false)}
              />
            )}
            {showFeatures && !noScene && (
              <FeaturesGrid
                features={features.data}
                loading={features.loading}
                error={features.error}
                hasSite={!!selected}
                onClose={() => setShowFeatures(false)}
              />
            )}
          </MainMap>
          <DetailsPanel
            site={selectedSite}
            selection={selected}
            model={model}
            modelB={modelB}
            modelOptions={catalog ? modelOptions(catalog) : []}
            onModelB={setModelB}
            alpha={alpha}
            onAlpha={setAlpha}
            mapA={mapA}
            metricsA={metricsA}
            metricsB={metricsB}
            jobs={jobsFor(jobs, jobScene, ['voronoiboost', 'teacher', 'probabilistic', 'voronoi', GROUND_TRUTH])}
            mapB={mapB}
            showFeatures={showFeatures}
            onShowFeatures={setShowFeatures}
            modelLabel={modelLabel}
            noScene={noScene}
          />
        </div>
        <aside className="right">
          <DiffusionPanel
            testid="panel-groundtruth"
            title="Simulated ground truth"
            titleLink={{ href: GROUND_TRUTH_DOC, text: 'how it is made' }}
            subtitle={selected ? `BS ${selected.id}` : undefined}
            info={mapGT.data}
            loading={mapGT.loading}
            error={mapGT.error}
            site={site}
            jobs={jobsFor(jobs, jobScene, [GROUND_TRUTH])}
            fitExtent={fitExtent}
            region={regionState.data}
            country={isUpload ? null : (scene?.country ?? null)}
          />
          <div className="model-panels">
            <DiffusionPanel
              testid="panel-model"
              title={model ? modelLabel(model) : 'Model'}
              subtitle={compare ? 'A' : undefined}
              info={mapA.data}
              loading={mapA.loading}
              error={mapA.error}
              site={site}
              jobs={jobsFor(jobs, jobScene, [model])}
              diffUrl={qA ? apiUrl('/api/diff.png', siteParams(qA)) : null}
              fitExtent={fitExtent}
              region={regionState.data}
              country={isUpload ? null : (scene?.country ?? null)}
            />
            {compare && (
              <DiffusionPanel
                testid="panel-model-b"
                title={modelLabel(modelB)}
                subtitle="B"
                info={mapB.data}
                loading={mapB.loading}
                error={mapB.error}
                site={site}
                jobs={jobsFor(jobs, jobScene, [modelB])}
                diffUrl={qB ? apiUrl('/api/diff.png', siteParams(qB)) : null}
                fitExtent={fitExtent}
                region={regionState.data}
                country={isUpload ? null : (scene?.country ?? null)}
              />
            )}
          </div>
        </aside>
      </main>
      <footer className="attribution" data-testid="attribution">
        {attributionText(catalog)}
      </footer>
    </div>
  );
}
