// The Spilman channel's transactions, the buyer's side, as
// crates/chain/src/ckb/spilman/{funding,terms}.rs and signing.rs: the
// funding (buyer's cells and the seller's co-funding in, the 2-of-2 cell
// out at index 0, then the buyer's change and the seller's change), the
// commitment paying the seller a total, the timelocked refund, and the
// sighash-all signature of an input group. Pure functions: the same terms
// give the same bytes as Rust (docs/vectors/ckb-spilman.json).
import { secp256k1 } from "@noble/curves/secp256k1";
import { concatBytes } from "@noble/hashes/utils";
import { ckbHash, keyId } from "../subrav";
import {
  encodeTransaction,
  u64,
  witnessWithLock,
  type CellDep,
  type CellOutput,
  type OutPoint,
  type Script,
  type Transaction,
  type HashType,
} from "./molecule";

/** 1 CKB in shannons. */
export const CKB = 100_000_000n;
/** The node's minimum fee rate, shannons per 1,000 bytes. */
export const MIN_FEE_RATE = 1_000n;
const U64_MAX = (1n << 64n) - 1n;
/** Bytes of a recoverable signature. */
export const SIGNATURE_LEN = 65;

/** A lock's code and the cell deps that bring it (as `LockScripts` in Rust). */
export interface ScriptRef {
  codeHash: Uint8Array;
  hashType: HashType;
  cellDeps: CellDep[];
}

/** The two locks of the rail: a plain key's and the channel's 2-of-2. */
export interface LockScripts {
  sighash: ScriptRef;
  multisig: ScriptRef;
}

export function scriptOf(ref: ScriptRef, args: Uint8Array): Script {
  return { codeHash: ref.codeHash, hashType: ref.hashType, args };
}

/** The money in a channel (shannons). */
export interface ChannelFunds {
  buyerDeposit: bigint;
  sellerCofund: bigint;
  /** The fee each commitment and the refund pay. */
  fee: bigint;
}

/** Why a channel transaction cannot be built, with Rust's codes. */
export class SpilmanError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The capacity a cell occupies: 8 + 33 + lock args (+ 33 + type args) + data bytes, in CKB. */
export function occupiedCapacity(lockArgs: bigint, typeArgs: bigint | undefined, data: bigint): bigint {
  return (8n + 33n + lockArgs + (typeArgs === undefined ? 0n : 33n + typeArgs) + data) * CKB;
}

/** A plain cell's minimum: 61 CKB. */
export const PLAIN_CELL = occupiedCapacity(20n, undefined, 0n);

/** The fee of a transaction of `size` serialized bytes: (size + 4) × rate / 1,000, rounded up. */
export function feeForSize(size: bigint, rate: bigint): bigint {
  const weighed = (size + 4n) * rate;
  return (weighed + 999n) / 1_000n;
}

export function validateFunds(f: ChannelFunds): ChannelFunds {
  if (f.sellerCofund < PLAIN_CELL) throw new SpilmanError("cofund_below_minimum", "the seller's co-funding is below the 61 CKB a cell needs");
  if (f.buyerDeposit < PLAIN_CELL + f.fee) throw new SpilmanError("deposit_too_small", "the deposit does not cover a change cell (61 CKB) and the fee");
  return f;
}

/** The most a channel can pay the seller: deposit − 61 CKB − fee (floored at 0). */
export function maxPayment(f: ChannelFunds): bigint {
  const left = f.buyerDeposit - PLAIN_CELL - f.fee;
  return left > 0n ? left : 0n;
}

/** What a commitment for `cumulative` pays each side. */
export function split(f: ChannelFunds, cumulative: bigint): { seller: bigint; buyer: bigint } {
  validateFunds(f);
  if (cumulative < 0n || cumulative > maxPayment(f)) throw new SpilmanError("exceeds_channel", "the payment exceeds what the channel can pay");
  return { seller: f.sellerCofund + cumulative, buyer: f.buyerDeposit - f.fee - cumulative };
}

/** The 2-of-2 multisig script bytes: `0, 0, 2, 2`, then the buyer's and the seller's key ids. */
export function multisigScript(buyer: Uint8Array, seller: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(0, 0, 2, 2), keyId(buyer), keyId(seller));
}

/** The channel cell's lock args: blake160 of the multisig script. */
export function channelLockArgs(buyer: Uint8Array, seller: Uint8Array): Uint8Array {
  return ckbHash(multisigScript(buyer, seller)).slice(0, 20);
}

/** A sighash input's lock placeholder: 65 zeros. */
export function sighashPlaceholder(): Uint8Array {
  return new Uint8Array(SIGNATURE_LEN);
}

/** A 2-of-2 input's lock placeholder: the script, then 2 × 65 zeros. */
export function multisigPlaceholder(buyer: Uint8Array, seller: Uint8Array): Uint8Array {
  return concatBytes(multisigScript(buyer, seller), new Uint8Array(2 * SIGNATURE_LEN));
}

/**
 * What an input group's lock signs: ckb_hash(tx hash ‖ the group's first
 * witness with its placeholder ‖ the group's other witnesses ‖ the
 * witnesses past the inputs), each witness as its length (u64 LE) and bytes.
 */
export function groupMessage(hash: Uint8Array, inputCount: number, witnesses: Uint8Array[], group: number[], first: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [hash];
  const push = (w: Uint8Array) => parts.push(u64(BigInt(w.length)), w);
  push(first);
  for (const index of group.slice(1)) push(witnesses[index] ?? new Uint8Array(0));
  for (let index = inputCount; index < witnesses.length; index++) push(witnesses[index]);
  return ckbHash(concatBytes(...parts));
}

/** A recoverable signature over a 32-byte digest (RFC 6979, low S): r ‖ s ‖ recovery id. */
export function signDigest(digest: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const sig = secp256k1.sign(digest, secretKey, { lowS: true });
  return concatBytes(sig.toCompactRawBytes(), Uint8Array.of(sig.recovery));
}

/** The compressed key that made `signature` over `digest`, if any. */
export function signerOf(digest: Uint8Array, signature: Uint8Array): Uint8Array | undefined {
  if (signature.length !== SIGNATURE_LEN || signature[64] > 3) return undefined;
  try {
    return secp256k1.Signature.fromCompact(signature.slice(0, 64)).addRecoveryBit(signature[64]).recoverPublicKey(digest).toRawBytes(true);
  } catch {
    return undefined;
  }
}

/** A spendable plain cell. */
export interface LiveCell {
  outPoint: OutPoint;
  capacity: bigint;
}

/** What a funding transaction is made of. */
export interface FundingPlan {
  buyer: Uint8Array;
  seller: Uint8Array;
  funds: ChannelFunds;
  buyerCells: LiveCell[];
  sellerCells: LiveCell[];
  /** Shannons per 1,000 bytes. */
  feeRate: bigint;
}

const total = (cells: LiveCell[]) => cells.reduce((sum, c) => sum + c.capacity, 0n);
const plainOutput = (scripts: LockScripts, capacity: bigint, key: Uint8Array): CellOutput => ({ capacity, lock: scriptOf(scripts.sighash, keyId(key)) });

function fundingWithFee(plan: FundingPlan, scripts: LockScripts, fee: bigint): Transaction {
  const funds = validateFunds(plan.funds);
  const channel = funds.buyerDeposit + funds.sellerCofund;
  if (channel > U64_MAX) throw new SpilmanError("exceeds_channel", "the channel's capacity overflows");
  const buyerIn = total(plan.buyerCells);
  const sellerIn = total(plan.sellerCells);
  const needed = funds.buyerDeposit + fee + PLAIN_CELL;
  if (buyerIn < needed) throw new SpilmanError("insufficient_funds", `the wallet holds ${buyerIn} shannons, the channel needs ${needed}`);
  const sellerChange = sellerIn - funds.sellerCofund;
  if (sellerChange < 0n || (sellerChange !== 0n && sellerChange < PLAIN_CELL)) {
    throw new SpilmanError("funding_mismatch", "the seller's cells must hold the co-funding exactly, or 61 CKB more");
  }
  const outputs: CellOutput[] = [
    { capacity: channel, lock: scriptOf(scripts.multisig, channelLockArgs(plan.buyer, plan.seller)) },
    plainOutput(scripts, buyerIn - funds.buyerDeposit - fee, plan.buyer),
  ];
  if (sellerChange > 0n) outputs.push(plainOutput(scripts, sellerChange, plan.seller));
  const witnesses: Uint8Array[] = Array.from({ length: plan.buyerCells.length + plan.sellerCells.length }, () => new Uint8Array(0));
  const signed = witnessWithLock(sighashPlaceholder());
  witnesses[0] = signed;
  if (plan.sellerCells.length > 0) witnesses[plan.buyerCells.length] = signed;
  return {
    version: 0,
    cellDeps: scripts.sighash.cellDeps,
    headerDeps: [],
    inputs: [...plan.buyerCells, ...plan.sellerCells].map((c) => ({ since: 0n, previousOutput: c.outPoint })),
    outputs,
    outputsData: outputs.map(() => new Uint8Array(0)),
    witnesses,
  };
}

/** The unsigned funding, its fee set for its signed size. */
export function buildFunding(plan: FundingPlan, scripts: LockScripts): Transaction {
  if (plan.buyerCells.length === 0) throw new SpilmanError("insufficient_funds", "the wallet has no cells on this chain");
  const draft = fundingWithFee(plan, scripts, 0n);
  const fee = feeForSize(BigInt(encodeTransaction(draft).length), plan.feeRate);
  return fundingWithFee(plan, scripts, fee);
}

/** The fee `tx` pays if it spends exactly the plan's cells. */
export function fundingFee(plan: FundingPlan, tx: Transaction): bigint {
  const held = total(plan.buyerCells) + total(plan.sellerCells);
  return held - tx.outputs.reduce((sum, o) => sum + o.capacity, 0n);
}

/** What both sides agreed at open: every channel transaction follows from it. */
export interface ChannelTerms {
  buyer: Uint8Array;
  seller: Uint8Array;
  funds: ChannelFunds;
  /** The refund is valid from this block on (an absolute block `since`). */
  expiryBlock: bigint;
  /** Output 0 of the funding. */
  cell: OutPoint;
}

/** The absolute-block `since` of the refund input (metric bits 0). */
export function refundSince(terms: ChannelTerms): bigint {
  if (terms.expiryBlock < 0n || terms.expiryBlock >= 1n << 56n) throw new SpilmanError("malformed", "the expiry block does not fit a since");
  return terms.expiryBlock;
}

function spend(terms: ChannelTerms, scripts: LockScripts, cumulative: bigint, since: bigint): Transaction {
  const parts = split(terms.funds, cumulative);
  return {
    version: 0,
    cellDeps: scripts.multisig.cellDeps,
    headerDeps: [],
    inputs: [{ since, previousOutput: terms.cell }],
    outputs: [plainOutput(scripts, parts.seller, terms.seller), plainOutput(scripts, parts.buyer, terms.buyer)],
    outputsData: [new Uint8Array(0), new Uint8Array(0)],
    witnesses: [witnessWithLock(multisigPlaceholder(terms.buyer, terms.seller))],
  };
}

/** The commitment paying the seller `cumulative`, spendable at once. */
export function commitmentTx(terms: ChannelTerms, scripts: LockScripts, cumulative: bigint): Transaction {
  return spend(terms, scripts, cumulative, 0n);
}

/** The refund: the commitment for 0, valid only from the expiry on. */
export function refundTx(terms: ChannelTerms, scripts: LockScripts): Transaction {
  return spend(terms, scripts, 0n, refundSince(terms));
}

/** What both keys sign for a commitment or the refund. */
export function channelMessage(terms: ChannelTerms, hash: Uint8Array): Uint8Array {
  return groupMessage(hash, 1, [new Uint8Array(0)], [0], witnessWithLock(multisigPlaceholder(terms.buyer, terms.seller)));
}

const FIRST_SIGNATURE = 4 + 2 * 20;

/** `tx` with its witness lock holding the given signatures, the buyer's first; a missing one stays zero. */
export function withSignatures(terms: ChannelTerms, tx: Transaction, buyer?: Uint8Array, seller?: Uint8Array): Transaction {
  const lock = multisigPlaceholder(terms.buyer, terms.seller);
  if (buyer) lock.set(buyer, FIRST_SIGNATURE);
  if (seller) lock.set(seller, FIRST_SIGNATURE + SIGNATURE_LEN);
  return { ...tx, witnesses: [witnessWithLock(lock)] };
}
