// The shared CKB Spilman vector (docs/vectors/ckb-spilman.json), built by
// crates/chain/tests/ckb_spilman_vector.rs: the same terms give the same
// funding, refund and commitment bytes and the same signatures here.
import { describe, expect, it } from "vitest";
import { secp256k1 } from "@noble/curves/secp256k1";
import { bytesToHex } from "@noble/hashes/utils";
import { ckbCommitment } from "./commitment";
import { encodeTransaction, joinTransaction, splitTransaction, txHash, witnessWithLock } from "./molecule";
import { parseOutPoint, scriptsToJson, unhex, type CkbChannelRecord } from "./record";
import {
  buildFunding,
  channelMessage,
  fundingFee,
  groupMessage,
  refundTx,
  sighashPlaceholder,
  signDigest,
  signerOf,
  withSignatures,
  commitmentTx,
  type ChannelTerms,
  type FundingPlan,
  type LockScripts,
} from "./spilman";
import { readFileSync } from "node:fs";
import { decodeSubRav, encodeSubRav, signSubRav, keyId } from "../subrav";

const vector = JSON.parse(readFileSync(new URL("../../../../docs/vectors/ckb-spilman.json", import.meta.url), "utf8"));
const hex = (b: Uint8Array) => `0x${bytesToHex(b)}`;
const ref = (r: { code_hash: string; dep: string }) => ({ codeHash: unhex(r.code_hash), hashType: 1 as const, cellDeps: [{ outPoint: parseOutPoint(r.dep), depType: 1 as const }] });
const scripts: LockScripts = { sighash: ref(vector.sighash), multisig: ref(vector.multisig) };
const buyerSecret = unhex(vector.buyer_secret);
const sellerSecret = unhex(vector.seller_secret);
const cells = (list: { out_point: string; capacity: string }[]) => list.map((c) => ({ outPoint: parseOutPoint(c.out_point), capacity: BigInt(c.capacity) }));
const funds = { buyerDeposit: BigInt(vector.funds.buyer_deposit), sellerCofund: BigInt(vector.funds.seller_cofund), fee: BigInt(vector.funds.fee) };
const plan: FundingPlan = {
  buyer: secp256k1.getPublicKey(buyerSecret, true),
  seller: secp256k1.getPublicKey(sellerSecret, true),
  funds,
  buyerCells: cells(vector.buyer_cells),
  sellerCells: cells(vector.seller_cells),
  feeRate: BigInt(vector.fee_rate),
};
const terms: ChannelTerms = { buyer: plan.buyer, seller: plan.seller, funds, expiryBlock: BigInt(vector.expiry_block), cell: parseOutPoint(vector.channel_cell) };

describe("the CKB Spilman vector, byte for byte with Rust", () => {
  it("has the keys", () => {
    expect(hex(plan.buyer)).toBe(vector.buyer_key);
    expect(hex(plan.seller)).toBe(vector.seller_key);
  });

  it("builds the same unsigned funding, with the same fee and hash", () => {
    const funding = buildFunding(plan, scripts);
    expect(hex(encodeTransaction(funding))).toBe(vector.funding_unsigned);
    expect(hex(txHash(funding))).toBe(vector.funding_hash);
    expect(fundingFee(plan, funding).toString()).toBe(vector.funding_fee);
    expect(`${hex(txHash(funding))}:0`).toBe(vector.channel_cell);
  });

  it("signs the buyer's inputs as Rust's sign_inputs (sighash-all over the transaction hash)", () => {
    const split = splitTransaction(unhex(vector.funding_unsigned));
    expect(hex(split.hash)).toBe(vector.funding_hash);
    const group = plan.buyerCells.map((_, i) => i);
    const message = groupMessage(split.hash, split.inputs, split.witnesses, group, witnessWithLock(sighashPlaceholder()));
    const witnesses = [...split.witnesses];
    witnesses[0] = witnessWithLock(signDigest(message, buyerSecret));
    expect(hex(joinTransaction(split.raw, witnesses))).toBe(vector.funding_signed);
  });

  it("builds the same refund, and the seller's signature over it recovers the seller's key", () => {
    const refund = refundTx(terms, scripts);
    expect(hex(encodeTransaction(refund))).toBe(vector.refund_unsigned);
    expect(hex(txHash(refund))).toBe(vector.refund_hash);
    const message = channelMessage(terms, txHash(refund));
    expect(hex(message)).toBe(vector.refund_message);
    expect(hex(signDigest(message, sellerSecret))).toBe(vector.seller_refund_signature);
    expect(hex(signerOf(message, unhex(vector.seller_refund_signature))!)).toBe(vector.seller_key);
    expect(signerOf(message, unhex(vector.seller_refund_signature).map((b, i) => (i === 5 ? b ^ 1 : b)))).not.toEqual(plan.seller);
  });

  it("attaches the same half-signed commitment to a receipt (ckbCommitment)", () => {
    const commitment = commitmentTx(terms, scripts, BigInt(vector.cumulative));
    expect(hex(txHash(commitment))).toBe(vector.commitment_hash);
    const record: CkbChannelRecord = {
      id: "0x" + "ab".repeat(32),
      chainId: "7",
      epoch: "1",
      subChannel: hex(keyId(plan.buyer)),
      buyerKey: vector.buyer_key,
      rpcUrl: "http://127.0.0.1:8114",
      scripts: scriptsToJson(scripts),
      sellerKey: vector.seller_key,
      buyerDeposit: vector.funds.buyer_deposit,
      sellerCofund: vector.funds.seller_cofund,
      fee: vector.funds.fee,
      expiryBlock: vector.expiry_block,
      cell: vector.channel_cell,
      refundSellerSignature: vector.seller_refund_signature,
      durationSecs: "3600",
      acceptedTotal: "0",
      openedAt: 0,
    };
    const rav = decodeSubRav(encodeSubRav({ version: 1, chainId: 7n, channelId: unhex(record.id), epoch: 1n, subChannel: keyId(plan.buyer), nonce: 3n, accumulated: BigInt(vector.cumulative) }));
    expect(ckbCommitment(record, signSubRav(rav, buyerSecret), buyerSecret)).toBe(vector.commitment_half_signed);
    expect(hex(encodeTransaction(withSignatures(terms, commitment, signDigest(channelMessage(terms, txHash(commitment)), buyerSecret))))).toBe(vector.commitment_half_signed);
    expect(() => ckbCommitment(record, signSubRav(rav, sellerSecret), sellerSecret)).toThrow(/not the buyer/);
    const tooMuch = { ...rav, accumulated: funds.buyerDeposit };
    expect(() => ckbCommitment(record, signSubRav(tooMuch, buyerSecret), buyerSecret)).toThrow(/exceeds/);
  });

  it("refuses a funding the seller's cells cannot fund exactly, and a wallet short of the deposit", () => {
    expect(() => buildFunding({ ...plan, sellerCells: [{ ...plan.sellerCells[0], capacity: 100n * 100_000_000n }] }, scripts)).toThrow(/co-funding exactly/);
    expect(() => buildFunding({ ...plan, buyerCells: plan.buyerCells.slice(1) }, scripts)).toThrow(/needs/);
  });
});
