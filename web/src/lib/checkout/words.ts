// What the checkout tells a buyer, in words: each refusal code the
// payment endpoints and the socket can send, each status and exception.
// A code this page does not know is shown with the server's own message.
import { ApiError } from "../api";
import type { PaymentStatus, Refusal } from "./types";

const REFUSALS: Record<string, string> = {
  unreachable: "The server cannot be reached. Check your connection, then try again.",
  unknown_payment: "There is no payment with this id. Check the link, or start a new payment.",
  unknown_product: "That product is no longer offered. Pick another one.",
  unknown_token: "That token is not accepted. Pick another one.",
  unknown_network: "That network is not served. Pick another one.",
  token_inactive: "That token is switched off for now. Pick another one.",
  network_inactive: "That network is switched off for now. Pick another one.",
  invalid_amount: "The amount must be a positive decimal with no more decimal places than the token has.",
  invalid_request: "The server did not understand the request.",
  invalid_json: "The server did not understand the request.",
  product_or_amount: "Choose a product or type an amount, not both.",
  forbidden: "This session may only buy for its own account.",
  admin_required: "Only an administrator's key may do that.",
  api_key_invalid: "Your session's key is no longer valid. Sign out and sign in again.",
  session_expired: "Your session has ended. Sign in again.",
  no_free_amount: "Too many payments of this amount are open at once. Try again in a minute, or change the amount.",
  too_many_open_payments: "Too many payments are open at once. Try again in a few minutes.",
  invalid_transaction_hash: "A transaction hash is 0x followed by 64 hexadecimal digits.",
  transaction_not_found: "The network does not know that transaction yet. Wait a few seconds and try again.",
  transaction_failed: "That transaction failed on chain, so nothing was transferred.",
  no_matching_transfer: "That transaction does not transfer this token to this payment's address.",
  amount_mismatch: "That transfer's amount is not this payment's amount.",
  payment_closed: "This payment is already closed; nothing more can be applied to it.",
  too_many_connections: "Too many pages are watching payments right now. The page keeps trying.",
  rpc_unavailable: "The server cannot reach the network's node right now. Try again shortly.",
  rate_limited: "Too many requests at once. Wait a moment and try again.",
  storage_busy: "The server is busy. Wait a moment and try again.",
  database_unavailable: "The server cannot reach its database. Try again in a moment.",
};

/** A refusal in words, with its code kept visible: `"There is no payment with this id. … (unknown_payment)"`. */
export function refusalText(refusal: Refusal): string {
  const words = REFUSALS[refusal.code] ?? (refusal.message || "The server refused.");
  return `${words} (${refusal.code})`;
}

/** Any failure of a checkout call in words. */
export function failureText(e: unknown): string {
  if (e instanceof ApiError) return refusalText({ code: e.code, message: e.message });
  return e instanceof Error ? e.message : String(e);
}

/** Each status as a heading. */
export const STATUS_TITLES: Record<PaymentStatus, string> = {
  waiting: "Waiting for your transfer",
  confirming: "Transfer seen, confirming",
  paid: "Payment received",
  expired: "This payment expired",
  failed: "This payment failed",
};

const EXCEPTIONS: Record<string, string> = {
  paid_late: "The transfer arrived after the payment's time was up. It was accepted all the same and recorded as a late payment.",
  paid_partial: "Less than the amount asked for has arrived, so the payment is not complete. Contact the seller about the rest: another transfer to this address may not be recognised.",
  paid_over: "More than the amount asked for arrived. The payment counts as paid and the extra is recorded, so the seller can return it.",
};

/** An exception (`paid_late`, …) in words, or undefined for none. */
export function exceptionText(exception: string | null): string | undefined {
  if (!exception) return undefined;
  return EXCEPTIONS[exception] ?? `The payment is marked "${exception}".`;
}
