// The optional population layer's classes (WorldPop 2020, inhabitants per km²): viridis-like steps,
// colour-blind safe, light = dense. One definition for the map's paint and the legend.
import type { ExpressionSpecification } from 'maplibre-gl';

/** [lower bound (inhabitants/km²), colour], ascending */
export const POPULATION_CLASSES: ReadonlyArray<readonly [number, string]> = [
  [0, '#440154'],
  [10, '#3b528b'],
  [50, '#21918c'],
  [200, '#5ec962'],
  [1000, '#fde725'],
];

export function populationFill(): ExpressionSpecification {
  const [first, ...rest] = POPULATION_CLASSES;
  return ['step', ['get', 'density_per_km2'], first[1], ...rest.flatMap(([v, c]) => [v, c])] as ExpressionSpecification;
}

/** The legend's labels: "< 10", "10–50", …, "≥ 1,000". */
export function populationLabels(): string[] {
  const n = (v: number) => v.toLocaleString('en');
  return POPULATION_CLASSES.map(([v], i) =>
    i === 0 ? `< ${n(POPULATION_CLASSES[1][0])}` : i === POPULATION_CLASSES.length - 1 ? `≥ ${n(v)}` : `${n(v)}–${n(POPULATION_CLASSES[i + 1][0])}`,
  );
}
