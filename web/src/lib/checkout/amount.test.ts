import { describe, expect, it } from "vitest";
import { countdown, formatUnits, msUntil, parseAmount } from "./amount";

describe("formatUnits", () => {
  it("shows units exactly, trailing zeros trimmed", () => {
    expect(formatUnits("1000001000000000000", 18)).toBe("1.000001");
    expect(formatUnits(10n ** 18n, 18)).toBe("1");
    expect(formatUnits("1", 18)).toBe("0.000000000000000001");
    expect(formatUnits(0n, 18)).toBe("0");
    expect(formatUnits(1234n, 0)).toBe("1234");
    expect(formatUnits(-1500000n, 6)).toBe("-1.5");
  });
  it("keeps amounts beyond 2^53 exact", () => {
    expect(formatUnits("123456789012345678901234567", 18)).toBe("123456789.012345678901234567");
  });
});

describe("parseAmount", () => {
  it("reads decimals exactly into units", () => {
    expect(parseAmount("12.50", 18)).toEqual({ ok: true, units: 12_500_000_000_000_000_000n, text: "12.5" });
    expect(parseAmount(" 0.000000000000000001 ", 18)).toEqual({ ok: true, units: 1n, text: "0.000000000000000001" });
    expect(parseAmount(".5", 6)).toEqual({ ok: true, units: 500_000n, text: "0.5" });
    expect(parseAmount("3.", 6)).toEqual({ ok: true, units: 3_000_000n, text: "3" });
  });
  it("names what is wrong", () => {
    expect(parseAmount("", 18)).toEqual({ ok: false, problem: "empty" });
    expect(parseAmount(".", 18)).toEqual({ ok: false, problem: "not_a_number" });
    expect(parseAmount("1e3", 18)).toEqual({ ok: false, problem: "not_a_number" });
    expect(parseAmount("-1", 18)).toEqual({ ok: false, problem: "not_a_number" });
    expect(parseAmount("1,5", 18)).toEqual({ ok: false, problem: "not_a_number" });
    expect(parseAmount("1.0000001", 6)).toEqual({ ok: false, problem: "too_many_decimals" });
    expect(parseAmount("1.1000000", 6)).toEqual({ ok: true, units: 1_100_000n, text: "1.1" });
    expect(parseAmount("0.00", 6)).toEqual({ ok: false, problem: "zero" });
  });
});

describe("countdown", () => {
  it("shows minutes and seconds, hours when needed, rounded up", () => {
    expect(countdown(754_000)).toBe("12:34");
    expect(countdown(3_723_000)).toBe("1:02:03");
    expect(countdown(59_001)).toBe("1:00");
    expect(countdown(1)).toBe("0:01");
    expect(countdown(0)).toBe("0:00");
    expect(countdown(-5000)).toBe("0:00");
  });
  it("counts to an RFC 3339 time, never below zero", () => {
    const now = Date.parse("2026-12-04T10:00:00Z");
    expect(msUntil("2026-12-04T10:15:00Z", now)).toBe(900_000);
    expect(msUntil("2026-12-04T09:59:00Z", now)).toBe(0);
  });
});
