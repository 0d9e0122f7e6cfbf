// Test helpers: SubRAVs for the unit tests.
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

/** A receipt on a fixed test channel and sub-channel. */
export function rav(nonce: bigint, accumulated: bigint): SubRav {
  return { version: 1, chainId: 7n, channelId: new Uint8Array(32).fill(1), epoch: 1n, subChannel: new Uint8Array(20).fill(2), nonce, accumulated };
}
