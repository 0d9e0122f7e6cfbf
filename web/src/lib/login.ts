// Wallet login in the browser (docs/web.md, "Wallet login"): the page
// signs the server's challenge only if it names this site and this key,
// under the login domain (never a receipt's). The secret key stays here.
import { secp256k1 } from "@noble/curves/secp256k1";
import { concatBytes, utf8ToBytes } from "@noble/hashes/utils";
import { ckbHash, keyId, toWireHex } from "./subrav";

/** Prefix of every signed login message. */
export const LOGIN_DOMAIN = utf8ToBytes("tollway/login/v1");

/** Why the page will not sign a challenge. */
export class LoginRefusal extends Error {
  constructor(readonly code: "wrong_site" | "wrong_key" | "malformed_challenge") {
    super(code);
  }
}

/** The digest the wallet signs for `text`. */
export function loginSigningHash(text: string): Uint8Array {
  return ckbHash(LOGIN_DOMAIN, utf8ToBytes(text));
}

/**
 * Signs `text` with `secretKey` if it is a Tollway login challenge for
 * `site` (the page's own origin) and this key; `0x` + r ‖ s ‖ recovery id.
 */
export function signChallenge(text: string, site: string, secretKey: Uint8Array): string {
  const lines = text.split("\n");
  if (lines.length !== 5 || lines[0] !== "Tollway login") throw new LoginRefusal("malformed_challenge");
  if (lines[1] !== `site: ${site}`) throw new LoginRefusal("wrong_site");
  if (lines[2] !== `key: ${toWireHex(keyId(secp256k1.getPublicKey(secretKey, true)))}`) throw new LoginRefusal("wrong_key");
  const sig = secp256k1.sign(loginSigningHash(text), secretKey, { lowS: true });
  return toWireHex(concatBytes(sig.toCompactRawBytes(), Uint8Array.of(sig.recovery)));
}
