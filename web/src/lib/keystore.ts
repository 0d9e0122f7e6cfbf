// The wallet key, kept in the browser only: created here or imported,
// stored encrypted with a passphrase the user types (scrypt, then
// AES-256-GCM with the key's id as associated data, so a stored record
// cannot be paired with another key's id). Nothing here touches the
// network; the caller keeps the locked record (e.g. in localStorage).
import { secp256k1 } from "@noble/curves/secp256k1";
import { scryptAsync } from "@noble/hashes/scrypt";
import { bytesToHex, hexToBytes, utf8ToBytes } from "@noble/hashes/utils";
import { keyId } from "./subrav";

/** The cost of the passphrase's key derivation. */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/** 2^16: about a second in a browser, once per unlock. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 16, r: 8, p: 1 };

/** A locked wallet key, as stored. */
export interface LockedKey {
  version: 1;
  kdf: "scrypt";
  scrypt: ScryptParams;
  /** Hex. */
  salt: string;
  /** Hex, 12 bytes. */
  iv: string;
  /** Hex: the 32-byte secret key, encrypted, with its 16-byte tag. */
  ciphertext: string;
  /** Hex: the compressed public key (33 bytes). */
  publicKey: string;
  /** Hex: its id (blake160, a CKB lock's args). */
  keyId: string;
}

/** Why a key could not be imported or unlocked. */
export class KeystoreError extends Error {
  constructor(
    readonly code: "invalid_key" | "wrong_passphrase" | "unsupported_keystore",
    message: string,
  ) {
    super(message);
  }
}

/** A fresh random secret key. */
export function newSecretKey(): Uint8Array {
  return secp256k1.utils.randomPrivateKey();
}

/** A secret key from `0x` + 64 hex digits, checked to be a valid key. */
export function importSecretKey(text: string): Uint8Array {
  const hex = text.trim().replace(/^0x/, "");
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new KeystoreError("invalid_key", "a secret key is 0x and 64 hex digits");
  const secret = hexToBytes(hex.toLowerCase());
  if (!secp256k1.utils.isValidPrivateKey(secret)) throw new KeystoreError("invalid_key", "not a valid secp256k1 secret key");
  return secret;
}

/** A copy backed by a plain ArrayBuffer, as WebCrypto's types want. */
function plain(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

async function aesKey(passphrase: string, salt: Uint8Array, params: ScryptParams): Promise<CryptoKey> {
  const derived = await scryptAsync(utf8ToBytes(passphrase.normalize("NFKC")), salt, { ...params, dkLen: 32 });
  return crypto.subtle.importKey("raw", plain(derived), "AES-GCM", false, ["encrypt", "decrypt"]);
}

/** Encrypts `secret` under `passphrase`. */
export async function lockKey(secret: Uint8Array, passphrase: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<LockedKey> {
  if (!secp256k1.utils.isValidPrivateKey(secret)) throw new KeystoreError("invalid_key", "not a valid secp256k1 secret key");
  const publicKey = secp256k1.getPublicKey(secret, true);
  const id = keyId(publicKey);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await aesKey(passphrase, salt, params);
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: plain(id) }, key, plain(secret));
  return {
    version: 1,
    kdf: "scrypt",
    scrypt: params,
    salt: bytesToHex(salt),
    iv: bytesToHex(iv),
    ciphertext: bytesToHex(new Uint8Array(sealed)),
    publicKey: bytesToHex(publicKey),
    keyId: bytesToHex(id),
  };
}

/** The secret key of `locked`; `wrong_passphrase` if it does not open. */
export async function unlockKey(locked: LockedKey, passphrase: string): Promise<Uint8Array> {
  if (locked.version !== 1 || locked.kdf !== "scrypt") throw new KeystoreError("unsupported_keystore", "an unknown keystore format");
  const key = await aesKey(passphrase, hexToBytes(locked.salt), locked.scrypt);
  let secret: Uint8Array;
  try {
    const opened = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: plain(hexToBytes(locked.iv)), additionalData: plain(hexToBytes(locked.keyId)) },
      key,
      plain(hexToBytes(locked.ciphertext)),
    );
    secret = new Uint8Array(opened);
  } catch {
    throw new KeystoreError("wrong_passphrase", "the passphrase does not open this key");
  }
  if (bytesToHex(secp256k1.getPublicKey(secret, true)) !== locked.publicKey) {
    throw new KeystoreError("wrong_passphrase", "the key inside is not the one recorded");
  }
  return secret;
}
