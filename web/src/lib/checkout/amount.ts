// Token amounts and time left, for people: exact decimal arithmetic on
// bigint units (never floating point), and a countdown that never goes
// below zero.

/** `1000001000000000000n`, 18 → `"1.000001"`: units as the token's exact decimal, trailing zeros trimmed. */
export function formatUnits(units: bigint | string, decimals: number): string {
  const value = typeof units === "bigint" ? units : BigInt(units);
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const scale = 10n ** BigInt(decimals);
  const whole = (abs / scale).toString();
  const fraction = decimals === 0 ? "" : (abs % scale).toString().padStart(decimals, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${fraction ? "." + fraction : ""}`;
}

/** Why a typed amount is refused. */
export type AmountProblem = "empty" | "not_a_number" | "too_many_decimals" | "zero";

/** Words for each `AmountProblem`. */
export const AMOUNT_PROBLEMS: Record<AmountProblem, string> = {
  empty: "Enter an amount.",
  not_a_number: "Write the amount as digits with at most one decimal point, like 12.5.",
  too_many_decimals: "That has more decimal places than the token has.",
  zero: "The amount must be more than zero.",
};

/** The result of reading a typed amount: its units and canonical text, or the problem. */
export type ParsedAmount = { ok: true; units: bigint; text: string } | { ok: false; problem: AmountProblem };

/** Reads a typed amount (`"12.50"`) in a token of `decimals`, exactly. */
export function parseAmount(input: string, decimals: number): ParsedAmount {
  const text = input.trim();
  if (!text) return { ok: false, problem: "empty" };
  const match = /^(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match || (!match[1] && !match[2])) return { ok: false, problem: "not_a_number" };
  const fraction = (match[2] ?? "").replace(/0+$/, "");
  if (fraction.length > decimals) return { ok: false, problem: "too_many_decimals" };
  const units = BigInt(match[1] || "0") * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
  if (units === 0n) return { ok: false, problem: "zero" };
  return { ok: true, units, text: formatUnits(units, decimals) };
}

/** Milliseconds from `now` until the RFC 3339 time `at`, never below zero. */
export function msUntil(at: string, now: number): number {
  return Math.max(0, Date.parse(at) - now);
}

/** `754000` → `"12:34"`, `3723000` → `"1:02:03"`: time left, rounded up to the second. */
export function countdown(ms: number): string {
  const total = Math.ceil(Math.max(0, ms) / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}
