// The pay page's state: the payment view, changed only by what the server
// says (an HTTP read, a `connection_ack`, a `payment_status_update`), and
// the socket's condition. Pure: the page's hook feeds it.
//
// - A `connection_ack` carries the whole current view and replaces the
//   state (a reconnect loses nothing).
// - An update changes status, exception, received amount and transfer.
// - An HTTP read (the first load, a "poke" while the socket is down, the
//   answer to a submitted hash) is applied only if no socket message came
//   in since it was asked for (`seq`), so a slow answer never undoes a
//   newer update.
import { parseAmount } from "./amount";
import type { PaymentStatus, PaymentView, Refusal, SocketMessage, StatusUpdate } from "./types";

/** The socket's condition: opening, live (acknowledged), waiting to retry, or closed for good (a final status). */
export type SocketPhase = "connecting" | "live" | "retrying" | "closed";

/** The socket as the page shows it. */
export interface SocketState {
  phase: SocketPhase;
  /** Failed tries since the last acknowledged connection. */
  attempt: number;
  /** When the next try starts (Unix ms), while retrying. */
  retryAt?: number;
}

/** Everything the pay page shows. */
export interface CheckoutState {
  view: PaymentView;
  /** Socket messages applied so far (ack and updates). */
  seq: number;
  socket: SocketState;
  /** The last `error` message from the server, until the next ack. */
  refusal?: Refusal;
}

/** What changes the state. */
export type CheckoutAction =
  | { kind: "view"; view: PaymentView; seq?: number }
  | { kind: "message"; message: SocketMessage }
  | { kind: "socket"; socket: SocketState };

const STATUSES: readonly PaymentStatus[] = ["waiting", "confirming", "paid", "expired", "failed"];

/**
 * Whether nothing more will happen to a payment in `status` (the socket
 * can close): paid or failed. An expired payment is still watched, since
 * a transfer arriving late still pays it (`paid_late`).
 */
export function isFinal(status: PaymentStatus): boolean {
  return status === "paid" || status === "failed";
}

const CONNECTING: SocketState = { phase: "connecting", attempt: 0 };

/** The next state. A state that does not exist yet is started by a view or an ack. */
export function reduce(state: CheckoutState | undefined, action: CheckoutAction): CheckoutState | undefined {
  if (action.kind === "view") {
    if (!state) return { view: action.view, seq: 0, socket: CONNECTING };
    if (action.seq !== undefined && action.seq !== state.seq) return state;
    return { ...state, view: action.view };
  }
  if (action.kind === "socket") return state && { ...state, socket: action.socket };
  const message = action.message;
  switch (message.type) {
    case "connection_ack":
      return { view: message.data, seq: (state?.seq ?? 0) + 1, socket: { phase: "live", attempt: 0 } };
    case "payment_status_update":
      return state && { ...state, seq: state.seq + 1, view: applyUpdate(state.view, message.data, message.timestamp) };
    case "error":
      return state && { ...state, refusal: message.data };
    default:
      return state;
  }
}

function applyUpdate(view: PaymentView, update: StatusUpdate, at: string): PaymentView {
  const hash = update.transactionHash;
  const same = hash && view.transaction?.hash === hash ? view.transaction : undefined;
  const received = parseAmount(update.amountReceived, view.decimals);
  return {
    ...view,
    status: update.status,
    exception: update.exception,
    amount_received: update.amountReceived,
    amount_received_units: received.ok ? received.units.toString() : received.problem === "zero" ? "0" : view.amount_received_units,
    paid_at: update.status === "paid" ? view.paid_at ?? at : view.paid_at,
    transaction: hash ? {
      ...same,
      hash,
      block_number: update.blockNumber ?? same?.block_number ?? null,
      confirmations: update.confirmations ?? same?.confirmations ?? 0,
    } : null,
  };
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** A message from the socket of payment `paymentId`, or undefined for anything malformed or about another payment. */
export function parseMessage(text: string, paymentId: string): SocketMessage | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(json) || typeof json.type !== "string") return undefined;
  const timestamp = typeof json.timestamp === "string" ? json.timestamp : new Date().toISOString();
  if (json.type === "ping" || json.type === "pong") return { type: json.type, timestamp };
  if (json.paymentId !== paymentId || !isObject(json.data)) return undefined;
  const data = json.data;
  if (json.type === "connection_ack" && data.id === paymentId && STATUSES.includes(data.status as PaymentStatus)) {
    return { type: "connection_ack", paymentId, data: data as unknown as PaymentView, timestamp };
  }
  if (json.type === "payment_status_update" && STATUSES.includes(data.status as PaymentStatus) && typeof data.amountReceived === "string") {
    return { type: "payment_status_update", paymentId, data: data as unknown as StatusUpdate, timestamp };
  }
  if (json.type === "error" && typeof data.code === "string") {
    return { type: "error", paymentId, data: { code: data.code, message: typeof data.message === "string" ? data.message : "" }, timestamp };
  }
  return undefined;
}
