// What the browser keeps of a CKB channel, per wallet in localStorage, as
// crates/payer/src/ckb_record.rs: everything to rebuild every commitment
// and the refund without the seller (its key, the funds, the expiry, the
// channel cell, the chain's locks, the seller's refund signature), and the
// latest receipt signed. Never the wallet key.
import { bytesToHex, hexToBytes } from "@noble/hashes/utils";
import type { PublishedPrice } from "../price";
import type { HashType, OutPoint } from "./molecule";
import type { ChannelTerms, LockScripts, ScriptRef } from "./spilman";

/** A script reference as JSON (hex strings). */
export interface ScriptRefJson {
  codeHash: string;
  hashType: HashType;
  cellDeps: { txHash: string; index: number; depType: 0 | 1 }[];
}

/** A CKB channel as this browser keeps it (amounts: decimal strings of shannons). */
export interface CkbChannelRecord {
  /** `0x` + 64 hex. */
  id: string;
  /** Decimal (it passes 2^53). */
  chainId: string;
  epoch: string;
  /** The wallet key's id: the sub-channel paid from. */
  subChannel: string;
  /** The wallet's compressed public key, `0x` hex. */
  buyerKey: string;
  /** The buyer's own node. */
  rpcUrl: string;
  scripts: { sighash: ScriptRefJson; multisig: ScriptRefJson };
  sellerKey: string;
  buyerDeposit: string;
  sellerCofund: string;
  fee: string;
  expiryBlock: string;
  /** The channel cell, `0x<funding hash>:0`. */
  cell: string;
  /** The seller's signature over the refund, `0x` hex. */
  refundSellerSignature: string;
  durationSecs: string;
  /** The latest signed receipt, `0x` hex of its 158 bytes. */
  latestSigned?: string;
  /** The total the payee last confirmed, shannons. */
  acceptedTotal: string;
  /** The payee's prices pinned at opening, in shannons per 1,000 tokens (points × `shannons_per_point`); the chat pays only channels that have them. */
  prices?: PublishedPrice[];
  openedAt: number;
}

const hex = (b: Uint8Array) => `0x${bytesToHex(b)}`;
export const unhex = (text: string) => hexToBytes(text.startsWith("0x") ? text.slice(2) : text);

function refToJson(r: ScriptRef): ScriptRefJson {
  return { codeHash: hex(r.codeHash), hashType: r.hashType, cellDeps: r.cellDeps.map((d) => ({ txHash: hex(d.outPoint.txHash), index: d.outPoint.index, depType: d.depType })) };
}

function refFromJson(r: ScriptRefJson): ScriptRef {
  return { codeHash: unhex(r.codeHash), hashType: r.hashType, cellDeps: r.cellDeps.map((d) => ({ outPoint: { txHash: unhex(d.txHash), index: d.index }, depType: d.depType })) };
}

export function scriptsToJson(s: LockScripts): CkbChannelRecord["scripts"] {
  return { sighash: refToJson(s.sighash), multisig: refToJson(s.multisig) };
}

export function scriptsOf(record: CkbChannelRecord): LockScripts {
  return { sighash: refFromJson(record.scripts.sighash), multisig: refFromJson(record.scripts.multisig) };
}

/** Reads `0x<tx hash>:<index>`. */
export function parseOutPoint(text: string): OutPoint {
  const match = /^0x([0-9a-fA-F]{64}):(\d+)$/.exec(text);
  if (!match) throw new Error(`${text} is not 0x<tx hash>:<index>`);
  return { txHash: hexToBytes(match[1]), index: Number(match[2]) };
}

/** The channel's terms from the record alone (never from what the payee sends later). */
export function termsOf(record: CkbChannelRecord): ChannelTerms {
  return {
    buyer: unhex(record.buyerKey),
    seller: unhex(record.sellerKey),
    funds: { buyerDeposit: BigInt(record.buyerDeposit), sellerCofund: BigInt(record.sellerCofund), fee: BigInt(record.fee) },
    expiryBlock: BigInt(record.expiryBlock),
    cell: parseOutPoint(record.cell),
  };
}

/** One receipt sent on a channel, for its log. */
export interface CkbReceiptEntry {
  nonce: string;
  amount: string;
  total: string;
  /** `true` once accepted; the refusal's code otherwise; `false` while in flight. */
  accepted: boolean | string;
  at: number;
}

interface Stored {
  channels: Record<string, CkbChannelRecord>;
  logs: Record<string, CkbReceiptEntry[]>;
  /** The buyer's node address. */
  rpcUrl?: string;
}

/** The CKB channels of one wallet in this browser. */
export class CkbBook {
  constructor(private readonly walletKeyId: string) {}

  private get key(): string {
    return `tollway.ckb.${this.walletKeyId.toLowerCase()}`;
  }

  private load(): Stored {
    try {
      const parsed = JSON.parse(localStorage.getItem(this.key) ?? "null") as Stored | null;
      return { channels: parsed?.channels ?? {}, logs: parsed?.logs ?? {}, rpcUrl: parsed?.rpcUrl };
    } catch {
      return { channels: {}, logs: {} };
    }
  }

  private save(stored: Stored): void {
    localStorage.setItem(this.key, JSON.stringify(stored));
  }

  all(): CkbChannelRecord[] {
    return Object.values(this.load().channels).sort((a, b) => b.openedAt - a.openedAt);
  }

  get(id: string): CkbChannelRecord | undefined {
    return this.load().channels[id.toLowerCase()];
  }

  put(record: CkbChannelRecord): void {
    const stored = this.load();
    stored.channels[record.id.toLowerCase()] = record;
    this.save(stored);
  }

  log(id: string): CkbReceiptEntry[] {
    return this.load().logs[id.toLowerCase()] ?? [];
  }

  note(id: string, entry: CkbReceiptEntry): void {
    const stored = this.load();
    const log = (stored.logs[id.toLowerCase()] ?? []).filter((e) => e.nonce !== entry.nonce);
    stored.logs[id.toLowerCase()] = [entry, ...log].slice(0, 100);
    this.save(stored);
  }

  rpcUrl(): string | undefined {
    return this.load().rpcUrl;
  }

  setRpcUrl(url: string): void {
    const stored = this.load();
    stored.rpcUrl = url;
    this.save(stored);
  }
}
