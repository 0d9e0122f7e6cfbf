// Wallet login from the page: unlock the stored key, ask for a challenge,
// sign it only if it names this site and this key, open a session. The
// secret key is used here and dropped; only the session key is kept.
import { secp256k1 } from "@noble/curves/secp256k1";
import { call } from "./api";
import { signChallenge } from "./login";
import { toWireHex } from "./subrav";

/** An open session. */
export interface Session {
  api_key: string;
  expires_at: number;
  user_id: number;
  handle: string;
  key_id: string;
}

interface Challenge {
  nonce: string;
  challenge: string;
  site: string;
  expires_at: number;
}

/** Logs in with `secretKey` at the server this page came from (`site`: its origin). */
export async function walletLogin(secretKey: Uint8Array, site: string): Promise<Session> {
  const publicKey = toWireHex(secp256k1.getPublicKey(secretKey, true));
  const challenge = await call<Challenge>("POST", "/api/auth/challenge", { public_key: publicKey });
  const signature = signChallenge(challenge.challenge, site, secretKey);
  return call<Session>("POST", "/api/auth/wallet", { public_key: publicKey, nonce: challenge.nonce, signature });
}
