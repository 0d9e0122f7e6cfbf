// The published test vector (docs/channels.md, "Test vector"), the same
// bytes crates/core/src/channel/subrav.rs asserts.
import { describe, expect, it } from "vitest";
import { bytesToHex } from "@noble/hashes/utils";
import { secp256k1 } from "@noble/curves/secp256k1";
import { decodeSigned, encodeSigned, encodeSubRav, keyId, signingHash, signSubRav, verifySigned, type SubRav } from "./subrav";

const secret = new Uint8Array(32).fill(0x11);
const publicKey = secp256k1.getPublicKey(secret, true);

function vector(): SubRav {
  return {
    version: 1,
    chainId: 0x0102030405060708n,
    channelId: new Uint8Array(32).fill(0xab),
    epoch: 2n,
    subChannel: keyId(publicKey),
    nonce: 7n,
    accumulated: 1_000_000_000_000_000_000n,
  };
}

describe("SubRAV v1, the published test vector", () => {
  it("has the key id, encoding, signing hash and signature of docs/channels.md", () => {
    expect(bytesToHex(keyId(publicKey))).toBe("f949a9cc83edefcd580eb3f0f3bae187c4d008db");
    expect(bytesToHex(encodeSubRav(vector()))).toBe(
      "01" + "0102030405060708" + "ab".repeat(32) + "0000000000000002" + "f949a9cc83edefcd580eb3f0f3bae187c4d008db" +
        "0000000000000007" + "00000000000000000de0b6b3a7640000",
    );
    expect(bytesToHex(signingHash(vector()))).toBe("2ae8c86746ecc9a6f2fb0cc1cf4b9f0feae24c1be93d86ee6fc21a6a44d55e26");
    const signed = signSubRav(vector(), secret);
    expect(bytesToHex(signed.signature)).toBe(
      "47226e6e6ba9d21cb707105e160c41985ed77579b5bac927c42176be46f0e1a8" +
        "7b9fc7276aa5b5cb14cfeb8ca62d8a6a6e3a43dd2ea30e43003e11bec859c325" + "01",
    );
    expect(decodeSigned(encodeSigned(signed))).toEqual(signed);
    expect(verifySigned(signed, publicKey)).toBe(true);
  });

  it("accepts only the canonical signature: no other recovery id, no high-S twin, no changed byte", () => {
    const signed = signSubRav(vector(), secret);
    for (let v = 0; v < 4; v++) {
      if (v === signed.signature[64]) continue;
      const twin = { ...signed, signature: signed.signature.slice() };
      twin.signature[64] = v;
      expect(verifySigned(twin, publicKey)).toBe(false);
    }
    const n = secp256k1.CURVE.n;
    const s = BigInt("0x" + bytesToHex(signed.signature.slice(32, 64)));
    const highS = (n - s).toString(16).padStart(64, "0");
    const twin = { ...signed, signature: signed.signature.slice() };
    twin.signature.set(Uint8Array.from(highS.match(/../g)!.map((h) => parseInt(h, 16))), 32);
    expect(verifySigned(twin, publicKey)).toBe(false);
    const bytes = encodeSigned(signed);
    bytes[100] ^= 1;
    expect(verifySigned(decodeSigned(bytes), publicKey)).toBe(false);
  });

  it("refuses bytes that are not a receipt", () => {
    const bytes = encodeSigned(signSubRav(vector(), secret));
    expect(() => decodeSigned(bytes.slice(0, 157))).toThrow(/158 bytes/);
    const wrongVersion = bytes.slice();
    wrongVersion[0] = 2;
    expect(() => decodeSigned(wrongVersion)).toThrow(/version 2/);
    const badRecovery = bytes.slice();
    badRecovery[157] = 4;
    expect(() => decodeSigned(badRecovery)).toThrow(/recovery id 4/);
    expect(() => encodeSubRav({ ...vector(), nonce: 1n << 64n })).toThrow(RangeError);
  });
});
