// The buyer's check of an offer: the cases of crates/core/src/ckb/offer.rs.
import { describe, expect, it } from "vitest";
import { checkOffer, DEFAULT_MAX_FEE_RATE, EXPIRY_SLACK_BLOCKS, latestExpiry, OfferRefusal, type OfferTerms } from "./offer";

const honest: OfferTerms = { tip: 1_000n, expiryBlock: 1_450n, durationSecs: 3_600n, feeRate: 1_000n, commitmentFee: 500n, fundingFee: 700n };
const limits = { blockIntervalSecs: 8n, maxFeeRate: DEFAULT_MAX_FEE_RATE, maxFee: 100_000n };
const code = (t: OfferTerms) => {
  try {
    checkOffer(t, limits);
    return "ok";
  } catch (e) {
    return (e as OfferRefusal).code;
  }
};
const U64_MAX = (1n << 64n) - 1n;

describe("checkOffer, as core::ckb::offer", () => {
  it("passes an honest offer up to the slack", () => {
    expect(code(honest)).toBe("ok");
    expect(code({ ...honest, expiryBlock: 1_450n + EXPIRY_SLACK_BLOCKS })).toBe("ok");
    expect(latestExpiry(1_000n, 3_601n, 8n)).toBe(1_000n + 451n + EXPIRY_SLACK_BLOCKS);
    expect(code({ ...honest, fundingFee: 99_500n })).toBe("ok");
  });
  it("refuses an expiry years ahead, one block past the slack, u64::MAX, or a seller's shorter blocks", () => {
    expect(code({ ...honest, expiryBlock: 1_000n + (4n * 365n * 86_400n) / 8n })).toBe("offer_expiry_too_far");
    expect(code({ ...honest, expiryBlock: 1_450n + EXPIRY_SLACK_BLOCKS + 1n })).toBe("offer_expiry_too_far");
    expect(code({ ...honest, expiryBlock: U64_MAX })).toBe("offer_expiry_too_far");
    expect(code({ ...honest, expiryBlock: 1_000n + 3_600n })).toBe("offer_expiry_too_far");
  });
  it("refuses an expiry not after the tip", () => {
    for (const expiryBlock of [0n, 999n, 1_000n]) expect(code({ ...honest, expiryBlock })).toBe("offer_expired");
  });
  it("refuses burning fees, and fees adding up past the cap or u64::MAX", () => {
    expect(code({ ...honest, feeRate: 1_000_000_000n })).toBe("offer_fee_rate_too_high");
    expect(code({ ...honest, feeRate: DEFAULT_MAX_FEE_RATE + 1n })).toBe("offer_fee_rate_too_high");
    expect(code({ ...honest, fundingFee: 99_501n })).toBe("offer_fee_too_high");
    expect(() => checkOffer({ ...honest, fundingFee: U64_MAX, commitmentFee: U64_MAX }, limits)).toThrow(`fees come to ${U64_MAX} shannons`);
  });
  it("counts a zero block interval as one second", () => {
    expect(latestExpiry(10n, 60n, 0n)).toBe(10n + 60n + EXPIRY_SLACK_BLOCKS);
    expect(latestExpiry(U64_MAX - 1n, U64_MAX, 1n)).toBe(U64_MAX);
  });
});
