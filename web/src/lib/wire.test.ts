// The shared vector docs/vectors/wire.json: crates/core/tests/wire_vector.rs
// checks the same bytes from Rust.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { secp256k1 } from "@noble/curves/secp256k1";
import { hexToBytes } from "@noble/hashes/utils";
import { decodePaymentDueHeader, encodePaymentHeader, paymentDataFrom, paymentDueFrom, paymentDataJson } from "./wire";
import { keyId, signSubRav, subRavFromVector } from "./fixtures";
import { DecodeError } from "./subrav";

const vector = JSON.parse(readFileSync(new URL("../../../docs/vectors/wire.json", import.meta.url), "utf8"));

describe("payment data on the wire, against docs/vectors/wire.json", () => {
  const secret = hexToBytes(vector.secret_key.slice(2));
  const rav = subRavFromVector(vector.receipt, keyId(secp256k1.getPublicKey(secret, true)));
  const data = { channel: rav.channelId, subChannel: rav.subChannel, maxAmount: BigInt(vector.max_amount), receipt: signSubRav(rav, secret) };

  it("encodes the request header byte for byte as Rust does", () => {
    expect(paymentDataJson(data)).toBe(vector.payment_data_json);
    expect(encodePaymentHeader(data)).toBe(vector.payment_header);
    expect(paymentDataFrom(JSON.parse(vector.payment_data_json))).toEqual(data);
  });

  it("reads the payee's PaymentDue from the header and from JSON", () => {
    const due = decodePaymentDueHeader(vector.payment_due_header);
    expect(due).toEqual(paymentDueFrom(JSON.parse(vector.payment_due_json)));
    expect(due.proposal.nonce).toBe(rav.nonce + 1n);
    expect(due.cost).toBe(2n);
  });

  it("refuses what Rust refuses", () => {
    const due = JSON.parse(vector.payment_due_json);
    for (const bad of [
      { ...due, extra: 1 },
      { ...due, cost: 2 },
      { ...due, cost: "-2" },
      { ...due, cost: "02" },
      { ...due, proposal: due.proposal.slice(0, -2) },
      { ...due, proposal: due.proposal.slice(2) },
    ]) {
      expect(() => paymentDueFrom(bad)).toThrow(DecodeError);
    }
    expect(() => decodePaymentDueHeader("not base64!")).toThrow(DecodeError);
    expect(() => decodePaymentDueHeader("A".repeat(2049))).toThrow(DecodeError);
  });
});
