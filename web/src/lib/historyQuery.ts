// The points history's query string (`GET /api/user/points/history`):
// kinds, model, a time window, the cursor and page size or CSV; and the
// CSV export's file name. Pure, so it is unit-tested.

/** The history kinds the server knows (`type=` accepts several). */
export const HISTORY_KINDS = ["charge", "grant", "adjust", "reservation", "arrears", "arrears_repayment", "expiry", "purchase"] as const;

export interface HistoryFilter {
  kinds: string[];
  model: string;
  /** `datetime-local` text (local time), or "". */
  from: string;
  to: string;
}

export const NO_FILTER: HistoryFilter = { kinds: [], model: "", from: "", to: "" };

/** A `datetime-local` value as Unix ms (local time); undefined when empty or unreadable. */
export function localToMs(text: string): number | undefined {
  if (!text) return undefined;
  const ms = new Date(text).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

/** The query string (with `?`) for a page, or for the whole CSV. */
export function historyQuery(filter: HistoryFilter, page: { cursor?: number; limit?: number; csv?: boolean }): string {
  const q = new URLSearchParams();
  if (filter.kinds.length) q.set("type", filter.kinds.join(","));
  if (filter.model.trim()) q.set("model", filter.model.trim());
  const from = localToMs(filter.from);
  const to = localToMs(filter.to);
  if (from !== undefined) q.set("from", String(from));
  if (to !== undefined) q.set("to", String(to));
  if (page.cursor !== undefined) q.set("cursor", String(page.cursor));
  if (page.csv) q.set("format", "csv");
  else if (page.limit !== undefined) q.set("limit", String(page.limit));
  const text = q.toString();
  return text ? `?${text}` : "";
}

/** `tollway-history-alice-2026-12-04.csv`. */
export function csvFileName(handle: string, now: Date): string {
  const day = now.toISOString().slice(0, 10);
  return `tollway-history-${handle.replace(/[^A-Za-z0-9_.-]/g, "_")}-${day}.csv`;
}
