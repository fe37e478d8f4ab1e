import type { EvaluationView } from '../api';
import { fmt } from '../format';
import Spinner from './Spinner';

interface Props {
  scene: string;
  data: EvaluationView | null;
  loading: boolean;
  error: Error | null;
  modelLabel: (name: string) => string;
  onClose: () => void;
}

/** Okabe–Ito colours per model, in a fixed order. */
const COLORS: Record<string, string> = {
  deepmend: '#E69F00',
  voronoi: '#BBBBBB',
  probabilistic: '#56B4E9',
  voronoiboost: '#009E73',
  teacher: '#CC79A7',
};
const OTHER = ['#F0E442', '#0072B2', '#D55E00', '#ffffff'];

function colorOf(name: string, i: number): string {
  return COLORS[name] ?? OTHER[i % OTHER.length];
}

const W = 300;
const H = 170;
const PAD = { l: 34, r: 8, t: 8, b: 26 };

/** Empirical CDFs (step lines) of one score for every model. */
function CdfChart({ title, series }: { title: string; series: { name: string; color: string; values: number[] }[] }) {
  const all = series.flatMap((s) => s.values);
  const xmax = all.length ? Math.max(...all) * 1.05 || 1 : 1;
  const x = (v: number) => PAD.l + (v / xmax) * (W - PAD.l - PAD.r);
  const y = (p: number) => H - PAD.b - p * (H - PAD.t - PAD.b);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * xmax);
  return (
    <svg className="cdf-chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`CDF of ${title}`}>
      <rect x={PAD.l} y={PAD.t} width={W - PAD.l - PAD.r} height={H - PAD.t - PAD.b} className="cdf-frame" />
      {[0, 0.5, 1].map((p) => (
        <text key={p} x={PAD.l - 4} y={y(p) + 3} className="cdf-tick" textAnchor="end">
          {p}
        </text>
      ))}
      {ticks.map((t, i) => (
        // the last label ends at the frame's edge (centred, it was cut by the chart's border)
        <text key={t} x={x(t)} y={H - PAD.b + 12} className="cdf-tick" textAnchor={i === ticks.length - 1 ? 'end' : 'middle'}>
          {fmt(t, 2)}
        </text>
      ))}
      <text x={(W + PAD.l) / 2} y={H - 3} className="cdf-title" textAnchor="middle">
        {title}
      </text>
      {series.map((s) => {
        const n = s.values.length;
        let d = `M ${x(0)} ${y(0)}`;
        s.values.forEach((v, k) => {
          d += ` L ${x(v)} ${y(k / n)} L ${x(v)} ${y((k + 1) / n)}`;
        });
        return <path key={s.name} d={d} fill="none" stroke={s.color} strokeWidth={1.8} data-model={s.name} />;
      })}
    </svg>
  );
}

/**
 * The paper's headline for the city: the distribution of each model's error over the city's BSs,
 * from the evaluation's cache (GET /api/evaluation), one pair of CDFs per evaluation run.
 */
export default function CityErrors({ scene, data, loading, error, modelLabel, onClose }: Props) {
  return (
    <div className="card city-view" data-testid="city-view" data-state={loading ? 'loading' : error ? 'error' : 'ready'}>
      <div className="city-view-head">
        <strong>Errors over the BSs of {scene}</strong>
        <button type="button" className="button" onClick={onClose}>
          close
        </button>
      </div>
      {loading && <Spinner />}
      {error && <div className="card-error">{error.message}</div>}
      {data && data.runs.length === 0 && (
        <p className="card-note" data-testid="city-view-empty">
          No evaluation of this city in the cache yet. <code>deepmend evaluate --test {scene} --out .cache/eval/NAME</code>{' '}
          computes it (every model against the simulated ground truth, per BS).
        </p>
      )}
      {data?.runs.map((run) => {
        const names = Object.keys(run.models);
        const series = (k: 'ks' | 'emd_km') =>
          names.map((n, i) => ({ name: n, color: colorOf(n, i), values: run.models[n][k] }));
        return (
          <div key={run.run} className="city-view-run">
            <div className="city-view-sub">
              run <code>{run.run}</code>, {run.n_bs} BSs — lower is better; a curve further left is a better model
            </div>
            <div className="city-view-charts">
              <CdfChart title="KS" series={series('ks')} />
              <CdfChart title="EMD (km)" series={series('emd_km')} />
            </div>
            <div className="city-view-legend">
              {names.map((n, i) => (
                <span key={n}>
                  <i style={{ background: colorOf(n, i) }} /> {modelLabel(n)}
                </span>
              ))}
            </div>
          </div>
        );
      })}
    </div>
  );
}
