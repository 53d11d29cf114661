import { useCallback, useEffect, useRef, useState } from 'react';

export interface AsyncState<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  reload(): void;
}

/**
 * Runs `load` on mount and whenever `deps` change; a result that arrives after a newer call
 * started (or after unmount) is dropped, so a slow answer never overwrites a fresh one. `data` is
 * only ever the answer for the current `deps`: while other deps load it is undefined (a search
 * never shows the previous query's rows as its own), whereas `reload` keeps it until the new answer.
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): AsyncState<T> {
  const [answer, setAnswer] = useState<{ readonly deps: readonly unknown[]; readonly data: T } | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const controller = new AbortController();
    const asked = deps;
    setLoading(true);
    setError(undefined);
    loadRef.current(controller.signal).then(
      (value) => {
        if (controller.signal.aborted) return;
        setAnswer({ deps: asked, data: value });
        setLoading(false);
      },
      (reason: unknown) => {
        if (controller.signal.aborted) return;
        setError(reason);
        setLoading(false);
      },
    );
    return () => controller.abort();
    // `load` is read through a ref: only `deps` (and reload) decide when to fetch again.
  }, [...deps, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const current = answer !== undefined && sameDeps(answer.deps, deps);
  return { data: current ? answer.data : undefined, error, loading: loading || (answer !== undefined && !current), reload };
}

function sameDeps(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}
