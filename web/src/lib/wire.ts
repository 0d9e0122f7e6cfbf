// Payment data on the wire (docs/channels.md, "Wire"), as
// crates/core/src/channel/wire.rs: ids, keys and receipts as `0x` + hex,
// amounts as decimal strings, the `X-Tollway-Channel` header as the JSON
// in unpadded base64url. Decoders are strict like Rust's: unknown fields,
// wrong lengths and non-decimal amounts are refused.
import { DecodeError, decodeSigned, decodeSubRav, encodeSigned, encodeSubRav, fromWireHex, toWireHex, type SignedSubRav, type SubRav } from "./subrav";

/** The header that carries payment data. */
export const PAYMENT_HEADER = "x-tollway-channel";
/** The longest header value the payee accepts. */
export const MAX_HEADER_LEN = 2048;

/** What a payer sends with a paid request. */
export interface PaymentData {
  channel: Uint8Array;
  subChannel: Uint8Array;
  maxAmount?: bigint;
  receipt?: SignedSubRav;
}

/** What the payee asks to be signed. */
export interface PaymentDue {
  proposal: SubRav;
  cost: bigint;
  accepted: bigint;
  required?: bigint;
  stopped?: string;
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new DecodeError("the payment header is not unpadded base64url");
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function hexOf(text: unknown, bytes: number, what: string): Uint8Array {
  if (typeof text !== "string") throw new DecodeError(`${what} must be a 0x hex string`);
  const out = fromWireHex(text);
  if (out.length !== bytes) throw new DecodeError(`${what} is ${bytes} bytes, got ${out.length}`);
  return out;
}

function amountOf(text: unknown, what: string): bigint {
  if (typeof text !== "string" || !/^(0|[1-9][0-9]{0,38})$/.test(text)) throw new DecodeError(`${what} must be a decimal string`);
  const value = BigInt(text);
  if (value >= 1n << 128n) throw new DecodeError(`${what} does not fit 128 bits`);
  return value;
}

function onlyFields(value: unknown, allowed: string[], what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new DecodeError(`${what} must be an object`);
  for (const key of Object.keys(value)) if (!allowed.includes(key)) throw new DecodeError(`unknown field ${key} in ${what}`);
  return value as Record<string, unknown>;
}

/** The JSON text of payment data, fields in Rust's order. */
export function paymentDataJson(data: PaymentData): string {
  const out: Record<string, string> = { channel: toWireHex(data.channel), sub_channel: toWireHex(data.subChannel) };
  if (data.maxAmount !== undefined) out.max_amount = data.maxAmount.toString();
  if (data.receipt !== undefined) out.receipt = toWireHex(encodeSigned(data.receipt));
  return JSON.stringify(out);
}

/** The `X-Tollway-Channel` request header for `data`. */
export function encodePaymentHeader(data: PaymentData): string {
  return base64url(new TextEncoder().encode(paymentDataJson(data)));
}

/** Reads a payee's `PaymentDue` from parsed JSON (a chunk's `tollway`, a pause event). */
export function paymentDueFrom(value: unknown): PaymentDue {
  const v = onlyFields(value, ["proposal", "cost", "accepted", "required", "stopped"], "a PaymentDue");
  const due: PaymentDue = {
    proposal: decodeSubRav(hexOf(v.proposal, 93, "proposal")),
    cost: amountOf(v.cost, "cost"),
    accepted: amountOf(v.accepted, "accepted"),
  };
  if (v.required !== undefined && v.required !== null) due.required = amountOf(v.required, "required");
  if (v.stopped !== undefined && v.stopped !== null) {
    if (typeof v.stopped !== "string") throw new DecodeError("stopped must be a string");
    due.stopped = v.stopped;
  }
  return due;
}

/** Reads a `PaymentDue` from a response's `X-Tollway-Channel` header. */
export function decodePaymentDueHeader(header: string): PaymentDue {
  if (header.length > MAX_HEADER_LEN) throw new DecodeError(`the payment header is longer than ${MAX_HEADER_LEN} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(fromBase64url(header)));
  } catch (e) {
    throw e instanceof DecodeError ? e : new DecodeError(`the payment data is not valid: ${String(e)}`);
  }
  return paymentDueFrom(parsed);
}

/** Reads payment data (as the payee does), for tests and recovery screens. */
export function paymentDataFrom(value: unknown): PaymentData {
  const v = onlyFields(value, ["channel", "sub_channel", "max_amount", "receipt"], "payment data");
  const data: PaymentData = { channel: hexOf(v.channel, 32, "channel"), subChannel: hexOf(v.sub_channel, 20, "sub_channel") };
  if (v.max_amount !== undefined && v.max_amount !== null) data.maxAmount = amountOf(v.max_amount, "max_amount");
  if (v.receipt !== undefined && v.receipt !== null) data.receipt = decodeSigned(hexOf(v.receipt, 158, "receipt"));
  return data;
}

/** The SubRAV hex as the wire carries it. */
export function subRavHex(rav: SubRav): string {
  return toWireHex(encodeSubRav(rav));
}
