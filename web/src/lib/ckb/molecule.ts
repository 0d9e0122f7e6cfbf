// The molecule encoding of CKB's transaction types (RFC 0008 and
// blockchain.mol), only what a Spilman buyer needs: scripts, out points,
// cell deps, inputs, outputs, witness args, raw and full transactions, and
// reading back a full transaction (to check the seller's copy and fill in
// the buyer's witness). Byte for byte as ckb_types' packed types, which the
// Rust side uses (checked by docs/vectors/ckb-spilman.json).
import { concatBytes } from "@noble/hashes/utils";
import { ckbHash } from "../subrav";

/** How a script's code hash is matched (`data` 0, `type` 1, `data1` 2, `data2` 4). */
export type HashType = 0 | 1 | 2 | 4;

export interface Script {
  codeHash: Uint8Array;
  hashType: HashType;
  args: Uint8Array;
}

export interface OutPoint {
  txHash: Uint8Array;
  index: number;
}

/** `depType`: 0 code, 1 dep group. */
export interface CellDep {
  outPoint: OutPoint;
  depType: 0 | 1;
}

export interface CellInput {
  since: bigint;
  previousOutput: OutPoint;
}

export interface CellOutput {
  capacity: bigint;
  lock: Script;
  type?: Script;
}

/** A transaction with its witnesses as raw bytes (a `WitnessArgs` each, or empty). */
export interface Transaction {
  version: number;
  cellDeps: CellDep[];
  headerDeps: Uint8Array[];
  inputs: CellInput[];
  outputs: CellOutput[];
  outputsData: Uint8Array[];
  witnesses: Uint8Array[];
}

/** Why bytes are not the molecule expected. */
export class MoleculeError extends Error {}

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;

export function u32(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) throw new RangeError(`${value} is not a u32`);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, true);
  return out;
}

export function u64(value: bigint): Uint8Array {
  if (value < 0n || value > U64_MAX) throw new RangeError(`${value} is not a u64`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value, true);
  return out;
}

function readU32(bytes: Uint8Array, at: number): number {
  if (at + 4 > bytes.length) throw new MoleculeError("truncated");
  return new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true);
}

function byte32(bytes: Uint8Array): Uint8Array {
  if (bytes.length !== 32) throw new RangeError("a hash is 32 bytes");
  return bytes;
}

/** `fixvec<byte>`: its length (u32 LE) then the bytes. */
export function bytesField(bytes: Uint8Array): Uint8Array {
  return concatBytes(u32(bytes.length), bytes);
}

/** A fixvec of fixed-size items already encoded. */
function fixvec(items: Uint8Array[]): Uint8Array {
  return concatBytes(u32(items.length), ...items);
}

/** A table or dynvec: total size, each item's offset, the items. */
function dynamic(items: Uint8Array[]): Uint8Array {
  const header = 4 * (items.length + 1);
  const total = items.reduce((sum, item) => sum + item.length, header);
  const offsets: Uint8Array[] = [];
  let at = header;
  for (const item of items) {
    offsets.push(u32(at));
    at += item.length;
  }
  return concatBytes(u32(total), ...offsets, ...items);
}

export const table = dynamic;
export const dynvec = dynamic;

/** Reads the fields of a table or the items of a dynvec. */
export function readDynamic(bytes: Uint8Array): Uint8Array[] {
  const total = readU32(bytes, 0);
  if (total !== bytes.length) throw new MoleculeError(`size ${total} but ${bytes.length} bytes`);
  if (total === 4) return [];
  const first = readU32(bytes, 4);
  if (first % 4 !== 0 || first < 8 || first > total) throw new MoleculeError("bad header");
  const count = first / 4 - 1;
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) offsets.push(readU32(bytes, 4 + 4 * i));
  offsets.push(total);
  const items: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    if (offsets[i] > offsets[i + 1]) throw new MoleculeError("offsets go backwards");
    items.push(bytes.slice(offsets[i], offsets[i + 1]));
  }
  return items;
}

/** Reads `fixvec<byte>`. */
export function readBytes(bytes: Uint8Array): Uint8Array {
  const n = readU32(bytes, 0);
  if (bytes.length !== 4 + n) throw new MoleculeError("bytes of the wrong length");
  return bytes.slice(4);
}

export function encodeScript(script: Script): Uint8Array {
  return table([byte32(script.codeHash), Uint8Array.of(script.hashType), bytesField(script.args)]);
}

/** A script's hash (a type script's hash is how the system cells are found). */
export function scriptHash(script: Script): Uint8Array {
  return ckbHash(encodeScript(script));
}

export function encodeOutPoint(point: OutPoint): Uint8Array {
  return concatBytes(byte32(point.txHash), u32(point.index));
}

/** Reads one `OutPoint` (36 bytes). */
export function decodeOutPoint(bytes: Uint8Array): OutPoint {
  if (bytes.length !== 36) throw new MoleculeError("an out point is 36 bytes");
  return { txHash: bytes.slice(0, 32), index: readU32(bytes, 32) };
}

/** Reads an `OutPointVec` (a dep group cell's data). */
export function decodeOutPointVec(bytes: Uint8Array): OutPoint[] {
  const n = readU32(bytes, 0);
  if (bytes.length !== 4 + 36 * n) throw new MoleculeError("not an out point vector");
  return Array.from({ length: n }, (_, i) => decodeOutPoint(bytes.slice(4 + 36 * i, 40 + 36 * i)));
}

function encodeCellDep(dep: CellDep): Uint8Array {
  return concatBytes(encodeOutPoint(dep.outPoint), Uint8Array.of(dep.depType));
}

function encodeInput(input: CellInput): Uint8Array {
  return concatBytes(u64(input.since), encodeOutPoint(input.previousOutput));
}

export function encodeOutput(output: CellOutput): Uint8Array {
  return table([u64(output.capacity), encodeScript(output.lock), output.type ? encodeScript(output.type) : new Uint8Array(0)]);
}

/** `WitnessArgs` with only a lock (what the system locks read). */
export function witnessWithLock(lock: Uint8Array): Uint8Array {
  return table([bytesField(lock), new Uint8Array(0), new Uint8Array(0)]);
}

/** The `RawTransaction`: what the transaction hash covers. */
export function encodeRaw(tx: Transaction): Uint8Array {
  return table([
    u32(tx.version),
    fixvec(tx.cellDeps.map(encodeCellDep)),
    fixvec(tx.headerDeps.map(byte32)),
    fixvec(tx.inputs.map(encodeInput)),
    dynvec(tx.outputs.map(encodeOutput)),
    dynvec(tx.outputsData.map(bytesField)),
  ]);
}

/** The full `Transaction`: raw, then the witnesses. */
export function encodeTransaction(tx: Transaction): Uint8Array {
  return joinTransaction(encodeRaw(tx), tx.witnesses);
}

/** A full transaction from its raw part and witnesses. */
export function joinTransaction(raw: Uint8Array, witnesses: Uint8Array[]): Uint8Array {
  return table([raw, dynvec(witnesses.map(bytesField))]);
}

/** The transaction hash: blake2b-256/ckb of the raw part. */
export function txHash(tx: Transaction): Uint8Array {
  return ckbHash(encodeRaw(tx));
}

/** A serialized transaction split into its raw part (hashed as it is) and its witnesses. */
export interface SplitTransaction {
  raw: Uint8Array;
  hash: Uint8Array;
  witnesses: Uint8Array[];
  /** How many inputs the raw part spends. */
  inputs: number;
}

/** Reads a serialized transaction (e.g. the seller's copy of the funding). */
export function splitTransaction(bytes: Uint8Array): SplitTransaction {
  const fields = readDynamic(bytes);
  if (fields.length !== 2) throw new MoleculeError("a transaction has 2 fields");
  const [raw, witnessVec] = fields;
  const rawFields = readDynamic(raw);
  if (rawFields.length !== 6) throw new MoleculeError("a raw transaction has 6 fields");
  const inputs = readU32(rawFields[3], 0);
  if (rawFields[3].length !== 4 + 44 * inputs) throw new MoleculeError("malformed inputs");
  return { raw, hash: ckbHash(raw), witnesses: readDynamic(witnessVec).map(readBytes), inputs };
}
