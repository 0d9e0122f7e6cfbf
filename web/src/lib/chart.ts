// The monitor charts' arithmetic, kept out of the drawing: hour buckets,
// series per model or per user (the largest few, the rest as "other"),
// a round axis maximum and bar heights. Values are bigint points; only
// pixel positions become numbers.

export const HOUR_MS = 3_600_000;

/** One value at a time for one key (a model, a user). */
export interface Point {
  at: number;
  key: string;
  value: bigint;
}

/** A key's value in each bucket, and its total. */
export interface Series {
  key: string;
  values: bigint[];
  total: bigint;
}

/** The starts of the last `hours` hours, oldest first; the last holds `now`. */
export function hourBuckets(hours: number, now: number): number[] {
  const current = now - (((now % HOUR_MS) + HOUR_MS) % HOUR_MS);
  return Array.from({ length: hours }, (_, i) => current - (hours - 1 - i) * HOUR_MS);
}

/**
 * The points summed per key and bucket; keys by total, largest first, at
 * most `top` of them, the rest summed as `other`. Points outside the
 * buckets are left out.
 */
export function toSeries(points: Point[], buckets: number[], top = 5): Series[] {
  if (buckets.length === 0) return [];
  const first = buckets[0];
  const end = buckets[buckets.length - 1] + HOUR_MS;
  const byKey = new Map<string, bigint[]>();
  for (const p of points) {
    if (p.at < first || p.at >= end) continue;
    const index = Math.floor((p.at - first) / HOUR_MS);
    const values = byKey.get(p.key) ?? buckets.map(() => 0n);
    values[index] += p.value;
    byKey.set(p.key, values);
  }
  const all = [...byKey.entries()].map(([key, values]) => ({ key, values, total: values.reduce((a, b) => a + b, 0n) }));
  all.sort((a, b) => (a.total === b.total ? a.key.localeCompare(b.key) : a.total > b.total ? -1 : 1));
  if (all.length <= top) return all;
  const rest = all.slice(top);
  const other = buckets.map((_, i) => rest.reduce((sum, s) => sum + s.values[i], 0n));
  return [...all.slice(0, top), { key: "other", values: other, total: other.reduce((a, b) => a + b, 0n) }];
}

/** The sum of every series in each bucket. */
export function stackTotals(series: Series[], buckets: number): bigint[] {
  return Array.from({ length: buckets }, (_, i) => series.reduce((sum, s) => sum + s.values[i], 0n));
}

/** The smallest 1, 2 or 5 × 10^k at or above `max` (1 for 0), for the axis. */
export function niceCeiling(max: bigint): bigint {
  if (max <= 1n) return 1n;
  let step = 1n;
  for (;;) {
    for (const m of [1n, 2n, 5n]) if (m * step >= max) return m * step;
    step *= 10n;
  }
}

/** `value` of `max` as pixels of `px`, to a hundredth of a pixel. */
export function scaleTo(value: bigint, max: bigint, px: number): number {
  if (max <= 0n || value <= 0n) return 0;
  const hundredths = (value * BigInt(Math.round(px * 100))) / max;
  return Number(hundredths) / 100;
}
