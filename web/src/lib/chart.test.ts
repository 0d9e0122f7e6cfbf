import { describe, expect, it } from "vitest";
import { HOUR_MS, hourBuckets, niceCeiling, scaleTo, stackTotals, toSeries } from "./chart";

const now = Date.UTC(2026, 11, 4, 10, 30);
const hour = (h: number) => Date.UTC(2026, 11, 4, h);

describe("hourBuckets", () => {
  it("ends with the current hour, oldest first", () => {
    expect(hourBuckets(3, now)).toEqual([hour(8), hour(9), hour(10)]);
  });
});

describe("toSeries", () => {
  const buckets = hourBuckets(3, now);
  it("sums per key and bucket, largest total first, exactly", () => {
    const big = 2n ** 70n;
    const s = toSeries([
      { at: hour(8) + 5, key: "a", value: 3n },
      { at: hour(10) + 1, key: "a", value: 4n },
      { at: hour(9), key: "b", value: big },
      { at: hour(9) + HOUR_MS - 1, key: "b", value: 1n },
      { at: hour(7), key: "c", value: 100n },
      { at: hour(11), key: "c", value: 100n },
    ], buckets);
    expect(s).toEqual([
      { key: "b", values: [0n, big + 1n, 0n], total: big + 1n },
      { key: "a", values: [3n, 0n, 4n], total: 7n },
    ]);
    expect(stackTotals(s, 3)).toEqual([3n, big + 1n, 4n]);
  });
  it("keeps the largest few and sums the rest as other", () => {
    const points = ["a", "b", "c", "d"].map((key, i) => ({ at: hour(9), key, value: BigInt(10 - i) }));
    const s = toSeries(points, buckets, 2);
    expect(s.map((x) => [x.key, x.total])).toEqual([["a", 10n], ["b", 9n], ["other", 15n]]);
  });
});

describe("niceCeiling and scaleTo", () => {
  it("rounds up to 1, 2 or 5 times a power of ten", () => {
    expect([0n, 1n, 2n, 3n, 7n, 10n, 11n, 4_001n].map(niceCeiling)).toEqual([1n, 1n, 2n, 5n, 10n, 10n, 20n, 5_000n]);
  });
  it("scales without floating point on the amounts", () => {
    expect(scaleTo(50n, 200n, 160)).toBe(40);
    expect(scaleTo(1n, 3n, 100)).toBe(33.33);
    expect(scaleTo(2n ** 80n, 2n ** 81n, 100)).toBe(50);
    expect(scaleTo(0n, 0n, 100)).toBe(0);
  });
});
