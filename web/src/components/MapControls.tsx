// The main map's box of controls: operator legend (and the clusters' key), model overlay, population
// layer (with its classes), the city view's toggle.
import { POPULATION_CLASSES, populationLabels } from '../map/population';
import OperatorLegend from './OperatorLegend';

interface Props {
  isUpload: boolean;
  operators: Array<{ name: string; count: number }>;
  currentOperator: string | null;
  onOperator?: (operator: string) => void;
  noSites: boolean;
  modelLabel: string;
  overlayOn: boolean;
  onOverlay: (on: boolean) => void;
  overlayOpacity: number;
  onOverlayOpacity: (v: number) => void;
  population: boolean;
  onPopulation: (on: boolean) => void;
  onToggleCity: () => void;
  /** why this country has no city view (no bundled site list), else null */
  noScene?: string | null;
}

export default function MapControls(p: Props) {
  return (
    <div className="map-box">
      {p.noSites && (
        <div className="map-note" data-testid="no-sites">
          No base stations for this scene.
        </div>
      )}
      <OperatorLegend operators={p.operators} current={p.currentOperator} onPick={p.onOperator} />
      <label className="toggle" title="Draw the selected model's map on the main map">
        <input type="checkbox" data-testid="toggle-overlay" checked={p.overlayOn} onChange={(e) => p.onOverlay(e.target.checked)} />
        Overlay {p.modelLabel} map
      </label>
      {!p.isUpload && (
        <label className="toggle" title="WorldPop 2020 inhabitants per km² (~10 km cells), the density the simulated ground truth starts from">
          <input
            type="checkbox"
            data-testid="toggle-population"
            checked={p.population}
            onChange={(e) => p.onPopulation(e.target.checked)}
          />
          Population (WorldPop 2020)
        </label>
      )}
      {!p.isUpload && p.population && (
        <div className="population-legend" data-testid="population-legend" title="inhabitants per km²">
          {POPULATION_CLASSES.map(([v, c], i) => (
            <span key={v}>
              <i style={{ background: c }} />
              {populationLabels()[i]}
            </span>
          ))}
          <small>inhabitants / km²</small>
        </div>
      )}
      {!p.isUpload && p.noScene && (
        <div className="map-note" data-testid="no-city-view">
          City errors: {p.noScene}
        </div>
      )}
      {!p.isUpload && !p.noScene && (
        <button
          type="button"
          className="button city-view-toggle"
          data-testid="toggle-city-view"
          title="each model's KS and EMD over the city's BSs (CDFs), from the evaluation's cache"
          onClick={p.onToggleCity}
        >
          City errors (CDF)
        </button>
      )}
      {p.overlayOn && (
        <input
          type="range"
          className="opacity-range"
          aria-label="Overlay opacity"
          min={0.1}
          max={1}
          step={0.05}
          value={p.overlayOpacity}
          onChange={(e) => p.onOverlayOpacity(Number(e.target.value))}
        />
      )}
    </div>
  );
}
