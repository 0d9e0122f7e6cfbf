// The stablecoin checkout's server answers and WebSocket messages, as
// docs/stablecoin.md ("The HTTP and WebSocket contract") defines them.
// Amounts are decimal strings, never numbers; times are RFC 3339 UTC.

/** A payment's state: waiting → confirming → paid, or expired, or failed. */
export type PaymentStatus = "waiting" | "confirming" | "paid" | "expired" | "failed";

/** `GET /api/v1/networks`: one EVM network the server watches. */
export interface Network {
  id: string;
  name: string;
  chain_id: number;
  rpc_url: string;
  websocket_url: string | null;
  confirmations: number;
  deposit_address: string;
  is_active: boolean;
}

/** `GET /api/v1/tokens`: one token on one network. */
export interface Token {
  symbol: string;
  name: string;
  network: string;
  chain_id: number;
  contract_address: string;
  decimals: number;
  is_active: boolean;
}

/** `GET /api/v1/products`: a pack of points for sale. */
export interface Product {
  id: string;
  name: string;
  description: string;
  price: string;
  currency: string;
  /** What a signed-in buyer is credited. */
  points: string;
}

/**
 * The transfer that paid a payment. The server's view has every field;
 * a live update names only the hash, block and confirmations, so the
 * others are kept from the last view with the same hash.
 */
export interface PaymentTransaction {
  hash: string;
  block_number: number | null;
  confirmations: number;
  log_index?: number;
  block_hash?: string;
  from?: string;
  amount?: string;
  amount_units?: string;
}

/** The payment view: `POST /api/v1/payments`, `GET /api/v1/payments/{id}`, a `connection_ack`'s data. */
export interface PaymentView {
  id: string;
  status: PaymentStatus;
  /** null, or `paid_late`, `paid_partial`, `paid_over`. */
  exception: string | null;
  product_id: string | null;
  description: string | null;
  network: string;
  chain_id: number;
  token: string;
  token_address: string;
  decimals: number;
  deposit_address: string;
  /** What to send, exact (the requested amount plus this payment's unique offset). */
  amount: string;
  amount_units: string;
  requested_amount: string;
  amount_received: string;
  amount_received_units: string;
  points: string | null;
  user: string | null;
  /** The EIP-681 link a wallet opens: `ethereum:{token}@{chainId}/transfer?address={to}&uint256={units}`. */
  payment_uri: string;
  confirmations_required: number;
  created_at: string;
  expires_at: string;
  paid_at: string | null;
  transaction: PaymentTransaction | null;
  metadata: Record<string, unknown>;
}

/** A `payment_status_update`'s data. */
export interface StatusUpdate {
  status: PaymentStatus;
  exception: string | null;
  transactionHash: string | null;
  blockNumber: number | null;
  confirmations: number | null;
  amount: string;
  amountReceived: string;
  token: string;
}

/** A refusal: an HTTP error's `error`, or an `error` message's data. */
export interface Refusal {
  code: string;
  message: string;
}

/** A message on `WebSocket /ws/payments/{id}`. */
export type SocketMessage =
  | { type: "connection_ack"; paymentId: string; data: PaymentView; timestamp: string }
  | { type: "payment_status_update"; paymentId: string; data: StatusUpdate; timestamp: string }
  | { type: "error"; paymentId: string; data: Refusal; timestamp: string }
  | { type: "ping" | "pong"; timestamp: string };
