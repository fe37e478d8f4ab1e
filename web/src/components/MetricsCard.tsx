import type { BaselineScores, JobInfo, MapInfo, Metrics } from '../api';
import type { AsyncState } from '../hooks';
import { fmt, fmtGain, fmtMs, relativeGain } from '../format';
import Spinner from './Spinner';

interface Props {
  model: string;
  modelB: string;
  metricsA: AsyncState<Metrics>;
  metricsB: AsyncState<Metrics>;
  infoA: MapInfo | null;
  infoB: MapInfo | null;
  modelLabel: (name: string) => string;
  /** server jobs under way (a baseline's fit): their progress is shown on the row that waits */
  jobs?: JobInfo[];
}

const val = (s: BaselineScores | null | undefined, k: keyof BaselineScores): number | null => {
  const v = s ? s[k] : null;
  return typeof v === 'number' ? v : null;
};

function pendingText(j: JobInfo | undefined): string {
  if (!j) return '…';
  const pct = typeof j.fraction === 'number' ? ` ${Math.round(j.fraction * 100)} %` : '';
  return ` (${j.step ?? j.label}${pct}, ${Math.round(j.elapsed_s)} s)`;
}

function gainClass(v: number | null): string {
  if (v === null) return 'gain';
  return v > 0 ? 'gain gain-pos' : v < 0 ? 'gain gain-neg' : 'gain';
}

/**
 * Accuracy of the chosen model (A) — and, in compare mode, of model B — against the ground
 * truth, with the baselines' errors and A's relative gains over each of them.
 */
export default function MetricsCard({ model, modelB, metricsA, metricsB, infoA, infoB, modelLabel, jobs = [] }: Props) {
  const a = metricsA.data;
  const b = modelB ? metricsB.data : null;
  const vsA = a?.vs_ground_truth ?? null;
  const vsB = b?.vs_ground_truth ?? null;
  const gains = a?.gain_over ?? {};
  const gain = (name: string, k: 'ks' | 'emd_km', other: BaselineScores | null): number | null => {
    const g = gains[name];
    if (g && typeof g[k] === 'number') return g[k] as number;
    return relativeGain(val(vsA, k), val(other, k));
  };
  const baselines = Object.entries(a?.baselines ?? {}).filter(([name]) => name !== model && name !== modelB);
  const loading = metricsA.loading || (!!modelB && metricsB.loading);
  const noGt = a && !vsA;

  return (
    <div className="card metrics-card" data-testid="metrics-card">
      <h3>
        Model accuracy vs ground truth
        {loading && <Spinner />}
      </h3>
      {metricsA.error && <div className="card-error">{metricsA.error.message}</div>}
      {modelB && metricsB.error && <div className="card-error">B: {metricsB.error.message}</div>}
      {noGt && (
        <div className="card-note">{a.ground_truth ? 'not computed' : 'No ground truth for this base station.'}</div>
      )}
      <div className="table-scroll">
        <table className="metrics-table">
          <thead>
            <tr>
              <th />
              <th title="inference time of the map">time</th>
              <th title="Kolmogorov–Smirnov distance (lower is better)">KS</th>
              <th title="Earth mover's distance in km (lower is better)">EMD km</th>
              <th title="Jensen–Shannon divergence (lower is better)">JS</th>
              <th title={`relative gain of ${modelLabel(model)} over this model on KS: (KS_other − KS_${model}) / KS_other`}>
                gain KS
              </th>
              <th title={`relative gain of ${modelLabel(model)} over this model on EMD`}>gain EMD</th>
            </tr>
          </thead>
          <tbody>
            <tr className="row-a">
              <th>
                {modelB && <span className="tag">A</span>}
                {modelLabel(model)}
              </th>
              <td data-testid="metric-inference">{fmtMs(a?.inference_ms ?? infoA?.inference_ms ?? null)}</td>
              <td data-testid="metric-ks">{fmt(val(vsA, 'ks'))}</td>
              <td data-testid="metric-emd">{fmt(val(vsA, 'emd_km'), 2)}</td>
              <td data-testid="metric-js">{fmt(val(vsA, 'js'))}</td>
              <td />
              <td />
            </tr>
            {modelB && (
              <tr className="row-b">
                <th>
                  <span className="tag tag-b">B</span>
                  {modelLabel(modelB)}
                </th>
                <td data-testid="metric-inference-b">{fmtMs(b?.inference_ms ?? infoB?.inference_ms ?? null)}</td>
                <td data-testid="metric-ks-b">{fmt(val(vsB, 'ks'))}</td>
                <td data-testid="metric-emd-b">{fmt(val(vsB, 'emd_km'), 2)}</td>
                <td data-testid="metric-js-b">{fmt(val(vsB, 'js'))}</td>
                <td className={gainClass(gain(modelB, 'ks', vsB))} data-testid={`gain-${modelB}-ks`}>
                  {fmtGain(gain(modelB, 'ks', vsB))}
                </td>
                <td className={gainClass(gain(modelB, 'emd_km', vsB))} data-testid={`gain-${modelB}-emd`}>
                  {fmtGain(gain(modelB, 'emd_km', vsB))}
                </td>
              </tr>
            )}
            {baselines.map(([name, s]) =>
              s === null && a?.incomplete ? (
                <tr key={name} data-baseline={name} data-state="computing">
                  <th>{modelLabel(name)}</th>
                  <td colSpan={6} className="metric-pending" data-testid={`pending-${name}`}>
                    <Spinner /> computing{pendingText(jobs.find((j) => j.model === name))}
                  </td>
                </tr>
              ) : (
              <tr key={name} data-baseline={name} data-state="filled">
                <th>{modelLabel(name)}</th>
                <td />
                <td>{fmt(val(s, 'ks'))}</td>
                <td>{fmt(val(s, 'emd_km'), 2)}</td>
                <td>{fmt(val(s, 'js'))}</td>
                <td className={gainClass(gain(name, 'ks', s))} data-testid={`gain-${name}-ks`}>
                  {fmtGain(gain(name, 'ks', s))}
                </td>
                <td className={gainClass(gain(name, 'emd_km', s))} data-testid={`gain-${name}-emd`}>
                  {fmtGain(gain(name, 'emd_km', s))}
                </td>
              </tr>
              ),
            )}
          </tbody>
        </table>
      </div>
      <div className="shape-stats">
        {[a, b].map((m, i) =>
          m ? (
            <span key={i} title="radii holding 50% / 90% of the probability mass; mass inside the BS's Voronoi cell">
              {modelB && <span className={`tag${i ? ' tag-b' : ''}`}>{i ? 'B' : 'A'}</span>}
              r50 {fmt(m.r50_km ?? null, 2)} km · r90 {fmt(m.r90_km ?? null, 2)} km · in Voronoi{' '}
              {fmt(m.mass_in_voronoi ?? null)}
              {m.vs_ground_truth && typeof m.vs_ground_truth.tv === 'number' && <> · TV {fmt(m.vs_ground_truth.tv)}</>}
            </span>
          ) : null,
        )}
      </div>
    </div>
  );
}
