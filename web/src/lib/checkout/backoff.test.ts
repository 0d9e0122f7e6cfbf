import { describe, expect, it } from "vitest";
import { FIRST_RETRY_MS, MAX_RETRY_MS, retryDelay } from "./backoff";

describe("retryDelay", () => {
  it("doubles from half a second to at most 30 s", () => {
    const low = () => 0;
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((a) => retryDelay(a, low))).toEqual([500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
    const high = () => 0.999999;
    expect(retryDelay(0, high)).toBe(FIRST_RETRY_MS);
    expect(retryDelay(5, high)).toBe(MAX_RETRY_MS);
    expect(retryDelay(1000, high)).toBe(MAX_RETRY_MS);
  });
  it("spreads retries between half and all of the ceiling", () => {
    for (let i = 0; i < 100; i++) {
      const d = retryDelay(3);
      expect(d).toBeGreaterThanOrEqual(4000);
      expect(d).toBeLessThanOrEqual(8000);
    }
  });
});
