import { describe, expect, it } from "vitest";
import { cost } from "./review";
import { formatDecimal, parseDecimal, PriceError, ruleFor, scalePrices } from "./price";

describe("published prices", () => {
  it("are read exactly, as core's Price::parse", () => {
    expect(parseDecimal("1000", 6)).toBe(1_000_000_000n);
    expect(parseDecimal("0.000001", 6)).toBe(1n);
    expect(parseDecimal("2.5", 6)).toBe(2_500_000n);
    for (const bad of ["", "-1", "1e3", "01", "1.0000001", " 1", "1.", ".5", "0x10"]) {
      expect(() => parseDecimal(bad, 6), bad).toThrow(PriceError);
    }
  });

  it("price a model by its own rule, any case, then the default rule", () => {
    const prices = [
      { model: "*", version: 1, input_per_1k: "5", output_per_1k: "5" },
      { model: "smollm2-135m-instruct", version: 3, input_per_1k: "1000", output_per_1k: "2000" },
    ];
    const own = ruleFor(prices, "SmolLM2-135M-Instruct");
    expect([own.model, own.version]).toEqual(["smollm2-135m-instruct", 3]);
    // 1 point per input token, 2 per output token.
    expect(cost(own, 10n, 7n)).toBe(24n);
    expect(ruleFor(prices, "other").model).toBe("*");
    expect(() => ruleFor(prices.slice(1), "other")).toThrow(/no price/);
  });

  it("scale exactly into another unit (points into shannons)", () => {
    expect(formatDecimal(1_500_000n, 6)).toBe("1.5");
    expect(formatDecimal(1n, 6)).toBe("0.000001");
    expect(formatDecimal(0n, 6)).toBe("0");
    const [scaled] = scalePrices([{ model: "m", version: 2, input_per_1k: "1000", output_per_1k: "0.000001" }], 100_000n);
    expect(scaled).toEqual({ model: "m", version: 2, input_per_1k: "100000000", output_per_1k: "0.1" });
    // 1 point per input token at 100,000 shannons a point.
    expect(cost(ruleFor([scaled], "m"), 1n, 0n)).toBe(100_000n);
  });
});
