import { describe, expect, it } from "vitest";
import { waitingView } from "./fixtures";
import { isFinal, parseMessage, reduce, type CheckoutState } from "./state";
import type { SocketMessage, StatusUpdate } from "./types";

const id = waitingView().id;
const at = "2026-12-04T10:05:00Z";
const hash = "0x" + "ab".repeat(32);
const update = (data: Partial<StatusUpdate>): SocketMessage => ({
  type: "payment_status_update", paymentId: id, timestamp: at,
  data: { status: "confirming", exception: null, transactionHash: hash, blockNumber: 120, confirmations: 1, amount: "1.000001", amountReceived: "1.000001", token: "USDT", ...data },
});
const started = (): CheckoutState => reduce(undefined, { kind: "view", view: waitingView() })!;

describe("reduce", () => {
  it("starts from a view (the HTTP read) with the socket connecting", () => {
    expect(started()).toEqual({ view: waitingView(), seq: 0, socket: { phase: "connecting", attempt: 0 } });
  });

  it("a connection_ack replaces the whole state: a reconnect loses nothing", () => {
    const paidView = { ...waitingView(), status: "paid" as const, amount_received: "1.000001", transaction: { hash, block_number: 120, confirmations: 3, from: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" } };
    const retrying = { ...started(), socket: { phase: "retrying" as const, attempt: 3, retryAt: 5 }, refusal: { code: "too_many_connections", message: "" } };
    const next = reduce(retrying, { kind: "message", message: { type: "connection_ack", paymentId: id, data: paidView, timestamp: at } });
    expect(next).toEqual({ view: paidView, seq: 1, socket: { phase: "live", attempt: 0 } });
    expect(reduce(undefined, { kind: "message", message: { type: "connection_ack", paymentId: id, data: paidView, timestamp: at } })?.view).toEqual(paidView);
  });

  it("updates move the status, the transfer and its confirmations", () => {
    let s = reduce(started(), { kind: "message", message: update({}) })!;
    expect(s.seq).toBe(1);
    expect(s.view.status).toBe("confirming");
    expect(s.view.transaction).toEqual({ hash, block_number: 120, confirmations: 1 });
    expect(s.view.amount_received_units).toBe("1000001000000000000");
    expect(s.view.paid_at).toBeNull();
    s = reduce(s, { kind: "message", message: update({ status: "paid", confirmations: 3 }) })!;
    expect(s.view.status).toBe("paid");
    expect(s.view.transaction).toEqual({ hash, block_number: 120, confirmations: 3 });
    expect(s.view.paid_at).toBe(at);
    expect(s.view.amount).toBe("1.000001");
    expect(s.view.payment_uri).toBe(waitingView().payment_uri);
  });

  it("keeps the transfer's other fields while the hash is the same, drops them for another", () => {
    const full = { hash, block_number: 120, confirmations: 1, log_index: 0, block_hash: "0x" + "cd".repeat(32), from: "0xf39F", amount: "1.000001", amount_units: "1000001000000000000" };
    const s = reduce(undefined, { kind: "view", view: { ...waitingView(), status: "confirming", transaction: full } })!;
    expect(reduce(s, { kind: "message", message: update({ confirmations: 2 }) })!.view.transaction).toEqual({ ...full, confirmations: 2 });
    const other = "0x" + "ef".repeat(32);
    expect(reduce(s, { kind: "message", message: update({ transactionHash: other, blockNumber: 130 }) })!.view.transaction).toEqual({ hash: other, block_number: 130, confirmations: 1 });
  });

  it("a reorg back to waiting forgets the transfer", () => {
    const s = reduce(started(), { kind: "message", message: update({}) })!;
    const back = reduce(s, { kind: "message", message: update({ status: "waiting", transactionHash: null, blockNumber: null, confirmations: null, amountReceived: "0" }) })!;
    expect(back.view.status).toBe("waiting");
    expect(back.view.transaction).toBeNull();
    expect(back.view.amount_received_units).toBe("0");
  });

  it("an HTTP read asked before a newer message is ignored", () => {
    const s = reduce(started(), { kind: "message", message: update({ status: "paid", confirmations: 3 }) })!;
    const stale = reduce(s, { kind: "view", view: waitingView(), seq: 0 });
    expect(stale).toBe(s);
    const fresh = { ...waitingView(), status: "paid" as const };
    expect(reduce(s, { kind: "view", view: fresh, seq: 1 })!.view).toBe(fresh);
  });

  it("keeps an error message until the next ack; pings change nothing", () => {
    const s = reduce(started(), { kind: "message", message: { type: "error", paymentId: id, data: { code: "rpc_unavailable", message: "node down" }, timestamp: at } })!;
    expect(s.refusal).toEqual({ code: "rpc_unavailable", message: "node down" });
    expect(reduce(s, { kind: "message", message: { type: "ping", timestamp: at } })).toBe(s);
    expect(reduce(s, { kind: "socket", socket: { phase: "retrying", attempt: 1, retryAt: 9 } })!.socket).toEqual({ phase: "retrying", attempt: 1, retryAt: 9 });
  });

  it("nothing but a view or an ack starts the state", () => {
    expect(reduce(undefined, { kind: "message", message: update({}) })).toBeUndefined();
    expect(reduce(undefined, { kind: "socket", socket: { phase: "live", attempt: 0 } })).toBeUndefined();
  });
});

describe("parseMessage", () => {
  const text = (m: unknown) => JSON.stringify(m);
  it("reads the contract's messages", () => {
    expect(parseMessage(text(update({})), id)).toEqual(update({}));
    expect(parseMessage(text({ type: "connection_ack", paymentId: id, data: waitingView(), timestamp: at }), id)?.type).toBe("connection_ack");
    expect(parseMessage(text({ type: "error", paymentId: id, data: { code: "x", message: "y" }, timestamp: at }), id)).toEqual({ type: "error", paymentId: id, data: { code: "x", message: "y" }, timestamp: at });
    expect(parseMessage(text({ type: "ping", timestamp: at }), id)).toEqual({ type: "ping", timestamp: at });
  });
  it("drops what is malformed or about another payment", () => {
    expect(parseMessage("not json", id)).toBeUndefined();
    expect(parseMessage("[]", id)).toBeUndefined();
    expect(parseMessage(text({ ...update({}), paymentId: "pay_other" }), id)).toBeUndefined();
    expect(parseMessage(text({ type: "connection_ack", paymentId: id, data: { ...waitingView(), id: "pay_other" }, timestamp: at }), id)).toBeUndefined();
    expect(parseMessage(text(update({ status: "refunded" as never })), id)).toBeUndefined();
    expect(parseMessage(text({ type: "surprise", paymentId: id, data: {}, timestamp: at }), id)).toBeUndefined();
  });
});

describe("isFinal", () => {
  it("paid and failed end the watch; expired does not (a late transfer still pays)", () => {
    expect(["waiting", "confirming", "paid", "expired", "failed"].map((s) => isFinal(s as never))).toEqual([false, false, true, false, true]);
  });
});
