// The same cases as crates/core/tests/channels.rs's payer tests.
import { describe, expect, it } from "vitest";
import { Entitlement, MAX_NONCE_GAP, Refusal, cost, promptBound, review, type PayerLimits, type PriceRule } from "./review";
import type { SubRav } from "./subrav";

const base: SubRav = {
  version: 1,
  chainId: 7n,
  channelId: new Uint8Array(32).fill(1),
  epoch: 3n,
  subChannel: new Uint8Array(20).fill(5),
  nonce: 4n,
  accumulated: 100n,
};
const rav = (nonce: bigint, accumulated: bigint): SubRav => ({ ...base, nonce, accumulated });
const limits: PayerLimits = { maxAmount: 50n, entitled: 1000n, budget: 200n };
const code = (f: () => unknown) => {
  try {
    f();
    return "signed";
  } catch (e) {
    return e instanceof Refusal ? e.code : String(e);
  }
};

describe("the payer's review", () => {
  it("signs fair proposals and refuses the rest with Rust's codes", () => {
    expect(review(base, limits, rav(5n, 150n))).toBe(50n);
    expect(review(base, limits, rav(9n, 150n))).toBe(50n);
    expect(review(base, limits, rav(4n, 100n))).toBe(0n);
    expect(review(base, limits, rav(4n + MAX_NONCE_GAP, 120n))).toBe(20n);
    const cases: [SubRav, string][] = [
      [rav(5n, 151n), "over_max_amount"],
      [rav(5n, 99n), "amount_decreased"],
      [rav(4n, 120n), "nonce_not_increasing"],
      [rav((1n << 64n) - 1n, 120n), "nonce_too_far"],
      [rav(5n + MAX_NONCE_GAP, 120n), "nonce_too_far"],
      [{ ...rav(5n, 120n), chainId: 8n }, "wrong_chain"],
      [{ ...rav(5n, 120n), channelId: new Uint8Array(32).fill(2) }, "wrong_channel"],
      [{ ...rav(5n, 120n), epoch: 4n }, "wrong_epoch"],
      [{ ...rav(5n, 120n), subChannel: new Uint8Array(20).fill(6) }, "wrong_sub_channel"],
      [{ ...rav(5n, 120n), version: 9 }, "unsupported_version"],
    ];
    for (const [proposal, want] of cases) expect(code(() => review(base, limits, proposal))).toBe(want);
    expect(code(() => review({ ...base, accumulated: 190n }, limits, rav(5n, 201n)))).toBe("over_budget");
  });

  it("stops an inflating server at what was received plus the slack", () => {
    // 1 minor unit per output token, prompt free; one byte per chunk, charged as 3 tokens.
    const rule: PriceRule = { inputPer1k: 0n, outputPer1k: 1_000_000_000n };
    const entitlement = new Entitlement(rule, 0n, 4n);
    let last = rav(0n, 0n);
    let added = 0n;
    let refused: [number, string] | undefined;
    for (let chunk = 0; chunk < 20; chunk++) {
      entitlement.receive("x");
      const proposal = rav(last.nonce + 1n, last.accumulated + 3n);
      const outcome = code(() => {
        added += review(last, { maxAmount: 500n, entitled: entitlement.amount() - added, budget: 1000n }, proposal);
      });
      if (outcome !== "signed") {
        refused = [chunk, outcome];
        break;
      }
      last = proposal;
    }
    expect(refused).toEqual([4, "over_received"]);
    expect(added).toBe(12n);
  });

  it("prices and bounds as core does", () => {
    const rule: PriceRule = { inputPer1k: 1_000_000_000n, outputPer1k: 2_000_000_000n };
    expect(cost(rule, 97n, 0n)).toBe(97n);
    expect(cost({ inputPer1k: 1n, outputPer1k: 0n }, 1n, 0n)).toBe(1n);
    expect(promptBound(33)).toBe(97n);
    const e = new Entitlement(rule, 10n, 0n);
    e.receive("");
    expect(e.amount()).toBe(10n);
    e.receive("héllo");
    expect(e.amount()).toBe(10n + 2n * 7n);
    e.prepay(5n);
    expect(e.amount()).toBe(10n + 2n * 12n);
  });
});
