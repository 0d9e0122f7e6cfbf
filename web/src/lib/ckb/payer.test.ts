// The browser's CKB open flow against a fake seller and a fake node: an
// honest offer opens (the refund signature saved before the funding is
// signed, the buyer's input group signed over the transaction hash); a
// hostile seller is refused before anything is signed: an expiry years
// ahead, a burning fee rate, a cell that is not its own live cell, a
// changed funding, a refund signature that is not the seller's.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { secp256k1 } from "@noble/curves/secp256k1";
import { bytesToHex } from "@noble/hashes/utils";
import { keyId } from "../subrav";
import { joinTransaction, splitTransaction, txHash, witnessWithLock } from "./molecule";
import { CkbPayer } from "./payer";
import { scriptsOf, unhex } from "./record";
import { CkbNode } from "./rpc";
import { channelMessage, groupMessage, refundTx, sighashPlaceholder, signDigest, signerOf, type LockScripts } from "./spilman";

const hex = (b: Uint8Array) => `0x${bytesToHex(b)}`;
const CKB = 100_000_000n;
const buyerSecret = new Uint8Array(32).fill(0x11);
const sellerSecret = new Uint8Array(32).fill(0x22);
const strangerSecret = new Uint8Array(32).fill(0x33);
const buyer = secp256k1.getPublicKey(buyerSecret, true);
const seller = secp256k1.getPublicKey(sellerSecret, true);
const ref = (byte: number, dep: number) => ({ codeHash: new Uint8Array(32).fill(byte), hashType: 1 as const, cellDeps: [{ outPoint: { txHash: new Uint8Array(32).fill(dep), index: 0 }, depType: 1 as const }] });
const scripts: LockScripts = { sighash: ref(1, 3), multisig: ref(2, 4) };
const ID = "0x" + "cd".repeat(32);
const TIP = 1_000;
const sellerCell = { out_point: `0x${"66".repeat(32)}:0`, capacity: (61n * CKB).toString() };

interface Seller {
  expiry: number;
  feeRate: number;
  cellLive: boolean;
  changeFunding: boolean;
  refundSigner: Uint8Array;
}

let seller_: Seller;
let calls: string[];

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function fakeFetch(url: string, init?: RequestInit): Promise<Response> {
  const method = init?.method ?? "GET";
  const body = init?.body ? JSON.parse(String(init.body)) : undefined;
  if (url === "http://node") {
    const { method: rpc, params } = body as { method: string; params: unknown[] };
    calls.push(`rpc ${rpc}`);
    const result =
      rpc === "get_tip_block_number" ? `0x${TIP.toString(16)}` :
      rpc === "get_header_by_number" ? { timestamp: `0x${(Number(BigInt(params[0] as string)) * 8_000).toString(16)}` } :
      rpc === "get_live_cell" ? (seller_.cellLive ? { status: "live", cell: { output: { capacity: `0x${(61n * CKB).toString(16)}`, lock: { code_hash: hex(scripts.sighash.codeHash), hash_type: "type", args: hex(keyId(seller)) } } } } : { status: "unknown" }) :
      rpc === "get_cells" ? { objects: [{ out_point: { tx_hash: "0x" + "55".repeat(32), index: "0x1" }, output: { capacity: `0x${(2_000n * CKB).toString(16)}` } }], last_cursor: "0x" } :
      null;
    return Promise.resolve(json({ jsonrpc: "2.0", id: 1, result }));
  }
  calls.push(`${method} ${url}`);
  if (url === "/api/prices") return Promise.resolve(json({ asset: "POINTS", prices: [{ model: "m", version: 1, input_per_1k: "1000", output_per_1k: "2000" }] }));
  if (url === "/api/ckb") return Promise.resolve(json({ seller_key: hex(seller), chain_id: 7, cofund: (61n * CKB).toString(), commitment_fee: "1000", fee_rate: seller_.feeRate, shannons_per_point: 1, block_interval_secs: 8, settle_margin_secs: 60, min_duration_secs: 120, max_duration_secs: 86_400, funding_confirmations: 1 }));
  if (url === "/api/ckb/channels" && method === "POST") {
    return Promise.resolve(json({ id: ID, state: "proposed", buyer_key: body.key, seller_key: hex(seller), deposit: body.deposit, cofund: (61n * CKB).toString(), fee: "1000", expiry_block: seller_.expiry, seller_cells: [sellerCell], fee_rate: seller_.feeRate }, 201));
  }
  if (url === `/api/ckb/channels/${ID}/funding`) {
    const split = splitTransaction(unhex(body.tx));
    let raw = split.raw;
    if (seller_.changeFunding) raw = raw.map((b, i) => (i === raw.length - 1 ? b ^ 1 : b));
    const terms = { buyer, seller, funds: { buyerDeposit: 500n * CKB, sellerCofund: 61n * CKB, fee: 1000n }, expiryBlock: BigInt(seller_.expiry), cell: { txHash: split.hash, index: 0 } };
    const refund = signDigest(channelMessage(terms, txHash(refundTx(terms, scripts))), seller_.refundSigner);
    const witnesses = [...split.witnesses];
    witnesses[1] = witnessWithLock(signDigest(groupMessage(split.hash, split.inputs, split.witnesses, [1], witnessWithLock(sighashPlaceholder())), sellerSecret));
    return Promise.resolve(json({ funding: hex(joinTransaction(raw, witnesses)), refund_signature: hex(refund) }));
  }
  if (url === `/api/channels/${ID}`) return Promise.resolve(new Response(`{"id":"${ID}","chain_id":18446744073709551557,"epoch":1}`, { status: 200 }));
  if (url === `/api/ckb/channels/${ID}/confirm`) return Promise.resolve(json({ id: ID, state: "funding", tx: body.tx }));
  return Promise.resolve(json({ error: { code: "not_found", message: url } }, 404));
}

const store = new Map<string, string>();

beforeEach(() => {
  seller_ = { expiry: TIP + 450 + 10, feeRate: 1_000, cellLive: true, changeFunding: false, refundSigner: sellerSecret };
  calls = [];
  store.clear();
  vi.stubGlobal("localStorage", { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v), removeItem: (k: string) => void store.delete(k) });
  vi.stubGlobal("fetch", vi.fn(fakeFetch));
  vi.spyOn(CkbNode.prototype, "lockScripts").mockResolvedValue(scripts);
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

const payer = () => new CkbPayer("tw_key", hex(keyId(buyer)), "http://node");
const request = { deposit: 500n * CKB, durationSecs: 3_600n };
const confirmed = () => calls.filter((c) => c.includes("/confirm"));

describe("opening a CKB channel from the browser", () => {
  it("opens an honest offer: refund checked and saved first, then the buyer's inputs signed", async () => {
    const p = payer();
    const reviewed = await p.review(request, buyer);
    expect(reviewed.blockIntervalSecs).toBe(8n);
    expect(reviewed.maxPayment).toBe(500n * CKB - 61n * CKB - 1000n);
    expect(calls.some((c) => c.includes("/funding"))).toBe(false);
    const record = await p.open(reviewed, buyerSecret);
    expect(record.chainId).toBe("18446744073709551557");
    // The prices are pinned at opening, in shannons (shannons_per_point is 1 here).
    expect(record.prices).toEqual([{ model: "m", version: 1, input_per_1k: "1000", output_per_1k: "2000" }]);
    expect(p.book.get(ID)?.refundSellerSignature).toBe(record.refundSellerSignature);
    expect(scriptsOf(record)).toEqual(scripts);
    const confirm = (vi.mocked(fetch).mock.calls.find((c) => String(c[0]).endsWith("/confirm"))![1] as RequestInit).body as string;
    const sent = splitTransaction(unhex(JSON.parse(confirm).tx));
    expect(hex(sent.hash)).toBe(record.cell.split(":")[0]);
    const lock = sent.witnesses[0].slice(-65);
    const message = groupMessage(sent.hash, sent.inputs, sent.witnesses, [0], witnessWithLock(sighashPlaceholder()));
    expect(hex(signerOf(message, lock)!)).toBe(hex(buyer));
    expect(JSON.stringify(vi.mocked(fetch).mock.calls)).not.toContain(bytesToHex(buyerSecret));
  });

  it("refuses an expiry years ahead before anything is signed", async () => {
    seller_.expiry = TIP + (4 * 365 * 86_400) / 8;
    await expect(payer().review(request, buyer)).rejects.toMatchObject({ code: "offer_expiry_too_far" });
    expect(calls.some((c) => c.includes("/funding"))).toBe(false);
  });

  it("refuses a burning fee rate", async () => {
    seller_.feeRate = 1_000_000_000;
    await expect(payer().review(request, buyer)).rejects.toMatchObject({ code: "offer_fee_rate_too_high" });
  });

  it("refuses a seller cell that is not live on the buyer's node", async () => {
    seller_.cellLive = false;
    await expect(payer().review(request, buyer)).rejects.toMatchObject({ code: "protocol_error" });
  });

  it("refuses a funding the seller changed: nothing signed, nothing saved", async () => {
    seller_.changeFunding = true;
    const p = payer();
    await expect(p.open(await p.review(request, buyer), buyerSecret)).rejects.toMatchObject({ code: "funding_mismatch" });
    expect(confirmed()).toEqual([]);
    expect(p.book.all()).toEqual([]);
  });

  it("refuses a refund signed by another key: nothing signed, nothing saved", async () => {
    seller_.refundSigner = strangerSecret;
    const p = payer();
    await expect(p.open(await p.review(request, buyer), buyerSecret)).rejects.toMatchObject({ code: "wrong_signer" });
    expect(confirmed()).toEqual([]);
    expect(p.book.all()).toEqual([]);
  });
});
