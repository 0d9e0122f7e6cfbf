// Words for the CKB section: amounts in CKB from bigint shannons (never
// floating point), and the CKB failures in sentences a person can act on,
// wrapping the app's `explain` for everything else.
import { explain } from "../../app/explain";
import { ApiError } from "../../lib/api";
import { OfferRefusal } from "../../lib/ckb/offer";
import { NodeError } from "../../lib/ckb/rpc";
import { SpilmanError } from "../../lib/ckb/spilman";
import { KeystoreError } from "../../lib/keystore";

export { ckb } from "../../lib/format";

const SHANNONS = 100_000_000n;

/** `"1061.5"` (CKB) → shannons; undefined when it is not an amount. */
export function parseCkb(text: string): bigint | undefined {
  const match = /^\s*(\d{1,12})(?:\.(\d{1,8}))?\s*$/.exec(text);
  if (!match) return undefined;
  return BigInt(match[1]) * SHANNONS + BigInt((match[2] ?? "").padEnd(8, "0"));
}

const OFFER: Record<OfferRefusal["code"], string> = {
  offer_expired: "The seller's offer expires before your node's latest block. Nothing was signed: ask for a new offer.",
  offer_expiry_too_far: "The seller's offer would lock your deposit for longer than the duration you asked for. Nothing was signed: ask again, or use another seller.",
  offer_fee_rate_too_high: "The seller asked for a funding fee rate above your limit. Nothing was signed.",
  offer_fee_too_high: "The channel's fees would be above your limit. Nothing was signed: raise the limit or ask again later.",
};

const SPILMAN: Record<string, string> = {
  insufficient_funds: "Your wallet does not hold enough CKB on this chain for that deposit, the funding fee and a 61 CKB change cell. Send CKB to your wallet's lock (its args are shown above), or lower the deposit.",
  funding_mismatch: "The seller changed the funding transaction. Nothing was signed; ask for a new offer.",
  wrong_signer: "The seller's refund signature is not valid for this channel. Nothing was signed; your CKB did not move.",
  exceeds_channel: "That is more than the channel can still pay. Open a new channel to pay more.",
  deposit_too_small: "The deposit must cover a 61 CKB change cell and the closing fee: raise it.",
  cofund_below_minimum: "The seller's co-funding is below 61 CKB. Nothing was signed.",
};

const SERVER: Record<string, string> = {
  ckb_disabled: "This server does not offer CKB channels.",
  seller_funds_unavailable: "The seller has no free CKB to co-fund a channel right now. Try again in a minute.",
  chain_unreachable: "The seller cannot reach its CKB node. Try again in a minute.",
  invalid_duration: "The seller does not offer that duration: pick one within its limits.",
  nothing_to_settle: "Nothing was paid on this channel yet, so there is nothing to settle: take your refund from its expiry block on.",
  channel_expiring: "The channel is too close to its expiry to pay on it: the seller settles it soon. Open a new channel to go on.",
  settle_failed: "The seller could not send the settlement to its node. Try again in a minute; your refund stays valid.",
};

/** A sentence for a failure on the CKB section. */
export function explainCkb(e: unknown): string {
  if (e instanceof OfferRefusal) return `${OFFER[e.code]} (${e.message})`;
  if (e instanceof SpilmanError) return SPILMAN[e.code] ? `${SPILMAN[e.code]} (${e.message})` : e.message;
  if (e instanceof NodeError) return e.message;
  if (e instanceof KeystoreError) return explain(e);
  if (e instanceof ApiError && SERVER[e.code]) return `${SERVER[e.code]} (${e.message})`;
  return explain(e);
}

/** A channel's state in words. */
export const STATE_WORDS: Record<string, string> = {
  proposed: "offered, not funded",
  refund_signed: "refund signed, funding not sent",
  funding: "funding sent, waiting for confirmations",
  active: "active",
  expired: "expired: take your refund",
  settling: "settling",
  settling_after_expiry: "settling after expiry",
  settled: "settled",
  refunding: "refund sent",
  refunded: "refunded",
  abandoned: "abandoned (the funding never committed)",
};
