import { describe, expect, it } from "vitest";
import { messagesOf, prettyJson, typesOf, type LoggedMessage } from "./monitor";

const log: LoggedMessage[] = [
  { source: "frontend", type: "ping", direction: "out", data: null, timestamp: "2026-12-04T10:00:01Z" },
  { source: "blockchain", type: "transfer_event", direction: "in", data: { value: "1" }, timestamp: "2026-12-04T10:00:03Z" },
  { source: "frontend", type: "payment_status_update", paymentId: "pay_1", direction: "out", data: { status: "paid" }, timestamp: "2026-12-04T10:00:05Z" },
  { source: "frontend", type: "connection_ack", paymentId: "pay_1", direction: "out", data: {}, timestamp: "2026-12-04T10:00:00Z" },
  { source: "frontend", type: "ping", direction: "in", data: null, timestamp: "2026-12-04T10:00:05Z" },
];

describe("messagesOf", () => {
  it("keeps one source, newest first, equal times in the server's order", () => {
    expect(messagesOf(log, "frontend", { type: "", direction: "" }).map((m) => `${m.type}/${m.direction}`))
      .toEqual(["payment_status_update/out", "ping/in", "ping/out", "connection_ack/out"]);
    expect(messagesOf(log, "blockchain", { type: "", direction: "" })).toEqual([log[1]]);
  });
  it("filters by type and direction", () => {
    expect(messagesOf(log, "frontend", { type: "ping", direction: "" })).toEqual([log[4], log[0]]);
    expect(messagesOf(log, "frontend", { type: "ping", direction: "out" })).toEqual([log[0]]);
    expect(messagesOf(log, "frontend", { type: "", direction: "in" })).toEqual([log[4]]);
    expect(messagesOf(log, "blockchain", { type: "ping", direction: "" })).toEqual([]);
  });
});

describe("typesOf", () => {
  it("lists a source's types once, sorted", () => {
    expect(typesOf(log, "frontend")).toEqual(["connection_ack", "payment_status_update", "ping"]);
    expect(typesOf(log, "blockchain")).toEqual(["transfer_event"]);
  });
});

describe("prettyJson", () => {
  it("indents by two spaces", () => {
    expect(prettyJson({ status: "paid", n: [1] })).toBe('{\n  "status": "paid",\n  "n": [\n    1\n  ]\n}');
    expect(prettyJson(undefined)).toBe("null");
  });
});
