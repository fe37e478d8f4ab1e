// The page's query string follows the view, so that a view can be shared or reloaded.
import { useEffect } from 'react';
import { formatAppQuery, type Scene } from '../urls';

export function useQueryString(
  scene: Scene | null,
  model: string,
  modelB: string,
  site: string | undefined,
  alpha: number | null,
  tiles: string | undefined,
) {
  useEffect(() => {
    if (!scene) return;
    const qs = formatAppQuery({
      country: scene.country,
      city: scene.city,
      operator: scene.operator,
      model,
      modelB: modelB || undefined,
      site,
      alpha: model === 'probabilistic' && alpha !== null ? alpha : undefined,
      tiles,
    });
    if (qs !== window.location.search) window.history.replaceState(null, '', `${window.location.pathname}${qs}`);
  }, [scene, model, modelB, site, alpha, tiles]);
}
