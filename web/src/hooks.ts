import { useEffect, useRef, useState } from 'react';
import { ApiError, api, isAbortError, type JobInfo } from './api';

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

/**
 * Like {@link useAsync}, but while `again(data)` is true the resource is asked for again every
 * `everyMs`, keeping the last answer on screen (e.g. metrics whose baselines are still computing).
 */
export function useRefreshing<T>(
  key: string | null,
  load: (signal: AbortSignal) => Promise<T>,
  again: (data: T) => boolean,
  everyMs = 2000,
): AsyncState<T> & { refreshing: boolean } {
  const [round, setRound] = useState(0);
  const [kept, setKept] = useState<{ key: string | null; data: T | null }>({ key: null, data: null });
  const state = useAsync<T>(key === null ? null : `${key}#${round}`, load);
  const againRef = useRef(again);
  againRef.current = again;
  useEffect(() => setRound(0), [key]);
  useEffect(() => {
    if (state.data !== null) setKept({ key, data: state.data });
  }, [state.data, key]);
  const repeat = state.data !== null && againRef.current(state.data);
  useEffect(() => {
    if (!repeat) return;
    const t = window.setTimeout(() => setRound((r) => r + 1), everyMs);
    return () => window.clearTimeout(t);
  }, [repeat, everyMs, state.data]);
  const data = state.data ?? (kept.key === key ? kept.data : null);
  const refreshing = (state.loading && data !== null) || repeat;
  return { ...state, data, loading: state.loading && data === null, key, refreshing };
}

/** The server's running jobs, asked for every `everyMs` while `active` (else an empty list). */
export function useJobs(active: boolean, everyMs = 1000): JobInfo[] {
  const [jobs, setJobs] = useState<JobInfo[]>([]);
  useEffect(() => {
    if (!active) {
      setJobs([]);
      return;
    }
    let stop = false;
    let timer = 0;
    const ctrl = new AbortController();
    const tick = () => {
      api
        .jobs(ctrl.signal)
        .then((j) => {
          if (!stop) setJobs(j.running);
        })
        .catch(() => undefined)
        .finally(() => {
          if (!stop) timer = window.setTimeout(tick, everyMs);
        });
    };
    tick();
    return () => {
      stop = true;
      ctrl.abort();
      window.clearTimeout(timer);
    };
  }, [active, everyMs]);
  return jobs;
}

/** The jobs a request for `model` on this scene may be waiting for (its own fit, the ground truth's). */
export function jobsFor(jobs: JobInfo[], scene: { country: string; city: string; operator: string } | null, models: string[]): JobInfo[] {
  if (!scene) return [];
  return jobs.filter(
    (j) => j.country === scene.country && j.city === scene.city && j.operator === scene.operator && models.includes(j.model),
  );
}
