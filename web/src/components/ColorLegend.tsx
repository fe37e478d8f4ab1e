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
