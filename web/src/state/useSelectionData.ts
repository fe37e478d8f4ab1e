// Everything asked of the API for the selected BS: the ground truth, the model(s), their metrics
// (asked again while `incomplete`), the features, and the server's jobs while anything waits.
import { api } from '../api';
import { useAsync, useJobs, useRefreshing } from '../hooks';
import { GROUND_TRUTH } from '../scene';
import { featuresUrl, mapUrl, metricsUrl, type Scene, type SiteQuery } from '../urls';

export interface Selection {
  id: string;
  operator: string;
}

export function useSelectionData(
  scene: Scene | null,
  selected: Selection | null,
  model: string,
  modelB: string,
  alpha: number | null,
  showFeatures: boolean,
) {
  // the API queries for the selected BS
  const baseQuery: Omit<SiteQuery, 'model'> | null =
    scene && selected ? { country: scene.country, city: scene.city, operator: selected.operator, site: selected.id, alpha } : null;
  const qGT: SiteQuery | null = baseQuery ? { ...baseQuery, model: GROUND_TRUTH } : null;
  const qA: SiteQuery | null = baseQuery && model ? { ...baseQuery, model } : null;
  const qB: SiteQuery | null = baseQuery && modelB ? { ...baseQuery, model: modelB } : null;

  const mapGT = useAsync(qGT && mapUrl(qGT), (s) => api.map(qGT!, s));
  const mapA = useAsync(qA && mapUrl(qA), (s) => api.map(qA!, s));
  const mapB = useAsync(qB && mapUrl(qB), (s) => api.map(qB!, s));
  // metrics whose baselines are still being fitted come back `incomplete`: asked again until filled
  const metricsA = useRefreshing(qA && metricsUrl(qA), (s) => api.metrics(qA!, s), (m) => !!m.incomplete);
  const metricsB = useRefreshing(qB && metricsUrl(qB), (s) => api.metrics(qB!, s), (m) => !!m.incomplete);
  // what the server is computing for this scene, while anything waits for it
  const waiting = mapGT.loading || mapA.loading || mapB.loading || metricsA.loading || metricsA.refreshing || metricsB.refreshing;
  const jobs = useJobs(waiting);
  const jobScene = scene && selected ? { country: scene.country, city: scene.city, operator: selected.operator } : null;
  const features = useAsync(showFeatures && baseQuery ? featuresUrl(baseQuery) : null, (s) => api.features(baseQuery!, s));

  // every panel opens on the ground truth's 95 % mass square (the model's own when there is none)
  const fitExtent = mapGT.data?.extent95 ?? null;

  return { baseQuery, qGT, qA, qB, mapGT, mapA, mapB, metricsA, metricsB, jobs, jobScene, features, fitExtent };
}
