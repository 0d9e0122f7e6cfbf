// The buyer's own CKB node (JSON-RPC with the indexer), called from the
// browser as crates/chain/src/ckb/node.rs does from Rust: the tip, the
// chain's system locks read from the genesis block, the wallet's plain
// cells, one live cell, sending a transaction. Only public chain data
// and signed transactions go to the node; never a key.
import { bytesToHex, hexToBytes } from "@noble/hashes/utils";
import { decodeOutPointVec, scriptHash, type CellDep, type HashType, type OutPoint, type Script, type Transaction } from "./molecule";
import type { LiveCell, LockScripts, ScriptRef } from "./spilman";

/** The type hash of `secp256k1_blake160_sighash_all` in CKB's bundled genesis. */
export const SIGHASH_TYPE_HASH = "0x9bd7e06f3ecf4be0f2fcd2188b23f1b9fcc88e5d4b65a8637b17723bbda3cce8";
/** The type hash of `secp256k1_blake160_multisig_all` in CKB's bundled genesis. */
export const MULTISIG_TYPE_HASH = "0x5c5069eb0857efc65e1bca0c07df34c31663b3622fd3876c876320fc9634e2a8";

/** The node could not be reached or refused a call. */
export class NodeError extends Error {
  constructor(
    readonly code: "node_unreachable" | "node_error",
    message: string,
  ) {
    super(message);
  }
}

const hex = (bytes: Uint8Array) => `0x${bytesToHex(bytes)}`;
const num = (n: bigint | number) => `0x${n.toString(16)}`;
const bytes = (text: string) => hexToBytes(text.startsWith("0x") ? text.slice(2) : text);
const HASH_TYPES: Record<string, HashType> = { data: 0, type: 1, data1: 2, data2: 4 };
const HASH_TYPE_NAMES: Record<number, string> = { 0: "data", 1: "type", 2: "data1", 4: "data2" };

interface JsonScript {
  code_hash: string;
  hash_type: string;
  args: string;
}
interface JsonOutPoint {
  tx_hash: string;
  index: string;
}

export const scriptJson = (s: Script): JsonScript => ({ code_hash: hex(s.codeHash), hash_type: HASH_TYPE_NAMES[s.hashType], args: hex(s.args) });
const outPointJson = (p: OutPoint): JsonOutPoint => ({ tx_hash: hex(p.txHash), index: num(p.index) });
const fromScript = (s: JsonScript): Script => ({ codeHash: bytes(s.code_hash), hashType: HASH_TYPES[s.hash_type], args: bytes(s.args) });
const fromOutPoint = (p: JsonOutPoint): OutPoint => ({ txHash: bytes(p.tx_hash), index: Number(BigInt(p.index)) });

/** A transaction in the node's JSON format (for `send_transaction`, or a file `ckb-cli` can send). */
export function txJson(tx: Transaction): unknown {
  return {
    version: num(tx.version),
    cell_deps: tx.cellDeps.map((d) => ({ out_point: outPointJson(d.outPoint), dep_type: d.depType === 1 ? "dep_group" : "code" })),
    header_deps: tx.headerDeps.map(hex),
    inputs: tx.inputs.map((i) => ({ since: num(i.since), previous_output: outPointJson(i.previousOutput) })),
    outputs: tx.outputs.map((o) => ({ capacity: num(o.capacity), lock: scriptJson(o.lock), type: o.type ? scriptJson(o.type) : null })),
    outputs_data: tx.outputsData.map(hex),
    witnesses: tx.witnesses.map(hex),
  };
}

/** A buyer's node. */
export class CkbNode {
  private id = 0;
  constructor(readonly url: string) {}

  async call<T>(method: string, params: unknown[]): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: ++this.id, method, params }) });
    } catch {
      throw new NodeError("node_unreachable", `Your CKB node at ${this.url} cannot be reached. Check the address and that the node is running, then try again.`);
    }
    if (!response.ok) throw new NodeError("node_error", `Your CKB node answered ${method} with HTTP ${response.status}.`);
    const answer = (await response.json()) as { result?: T; error?: { message?: string } };
    if (answer.error) throw new NodeError("node_error", `Your CKB node refused ${method}: ${answer.error.message ?? "unknown error"}`);
    return answer.result as T;
  }

  async tip(): Promise<bigint> {
    return BigInt(await this.call<string>("get_tip_block_number", []));
  }

  /**
   * Seconds per block over the last (up to) 100 blocks after the genesis
   * (whose timestamp is the chain spec's, not the pace), rounded down, at
   * least 1: the buyer's own measure of the chain's pace. Before two
   * blocks exist, CKB's 8 s.
   */
  async blockInterval(): Promise<bigint> {
    const tip = await this.tip();
    const span = tip - 1n < 100n ? tip - 1n : 100n;
    if (span < 1n) return 8n;
    const at = async (n: bigint) => BigInt((await this.call<{ timestamp: string }>("get_header_by_number", [num(n)])).timestamp);
    const [now, before] = await Promise.all([at(tip), at(tip - span)]);
    const secs = (now - before) / 1_000n / span;
    return secs < 1n ? 1n : secs;
  }

  private scripts?: Promise<LockScripts>;

  /** The system locks, read from the genesis block once per node (as `LockScripts::from_genesis`). */
  lockScripts(): Promise<LockScripts> {
    this.scripts ??= this.readLockScripts().catch((e) => {
      this.scripts = undefined;
      throw e;
    });
    return this.scripts;
  }

  private async readLockScripts(): Promise<LockScripts> {
    interface JsonTx {
      hash: string;
      outputs: { type: JsonScript | null }[];
      outputs_data: string[];
    }
    const genesis = await this.call<{ transactions: JsonTx[] }>("get_block_by_number", ["0x0"]);
    const [cells, groups] = genesis.transactions;
    if (!cells || !groups) throw new NodeError("node_error", "The node's genesis block has no system cells.");
    const locate = (typeHash: string, name: string): ScriptRef => {
      const index = cells.outputs.findIndex((o) => o.type !== null && hex(scriptHash(fromScript(o.type))) === typeHash);
      if (index < 0) throw new NodeError("node_error", `The node's genesis block has no ${name}.`);
      const code = `${cells.hash}:${index}`;
      const group = groups.outputs_data.findIndex((data) => {
        try {
          return decodeOutPointVec(bytes(data)).some((p) => `${hex(p.txHash)}:${p.index}` === code);
        } catch {
          return false;
        }
      });
      if (group < 0) throw new NodeError("node_error", `The node's genesis block has no dep group for ${name}.`);
      const dep: CellDep = { outPoint: { txHash: bytes(groups.hash), index: group }, depType: 1 };
      return { codeHash: bytes(typeHash), hashType: 1, cellDeps: [dep] };
    };
    return { sighash: locate(SIGHASH_TYPE_HASH, "secp256k1_blake160_sighash_all"), multisig: locate(MULTISIG_TYPE_HASH, "secp256k1_blake160_multisig_all") };
  }

  /** Plain cells (no type, no data) under `lock`, oldest first, until they hold `atLeast` (all of them if they never do). */
  async liveCells(lock: Script, atLeast: bigint): Promise<LiveCell[]> {
    const search = { script: scriptJson(lock), script_type: "lock", filter: { script_len_range: ["0x0", "0x1"], output_data_len_range: ["0x0", "0x1"] } };
    const cells: LiveCell[] = [];
    let held = 0n;
    let cursor: string | null = null;
    for (;;) {
      const page: { objects: { out_point: JsonOutPoint; output: { capacity: string } }[]; last_cursor: string } = await this.call("get_cells", [search, "asc", "0x64", cursor]);
      for (const o of page.objects) {
        const capacity = BigInt(o.output.capacity);
        cells.push({ outPoint: fromOutPoint(o.out_point), capacity });
        held += capacity;
        if (held >= atLeast) return cells;
      }
      if (page.objects.length < 100) return cells;
      cursor = page.last_cursor;
    }
  }

  /** What the wallet holds in plain cells, shannons. */
  async balance(lock: Script): Promise<bigint> {
    const cells = await this.liveCells(lock, (1n << 64n) - 1n);
    return cells.reduce((sum, c) => sum + c.capacity, 0n);
  }

  /** A live cell's lock and capacity, or undefined if it is not live. */
  async liveCell(point: OutPoint): Promise<{ lock: Script; capacity: bigint } | undefined> {
    const v = await this.call<{ status: string; cell?: { output: { capacity: string; lock: JsonScript } } }>("get_live_cell", [outPointJson(point), false]);
    if (v.status !== "live" || !v.cell) return undefined;
    return { lock: fromScript(v.cell.output.lock), capacity: BigInt(v.cell.output.capacity) };
  }

  /** Sends a signed transaction; its hash. */
  async send(tx: Transaction): Promise<string> {
    return this.call<string>("send_transaction", [txJson(tx), "passthrough"]);
  }

  /** `pending`, `proposed`, `committed`, `unknown` or `rejected`. */
  async txStatus(hash: string): Promise<string> {
    const v = await this.call<{ tx_status: { status: string } } | null>("get_transaction", [hash]);
    return v?.tx_status.status ?? "unknown";
  }
}
