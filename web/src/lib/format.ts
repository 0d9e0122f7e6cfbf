// Numbers for people: amounts stay bigint (never floating point), shown
// with thousands separators.

/** `1234567` → `1,234,567`; accepts a decimal string or a bigint. */
export function points(value: bigint | string | undefined): string {
  if (value === undefined) return "…";
  const text = typeof value === "bigint" ? value.toString() : value;
  const negative = text.startsWith("-");
  const digits = negative ? text.slice(1) : text;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return negative ? `-${grouped}` : grouped;
}

/** A Unix-ms time as local date and time, to the second. */
export function when(ms: number | undefined | null): string {
  if (ms === undefined || ms === null) return "—";
  return new Date(ms).toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** `0x1234…abcd` for a long hex id. */
export function short(hex: string, keep = 6): string {
  return hex.length <= 2 + 2 * keep ? hex : `${hex.slice(0, 2 + keep)}…${hex.slice(-keep)}`;
}

const SHANNONS = 100_000_000n;

/** `106100000000n` → `1,061 CKB`; `12345n` → `0.00012345 CKB`. */
export function ckb(shannons: bigint | string | undefined | null): string {
  if (shannons === undefined || shannons === null) return "…";
  const value = typeof shannons === "bigint" ? shannons : BigInt(shannons);
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const whole = (abs / SHANNONS).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = (abs % SHANNONS).toString().padStart(8, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${fraction ? "." + fraction : ""} CKB`;
}

/** An amount of a channel's asset as people read it: points grouped (`1,234`), CKB from shannons (`1.5 CKB`). */
export function amountOf(value: bigint | string | undefined, asset: string | undefined): string {
  return asset === "CKB" ? ckb(value) : points(value);
}

/** The word after an amount of `asset` in a sentence: `points`, or nothing (CKB amounts carry their unit). */
export function unitAfter(asset: string | undefined): string {
  return asset === "CKB" ? "" : " points";
}
