// A button's work: busy while it runs, its failure kept for an ErrorBox,
// its answer kept to show (a new key, a balance after a grant).
import { useState } from "react";

export interface Action<T> {
  busy: boolean;
  error?: unknown;
  result?: T;
  run(work: () => Promise<T>): Promise<void>;
  clear(): void;
}

export function useAction<T = unknown>(): Action<T> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [result, setResult] = useState<T>();
  return {
    busy,
    error,
    result,
    async run(work) {
      setBusy(true);
      setError(undefined);
      setResult(undefined);
      try {
        setResult(await work());
      } catch (e) {
        setError(e);
      } finally {
        setBusy(false);
      }
    },
    clear() {
      setError(undefined);
      setResult(undefined);
    },
  };
}

/** An idempotency id for a change made from this page (1-64 of [A-Za-z0-9._-]). */
export function changeId(kind: string): string {
  const random = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("");
  return `web-${kind}-${Date.now()}-${random}`;
}
