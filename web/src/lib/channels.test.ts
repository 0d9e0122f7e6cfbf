import { beforeEach, describe, expect, it } from "vitest";
import { ChannelBook, exactInteger, type ChannelRecord } from "./channels";
import { defaultCap } from "./paidChat";

class MemoryStorage {
  private items = new Map<string, string>();
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
}

const record = (change: Partial<ChannelRecord> = {}): ChannelRecord => ({
  id: "0x" + "ab".repeat(32),
  chainId: "32773608765350265",
  epoch: "1",
  asset: "POINTS",
  subChannel: "0x" + "cd".repeat(20),
  deposit: "2000",
  budget: "2000",
  prices: [{ model: "smollm2-135m-instruct", version: 1, input_per_1k: "1000", output_per_1k: "2000" }],
  acceptedTotal: "0",
  open: true,
  openedAt: 1,
  ...change,
});

beforeEach(() => {
  (globalThis as { localStorage?: unknown }).localStorage = new MemoryStorage();
});

describe("the browser's channel records", () => {
  it("are kept per wallet, and the receipts log keeps one line per nonce", () => {
    const book = new ChannelBook("0xAA");
    book.put(record());
    expect(new ChannelBook("0xbb").all()).toEqual([]);
    expect(new ChannelBook("0xaa").get("0x" + "AB".repeat(32))?.deposit).toBe("2000");
    book.note(record().id, { nonce: "1", amount: "5", total: "5", accepted: false, at: 1 });
    book.note(record().id, { nonce: "1", amount: "5", total: "5", accepted: true, at: 2 });
    book.note(record().id, { nonce: "2", amount: "3", total: "8", accepted: "nonce_too_far", at: 3 });
    expect(book.log(record().id).map((e) => [e.nonce, e.accepted])).toEqual([["1", true], ["2", "nonce_too_far"]]);
    expect(book.update(record().id, (r) => ({ ...r, open: false })).open).toBe(false);
    expect(book.log(record().id)).toHaveLength(2);
  });

  it("read a chain id beyond 2^53 exactly, which JSON.parse would round", () => {
    const text = '{"id":"0x01","chain_id":32773608765350265,"epoch":1}';
    expect(JSON.parse(text).chain_id).not.toBe(32773608765350265n.toString());
    expect(exactInteger(text, "chain_id")).toBe("32773608765350265");
    expect(() => exactInteger(text, "nonce")).toThrow(/no nonce/);
  });
});

describe("a message's default cap", () => {
  const messages = [{ role: "user" as const, content: "hi" }];
  it("is its prompt bound and max tokens + slack at the pinned price", () => {
    // Prompt bound: 32 bytes of JSON + 64 = 96 tokens at 1; (10 + 16) output tokens at 2.
    expect(JSON.stringify(messages).length).toBe(32);
    expect(defaultCap(record(), "smollm2-135m-instruct", messages, 10)).toBe(96n + 52n);
  });
  it("is the channel's own cap when set, never more than the budget left", () => {
    expect(defaultCap(record({ maxPerMessage: "40" }), "smollm2-135m-instruct", messages, 10)).toBe(40n);
    expect(defaultCap(record({ budget: "100" }), "smollm2-135m-instruct", messages, 10)).toBe(100n);
  });
  it("refuses a model the channel has no price for", () => {
    expect(() => defaultCap(record(), "gpt-9", messages, 10)).toThrow(/no price/);
  });
});
