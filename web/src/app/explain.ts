// Words a person can act on, for every failure the app can meet.
import { ApiError } from "../lib/api";
import { KeystoreError } from "../lib/keystore";
import { LoginRefusal } from "../lib/login";
import { Refusal, type RefusalCode } from "../lib/review";

const REFUSALS: Record<RefusalCode, string> = {
  unsupported_version: "The server proposed a receipt in a version this page does not know; nothing was signed.",
  wrong_chain: "The server asked for a signature on another chain; nothing was signed.",
  wrong_epoch: "The server asked for a signature for another epoch of the channel; nothing was signed.",
  wrong_channel: "The server asked for a signature on another channel; nothing was signed.",
  wrong_sub_channel: "The server asked for a signature for another key; nothing was signed.",
  nonce_not_increasing: "The server proposed an old receipt again; nothing was signed.",
  nonce_too_far: "The server skipped too many receipts at once; nothing was signed.",
  amount_decreased: "The server proposed less than you already signed; nothing was signed.",
  over_max_amount: "The server asked for more than this message's cap; nothing was signed.",
  over_received: "The server asked for more than the answer you received is worth; nothing was signed.",
  over_budget: "The server asked for more than the channel's budget; nothing was signed.",
};

/** A sentence for `e`. */
export function explain(e: unknown): string {
  if (e instanceof KeystoreError) {
    if (e.code === "wrong_passphrase") return "That passphrase does not open this wallet. Try again.";
    if (e.code === "invalid_key") return "That is not a valid secret key: paste 0x and 64 hex digits.";
    return "This wallet was saved in a format this page does not know.";
  }
  if (e instanceof LoginRefusal) {
    if (e.code === "wrong_site") return "The server asked to sign a login for another site. Open the app at the server's own address.";
    return "The server's challenge was not for this wallet; nothing was signed.";
  }
  if (e instanceof Refusal) return REFUSALS[e.code];
  if (e instanceof ApiError) {
    if (e.code === "session_expired") return "Your session has ended. Sign in again.";
    if (e.code === "insufficient_points") return `Not enough points: ${e.message}`;
    return `${e.message} (${e.code})`;
  }
  return e instanceof Error ? e.message : String(e);
}
