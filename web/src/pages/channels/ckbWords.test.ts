// CKB amounts for people: bigint shannons, never floating point.
import { describe, expect, it } from "vitest";
import { OfferRefusal } from "../../lib/ckb/offer";
import { SpilmanError } from "../../lib/ckb/spilman";
import { ckb, explainCkb, parseCkb } from "./ckbWords";

describe("CKB amounts and words", () => {
  it("shows shannons as CKB exactly", () => {
    expect(ckb(106_100_000_000n)).toBe("1,061 CKB");
    expect(ckb("43899999427")).toBe("438.99999427 CKB");
    expect(ckb(573n)).toBe("0.00000573 CKB");
    expect(ckb(0n)).toBe("0 CKB");
    expect(ckb((1n << 64n) - 1n)).toBe("184,467,440,737.09551615 CKB");
    expect(ckb(undefined)).toBe("…");
  });
  it("reads CKB typed by a person, up to 8 decimals, nothing else", () => {
    expect(parseCkb("500")).toBe(50_000_000_000n);
    expect(parseCkb(" 1.5 ")).toBe(150_000_000n);
    expect(parseCkb("0.00000001")).toBe(1n);
    for (const bad of ["", "1.000000001", "-1", "1e3", "1,000", "abc"]) expect(parseCkb(bad)).toBeUndefined();
  });
  it("explains a refused offer and a short wallet in words with a way on", () => {
    expect(explainCkb(new OfferRefusal("offer_expiry_too_far", "x"))).toMatch(/longer than the duration you asked for\. Nothing was signed/);
    expect(explainCkb(new SpilmanError("insufficient_funds", "x"))).toMatch(/Send CKB to your wallet's lock \(its args are shown above\), or lower the deposit/);
  });
});
