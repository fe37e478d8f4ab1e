import { useEffect, useRef, useState } from 'react';
import { ApiError, isAbortError } from './api';

export interface AsyncState<T> {
  data: T | null;
  error: ApiError | Error | null;
  loading: boolean;
  /** the key the current data/error belongs to */
  key: string | null;
}

/**
 * Runs `load` whenever `key` changes (null: nothing to load) and aborts the previous request.
 * Data from a previous key is dropped as soon as the key changes.
 */
export function useAsync<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>): AsyncState<T> {
  const [state, setState] = useState<AsyncState<T>>({ data: null, error: null, loading: false, key: null });
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    if (key === null) {
      setState({ data: null, error: null, loading: false, key: null });
      return;
    }
    const ctrl = new AbortController();
    setState({ data: null, error: null, loading: true, key });
    loadRef
      .current(ctrl.signal)
      .then((data) => {
        if (!ctrl.signal.aborted) setState({ data, error: null, loading: false, key });
      })
      .catch((error: unknown) => {
        if (ctrl.signal.aborted || isAbortError(error)) return;
        setState({
          data: null,
          error: error instanceof Error ? error : new Error(String(error)),
          loading: false,
          key,
        });
      });
    return () => ctrl.abort();
  }, [key]);

  // never show data that belongs to another key
  if (state.key !== key) return { data: null, error: null, loading: key !== null, key };
  return state;
}
