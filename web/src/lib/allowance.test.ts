import { describe, expect, it } from "vitest";
import { Allowance } from "./allowance";
import { Refusal, type PriceRule } from "./review";
import { rav } from "./fixtures";

// Prompt free, 1 minor unit per output token (as the Rust SDK's hostile-payee test).
const rule: PriceRule = { inputPer1k: 0n, outputPer1k: 1_000_000_000n };
const codeOf = (f: () => unknown) => {
  try {
    f();
    return "ok";
  } catch (e) {
    return e instanceof Refusal ? e.code : String(e);
  }
};

describe("a request's allowance", () => {
  it("signs only what was received, counts every signature against the cap, never signs an old nonce", () => {
    const a = Allowance.forRequest(rule, 0n, 46n, 0n);
    expect(codeOf(() => a.decide(rav(0n, 0n), rav(1n, 1n), 1000n))).toBe("over_received");
    a.receive("hi");
    expect(a.decide(rav(0n, 0n), rav(1n, 3n), 1000n)).toEqual({ kind: "sign", delta: 3n });
    expect(a.decide(rav(1n, 3n), rav(1n, 3n), 1000n)).toEqual({ kind: "already_signed" });
    expect(a.decide(rav(1n, 3n), rav(0n, 2n), 1000n)).toEqual({ kind: "superseded" });
    a.prepay(100n);
    expect(a.decide(rav(1n, 3n), rav(2n, 46n), 1000n)).toEqual({ kind: "sign", delta: 43n });
    expect(a.spent).toBe(46n);
    expect(codeOf(() => a.decide(rav(2n, 46n), rav(3n, 47n), 1000n))).toBe("over_max_amount");
  });
});
