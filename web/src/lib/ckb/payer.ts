// CKB channels from the browser, as crates/payer/src/ckb.rs: ask the
// seller for an offer, check it against the buyer's own node and limits
// (core::ckb::offer, the seller's cells live and its own), build the
// funding from the wallet's cells, have the seller check it and pre-sign
// the refund, check that signature, save everything (the refund
// signature included) and only then sign the funding here and have the
// seller send it. Then: watch it commit, pay receipts carrying their
// commitment, fetch and check the refund, settle, take the refund after
// the expiry. The wallet key signs in this tab and is never sent.
import { secp256k1 } from "@noble/curves/secp256k1";
import { bytesToHex } from "@noble/hashes/utils";
import { scalePrices, type PriceList } from "../price";
import { ApiError, call, callText } from "../api";
import { exactInteger } from "../channels";
import { SUBRAV_VERSION, decodeSigned, encodeSigned, fromWireHex, keyId, signSubRav, toWireHex, type SubRav } from "../subrav";
import { commitmentBytes } from "./commitment";
import { encodeTransaction, joinTransaction, splitTransaction, txHash, witnessWithLock, type Transaction } from "./molecule";
import { checkOffer, DEFAULT_MAX_FEE_RATE, latestExpiry, type OfferLimits } from "./offer";
import { CkbBook, parseOutPoint, scriptsOf, scriptsToJson, termsOf, unhex, type CkbChannelRecord } from "./record";
import { CkbNode, txJson } from "./rpc";
import {
  buildFunding,
  channelMessage,
  fundingFee,
  groupMessage,
  maxPayment,
  PLAIN_CELL,
  CKB,
  refundTx,
  scriptOf,
  sighashPlaceholder,
  signDigest,
  signerOf,
  SpilmanError,
  withSignatures,
  type ChannelTerms,
  type FundingPlan,
  type LiveCell,
  type LockScripts,
} from "./spilman";

/** The default cap on the channel's fees (funding + commitment), shannons: as the CLI's `--max-fee`. */
export const DEFAULT_MAX_FEE = 100_000n;

/** `GET /api/ckb`: the seller's published terms. */
export interface CkbInfo {
  seller_key: string;
  chain_id: number;
  cofund: string;
  commitment_fee: string;
  fee_rate: number;
  shannons_per_point: number;
  block_interval_secs: number;
  settle_margin_secs: number;
  min_duration_secs: number;
  max_duration_secs: number;
  funding_confirmations: number;
}

/** A CKB channel as the seller shows it. */
export interface RemoteCkbChannel {
  id: string;
  state: string;
  buyer_key: string;
  seller_key: string;
  deposit: string;
  cofund: string;
  fee: string;
  max_payment: string;
  expiry_block: number;
  funding_tx_hash: string | null;
  cell: string | null;
  paid: string;
  closing_tx_hash: string | null;
  pay_until: number | null;
  created_at: number;
  updated_at: number;
}

interface OfferAnswer extends RemoteCkbChannel {
  seller_cells: { out_point: string; capacity: string }[];
  fee_rate: number;
}

/** What the person asks for. */
export interface OpenRequest {
  /** Shannons. */
  deposit: bigint;
  durationSecs: bigint;
  maxFee?: bigint;
  maxFeeRate?: bigint;
}

/** An offer checked and its funding built, nothing signed yet: what the page shows before the person signs. */
export interface ReviewedOffer {
  request: OpenRequest;
  id: string;
  sellerKey: string;
  cofund: bigint;
  commitmentFee: bigint;
  feeRate: bigint;
  expiryBlock: bigint;
  tip: bigint;
  blockIntervalSecs: bigint;
  latestExpiry: bigint;
  fundingFee: bigint;
  maxFee: bigint;
  maxFeeRate: bigint;
  /** What the channel can pay the seller. */
  maxPayment: bigint;
  scripts: LockScripts;
  plan: FundingPlan;
  unsigned: Transaction;
}

/** The refund file the page offers for download. */
export interface RefundFile {
  about: string;
  channel: string;
  expiry_block: string;
  cell: string;
  refund_tx_hash: string;
  seller_signature: string;
  /** Whether the buyer's signature is in the transaction too (it is when the wallet was unlocked). */
  buyer_signed: boolean;
  /** In the node's JSON format: `send_transaction` it from the expiry block on. */
  transaction: unknown;
  /** The same transaction, molecule-serialized. */
  transaction_hex: string;
}

/** One receipt's outcome. */
export interface CkbReceiptAck {
  nonce: number;
  accepted: string;
  replay: boolean;
}

const hex = (b: Uint8Array) => `0x${bytesToHex(b)}`;
const sameHex = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const protocol = (message: string) => new ApiError(502, "protocol_error", message);

/** The CKB channels of one wallet at this server, as one user, through the buyer's own node. */
export class CkbPayer {
  readonly book: CkbBook;
  readonly node: CkbNode;

  constructor(
    private readonly apiKey: string,
    walletKeyId: string,
    rpcUrl: string,
  ) {
    this.book = new CkbBook(walletKeyId);
    this.node = new CkbNode(rpcUrl);
  }

  info(): Promise<CkbInfo> {
    return call<CkbInfo>("GET", "/api/ckb", undefined, this.apiKey);
  }

  async remotes(): Promise<RemoteCkbChannel[]> {
    return (await call<{ channels: RemoteCkbChannel[] }>("GET", "/api/ckb/channels", undefined, this.apiKey)).channels;
  }

  remote(id: string): Promise<RemoteCkbChannel> {
    return call<RemoteCkbChannel>("GET", `/api/ckb/channels/${id}`, undefined, this.apiKey);
  }

  /** The wallet's plain cells' total on the buyer's node, shannons. */
  async walletBalance(publicKey: Uint8Array, scripts?: LockScripts): Promise<bigint> {
    const s = scripts ?? (await this.node.lockScripts());
    return this.node.balance(scriptOf(s.sighash, keyId(publicKey)));
  }

  /**
   * Asks for an offer and checks it before anything is signed: the expiry,
   * fee rate and fees (`OfferRefusal`), the seller's key against its
   * published one, its cells live under its own lock with the capacity it
   * claims; builds the funding from the wallet's cells and checks it as
   * the seller will.
   */
  async review(request: OpenRequest, publicKey: Uint8Array): Promise<ReviewedOffer> {
    if (request.deposit <= 0n) throw new ApiError(400, "invalid_amount", "The deposit must be above 0.");
    const info = await this.info();
    const [scripts, blockIntervalSecs] = await Promise.all([this.node.lockScripts(), this.node.blockInterval()]);
    const offer = await call<OfferAnswer>("POST", "/api/ckb/channels", { key: hex(publicKey), deposit: request.deposit.toString(), duration_secs: Number(request.durationSecs) }, this.apiKey);
    if (!sameHex(offer.buyer_key, hex(publicKey))) throw protocol("The seller's offer names another buyer key; nothing was signed.");
    if (!sameHex(offer.seller_key, info.seller_key)) throw protocol("The seller's offer is signed by another key than the one it publishes; nothing was signed.");
    if (offer.deposit !== request.deposit.toString()) throw protocol("The seller's offer is for another deposit; nothing was signed.");
    const funds = { buyerDeposit: request.deposit, sellerCofund: BigInt(offer.cofund), fee: BigInt(offer.fee) };
    const tip = await this.node.tip();
    const limits: OfferLimits = { blockIntervalSecs, maxFeeRate: request.maxFeeRate ?? DEFAULT_MAX_FEE_RATE, maxFee: request.maxFee ?? DEFAULT_MAX_FEE };
    const terms = (fundingFee: bigint) => ({
      tip,
      expiryBlock: BigInt(offer.expiry_block),
      durationSecs: request.durationSecs,
      feeRate: BigInt(offer.fee_rate),
      commitmentFee: funds.fee,
      fundingFee,
    });
    checkOffer(terms(0n), limits);
    const seller = unhex(offer.seller_key);
    const sellerLock = scriptOf(scripts.sighash, keyId(seller));
    const sellerCells: LiveCell[] = [];
    for (const cell of offer.seller_cells) {
      const outPoint = parseOutPoint(cell.out_point);
      const live = await this.node.liveCell(outPoint);
      const capacity = BigInt(cell.capacity);
      const ownLock = live && sameHex(hex(live.lock.codeHash), hex(sellerLock.codeHash)) && live.lock.hashType === sellerLock.hashType && sameHex(hex(live.lock.args), hex(sellerLock.args));
      if (!live || !ownLock || live.capacity !== capacity) throw protocol(`The seller's cell ${cell.out_point} is not its live cell of ${capacity} shannons; nothing was signed.`);
      sellerCells.push({ outPoint, capacity });
    }
    const buyerCells = await this.node.liveCells(scriptOf(scripts.sighash, keyId(publicKey)), request.deposit + PLAIN_CELL + CKB);
    const plan: FundingPlan = { buyer: publicKey, seller, funds, buyerCells, sellerCells, feeRate: BigInt(offer.fee_rate) };
    const unsigned = buildFunding(plan, scripts);
    const fee = fundingFee(plan, unsigned);
    checkOffer(terms(fee), limits);
    return {
      request,
      id: offer.id,
      sellerKey: offer.seller_key,
      cofund: funds.sellerCofund,
      commitmentFee: funds.fee,
      feeRate: BigInt(offer.fee_rate),
      expiryBlock: BigInt(offer.expiry_block),
      tip,
      blockIntervalSecs,
      latestExpiry: latestExpiry(tip, request.durationSecs, blockIntervalSecs),
      fundingFee: fee,
      maxFee: limits.maxFee,
      maxFeeRate: limits.maxFeeRate,
      maxPayment: maxPayment(funds),
      scripts,
      plan,
      unsigned,
    };
  }

  /**
   * Opens the reviewed channel: the seller checks the funding and
   * pre-signs the refund; the refund signature is checked and saved; only
   * then the wallet signs its inputs and the seller sends the funding.
   */
  async open(reviewed: ReviewedOffer, secret: Uint8Array): Promise<CkbChannelRecord> {
    const publicKey = secp256k1.getPublicKey(secret, true);
    if (!sameHex(hex(publicKey), hex(reviewed.plan.buyer))) throw protocol("The offer was reviewed for another wallet key.");
    const id = reviewed.id;
    const answer = await call<{ funding: string; refund_signature: string }>("POST", `/api/ckb/channels/${id}/funding`, { tx: hex(encodeTransaction(reviewed.unsigned)) }, this.apiKey);
    const fromSeller = splitTransaction(fromWireHex(answer.funding));
    const hash = txHash(reviewed.unsigned);
    if (!sameHex(hex(fromSeller.hash), hex(hash))) throw new SpilmanError("funding_mismatch", "The seller changed the funding transaction; nothing was signed.");
    const terms: ChannelTerms = { buyer: publicKey, seller: reviewed.plan.seller, funds: reviewed.plan.funds, expiryBlock: reviewed.expiryBlock, cell: { txHash: hash, index: 0 } };
    const refundSignature = fromWireHex(answer.refund_signature);
    const signer = signerOf(channelMessage(terms, txHash(refundTx(terms, reviewed.scripts))), refundSignature);
    if (!signer || !sameHex(hex(signer), hex(terms.seller))) throw new SpilmanError("wrong_signer", "The seller's refund signature is not the seller's over this channel's refund; nothing was signed.");
    const [chainJson, published, info] = await Promise.all([
      callText("GET", `/api/channels/${id}`, undefined, this.apiKey),
      call<PriceList>("GET", "/api/prices", undefined, this.apiKey),
      this.info(),
    ]);
    const record: CkbChannelRecord = {
      id,
      chainId: exactInteger(chainJson, "chain_id"),
      epoch: "1",
      subChannel: hex(keyId(publicKey)),
      buyerKey: hex(publicKey),
      rpcUrl: this.node.url,
      scripts: scriptsToJson(reviewed.scripts),
      sellerKey: reviewed.sellerKey,
      buyerDeposit: reviewed.plan.funds.buyerDeposit.toString(),
      sellerCofund: reviewed.plan.funds.sellerCofund.toString(),
      fee: reviewed.plan.funds.fee.toString(),
      expiryBlock: reviewed.expiryBlock.toString(),
      cell: `${hex(hash)}:0`,
      refundSellerSignature: answer.refund_signature,
      durationSecs: reviewed.request.durationSecs.toString(),
      acceptedTotal: "0",
      openedAt: Math.floor(Date.now() / 1000),
      prices: scalePrices(published.prices, BigInt(info.shannons_per_point)),
    };
    this.book.put(record);
    const group = reviewed.plan.buyerCells.map((_, i) => i);
    const message = groupMessage(fromSeller.hash, fromSeller.inputs, fromSeller.witnesses, group, witnessWithLock(sighashPlaceholder()));
    const witnesses = [...fromSeller.witnesses];
    witnesses[0] = witnessWithLock(signDigest(message, secret));
    await call<RemoteCkbChannel>("POST", `/api/ckb/channels/${id}/confirm`, { tx: hex(joinTransaction(fromSeller.raw, witnesses)) }, this.apiKey);
    return record;
  }

  /** The funding's depth on the buyer's node (0 until it commits). */
  async confirmations(fundingTxHash: string): Promise<number> {
    const v = await this.node.call<{ tx_status: { status: string; block_number: string | null } } | null>("get_transaction", [fundingTxHash]);
    if (!v || v.tx_status.status !== "committed" || !v.tx_status.block_number) return 0;
    const tip = await this.node.tip();
    return Number(tip - BigInt(v.tx_status.block_number) + 1n);
  }

  /** What the latest signed receipt totals. */
  static signedTotal(record: CkbChannelRecord): bigint {
    return record.latestSigned ? decodeSigned(fromWireHex(record.latestSigned)).rav.accumulated : 0n;
  }

  /**
   * Pays `amount` shannons more on the channel: a receipt for the new
   * total with its commitment, saved before it is posted.
   */
  async pay(record: CkbChannelRecord, amount: bigint, secret: Uint8Array): Promise<CkbReceiptAck> {
    if (amount <= 0n) throw new ApiError(400, "invalid_amount", "The amount must be above 0.");
    const base: SubRav = record.latestSigned
      ? decodeSigned(fromWireHex(record.latestSigned)).rav
      : { version: SUBRAV_VERSION, chainId: BigInt(record.chainId), channelId: fromWireHex(record.id), epoch: BigInt(record.epoch), subChannel: fromWireHex(record.subChannel), nonce: 0n, accumulated: 0n };
    const total = base.accumulated + amount;
    const limit = maxPayment(termsOf(record).funds);
    if (total > limit) throw new SpilmanError("exceeds_channel", `That would bring the channel's total to ${total} shannons; it can pay at most ${limit}.`);
    const signed = signSubRav({ ...base, nonce: base.nonce + 1n, accumulated: total }, secret);
    const commitment = commitmentBytes(record, total, secret);
    const saved = { ...record, latestSigned: toWireHex(encodeSigned(signed)) };
    this.book.put(saved);
    const entry = { nonce: signed.rav.nonce.toString(), amount: amount.toString(), total: total.toString(), at: Math.floor(Date.now() / 1000) };
    this.book.note(record.id, { ...entry, accepted: false });
    try {
      const ack = await call<CkbReceiptAck>("POST", `/api/channels/${record.id}/receipts`, { receipt: toWireHex(encodeSigned(signed)), commitment: hex(commitment) });
      this.book.put({ ...saved, acceptedTotal: ack.accepted });
      this.book.note(record.id, { ...entry, accepted: true });
      return ack;
    } catch (e) {
      if (e instanceof ApiError && e.status > 0) this.book.note(record.id, { ...entry, accepted: e.code });
      throw e;
    }
  }

  /** Asks the seller to settle now with the latest commitment. */
  settle(id: string): Promise<RemoteCkbChannel> {
    return call<RemoteCkbChannel>("POST", `/api/ckb/channels/${id}/settle`, undefined, this.apiKey);
  }

  /**
   * The refund, checked: the seller's copy must be the refund this browser
   * builds from its saved terms, and the seller's signature (the saved one,
   * or the seller's current answer) must be the seller's over it. With the
   * wallet unlocked, the buyer's signature goes in too, so the file alone
   * can be sent from the expiry block on.
   */
  async refund(record: CkbChannelRecord, secret?: Uint8Array): Promise<RefundFile> {
    const terms = termsOf(record);
    const scripts = scriptsOf(record);
    const tx = refundTx(terms, scripts);
    const hash = txHash(tx);
    const message = channelMessage(terms, hash);
    let sellerSignature = fromWireHex(record.refundSellerSignature);
    try {
      const answer = await call<{ refund: string; seller_signature: string; expiry_block: number }>("GET", `/api/ckb/channels/${record.id}/refund`, undefined, this.apiKey);
      if (!sameHex(hex(splitTransaction(fromWireHex(answer.refund)).hash), hex(hash))) throw protocol("The seller's refund is not this channel's refund; keep the one saved in this browser.");
      const theirs = fromWireHex(answer.seller_signature);
      const signer = signerOf(message, theirs);
      if (signer && sameHex(hex(signer), hex(terms.seller))) sellerSignature = theirs;
    } catch (e) {
      if (!(e instanceof ApiError) || e.code === "protocol_error") throw e;
      // The seller is unreachable or refuses: the saved signature is enough.
    }
    const signer = signerOf(message, sellerSignature);
    if (!signer || !sameHex(hex(signer), hex(terms.seller))) throw new SpilmanError("wrong_signer", "The saved refund signature is not the seller's.");
    const buyerSignature = secret ? signDigest(message, secret) : undefined;
    const full = withSignatures(terms, tx, buyerSignature, sellerSignature);
    return {
      about: `The refund of Tollway CKB channel ${record.id}: it returns ${BigInt(record.buyerDeposit) - BigInt(record.fee)} shannons to your wallet and ${record.sellerCofund} to the seller. The chain accepts it from block ${record.expiryBlock} on, if the channel was not settled before: send "transaction" with the node's send_transaction.`,
      channel: record.id,
      expiry_block: record.expiryBlock,
      cell: record.cell,
      refund_tx_hash: hex(hash),
      seller_signature: hex(sellerSignature),
      buyer_signed: buyerSignature !== undefined,
      transaction: txJson(full),
      transaction_hex: hex(encodeTransaction(full)),
    };
  }

  /** Sends the refund (valid from the expiry block on); its hash. */
  async takeRefund(record: CkbChannelRecord, secret: Uint8Array): Promise<string> {
    const terms = termsOf(record);
    const tx = refundTx(terms, scriptsOf(record));
    const message = channelMessage(terms, txHash(tx));
    return this.node.send(withSignatures(terms, tx, signDigest(message, secret), fromWireHex(record.refundSellerSignature)));
  }
}
