// Reading a paid stream in the browser, as crates/core/src/sse.rs and
// crates/payer/src/chat.rs: server-sent events out of bytes in any split,
// then each event's text, proposal and end. A data chunk without content
// may repeat the latest proposal, never raise it (`over_received`).
import { Refusal } from "./review";
import { paymentDueFrom, type PaymentDue } from "./wire";

/** One complete event. */
export interface SseEvent {
  event?: string;
  data: string;
}

/** The longest line accepted, bytes. */
export const MAX_LINE = 4 * 1024 * 1024;

/** Splits a byte stream into events; comments, `id:` and `retry:` skipped, events without data dropped. */
export class SseDecoder {
  private buffer = "";
  private data: string | undefined;
  private event: string | undefined;
  private readonly utf8 = new TextDecoder("utf-8", { fatal: true });

  /** Feeds bytes; the events they complete. */
  push(bytes: Uint8Array): SseEvent[] {
    this.buffer += this.utf8.decode(bytes, { stream: true });
    const events: SseEvent[] = [];
    let newline: number;
    while ((newline = this.buffer.indexOf("\n")) >= 0) {
      let line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      const event = this.line(line);
      if (event) events.push(event);
    }
    if (this.buffer.length > MAX_LINE) throw new Error(`malformed event stream: a line is longer than ${MAX_LINE} bytes`);
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === "") {
      const event = this.event;
      const data = this.data;
      this.event = undefined;
      this.data = undefined;
      return data === undefined ? undefined : event === undefined ? { data } : { event, data };
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data = this.data === undefined ? value : `${this.data}\n${value}`;
    else if (field === "event") this.event = value;
    return undefined;
  }
}

/** What one event asks of the reader. */
export interface Step {
  text?: string;
  due?: PaymentDue;
  done: boolean;
  /** A `payment_required` pause. */
  pause: boolean;
}

/** Reads the events of a paid stream. */
export class StreamReader {
  chunks = 0;
  pauses = 0;
  cost = 0n;
  finishReason?: string;
  stopped?: string;
  error?: { code: string; message: string };
  promptTokens?: number;
  completionTokens?: number;
  /** The highest total proposed so far (with content or in a pause). */
  private proposed = 0n;

  /** Handles one event; throws a `Refusal` for a content-less chunk raising the proposal. */
  step(event: SseEvent): Step {
    if (event.event === "payment_required") {
      const due = paymentDueFrom(JSON.parse(event.data));
      this.pauses += 1;
      if (due.proposal.accumulated > this.proposed) this.proposed = due.proposal.accumulated;
      return { due, done: false, pause: true };
    }
    if (event.data.trim() === "[DONE]") return { done: true, pause: false };
    const chunk = JSON.parse(event.data);
    const step: Step = { done: false, pause: false };
    if (chunk.error) this.error = { code: chunk.error.code ?? "stream_error", message: chunk.error.message ?? "" };
    const choice = chunk.choices?.[0];
    const content = choice?.delta?.content;
    if (typeof content === "string" && content.length > 0) {
      this.chunks += 1;
      step.text = content;
    }
    if (typeof choice?.finish_reason === "string") this.finishReason = choice.finish_reason;
    if (chunk.usage && typeof chunk.usage === "object") {
      this.promptTokens = chunk.usage.prompt_tokens ?? this.promptTokens;
      this.completionTokens = chunk.usage.completion_tokens ?? this.completionTokens;
    }
    const tollway = chunk.tollway;
    if (tollway && typeof tollway === "object") {
      if ("proposal" in tollway) {
        const due = paymentDueFrom(tollway);
        if (step.text === undefined && due.proposal.accumulated > this.proposed) throw new Refusal("over_received");
        if (due.proposal.accumulated > this.proposed) this.proposed = due.proposal.accumulated;
        this.cost = due.cost;
        if (due.stopped) this.stopped = due.stopped;
        step.due = due;
      } else {
        // The last chunk of a request that cost nothing: {"cost", "stopped"}.
        if (typeof tollway.cost === "string") this.cost = BigInt(tollway.cost);
        if (typeof tollway.stopped === "string") this.stopped = tollway.stopped;
      }
    }
    return step;
  }
}
