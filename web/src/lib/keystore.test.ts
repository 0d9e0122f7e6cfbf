import { describe, expect, it } from "vitest";
import { bytesToHex } from "@noble/hashes/utils";
import { KeystoreError, importSecretKey, lockKey, newSecretKey, unlockKey } from "./keystore";

// A cheap derivation for tests; the app uses DEFAULT_SCRYPT.
const FAST = { N: 1 << 10, r: 8, p: 1 };

const codeOf = async (p: Promise<unknown>) => p.then(() => "ok", (e) => (e instanceof KeystoreError ? e.code : String(e)));

describe("the wallet keystore", () => {
  it("locks and unlocks a key with its passphrase only, and the record holds no secret", async () => {
    const secret = newSecretKey();
    const locked = await lockKey(secret, "correct horse battery staple", FAST);
    expect(bytesToHex(await unlockKey(locked, "correct horse battery staple"))).toBe(bytesToHex(secret));
    expect(JSON.stringify(locked)).not.toContain(bytesToHex(secret));
    expect(await codeOf(unlockKey(locked, "wrong"))).toBe("wrong_passphrase");
  });

  it("refuses a record whose key id was swapped, tampered bytes and unknown formats", async () => {
    const locked = await lockKey(newSecretKey(), "pass", FAST);
    const other = await lockKey(newSecretKey(), "pass", FAST);
    expect(await codeOf(unlockKey({ ...locked, keyId: other.keyId, publicKey: other.publicKey }, "pass"))).toBe("wrong_passphrase");
    const flipped = locked.ciphertext.slice(0, -2) + (locked.ciphertext.endsWith("00") ? "01" : "00");
    expect(await codeOf(unlockKey({ ...locked, ciphertext: flipped }, "pass"))).toBe("wrong_passphrase");
    expect(await codeOf(unlockKey({ ...locked, version: 2 as 1 }, "pass"))).toBe("unsupported_keystore");
  });

  it("imports only valid secret keys", () => {
    expect(bytesToHex(importSecretKey("0x" + "11".repeat(32)))).toBe("11".repeat(32));
    for (const bad of ["11".repeat(32) + "00", "0x" + "zz".repeat(32), "0x" + "00".repeat(32), "0x" + "ff".repeat(32)]) {
      expect(() => importSecretKey(bad)).toThrow(KeystoreError);
    }
  });
});
