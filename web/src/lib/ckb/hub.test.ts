// The shared CKB hub vector (docs/vectors/ckb-hub.json), built by
// crates/chain/tests/ckb_hub_vector.rs: the same cells give the same
// prepared payment, hash, fee and change, and the same sender signature.
import { describe, expect, it } from "vitest";
import { bytesToHex } from "@noble/hashes/utils";
import { readFileSync } from "node:fs";
import { encodeTransaction, txHash } from "./molecule";
import { parseOutPoint, unhex } from "./record";
import { buildHubPayment, HubError, inputPoints, reviewPrepared, signSender, type HubPaymentPlan } from "./hub";
import type { CkbNode } from "./rpc";
import type { LockScripts } from "./spilman";

const vector = JSON.parse(readFileSync(new URL("../../../../docs/vectors/ckb-hub.json", import.meta.url), "utf8"));
const hex = (b: Uint8Array) => `0x${bytesToHex(b)}`;
const sighash = { codeHash: unhex(vector.sighash.code_hash), hashType: 1 as const, cellDeps: [{ outPoint: parseOutPoint(vector.sighash.dep), depType: 1 as const }] };
const scripts: LockScripts = { sighash, multisig: sighash };
const cell = (c: { out_point: string; capacity: string }) => ({ outPoint: parseOutPoint(c.out_point), capacity: BigInt(c.capacity) });
const plan: HubPaymentPlan = {
  sender: unhex(vector.sender_lock_args),
  senderCells: vector.sender_cells.map(cell),
  hub: unhex(vector.hub_lock_args),
  poolCell: cell(vector.pool_cell),
  amount: BigInt(vector.amount),
  feeRate: BigInt(vector.fee_rate),
};

/** A node that knows the vector's cells (the first sender cell only through a pending transaction). */
function fakeNode(overrides: Record<string, { capacity: bigint; args: Uint8Array }> = {}, pendingStatus = "pending"): CkbNode {
  const cells = new Map<string, { capacity: bigint; args: Uint8Array }>();
  for (const c of [...plan.senderCells]) cells.set(`${hex(c.outPoint.txHash)}:${c.outPoint.index}`, { capacity: c.capacity, args: plan.sender });
  cells.set(`${hex(plan.poolCell.outPoint.txHash)}:${plan.poolCell.outPoint.index}`, { capacity: plan.poolCell.capacity, args: plan.hub });
  for (const [k, v] of Object.entries(overrides)) cells.set(k, v);
  const pendingTx = hex(plan.senderCells[0].outPoint.txHash);
  const lock = (args: Uint8Array) => ({ codeHash: sighash.codeHash, hashType: 1 as const, args });
  return {
    async liveCell(p: { txHash: Uint8Array; index: number }) {
      const key = `${hex(p.txHash)}:${p.index}`;
      if (hex(p.txHash) === pendingTx) return undefined;
      const c = cells.get(key);
      return c ? { capacity: c.capacity, lock: lock(c.args) } : undefined;
    },
    async call(method: string, params: unknown[]) {
      expect(method).toBe("get_transaction");
      if (params[0] !== pendingTx) return null;
      const c = cells.get(`${pendingTx}:0`)!;
      const outputs = [{ capacity: `0x${c.capacity.toString(16)}`, lock: { code_hash: vector.sighash.code_hash, hash_type: "type", args: hex(c.args) } }];
      return { transaction: { outputs }, tx_status: { status: pendingStatus } };
    },
  } as unknown as CkbNode;
}

describe("the hub payment, byte for byte with Rust", () => {
  it("builds the prepared payment: bytes, hash, fee, change", () => {
    const prepared = buildHubPayment(plan, scripts);
    expect(hex(encodeTransaction(prepared.tx))).toBe(vector.prepared_tx);
    expect(hex(txHash(prepared.tx))).toBe(vector.tx_hash);
    expect(prepared.fee.toString()).toBe(vector.fee);
    expect(prepared.change.toString()).toBe(vector.change);
    expect(prepared.hubInput).toBe(vector.hub_input);
  });

  it("signs the sender's input group as sign_sender", () => {
    const signed = signSender(unhex(vector.prepared_tx), vector.hub_input, unhex(vector.sender_secret));
    expect(hex(signed)).toBe(vector.sender_signed_tx);
    expect(inputPoints(signed).length).toBe(vector.hub_input + 1);
  });

  it("refuses hostile plans with Rust's codes", () => {
    const code = (p: Partial<HubPaymentPlan>) => {
      try {
        buildHubPayment({ ...plan, ...p }, scripts);
        return undefined;
      } catch (e) {
        return (e as HubError).code;
      }
    };
    expect(code({ amount: 0n })).toBe("amount_zero");
    expect(code({ amount: 1n })).toBe("amount_below_fee");
    expect(code({ amount: 100n * 100_000_000n })).toBe("insufficient_funds");
    expect(code({ senderCells: [] })).toBe("insufficient_funds");
    expect(code({ hub: plan.sender })).toBe("sender_is_hub");
    expect(code({ senderCells: [plan.senderCells[0], plan.senderCells[0]] })).toBe("invalid_plan");
    expect(code({ amount: (1n << 64n) - 1n })).toBe("overflow");
    expect(code({ feeRate: (1n << 64n) - 1n })).toBe("overflow");
    expect(code({ poolCell: { ...plan.poolCell, capacity: 100_000_000n } })).toBe("output_below_minimum");
  });
});

describe("reviewPrepared (the payer's check before signing)", () => {
  const req = { rawTx: unhex(vector.prepared_tx), txHash: vector.tx_hash, sender: plan.sender, hub: plan.hub, amount: plan.amount, feeRate: plan.feeRate, maxFee: 100_000n };

  it("accepts the payment asked for, reading a pending change through get_transaction", async () => {
    const r = await reviewPrepared(fakeNode(), scripts, req);
    expect(r.hash).toBe(vector.tx_hash);
    expect(r.senderInputs).toBe(2);
    expect(r.prepared.fee.toString()).toBe(vector.fee);
  });

  it("refuses another amount, fee rate, a foreign input, a fee over the limit, a lying hash", async () => {
    const code = async (over: Partial<typeof req>, node = fakeNode()) => {
      try {
        await reviewPrepared(node, scripts, { ...req, ...over });
        return undefined;
      } catch (e) {
        return (e as HubError).code;
      }
    };
    expect(await code({ amount: plan.amount + 1n })).toBe("tx_mismatch");
    expect(await code({ feeRate: 2_000n })).toBe("tx_mismatch");
    expect(await code({ maxFee: 10n })).toBe("fee_too_high");
    expect(await code({ txHash: `0x${"00".repeat(32)}` })).toBe("tx_mismatch");
    const second = plan.senderCells[1].outPoint;
    expect(await code({}, fakeNode({ [`${hex(second.txHash)}:${second.index}`]: { capacity: plan.senderCells[1].capacity, args: plan.hub } }))).toBe("tx_mismatch");
    const pool = plan.poolCell.outPoint;
    expect(await code({}, fakeNode({ [`${hex(pool.txHash)}:${pool.index}`]: { capacity: plan.poolCell.capacity - 1n, args: plan.hub } }))).toBe("tx_mismatch");
    expect(await code({ rawTx: Uint8Array.of(1, 2, 3) })).toBe("tx_mismatch");
  });

  it("refuses a change that is not live once its transaction is committed (spent already)", async () => {
    await expect(reviewPrepared(fakeNode({}, "committed"), scripts, req)).rejects.toMatchObject({ code: "unknown_cell" });
  });
});
