// The devnet faucet of the CKB browser test: sends CKB from a devnet test
// account (crates/chain/src/ckb/accounts.rs: secret =
// ckb_hash("tollway-devnet-account-" + n), public, devnet only) to a
// wallet's plain lock, built and signed with the app's own CKB code
// (web/src/lib/ckb). Bundled by web/e2e/ckb.mjs with esbuild; not part of
// the app.
import { utf8ToBytes } from "@noble/hashes/utils";
import { secp256k1 } from "@noble/curves/secp256k1";
import { ckbHash, keyId } from "../../src/lib/subrav";
import { encodeTransaction, txHash, witnessWithLock, type Transaction } from "../../src/lib/ckb/molecule";
import { CkbNode } from "../../src/lib/ckb/rpc";
import { feeForSize, groupMessage, MIN_FEE_RATE, PLAIN_CELL, scriptOf, sighashPlaceholder, signDigest } from "../../src/lib/ckb/spilman";

/** Devnet test account `n`'s secret key. */
export function testAccountSecret(n: number): Uint8Array {
  let secret = ckbHash(utf8ToBytes(`tollway-devnet-account-${n}`));
  while (!secp256k1.utils.isValidPrivateKey(secret)) secret = ckbHash(secret);
  return secret;
}

/** Sends `amount` shannons from test account `from` to the plain lock with `args`; waits until it commits. The hash. */
export async function fund(rpcUrl: string, from: number, args: Uint8Array, amount: bigint): Promise<string> {
  const node = new CkbNode(rpcUrl);
  const scripts = await node.lockScripts();
  const secret = testAccountSecret(from);
  const own = scriptOf(scripts.sighash, keyId(secp256k1.getPublicKey(secret, true)));
  const cells = await node.liveCells(own, amount + 2n * PLAIN_CELL);
  const held = cells.reduce((s, c) => s + c.capacity, 0n);
  const build = (fee: bigint): Transaction => ({
    version: 0,
    cellDeps: scripts.sighash.cellDeps,
    headerDeps: [],
    inputs: cells.map((c) => ({ since: 0n, previousOutput: c.outPoint })),
    outputs: [{ capacity: amount, lock: scriptOf(scripts.sighash, args) }, { capacity: held - amount - fee, lock: own }],
    outputsData: [new Uint8Array(0), new Uint8Array(0)],
    witnesses: cells.map((_, i) => (i === 0 ? witnessWithLock(sighashPlaceholder()) : new Uint8Array(0))),
  });
  const unsigned = build(feeForSize(BigInt(encodeTransaction(build(0n)).length), MIN_FEE_RATE));
  const message = groupMessage(txHash(unsigned), cells.length, unsigned.witnesses, cells.map((_, i) => i), witnessWithLock(sighashPlaceholder()));
  const signed = { ...unsigned, witnesses: [witnessWithLock(signDigest(message, secret)), ...unsigned.witnesses.slice(1)] };
  const hash = await node.send(signed);
  for (let i = 0; i < 120; i++) {
    if ((await node.txStatus(hash)) === "committed") return hash;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the faucet's transfer ${hash} did not commit`);
}
