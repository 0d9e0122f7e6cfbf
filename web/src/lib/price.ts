// The payee's published prices (`GET /api/prices`), pinned by the payer
// when it opens a channel: decimal points per 1,000 tokens, read exactly
// (never floating point) into core's `Price` units of 10^-6 point.
import type { PriceRule } from "./review";

/** Digits a price carries beyond the asset's minor unit (core's `PRICE_EXTRA_DIGITS`). */
export const PRICE_EXTRA_DIGITS = 6;
/** The rule that prices any model without one of its own. */
export const DEFAULT_RULE = "*";

/** One published price, as the server sends it. */
export interface PublishedPrice {
  model: string;
  version: number;
  input_per_1k: string;
  output_per_1k: string;
}

/** `GET /api/prices`. */
export interface PriceList {
  asset: string;
  prices: PublishedPrice[];
}

/** Why a price cannot be used. */
export class PriceError extends Error {
  constructor(
    readonly code: "invalid_price" | "unpriced_model",
    message: string,
  ) {
    super(message);
  }
}

/** `"1.5"` with `digits` = 6 → 1_500_000n; more fraction digits than `digits`, signs, exponents refused. */
export function parseDecimal(text: string, digits: number): bigint {
  const match = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/.exec(text);
  if (!match || (match[2]?.length ?? 0) > digits) throw new PriceError("invalid_price", `${JSON.stringify(text)} is not a decimal with at most ${digits} fraction digits`);
  const fraction = (match[2] ?? "").padEnd(digits, "0");
  return BigInt(match[1] + fraction);
}

/** `1_500_000n` with `digits` = 6 → `"1.5"`: the inverse of `parseDecimal`. */
export function formatDecimal(units: bigint, digits: number): string {
  const text = units.toString().padStart(digits + 1, "0");
  const whole = text.slice(0, text.length - digits);
  const fraction = text.slice(text.length - digits).replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

/**
 * The price list in another unit: each price times `factor` (a CKB
 * channel pays points in shannons, `shannons_per_point` each), exactly.
 */
export function scalePrices(prices: PublishedPrice[], factor: bigint): PublishedPrice[] {
  const scale = (text: string) => formatDecimal(parseDecimal(text, PRICE_EXTRA_DIGITS) * factor, PRICE_EXTRA_DIGITS);
  return prices.map((p) => ({ ...p, input_per_1k: scale(p.input_per_1k), output_per_1k: scale(p.output_per_1k) }));
}

/** The rule for `model`: its own (exact, then any case), else the default rule. */
export function ruleFor(prices: PublishedPrice[], model: string): PriceRule & { version: number; model: string } {
  const found =
    prices.find((p) => p.model === model) ??
    prices.find((p) => p.model.toLowerCase() === model.toLowerCase()) ??
    prices.find((p) => p.model === DEFAULT_RULE);
  if (!found) throw new PriceError("unpriced_model", `The server publishes no price for ${model}.`);
  return {
    model: found.model,
    version: found.version,
    inputPer1k: parseDecimal(found.input_per_1k, PRICE_EXTRA_DIGITS),
    outputPer1k: parseDecimal(found.output_per_1k, PRICE_EXTRA_DIGITS),
  };
}
