// Ledger channels from the browser, as crates/payer/src/client.rs: open
// (prices pinned from `GET /api/prices` first, the wallet key as the
// sub-channel's key), post receipts (saved before they are sent), recover
// (adopt the payee's copy of a receipt this key signed elsewhere, or post
// again one the payee never confirmed), close.
import { secp256k1 } from "@noble/curves/secp256k1";
import { ApiError, call, callText } from "./api";
import { ChannelBook, exactInteger, type ChannelRecord, type RemoteChannel, type RemoteSub } from "./channels";
import type { PriceList } from "./price";
import { paymentDueFrom, type PaymentDue } from "./wire";
import { SUBRAV_VERSION, decodeSigned, encodeSigned, fromWireHex, keyId, toWireHex, verifySigned, type SignedSubRav, type SubRav } from "./subrav";

/** The payee's answer to a receipt. */
export interface ReceiptAck {
  nonce: number;
  accepted: string;
  replay: boolean;
}

/** A channel after recovery, and what the payee proposes beyond the latest signed receipt, if anything (work delivered and never signed). */
export interface Recovered {
  record: ChannelRecord;
  pending?: PaymentDue;
}

/** What opening asks for (decimal points). */
export interface OpenRequest {
  deposit: bigint;
  /** Default: the deposit. */
  budget?: bigint;
  maxPerMessage?: bigint;
}

/** The receipt `signed` as posted; a CKB channel adds its commitment. */
export type ReceiptBody = (record: ChannelRecord, signed: SignedSubRav) => unknown;

const ledgerBody: ReceiptBody = (_record, signed) => ({ receipt: toWireHex(encodeSigned(signed)) });

/** The latest receipt signed on `record`, or the zero receipt before the first. */
export function baseOf(record: ChannelRecord): SubRav {
  if (record.latestSigned) return decodeSigned(fromWireHex(record.latestSigned)).rav;
  return {
    version: SUBRAV_VERSION,
    chainId: BigInt(record.chainId),
    channelId: fromWireHex(record.id),
    epoch: BigInt(record.epoch),
    subChannel: fromWireHex(record.subChannel),
    nonce: 0n,
    accumulated: 0n,
  };
}

/** What the latest signed receipt totals. */
export function signedTotal(record: ChannelRecord): bigint {
  return record.latestSigned ? decodeSigned(fromWireHex(record.latestSigned)).rav.accumulated : 0n;
}

/** The channels of one wallet at this server, as one user. */
export class LedgerChannels {
  readonly book: ChannelBook;
  constructor(
    private readonly apiKey: string,
    walletKeyId: string,
    private readonly receiptBody: ReceiptBody = ledgerBody,
  ) {
    this.book = new ChannelBook(walletKeyId);
  }

  /** Opens a channel: `deposit` points move from the wallet into escrow. */
  async open(request: OpenRequest, secret: Uint8Array): Promise<ChannelRecord> {
    if (request.deposit <= 0n) throw new ApiError(400, "invalid_amount", "The deposit must be above 0.");
    const budget = request.budget ?? request.deposit;
    if (budget <= 0n) throw new ApiError(400, "invalid_amount", "The budget must be above 0.");
    if (request.maxPerMessage !== undefined && request.maxPerMessage <= 0n) throw new ApiError(400, "invalid_amount", "The per-message cap must be above 0.");
    const prices = await call<PriceList>("GET", "/api/prices", undefined, this.apiKey);
    const publicKey = secp256k1.getPublicKey(secret, true);
    const text = await callText("POST", "/api/channels", { deposit: request.deposit.toString(), key: toWireHex(publicKey) }, this.apiKey);
    const remote = JSON.parse(text) as RemoteChannel;
    const sub = toWireHex(keyId(publicKey));
    if (!remote.subs.some((s) => s.sub_channel === sub)) throw new ApiError(502, "protocol_error", `Channel ${remote.id} was opened without this wallet's key.`);
    const record: ChannelRecord = {
      id: remote.id,
      chainId: exactInteger(text, "chain_id"),
      epoch: exactInteger(text, "epoch"),
      asset: remote.asset,
      subChannel: sub,
      deposit: remote.collateral,
      budget: budget.toString(),
      maxPerMessage: request.maxPerMessage?.toString(),
      prices: prices.prices,
      acceptedTotal: "0",
      open: remote.open,
      openedAt: Date.now(),
    };
    this.book.put(record);
    return record;
  }

  /** Every channel the payee lists for this user. */
  async remotes(): Promise<RemoteChannel[]> {
    return (await call<{ channels: RemoteChannel[] }>("GET", "/api/channels", undefined, this.apiKey)).channels;
  }

  /** The channel as saved now. */
  current(id: string): ChannelRecord | undefined {
    return this.book.get(id);
  }

  /** Signs nothing: posts `signed` (saved before); the payee's answer. */
  async post(record: ChannelRecord, signed: SignedSubRav): Promise<ReceiptAck> {
    const nonce = signed.rav.nonce.toString();
    const entry = this.book.log(record.id).find((e) => e.nonce === nonce);
    let ack: ReceiptAck;
    try {
      ack = await call<ReceiptAck>("POST", `/api/channels/${record.id}/receipts`, this.receiptBody(record, signed));
    } catch (e) {
      if (entry && e instanceof ApiError && e.status !== 0) this.book.note(record.id, { ...entry, accepted: e.code });
      throw e;
    }
    if (entry) this.book.note(record.id, { ...entry, accepted: true });
    this.book.update(record.id, (r) => (BigInt(ack.accepted) > BigInt(r.acceptedTotal) ? { ...r, acceptedTotal: ack.accepted } : r));
    return ack;
  }

  /** Records `signed` as the latest receipt, before it is sent anywhere (`accepted`: the payee already holds it). */
  saveSigned(record: ChannelRecord, signed: SignedSubRav, accepted = false): ChannelRecord {
    const before = signedTotal(this.book.get(record.id) ?? record);
    const next = this.book.update(record.id, (r) => ({ ...r, latestSigned: toWireHex(encodeSigned(signed)) }));
    const total = signed.rav.accumulated;
    this.book.note(record.id, { nonce: signed.rav.nonce.toString(), amount: (total - before).toString(), total: total.toString(), accepted, at: Date.now() });
    return next;
  }

  /** Brings the local record and the payee's in line (`recoverChannel`). */
  recover(record: ChannelRecord, publicKey: Uint8Array): Promise<Recovered> {
    return recoverChannel(this, this.apiKey, record, publicKey);
  }

  /** Records a total the payee confirmed. */
  noteAccepted(id: string, total: string): ChannelRecord {
    return this.book.update(id, (r) => ({ ...r, acceptedTotal: BigInt(total) > BigInt(r.acceptedTotal) ? total : r.acceptedTotal }));
  }

  /** Closes: a receipt the payee has not confirmed is posted first; the rest of the escrow returns to the wallet. */
  async close(record: ChannelRecord, publicKey: Uint8Array): Promise<RemoteChannel> {
    if (record.open) await this.recover(record, publicKey);
    const remote = await call<RemoteChannel>("POST", `/api/channels/${record.id}/close`, undefined, this.apiKey);
    this.book.update(record.id, (r) => ({ ...r, open: remote.open }));
    return remote;
  }
}

/** A channel payer `recoverChannel` can work with: the chat's, plus what recovery adds. */
export interface RecoverablePayer {
  saveSigned(record: ChannelRecord, signed: SignedSubRav, accepted?: boolean): ChannelRecord;
  post(record: ChannelRecord, signed: SignedSubRav): Promise<ReceiptAck>;
  noteAccepted(id: string, total: string): ChannelRecord;
}

/**
 * Brings the local record and the payee's in line: a receipt the payee
 * holds that this key signed (in another tab or browser) is adopted; a
 * newer local one the payee never confirmed is posted again. Also says
 * what the payee proposes beyond the latest signed receipt (work
 * delivered and never signed), for the person to decide on.
 */
export async function recoverChannel(payer: RecoverablePayer, apiKey: string, record: ChannelRecord, publicKey: Uint8Array): Promise<Recovered> {
  const sub = await call<RemoteSub>("GET", `/api/channels/${record.id}/subs/${record.subChannel}`, undefined, apiKey);
  const local = record.latestSigned ? decodeSigned(fromWireHex(record.latestSigned)) : undefined;
  const theirs = sub.latest ? decodeSigned(fromWireHex(sub.latest)) : undefined;
  if (theirs && verifySigned(theirs, publicKey) && (!local || theirs.rav.nonce > local.rav.nonce)) {
    payer.saveSigned(record, theirs, true);
  } else if (local && (!theirs || local.rav.nonce > theirs.rav.nonce)) {
    await payer.post(record, local);
  }
  const next = payer.noteAccepted(record.id, sub.accumulated);
  const pending = sub.pending ? paymentDueFrom(sub.pending) : undefined;
  return { record: next, pending: pending && pending.proposal.accumulated > signedTotal(next) ? pending : undefined };
}
