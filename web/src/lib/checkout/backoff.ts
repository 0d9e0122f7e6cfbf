// When to try the payment's WebSocket again after it drops: exponential
// backoff with jitter, so that many pages reconnecting after a server
// restart do not all come back at the same instant.

/** The first retry's ceiling, in ms. */
export const FIRST_RETRY_MS = 1000;
/** The longest wait between two tries, in ms. */
export const MAX_RETRY_MS = 30_000;

/**
 * The wait before try `attempt` (0 for the first retry): half of
 * min(MAX, FIRST × 2^attempt) plus a random part of the other half, so
 * between 0.5 s and 1 s first, then up to 30 s. `random` is in [0, 1).
 */
export function retryDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** With no message (the server pings every 20 s) for this long, the socket is taken as dead and reopened. */
export const SILENCE_MS = 50_000;
