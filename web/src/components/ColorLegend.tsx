import { useMemo } from 'react';
import { jetGradientCss, logTicks } from '../colormap';

interface Props {
  vmin?: number;
  vmax?: number;
  label?: string;
}

/** Horizontal log-scale legend of the `jet` colour map (defaults: 1e-9 … 1e-2). */
export default function ColorLegend({ vmin = 1e-9, vmax = 1e-2, label = 'P(ℓ | i)' }: Props) {
  const ticks = useMemo(() => logTicks(vmin, vmax), [vmin, vmax]);
  const gradient = useMemo(() => jetGradientCss(24), []);
  return (
    <div className="color-legend" data-testid="color-legend" data-vmin={vmin} data-vmax={vmax}>
      <span className="color-legend-label">{label}</span>
      <div className="color-legend-scale">
        <div className="color-legend-bar" style={{ background: gradient }} />
        <div className="color-legend-ticks">
          {ticks.map((t) => (
            <span
              key={t.exponent}
              className="color-legend-tick"
              style={{ left: `${(t.position * 100).toFixed(2)}%` }}
              title={t.value.toExponential(0)}
            >
              {t.label}
            </span>
          ))}
        </div>
      </div>
    </div>
  );
}

/** Legend of the difference view (render.diff_rgba): RdBu_r on a symmetric-log scale, white = agreement. */
export function DiffLegend() {
  const gradient =
    'linear-gradient(to right, #053061, #2166ac, #4393c3, #92c5de, #d1e5f0, #f7f7f7, #fddbc7, #f4a582, #d6604d, #b2182b, #67001f)';
  return (
    <div className="color-legend" data-testid="diff-legend">
      <span className="color-legend-label">model − truth</span>
      <div className="color-legend-scale">
        <div className="color-legend-bar" style={{ background: gradient }} />
        <div className="color-legend-ticks">
          <span className="color-legend-tick" style={{ left: '0%' }}>−10⁻²</span>
          <span className="color-legend-tick" style={{ left: '50%' }} title="|difference| below 10⁻⁷">0</span>
          <span className="color-legend-tick" style={{ left: '100%' }}>+10⁻²</span>
        </div>
      </div>
    </div>
  );
}
