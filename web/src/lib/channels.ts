// The browser's own records of its payment channels, kept in localStorage
// per wallet: what the payer agreed to (the prices pinned at opening, its
// budget and per-message cap), the latest receipt it signed and the latest
// the payee confirmed, and a short log of receipts for the payment panel.
// The wallet key itself is never stored here.
import type { PublishedPrice } from "./price";

/** A channel as the browser keeps it (amounts as decimal strings). */
export interface ChannelRecord {
  /** `0x` + 64 hex. */
  id: string;
  /** Decimal (it passes 2^53). */
  chainId: string;
  epoch: string;
  asset: string;
  /** The wallet key's id, `0x` + 40 hex: the sub-channel paid from. */
  subChannel: string;
  deposit: string;
  /** The most the sub-channel may owe in total. */
  budget: string;
  /** The most one message may add (none: priced from its max_tokens). */
  maxPerMessage?: string;
  prices: PublishedPrice[];
  /** The latest signed receipt, `0x` hex of its 158 bytes. */
  latestSigned?: string;
  /** The total the payee last confirmed. */
  acceptedTotal: string;
  open: boolean;
  openedAt: number;
}

/** One line of the payment panel's log. */
export interface ReceiptLogEntry {
  nonce: string;
  /** What this receipt added. */
  amount: string;
  /** The sub-channel's total with it. */
  total: string;
  /** `true` once the payee accepted it; a code when it refused. */
  accepted: boolean | string;
  at: number;
}

const LOG_LENGTH = 200;

interface Stored {
  channels: Record<string, ChannelRecord>;
  logs: Record<string, ReceiptLogEntry[]>;
}

function storageKey(walletKeyId: string): string {
  return `tollway.channels.${walletKeyId.toLowerCase()}`;
}

/** The channels of one wallet in this browser. */
export class ChannelBook {
  constructor(private readonly walletKeyId: string) {}

  private load(): Stored {
    const text = localStorage.getItem(storageKey(this.walletKeyId));
    const stored = text ? (JSON.parse(text) as Partial<Stored>) : {};
    return { channels: stored.channels ?? {}, logs: stored.logs ?? {} };
  }

  private save(stored: Stored): void {
    localStorage.setItem(storageKey(this.walletKeyId), JSON.stringify(stored));
  }

  /** Every channel, newest first. */
  all(): ChannelRecord[] {
    return Object.values(this.load().channels).sort((a, b) => b.openedAt - a.openedAt);
  }

  /** One channel. */
  get(id: string): ChannelRecord | undefined {
    return this.load().channels[id.toLowerCase()];
  }

  /** Saves `record` (before anything is sent that depends on it). */
  put(record: ChannelRecord): void {
    const stored = this.load();
    stored.channels[record.id.toLowerCase()] = record;
    this.save(stored);
  }

  /** Changes one channel; the changed record. */
  update(id: string, change: (record: ChannelRecord) => ChannelRecord): ChannelRecord {
    const stored = this.load();
    const current = stored.channels[id.toLowerCase()];
    if (!current) throw new Error(`channel ${id} is not in this browser`);
    const next = change(current);
    stored.channels[id.toLowerCase()] = next;
    this.save(stored);
    return next;
  }

  /** The receipts log of a channel, newest last. */
  log(id: string): ReceiptLogEntry[] {
    return this.load().logs[id.toLowerCase()] ?? [];
  }

  /** Adds a log line or replaces the one with the same nonce. */
  note(id: string, entry: ReceiptLogEntry): void {
    const stored = this.load();
    const key = id.toLowerCase();
    const log = (stored.logs[key] ?? []).filter((e) => e.nonce !== entry.nonce);
    log.push(entry);
    stored.logs[key] = log.slice(-LOG_LENGTH);
    this.save(stored);
  }
}

/** A channel as the payee shows it (`GET /api/channels/{id}`). */
export interface RemoteChannel {
  id: string;
  chain_id: number;
  epoch: number;
  asset: string;
  collateral: string;
  open: boolean;
  owed: string;
  claimed: string;
  refunded: string;
  created_at?: number;
  closed_at?: number | null;
  subs: RemoteSub[];
}

/** A sub-channel as the payee shows it. */
export interface RemoteSub {
  sub_channel: string;
  key: string;
  nonce: number;
  accumulated: string;
  claimed: string;
  latest: string | null;
  pending: unknown;
}

/**
 * The exact decimal of an unsigned integer field in JSON text (the first
 * occurrence): `JSON.parse` rounds integers beyond 2^53, such as a ledger
 * channel's `chain_id`.
 */
export function exactInteger(json: string, field: string): string {
  const match = new RegExp(`"${field}"\\s*:\\s*([0-9]+)`).exec(json);
  if (!match) throw new Error(`the server's answer has no ${field}`);
  return match[1];
}
