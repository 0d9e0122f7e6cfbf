// Test helpers: a SubRAV from the shared vector's fields.
import { hexToBytes } from "@noble/hashes/utils";
import type { SubRav } from "./subrav";
export { keyId, signSubRav } from "./subrav";

/** The vector's receipt fields (decimal strings, 0x hex) as a SubRAV for `subChannel`. */
export function subRavFromVector(r: { chain_id: string; channel_id: string; epoch: string; nonce: string; accumulated: string }, subChannel: Uint8Array): SubRav {
  return {
    version: 1,
    chainId: BigInt(r.chain_id),
    channelId: hexToBytes(r.channel_id.slice(2)),
    epoch: BigInt(r.epoch),
    subChannel,
    nonce: BigInt(r.nonce),
    accumulated: BigInt(r.accumulated),
  };
}
