// The hub payment (docs/hub.md, "The payment transaction"), the sender's
// side, as crates/chain/src/ckb/hub/payment.rs: the sender's cells
// (inputs 0..k-1) and the hub's leased pool cell (input k) in; the
// sender's change (output 0) and the hub's cell grown by the amount
// (output 1) out; the sender pays the fee of the signed size. And the
// payer's check before it signs, as `check_prepared` in
// crates/payer/src/hub.rs: the cells read from the payer's own node, the
// payment rebuilt from them, the same hash, the fee within a limit.
// Byte for byte as Rust (docs/vectors/ckb-hub.json).
import { bytesToHex } from "@noble/hashes/utils";
import { keyId } from "../subrav";
import {
  MoleculeError,
  decodeOutPoint,
  encodeTransaction,
  joinTransaction,
  readDynamic,
  splitTransaction,
  txHash,
  witnessWithLock,
  type CellOutput,
  type OutPoint,
  type Script,
  type Transaction,
} from "./molecule";
import { CkbNode } from "./rpc";
import { PLAIN_CELL, feeForSize, groupMessage, scriptOf, sighashPlaceholder, signDigest, type LiveCell, type LockScripts } from "./spilman";

const U64_MAX = (1n << 64n) - 1n;
/** The most sender inputs a payment takes (as Rust's `MAX_SENDER_INPUTS`). */
export const MAX_SENDER_INPUTS = 32;

/** Why a hub payment cannot be built or is refused before signing, with Rust's codes. */
export class HubError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a payment is made of (`HubPaymentPlan`). */
export interface HubPaymentPlan {
  /** The sender's 20-byte lock args. */
  sender: Uint8Array;
  senderCells: LiveCell[];
  /** The hub's 20-byte lock args. */
  hub: Uint8Array;
  poolCell: LiveCell;
  /** Shannons. */
  amount: bigint;
  /** Shannons per 1,000 bytes. */
  feeRate: bigint;
}

/** A payment ready for the sender's signature (`PreparedPayment`). */
export interface PreparedPayment {
  tx: Transaction;
  fee: bigint;
  change: bigint;
  senderCells: LiveCell[];
  /** The index of the hub's input (= the number of sender inputs). */
  hubInput: number;
}

const overflow = () => new HubError("overflow", "capacities, the amount or the fee pass 64 bits");
function checked(value: bigint): bigint {
  if (value > U64_MAX || value < 0n) throw overflow();
  return value;
}
const pointKey = (p: OutPoint) => `${bytesToHex(p.txHash)}:${p.index}`;
const plain = (scripts: LockScripts, args: Uint8Array, capacity: bigint): CellOutput => ({ capacity, lock: scriptOf(scripts.sighash, args) });
const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

function layout(plan: HubPaymentPlan, scripts: LockScripts, change: bigint, toHub: bigint): Transaction {
  const inputs = [...plan.senderCells.map((c) => c.outPoint), plan.poolCell.outPoint];
  const outputs = [plain(scripts, plan.sender, change), plain(scripts, plan.hub, toHub)];
  const k = plan.senderCells.length;
  const witnesses = inputs.map((_, i) => (i === 0 || i === k ? witnessWithLock(sighashPlaceholder()) : new Uint8Array(0)));
  return {
    version: 0,
    cellDeps: scripts.sighash.cellDeps,
    headerDeps: [],
    inputs: inputs.map((p) => ({ since: 0n, previousOutput: p })),
    outputs,
    outputsData: outputs.map(() => new Uint8Array(0)),
    witnesses,
  };
}

/** The payment spending all of `plan.senderCells`, its fee set for its signed size (`HubPaymentPlan::build`). */
export function buildHubPayment(plan: HubPaymentPlan, scripts: LockScripts): PreparedPayment {
  if (plan.amount === 0n) throw new HubError("amount_zero", "a payment of 0");
  if (eq(plan.sender, plan.hub)) throw new HubError("sender_is_hub", "the sender's key is the hub's");
  const seen = new Set<string>();
  for (const p of [...plan.senderCells.map((c) => c.outPoint), plan.poolCell.outPoint]) {
    if (seen.has(pointKey(p))) throw new HubError("invalid_plan", "a cell is spent twice");
    seen.add(pointKey(p));
  }
  const available = checked(plan.senderCells.reduce((s, c) => checked(s + c.capacity), 0n));
  checked(plan.amount);
  const toHub = checked(plan.poolCell.capacity + plan.amount);
  const size = BigInt(encodeTransaction(layout(plan, scripts, 0n, toHub)).length);
  checked((size + 4n) * checked(plan.feeRate));
  const fee = checked(feeForSize(size, plan.feeRate));
  if (plan.amount < fee) throw new HubError("amount_below_fee", `the amount ${plan.amount} is below the network fee ${fee}`);
  const needed = checked(plan.amount + fee + PLAIN_CELL);
  if (plan.senderCells.length === 0 || available < needed) {
    throw new HubError("insufficient_funds", `the wallet's cells hold ${available} shannons, the payment needs ${needed} (amount, fee and 61 CKB of change)`);
  }
  if (toHub < PLAIN_CELL) throw new HubError("output_below_minimum", "the hub's cell would be below 61 CKB");
  const change = available - plan.amount - fee;
  return { tx: layout(plan, scripts, change, toHub), fee, change, senderCells: [...plan.senderCells], hubInput: plan.senderCells.length };
}

/** The serialized payment with the sender's input group (inputs 0..senderInputs-1) signed (`sign_sender`). */
export function signSender(txBytes: Uint8Array, senderInputs: number, secretKey: Uint8Array): Uint8Array {
  const split = splitTransaction(txBytes);
  if (senderInputs < 1 || senderInputs > split.inputs) throw new HubError("tx_mismatch", "the sender's inputs are not in the transaction");
  const group = Array.from({ length: senderInputs }, (_, i) => i);
  const first = witnessWithLock(sighashPlaceholder());
  const message = groupMessage(split.hash, split.inputs, split.witnesses, group, first);
  const witnesses = [...split.witnesses];
  witnesses[0] = witnessWithLock(signDigest(message, secretKey));
  return joinTransaction(split.raw, witnesses);
}

/** The out points a serialized transaction spends, in order. */
export function inputPoints(txBytes: Uint8Array): OutPoint[] {
  const split = splitTransaction(txBytes);
  const field = readDynamic(split.raw)[3];
  if (field.length !== 4 + 44 * split.inputs) throw new MoleculeError("malformed inputs");
  return Array.from({ length: split.inputs }, (_, i) => decodeOutPoint(field.slice(4 + 44 * i + 8, 4 + 44 * (i + 1))));
}

/**
 * A cell's capacity and lock, as the payer's node knows it: live, else an output of a transaction it holds still pending (a payment's change).
 * An output of a committed transaction that is not live is spent: undefined (looked at again, in case it committed since the first look).
 */
export async function readCell(node: CkbNode, point: OutPoint): Promise<{ capacity: bigint; lock: Script } | undefined> {
  const live = await node.liveCell(point);
  if (live) return live;
  const hash = `0x${bytesToHex(point.txHash)}`;
  const v = await node.call<{ transaction?: { outputs: { capacity: string; lock: { code_hash: string; hash_type: string; args: string } }[] }; tx_status?: { status: string } } | null>("get_transaction", [hash]);
  if (v?.tx_status?.status === "committed") return node.liveCell(point);
  const out = v?.transaction?.outputs[point.index];
  if (!out) return undefined;
  const hashTypes: Record<string, 0 | 1 | 2 | 4> = { data: 0, type: 1, data1: 2, data2: 4 };
  const un = (t: string) => Uint8Array.from((t.slice(2).match(/../g) ?? []).map((b) => parseInt(b, 16)));
  return { capacity: BigInt(out.capacity), lock: { codeHash: un(out.lock.code_hash), hashType: hashTypes[out.lock.hash_type], args: un(out.lock.args) } };
}

/** What the page checks a prepared payment against. */
export interface ReviewRequest {
  /** The prepared transaction's bytes (`raw_tx`). */
  rawTx: Uint8Array;
  /** The hash the hub announced (`tx_hash`), `0x` hex; checked too. */
  txHash?: string;
  /** The wallet's lock args. */
  sender: Uint8Array;
  /** The hub's lock args (`GET /api/hub` `hub_lock_args`). */
  hub: Uint8Array;
  amount: bigint;
  /** The hub's fee rate (`GET /api/hub` `fee_rate`). */
  feeRate: bigint;
  /** The most network fee the sender accepts, shannons. */
  maxFee: bigint;
}

/** What the review found: the payment as the page rebuilt it. */
export interface Reviewed {
  prepared: PreparedPayment;
  senderInputs: number;
  hash: string;
}

const isSighash = (scripts: LockScripts, lock: Script, args: Uint8Array) =>
  eq(lock.codeHash, scripts.sighash.codeHash) && lock.hashType === scripts.sighash.hashType && eq(lock.args, args);

/**
 * Checks the hub's prepared payment as `check_prepared` does: every input
 * read from the payer's node (the sender's under the sender's own lock,
 * the last the hub's), the payment rebuilt from those cells with the
 * amount and the hub's fee rate, and refused unless the hash is identical
 * (`tx_mismatch`) and the fee within `maxFee` (`fee_too_high`).
 */
export async function reviewPrepared(node: CkbNode, scripts: LockScripts, req: ReviewRequest): Promise<Reviewed> {
  let points: OutPoint[];
  try {
    points = inputPoints(req.rawTx);
  } catch (e) {
    throw new HubError("tx_mismatch", `the prepared transaction cannot be read: ${(e as Error).message}`);
  }
  if (points.length < 2) throw new HubError("tx_mismatch", "the prepared transaction has no sender input");
  const senderPoints = points.slice(0, -1);
  const poolPoint = points[points.length - 1];
  const senderCells: LiveCell[] = [];
  for (const point of senderPoints) {
    const cell = await readCell(node, point);
    if (!cell) throw new HubError("unknown_cell", `your node does not know input ${pointKey(point)}`);
    if (!isSighash(scripts, cell.lock, req.sender)) throw new HubError("tx_mismatch", `input ${pointKey(point)} is not this wallet's cell`);
    senderCells.push({ outPoint: point, capacity: cell.capacity });
  }
  const pool = await readCell(node, poolPoint);
  if (!pool) throw new HubError("unknown_cell", `your node does not know the hub's cell ${pointKey(poolPoint)}`);
  if (!isSighash(scripts, pool.lock, req.hub)) throw new HubError("tx_mismatch", "the last input is not the hub's cell");
  const prepared = buildHubPayment(
    { sender: req.sender, senderCells, hub: req.hub, poolCell: { outPoint: poolPoint, capacity: pool.capacity }, amount: req.amount, feeRate: req.feeRate },
    scripts,
  );
  const hash = `0x${bytesToHex(txHash(prepared.tx))}`;
  const theirs = `0x${bytesToHex(splitTransaction(req.rawTx).hash)}`;
  if (hash !== theirs || (req.txHash !== undefined && req.txHash.toLowerCase() !== hash)) {
    throw new HubError("tx_mismatch", "the prepared transaction is not the payment asked for");
  }
  if (prepared.fee > req.maxFee) throw new HubError("fee_too_high", `the network fee ${prepared.fee} is above your limit ${req.maxFee}`);
  return { prepared, senderInputs: senderPoints.length, hash };
}

/** The wallet's lock args from its compressed public key. */
export const lockArgsOf = (publicKey: Uint8Array) => keyId(publicKey);
