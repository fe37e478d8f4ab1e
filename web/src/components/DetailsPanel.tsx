import type { JobInfo, MapInfo, Metrics } from '../api';
import type { AsyncState } from '../hooks';
import type { Site } from '../map/sites';
import type { Option } from '../scene';
import AlphaInput from './AlphaInput';
import MetricsCard from './MetricsCard';
import Select from './Select';
import SiteDetails from './SiteDetails';

interface Props {
  site: Site | null;
  selection: { id: string; operator: string } | null;
  model: string;
  modelB: string;
  modelOptions: Option[];
  onModelB: (m: string) => void;
  alpha: number | null;
  onAlpha: (a: number | null) => void;
  mapA: AsyncState<MapInfo>;
  mapB: AsyncState<MapInfo>;
  metricsA: AsyncState<Metrics>;
  metricsB: AsyncState<Metrics>;
  /** server jobs the metrics wait for (a baseline's fit) */
  jobs: JobInfo[];
  showFeatures: boolean;
  onShowFeatures: (on: boolean) => void;
  modelLabel: (name: string) => string;
  /** why there is no scene to show features of (a country without a bundled site list), else null */
  noScene?: string | null;
}

/** Bottom panel: tools, the selected BS and the models' numbers. */
export default function DetailsPanel(p: Props) {
  const geotiff = p.mapA.data?.geotiff ?? null;
  return (
    <section className="details" data-testid="details-panel">
      <div className="toolbar">
        <Select
          testid="select-model-b"
          label="Compare with"
          value={p.modelB}
          options={p.modelOptions.filter((o) => o.value !== p.model)}
          empty={{ value: '', label: '— no second model —' }}
          onChange={p.onModelB}
        />
        {p.model === 'probabilistic' && <AlphaInput value={p.alpha} onChange={p.onAlpha} />}
        <div className="toolbar-spacer" />
        {p.noScene && (
          <span className="toolbar-reason" data-testid="no-scene-reason">
            {p.noScene}
          </span>
        )}
        <button
          type="button"
          className={`button${p.showFeatures ? ' button-active' : ''}`}
          data-testid="toggle-features"
          aria-pressed={p.showFeatures}
          disabled={!!p.noScene}
          onClick={() => p.onShowFeatures(!p.showFeatures)}
          title={p.noScene ?? "Show the model's input channels for the selected base station"}
        >
          {p.showFeatures ? 'Hide features' : 'Show features'}
        </button>
        <a
          className={`button${geotiff ? '' : ' button-disabled'}`}
          data-testid="download-geotiff"
          href={geotiff ?? undefined}
          aria-disabled={!geotiff}
          download
          onClick={(e) => {
            if (!geotiff) e.preventDefault();
          }}
          title={geotiff ? "Download the model's map as a GeoTIFF" : 'Select a base station first'}
        >
          Download GeoTIFF
        </a>
      </div>
      <div className="details-cards">
        <SiteDetails site={p.site} siteId={p.selection?.id ?? null} operator={p.selection?.operator ?? ''} />
        {p.selection ? (
          <MetricsCard
            model={p.model}
            modelB={p.modelB}
            metricsA={p.metricsA}
            metricsB={p.metricsB}
            jobs={p.jobs}
            infoA={p.mapA.data}
            infoB={p.mapB.data}
            modelLabel={p.modelLabel}
          />
        ) : (
          <div className="card metrics-card card-note">
            The model's inference time, its errors against the ground truth (KS, EMD, JS) and its gains over
            Voronoi and the other baselines appear here.
          </div>
        )}
      </div>
    </section>
  );
}
