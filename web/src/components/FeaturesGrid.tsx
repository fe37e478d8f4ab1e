import type { FeaturesInfo } from '../api';
import Spinner from './Spinner';

interface Props {
  features: FeaturesInfo | null;
  loading: boolean;
  error: Error | null;
  hasSite: boolean;
  onClose: () => void;
}

/** The model's input channels as grey-scale images, drawn over the bottom of the main map. */
export default function FeaturesGrid({ features, loading, error, hasSite, onClose }: Props) {
  const state = !hasSite ? 'empty' : loading ? 'loading' : error ? 'error' : 'ready';
  return (
    <div className="features" data-testid="features-grid" data-state={state}>
      <div className="features-title">
        <span>
          {features ? (
            <>
              Input channels of <strong>{features.model}</strong> ({features.features.length})
            </>
          ) : (
            'Input channels'
          )}
        </span>
        <button type="button" className="features-close" aria-label="Hide features" onClick={onClose} />
      </div>
      {!hasSite && <div className="card-note">Select a base station to see the model's input channels.</div>}
      {hasSite && loading && <Spinner label="Loading input channels…" />}
      {hasSite && error && <div className="card-error">{error.message}</div>}
      {hasSite && features && (
        <div className="features-grid">
          {features.features.map((f) => (
            <figure key={f.name} className="feature" title={f.description ?? f.name} data-feature={f.name}>
              <img src={f.png} alt={f.description ?? f.name} />
              <figcaption>
                <strong>{f.name}</strong>
                {f.description && <span>{f.description}</span>}
              </figcaption>
            </figure>
          ))}
        </div>
      )}
    </div>
  );
}
