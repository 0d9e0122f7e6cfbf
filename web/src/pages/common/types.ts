// The server's answers these screens read (docs/api.md, /openapi.json).
// Amounts are decimal strings, as sent; they are never parsed to numbers.
import type { RemoteChannel, RemoteSub } from "../../lib/channels";

export interface HistoryItem {
  id: string;
  seq: number;
  type: string;
  transfer_kind: string;
  amount: string;
  balance_effect: string;
  status: string | null;
  model: string | null;
  request_id: string | null;
  price_version: number | null;
  memo: string | null;
  created_at: number;
}

export interface HistoryPage {
  items: HistoryItem[];
  next_cursor: number | null;
}

export interface Estimate {
  model: string;
  rule: string;
  price_version: number;
  input_per_1k: string;
  output_per_1k: string;
  estimated_cost: string;
}

export interface CheckBalance {
  can_proceed: boolean;
  balance: string;
  available: string;
  estimated_cost: string;
  shortfall: string;
  arrears: string;
  reason: string | null;
}

/** A gateway request (`/api/user/requests`, `/api/admin/requests`). */
export interface RequestRecord {
  seq: number;
  id: string;
  user_id: number;
  key_id: number | null;
  model: string;
  upstream: string;
  stream: boolean;
  input_tokens: number;
  output_tokens: number;
  usage_source: string;
  status: string;
  cost: string;
  price_version: number | null;
  started_at: number;
  duration_ms: number | null;
  created_at: number;
}

export interface UserView {
  id: number;
  handle: string;
  role: string;
  enabled: boolean;
  created_at: number;
}

export interface RuleView {
  model: string;
  version: number;
  input_per_1k: string;
  output_per_1k: string;
  effective_from: number;
  active: boolean;
  note: string;
  changed_by: number | null;
  created_at: number;
}

export interface KeyView {
  id: number;
  user_id: number;
  label: string;
  rpm_limit: number | null;
  tpm_limit: number | null;
  spend_cap: string | null;
  spent?: string;
  held?: string;
  remaining?: string;
}

export interface HourlyTotal {
  hour: number;
  model: string;
  events: number;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  charged: string;
  shortfall: string;
}

/** A channel as `GET /api/admin/channels` lists it: the owner's view plus the owner, without chain id and epoch. */
export type AdminChannel = Omit<RemoteChannel, "chain_id" | "epoch" | "subs" | "created_at" | "closed_at"> & {
  user_id: number;
  created_at: number;
  closed_at: number | null;
  subs: Pick<RemoteSub, "sub_channel" | "nonce" | "accumulated" | "claimed">[];
};

export interface TaskRun {
  task: string;
  started_at: number;
  finished_at: number | null;
  ok: boolean;
  detail: string | null;
}

export interface Audit {
  accounts: number;
  transfers: number;
  ok: boolean;
  violation: string | null;
}
