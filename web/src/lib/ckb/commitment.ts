// The commitment a receipt on a CKB channel carries, as
// `CkbRecord::commitment` / `commitment_for` in crates/payer: the
// commitment transaction paying the seller the receipt's total, built from
// the terms this browser saved at opening (never from what the payee
// sends), with the buyer's signature in the first slot of the 2-of-2
// witness and the seller's slot zero, serialized as molecule bytes.
//
// For the browser payer: when posting a receipt on a CKB channel,
//
//   POST /api/channels/{id}/receipts
//   {"receipt": "0x<158 bytes>", "commitment": ckbCommitment(channel, signed, secretKey)}
//
// `channel` is the `CkbChannelRecord` kept by `CkbBook` (web/src/lib/ckb/
// record.ts; `new CkbBook(walletKeyId).get(channelId)` finds it: a
// channel is a CKB channel iff it is in that book), `receipt` the signed
// SubRAV being posted, `secretKey` the unlocked wallet key. The answer is
// the JSON value of `ReceiptSubmission.commitment` (`0x` + hex). It throws
// `SpilmanError` ("exceeds_channel") if the total is more than the channel
// can pay, and an `Error` if the key is not the channel's.
import { bytesToHex } from "@noble/hashes/utils";
import { secp256k1 } from "@noble/curves/secp256k1";
import type { SignedSubRav } from "../subrav";
import { encodeTransaction, txHash } from "./molecule";
import { scriptsOf, termsOf, type CkbChannelRecord } from "./record";
import { channelMessage, commitmentTx, signDigest, withSignatures } from "./spilman";

/** The half-signed commitment bytes paying `total` shannons on `channel`. */
export function commitmentBytes(channel: CkbChannelRecord, total: bigint, secretKey: Uint8Array): Uint8Array {
  const terms = termsOf(channel);
  if (bytesToHex(secp256k1.getPublicKey(secretKey, true)) !== bytesToHex(terms.buyer)) throw new Error(`This wallet's key is not the buyer of channel ${channel.id}.`);
  const tx = commitmentTx(terms, scriptsOf(channel), total);
  const signature = signDigest(channelMessage(terms, txHash(tx)), secretKey);
  return encodeTransaction(withSignatures(terms, tx, signature));
}

/** `ReceiptSubmission.commitment` for `receipt` on `channel` (see the top of this file). */
export function ckbCommitment(channel: CkbChannelRecord, receipt: SignedSubRav, secretKey: Uint8Array): unknown {
  return `0x${bytesToHex(commitmentBytes(channel, receipt.rav.accumulated, secretKey))}`;
}
