// The states every screen shares: loading, empty, and a failure told in
// words a person can act on (the server's code kept visible), with Retry.
import type { ReactNode } from "react";
import { explain } from "../../app/explain";
import { ApiError } from "../../lib/api";
import type { Loaded } from "./useLoad";

/** What to do next, for the codes these screens meet most. */
const NEXT: Record<string, string> = {
  unreachable: "Check the server is running, then press Retry.",
  admin_required: "This needs an administrator's key: sign in with one.",
  api_key_invalid: "Your key is no longer valid: sign out and sign in again.",
  user_disabled: "This account is disabled: ask an administrator to enable it.",
  ckb_disabled: "The CKB rail is off on this server: set ckb.rpc_url (a CKB node) in the configuration to turn it on.",
  unknown_model: "That model has no price: set one in Admin → Prices, or pick another model.",
  invalid_query: "Correct the filter and try again.",
  invalid_tokens: "Token counts must be whole numbers up to 100,000,000.",
  invalid_amount: "Enter a whole number of points (adjustments may start with -).",
  invalid_price: "Prices are decimals with at most 6 digits after the point, like 1000 or 0.5.",
  unknown_user: "No user has that handle: check the spelling in the users list.",
  already_exists: "That name is taken: choose another.",
  idempotency_conflict: "That id was used for a different change: leave the id empty for a new one.",
  exists_with_different_fields: "That id was used for a different change: leave the id empty for a new one.",
  insufficient_points: "Lower the amount, or grant points first.",
  storage_busy: "The server is busy: wait a moment and press Retry.",
  database_unavailable: "The server cannot reach its database: press Retry in a moment.",
  spend_cap_below_spent: "The key has already spent more than that cap: choose a higher cap.",
};

/** A sentence for `e`, with what to do next when there is one. */
export function failure(e: unknown): string {
  let text = explain(e);
  if (!(e instanceof ApiError)) return text;
  if (!text.includes(e.code)) text = `${text} (${e.code})`;
  const next = NEXT[e.code];
  return next ? `${text} ${next}` : text;
}

export function ErrorBox(props: { error: unknown; retry?: () => void }) {
  return (
    <p role="alert" className="error">
      {failure(props.error)} {props.retry && <button className="quiet" onClick={props.retry}>Retry</button>}
    </p>
  );
}

export function Loading(props: { what: string }) {
  return <p className="hint" aria-busy="true">Loading {props.what}…</p>;
}

/** Shows loading, the error or the empty state of `state`, else `children(data)`. */
export function Show<T>(props: { state: Loaded<T>; what: string; empty?: (data: T) => string | undefined; children: (data: T) => ReactNode }) {
  const { state } = props;
  if (state.error !== undefined) return <ErrorBox error={state.error} retry={state.reload} />;
  if (state.data === undefined) return <Loading what={props.what} />;
  const empty = props.empty?.(state.data);
  if (empty) return <p className="empty">{empty}</p>;
  return <>{props.children(state.data)}</>;
}
