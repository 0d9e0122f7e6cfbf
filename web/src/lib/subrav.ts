// The SubRAV receipt (docs/channels.md, "SubRAV v1"), byte for byte as
// crates/core/src/channel/subrav.rs: the 93-byte encoding, the signing hash
// blake2b-256/ckb("tollway/subrav/v1" ‖ encoding), recoverable secp256k1
// signatures (RFC 6979, low S) and the one canonical form a payee accepts
// (the recovery id that recovers the key). Keys never leave the browser:
// this module signs in place and sends nothing.
import { secp256k1 } from "@noble/curves/secp256k1";
import { blake2b } from "@noble/hashes/blake2b";
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from "@noble/hashes/utils";

/** The encoding version this code writes and reads. */
export const SUBRAV_VERSION = 1;
/** Bytes of an encoded SubRAV. */
export const SUBRAV_LEN = 93;
/** Bytes of an encoded signed SubRAV. */
export const SIGNED_SUBRAV_LEN = SUBRAV_LEN + 65;
/** Prefix of every signed message. */
export const SIGNING_DOMAIN = utf8ToBytes("tollway/subrav/v1");

const PERSONALIZATION = utf8ToBytes("ckb-default-hash");

/** CKB's blake2b-256 of the concatenated parts. */
export function ckbHash(...parts: Uint8Array[]): Uint8Array {
  return blake2b(concatBytes(...parts), { dkLen: 32, personalization: PERSONALIZATION });
}

/** A key's id: blake160 of its compressed public key (a CKB sighash lock's args). */
export function keyId(publicKey: Uint8Array): Uint8Array {
  return ckbHash(publicKey).slice(0, 20);
}

/** A receipt for the total owed on one sub-channel. */
export interface SubRav {
  version: number;
  chainId: bigint;
  channelId: Uint8Array;
  epoch: bigint;
  subChannel: Uint8Array;
  nonce: bigint;
  accumulated: bigint;
}

/** Why bytes are not a receipt. */
export class DecodeError extends Error {}

const U64 = (1n << 64n) - 1n;
const U128 = (1n << 128n) - 1n;

function putUint(out: Uint8Array, at: number, width: number, value: bigint, max: bigint): void {
  if (value < 0n || value > max) throw new RangeError(`${value} does not fit ${width} bytes`);
  for (let i = width - 1; i >= 0; i--) {
    out[at + i] = Number(value & 0xffn);
    value >>= 8n;
  }
}

function getUint(bytes: Uint8Array, at: number, width: number): bigint {
  let value = 0n;
  for (let i = 0; i < width; i++) value = (value << 8n) | BigInt(bytes[at + i]);
  return value;
}

/** The canonical encoding: big-endian, fixed width, 93 bytes. */
export function encodeSubRav(rav: SubRav): Uint8Array {
  if (rav.channelId.length !== 32 || rav.subChannel.length !== 20) throw new RangeError("channel id is 32 bytes, sub-channel 20");
  const out = new Uint8Array(SUBRAV_LEN);
  out[0] = rav.version;
  putUint(out, 1, 8, rav.chainId, U64);
  out.set(rav.channelId, 9);
  putUint(out, 41, 8, rav.epoch, U64);
  out.set(rav.subChannel, 49);
  putUint(out, 69, 8, rav.nonce, U64);
  putUint(out, 77, 16, rav.accumulated, U128);
  return out;
}

/** Reads an encoding: exactly 93 bytes of version 1. */
export function decodeSubRav(bytes: Uint8Array): SubRav {
  if (bytes.length !== SUBRAV_LEN) throw new DecodeError(`a SubRAV is ${SUBRAV_LEN} bytes, got ${bytes.length}`);
  if (bytes[0] !== SUBRAV_VERSION) throw new DecodeError(`unsupported SubRAV version ${bytes[0]}`);
  return {
    version: bytes[0],
    chainId: getUint(bytes, 1, 8),
    channelId: bytes.slice(9, 41),
    epoch: getUint(bytes, 41, 8),
    subChannel: bytes.slice(49, 69),
    nonce: getUint(bytes, 69, 8),
    accumulated: getUint(bytes, 77, 16),
  };
}

/** The 32-byte digest that is signed. */
export function signingHash(rav: SubRav): Uint8Array {
  return ckbHash(SIGNING_DOMAIN, encodeSubRav(rav));
}

/** A receipt with the payer's signature: r ‖ s ‖ recovery id. */
export interface SignedSubRav {
  rav: SubRav;
  signature: Uint8Array;
}

/** Signs with the 32-byte secret key (whose id should be `subChannel`). */
export function signSubRav(rav: SubRav, secretKey: Uint8Array): SignedSubRav {
  const sig = secp256k1.sign(signingHash(rav), secretKey, { lowS: true });
  return { rav, signature: concatBytes(sig.toCompactRawBytes(), Uint8Array.of(sig.recovery)) };
}

/** The canonical encoding: SubRAV then signature, 158 bytes. */
export function encodeSigned(signed: SignedSubRav): Uint8Array {
  return concatBytes(encodeSubRav(signed.rav), signed.signature);
}

/** Reads 158 bytes: a SubRAV and a signature with recovery id 0-3. */
export function decodeSigned(bytes: Uint8Array): SignedSubRav {
  if (bytes.length !== SIGNED_SUBRAV_LEN) throw new DecodeError(`a signed SubRAV is ${SIGNED_SUBRAV_LEN} bytes, got ${bytes.length}`);
  const rav = decodeSubRav(bytes.slice(0, SUBRAV_LEN));
  const signature = bytes.slice(SUBRAV_LEN);
  if (signature[64] > 3) throw new DecodeError(`signature recovery id ${signature[64]} is not 0-3`);
  return { rav, signature };
}

/**
 * Whether `signed` carries the one signature a payee accepts from
 * `publicKey` (compressed, 33 bytes): its id is the sub-channel, S is low,
 * and the recovery id recovers that key.
 */
export function verifySigned(signed: SignedSubRav, publicKey: Uint8Array): boolean {
  if (bytesToHex(keyId(publicKey)) !== bytesToHex(signed.rav.subChannel)) return false;
  try {
    const sig = secp256k1.Signature.fromCompact(signed.signature.slice(0, 64)).addRecoveryBit(signed.signature[64]);
    if (sig.hasHighS()) return false;
    const recovered = sig.recoverPublicKey(signingHash(signed.rav)).toRawBytes(true);
    return bytesToHex(recovered) === bytesToHex(publicKey);
  } catch {
    return false;
  }
}

/** `0x` + lowercase hex, as on the wire. */
export function toWireHex(bytes: Uint8Array): string {
  return `0x${bytesToHex(bytes)}`;
}

/** Bytes from `0x` + hex. */
export function fromWireHex(text: string): Uint8Array {
  if (!text.startsWith("0x")) throw new DecodeError("hex on the wire starts with 0x");
  return hexToBytes(text.slice(2));
}
