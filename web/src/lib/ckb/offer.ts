// The buyer's check of a seller's channel offer before it signs anything,
// as crates/core/src/ckb/offer.rs (docs/ckb.md, "The buyer's check of an
// offer"): the expiry after the tip and no later than the duration asked
// for plus slack (else the deposit is locked for years while the seller
// can settle at any time), the funding fee rate capped (else it burns the
// buyer's cells), the funding fee plus the commitment fee capped. Same
// order, same codes.

/** Blocks the expiry may exceed `tip + ⌈duration / interval⌉`. */
export const EXPIRY_SLACK_BLOCKS = 20n;
/** The default highest funding fee rate accepted: 5 × the node's minimum. */
export const DEFAULT_MAX_FEE_RATE = 5_000n;
const U64_MAX = (1n << 64n) - 1n;

export interface OfferTerms {
  /** The tip of the buyer's node. */
  tip: bigint;
  expiryBlock: bigint;
  durationSecs: bigint;
  /** Shannons per 1,000 bytes. */
  feeRate: bigint;
  commitmentFee: bigint;
  /** The funding's fee as built (0 before it is built). */
  fundingFee: bigint;
}

export interface OfferLimits {
  blockIntervalSecs: bigint;
  maxFeeRate: bigint;
  maxFee: bigint;
}

export type OfferCode = "offer_expired" | "offer_expiry_too_far" | "offer_fee_rate_too_high" | "offer_fee_too_high";

/** A refused offer; nothing was signed. */
export class OfferRefusal extends Error {
  constructor(
    readonly code: OfferCode,
    message: string,
  ) {
    super(message);
  }
}

const sat = (n: bigint) => (n > U64_MAX ? U64_MAX : n);

/** `tip + ⌈duration / interval⌉ + slack`, saturating (a zero interval counts as 1 s). */
export function latestExpiry(tip: bigint, durationSecs: bigint, blockIntervalSecs: bigint): bigint {
  const interval = blockIntervalSecs < 1n ? 1n : blockIntervalSecs;
  return sat(tip + (durationSecs + interval - 1n) / interval + EXPIRY_SLACK_BLOCKS);
}

/** Throws the first failed check as an `OfferRefusal`. */
export function checkOffer(terms: OfferTerms, limits: OfferLimits): void {
  if (terms.expiryBlock <= terms.tip) {
    throw new OfferRefusal("offer_expired", `the offer expires at block ${terms.expiryBlock}, the tip is ${terms.tip}`);
  }
  const latest = latestExpiry(terms.tip, terms.durationSecs, limits.blockIntervalSecs);
  if (terms.expiryBlock > latest) {
    throw new OfferRefusal("offer_expiry_too_far", `the offer expires at block ${terms.expiryBlock}, after block ${latest} (the duration asked for, plus slack)`);
  }
  if (terms.feeRate > limits.maxFeeRate) {
    throw new OfferRefusal("offer_fee_rate_too_high", `the offer's fee rate is ${terms.feeRate} shannons per 1,000 bytes, above the ${limits.maxFeeRate} accepted`);
  }
  const fee = sat(terms.fundingFee + terms.commitmentFee);
  if (fee > limits.maxFee) {
    throw new OfferRefusal("offer_fee_too_high", `the channel's fees come to ${fee} shannons, above the ${limits.maxFee} accepted`);
  }
}
