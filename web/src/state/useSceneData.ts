// The data of the chosen scene: its sites (every operator of the city, or the upload) and its outline.
import { useEffect, useMemo } from 'react';
import { api, type Catalog, type SitesCollection, type UploadResult } from '../api';
import { useAsync } from '../hooks';
import { indexSites, type SiteIndex } from '../map/sites';
import { operatorsToLoad } from '../scene';
import { regionUrl, type Scene } from '../urls';

export function useSceneData(
  catalog: Catalog | null,
  uploads: UploadResult[],
  scene: Scene | null,
  isUpload: boolean,
  setError: (message: string | null) => void,
) {
  // sites of every operator of the city (or of the upload), coloured by operator
  const loadOps = useMemo(() => (catalog && scene ? operatorsToLoad(catalog, uploads, scene) : []), [catalog, uploads, scene]);
  const sitesKey = scene ? `${scene.country}|${scene.city}|${loadOps.join(',')}` : null;
  const sitesState = useAsync<SitesCollection[]>(sitesKey, async () => {
    const results = await Promise.allSettled(loadOps.map((op) => api.sites({ ...scene!, operator: op })));
    const ok = results.filter((r): r is PromiseFulfilledResult<SitesCollection> => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (ok.length === 0 && failed.length > 0) throw failed[0].reason;
    if (failed.length > 0) setError((failed[0].reason as Error).message);
    return ok.map((r) => r.value);
  });
  useEffect(() => {
    if (sitesState.error) setError(sitesState.error.message);
  }, [sitesState.error]);

  const index: SiteIndex | null = useMemo(() => (sitesState.data ? indexSites(sitesState.data) : null), [sitesState.data]);

  const regionKey = scene ? regionUrl(scene) : null;
  const regionState = useAsync(regionKey, () => api.region(scene!));
  useEffect(() => {
    if (regionState.error && !isUpload) console.warn('region:', regionState.error.message);
  }, [regionState.error, isUpload]);

  return { loadOps, sitesState, index, regionState };
}
