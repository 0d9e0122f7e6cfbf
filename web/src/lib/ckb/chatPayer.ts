// A CKB channel paid from the chat: the same review and signing as a
// ledger channel's (lib/paidChat.ts), with each receipt posted with its
// commitment (the half-signed transaction paying the receipt's total,
// lib/ckb/commitment.ts) and kept in the CKB channel's own record.
// Amounts are shannons; the prices were pinned in shannons at opening.
import { bytesToHex } from "@noble/hashes/utils";
import { call } from "../api";
import type { ChannelRecord } from "../channels";
import { recoverChannel, signedTotal, type ReceiptAck, type RecoverablePayer, type Recovered } from "../ledgerChannels";
import type { ChannelPayer } from "../paidChat";
import { encodeSigned, toWireHex, type SignedSubRav } from "../subrav";
import { commitmentBytes } from "./commitment";
import { CkbBook, termsOf, type CkbChannelRecord } from "./record";
import { maxPayment } from "./spilman";

/** The chat's view of a CKB channel (budget: what the channel can pay), if it has pinned prices. */
export function chatView(r: CkbChannelRecord): ChannelRecord | undefined {
  if (!r.prices) return undefined;
  return {
    id: r.id,
    chainId: r.chainId,
    epoch: r.epoch,
    asset: "CKB",
    subChannel: r.subChannel,
    deposit: r.buyerDeposit,
    budget: maxPayment(termsOf(r).funds).toString(),
    prices: r.prices,
    latestSigned: r.latestSigned,
    acceptedTotal: r.acceptedTotal,
    open: true,
    openedAt: r.openedAt * 1000,
  };
}

/** The CKB channels of one wallet, as the chat pays them. */
export class CkbChatPayer implements ChannelPayer, RecoverablePayer {
  readonly book: CkbBook;
  constructor(
    private readonly apiKey: string,
    walletKeyId: string,
    private readonly secret: Uint8Array,
  ) {
    this.book = new CkbBook(walletKeyId);
  }

  /** Every channel the chat can pay from (opened with pinned prices). */
  channels(): ChannelRecord[] {
    return this.book.all().flatMap((r) => chatView(r) ?? []);
  }

  current(id: string): ChannelRecord | undefined {
    const record = this.book.get(id);
    return record && chatView(record);
  }

  private stored(id: string): CkbChannelRecord {
    const record = this.book.get(id);
    if (!record) throw new Error(`CKB channel ${id} is not in this browser`);
    return record;
  }

  saveSigned(record: ChannelRecord, signed: SignedSubRav, accepted = false): ChannelRecord {
    const stored = this.stored(record.id);
    const before = signedTotal(chatView(stored) ?? record);
    const next = { ...stored, latestSigned: toWireHex(encodeSigned(signed)) };
    this.book.put(next);
    const total = signed.rav.accumulated;
    this.book.note(record.id, { nonce: signed.rav.nonce.toString(), amount: (total - before).toString(), total: total.toString(), accepted, at: Math.floor(Date.now() / 1000) });
    return chatView(next) ?? record;
  }

  async post(record: ChannelRecord, signed: SignedSubRav): Promise<ReceiptAck> {
    const stored = this.stored(record.id);
    const commitment = commitmentBytes(stored, signed.rav.accumulated, this.secret);
    const nonce = signed.rav.nonce.toString();
    const entry = this.book.log(record.id).find((e) => e.nonce === nonce);
    let ack: ReceiptAck;
    try {
      ack = await call<ReceiptAck>("POST", `/api/channels/${record.id}/receipts`, { receipt: toWireHex(encodeSigned(signed)), commitment: `0x${bytesToHex(commitment)}` });
    } catch (e) {
      if (entry && e instanceof Error && "status" in e && e.status !== 0 && "code" in e) this.book.note(record.id, { ...entry, accepted: String(e.code) });
      throw e;
    }
    if (entry) this.book.note(record.id, { ...entry, accepted: true });
    this.noteAccepted(record.id, ack.accepted);
    return ack;
  }

  noteAccepted(id: string, total: string): ChannelRecord {
    const stored = this.stored(id);
    const next = BigInt(total) > BigInt(stored.acceptedTotal) ? { ...stored, acceptedTotal: total } : stored;
    this.book.put(next);
    const view = chatView(next);
    if (!view) throw new Error(`CKB channel ${id} has no pinned prices`);
    return view;
  }

  recover(record: ChannelRecord, publicKey: Uint8Array): Promise<Recovered> {
    return recoverChannel(this, this.apiKey, record, publicKey);
  }
}
