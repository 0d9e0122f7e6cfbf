import { describe, expect, it } from "vitest";
import { Refusal } from "./review";
import { SseDecoder, StreamReader } from "./stream";
import { subRavHex } from "./wire";
import { rav } from "./fixtures";

const utf8 = (s: string) => new TextEncoder().encode(s);

describe("the event stream decoder", () => {
  it("gives the same events whatever the split of the bytes (Rust's case)", () => {
    const input = utf8(': keep-alive\n\ndata: {"a":1}\n\nevent: x\r\nid: 7\r\ndata: one\r\ndata:two\r\n\r\ndata: [DONE]\n\n');
    for (let piece = 1; piece <= input.length; piece++) {
      const decoder = new SseDecoder();
      const data: string[] = [];
      for (let at = 0; at < input.length; at += piece) data.push(...decoder.push(input.slice(at, at + piece)).map((e) => e.data));
      expect(data).toEqual(['{"a":1}', "one\ntwo", "[DONE]"]);
    }
  });
});

const due = (nonce: bigint, amount: bigint, extra: object = {}) => ({ proposal: subRavHex(rav(nonce, amount)), cost: amount.toString(), accepted: "0", ...extra });
const chunk = (content: string | undefined, tollway?: object, finish: string | null = null) =>
  ({ data: JSON.stringify({ choices: [{ index: 0, delta: content === undefined ? {} : { content }, finish_reason: finish }], tollway }) });

describe("the paid stream reader", () => {
  it("reads text, proposals, pauses, the end and the usage", () => {
    const r = new StreamReader();
    expect(r.step(chunk("")).due).toBeUndefined();
    const one = r.step(chunk("Hel", due(1n, 10n)));
    expect([one.text, one.due?.proposal.nonce]).toEqual(["Hel", 1n]);
    const pause = r.step({ event: "payment_required", data: JSON.stringify(due(1n, 12n, { required: "10" })) });
    expect([pause.pause, pause.due?.required]).toEqual([true, 10n]);
    r.step(chunk("lo", due(2n, 20n)));
    r.step(chunk(undefined, due(2n, 20n, { stopped: "max_amount_reached" }), "length"));
    r.step({ data: JSON.stringify({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 3 } }) });
    expect(r.step({ data: "[DONE]" }).done).toBe(true);
    expect([r.chunks, r.pauses, r.cost, r.finishReason, r.stopped, r.promptTokens, r.completionTokens]).toEqual([2, 1, 20n, "length", "max_amount_reached", 7, 3]);
  });

  it("refuses a chunk without content that raises the proposal", () => {
    const r = new StreamReader();
    r.step(chunk("Hi", due(1n, 10n)));
    expect(() => r.step(chunk(undefined, due(1n, 10n), "stop"))).not.toThrow();
    let refused: unknown;
    try {
      r.step(chunk(undefined, due(2n, 11n)));
    } catch (e) {
      refused = e;
    }
    expect(refused instanceof Refusal && refused.code).toBe("over_received");
  });
});
