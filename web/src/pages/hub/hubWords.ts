// Words for the hub page: the hub's refusals and the page's own checks in
// sentences a person can act on, the code kept visible.
import { ApiError } from "../../lib/api";
import { HubError } from "../../lib/ckb/hub";
import { explainCkb } from "../channels/ckbWords";

const CODES: Record<string, string> = {
  hub_disabled: "This server does not run the CKB hub.",
  amount_zero: "Enter an amount above 0.",
  amount_below_fee: "The amount is below the payment's network fee: send more.",
  insufficient_funds: "Your wallet does not hold enough CKB for the amount, the network fee and a 61 CKB change cell. Send CKB to your wallet's lock (its args are shown above), or pay less.",
  too_many_inputs: "Your wallet's CKB is spread over too many small cells: merge them into one first.",
  sender_is_hub: "This wallet is the hub's own key; it cannot pay through the hub.",
  invalid_address: "That is not a CKB address: paste a full address (ckt1… on the devnet and testnet, ckb1… on mainnet) or 0x and 40 hex digits of lock args.",
  unsupported_lock: "The hub pays plain key addresses only (secp256k1-blake160): use the receiver's default address.",
  wrong_network: "That address is for another network than this hub's.",
  invalid_amount: "Enter the amount in CKB, at most 8 decimals.",
  api_key_missing: "A payment to the gateway buys points: sign in first so they are credited to you.",
  amount_below_one_point: "A payment to the gateway must buy at least one point: send more.",
  too_many_open_payments: "This wallet already has the most open payments the hub allows: wait until one completes or expires (2 minutes).",
  hub_busy: "Every cell of the hub's pool is in use right now: try again in a few seconds.",
  sender_cell_taken: "Another payment is spending your wallet's cells right now: try again in a few seconds.",
  chain_unreachable: "The hub cannot reach its CKB node: try again in a minute.",
  payment_expired: "The prepared payment expired before it was signed (2 minutes): prepare it again.",
  payment_not_prepared: "This payment was already sent, completed or failed: prepare a new one.",
  unknown_payment: "The hub does not know this payment.",
  bad_signature: "The hub did not accept your wallet's signature. Nothing was sent.",
  tx_mismatch: "The prepared transaction is not the payment you asked for. Nothing was signed.",
  fee_too_high: "The network fee is above your limit. Nothing was signed: raise the limit or try again later.",
  unknown_cell: "Your CKB node does not know a cell of the prepared payment: check that the page uses the same chain as the hub. Nothing was signed.",
  overflow: "The amounts pass what CKB can hold. Nothing was signed.",
  output_below_minimum: "The hub's cell would be below 61 CKB. Nothing was signed.",
  invalid_plan: "The prepared payment spends a cell twice. Nothing was signed.",
  malformed_transaction: "The signed transaction could not be read by the hub.",
};

/** A sentence for a failure on the hub page, with its code. */
export function explainHub(e: unknown): string {
  if (e instanceof HubError) return `${CODES[e.code] ?? e.message} (${e.code}: ${e.message})`;
  if (e instanceof ApiError && CODES[e.code]) return `${CODES[e.code]} (${e.code}: ${e.message})`;
  if (e instanceof ApiError && e.code.startsWith("tx_")) return `The CKB node refused the payment: ${e.message} (${e.code})`;
  return explainCkb(e);
}

/** A payment's state in words. */
export const HUB_STATE: Record<string, string> = {
  prepared: "prepared, not signed",
  sent: "sent, waiting for a block",
  complete: "complete",
  failed: "failed",
  expired: "expired (never signed)",
};
