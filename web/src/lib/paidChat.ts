// A chat answer streamed from `/v1/chat/completions` and paid as it
// arrives, as crates/payer/src/chat.rs: every proposal is reviewed (right
// channel, nonce up, increase bounded by what was received at the pinned
// price, the message's cap, the budget) before the wallet key signs it.
// Auto-pay signs each reviewed proposal at once; manual pay signs only
// when the person approves a pause. Without a channel the answer is paid
// from points and nothing is signed.
import { Allowance } from "./allowance";
import { ApiError } from "./api";
import type { ChannelRecord } from "./channels";
import { baseOf, signedTotal, type ReceiptAck } from "./ledgerChannels";
import type { SignedSubRav } from "./subrav";
import { ruleFor } from "./price";
import { promptBound, review, DEFAULT_SLACK_TOKENS } from "./review";
import { SseDecoder, StreamReader } from "./stream";
import { signSubRav } from "./subrav";
import { decodePaymentDueHeader, encodePaymentHeader, PAYMENT_HEADER, type PaymentDue } from "./wire";

/** An OpenAI chat message. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** What happens while an answer streams, for the page to show. */
export type ChatEvent =
  | { kind: "text"; text: string }
  | { kind: "proposal"; due: PaymentDue }
  | { kind: "signed"; nonce: bigint; amount: bigint; total: bigint }
  | { kind: "accepted"; nonce: bigint; total: bigint }
  | { kind: "receipt_refused"; nonce: bigint; code: string; message: string }
  | { kind: "usage"; prompt?: number; completion?: number };

/** How an answer ended. */
export interface ChatResult {
  chunks: number;
  promptTokens?: number;
  completionTokens?: number;
  finishReason?: string;
  /** Why the payee stopped it early (`max_amount_reached`, `payment_timeout`, ...). */
  stopped?: string;
  /** What the payee says the answer cost. */
  cost: bigint;
  /** What this answer's receipts added. */
  paid: bigint;
  receipts: number;
  pauses: number;
  /** A proposal left unsigned at the end (manual pay), with the allowance that can still approve it. */
  unpaid?: { due: PaymentDue; approve: () => Promise<void> };
}

/** What the chat needs of a channel's payer: a ledger channel's, or a CKB channel's (whose receipts carry a commitment). */
export interface ChannelPayer {
  /** The channel as saved now. */
  current(id: string): ChannelRecord | undefined;
  /** Saves `signed` as the latest receipt, before it is sent anywhere. */
  saveSigned(record: ChannelRecord, signed: SignedSubRav): ChannelRecord;
  /** Posts a saved receipt; the payee's answer. */
  post(record: ChannelRecord, signed: SignedSubRav): Promise<ReceiptAck>;
}

/** One message to send. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  maxTokens: number;
  apiKey: string;
  signal?: AbortSignal;
  onEvent: (event: ChatEvent) => void;
  /** Paid from a channel (else from points). */
  channel?: {
    payer: ChannelPayer;
    record: ChannelRecord;
    secret: Uint8Array;
    mode: "auto" | "manual";
    /** The most this message may add. */
    maxAmount: bigint;
    /** Manual pay: resolves true when the person approves `due`. */
    approve?: (due: PaymentDue) => Promise<boolean>;
  };
}

/**
 * Before a new answer, the payee proposes a receipt covering work an
 * earlier answer delivered and nobody signed (a reload, a cut stream, or
 * "Pay the rest" left unclicked): seen in the sub-channel's `pending`, or
 * a 402. The person decides; nothing is signed for it without a click.
 */
export class LeftoverDue extends Error {
  constructor(readonly due: PaymentDue) {
    super("An earlier answer on this channel is not fully paid.");
  }
}

/**
 * Pays a leftover the person approved: reviewed like any proposal, with
 * the person's approval standing for what was received (at most `cap`),
 * then signed, saved and posted.
 */
export async function payLeftover(payer: ChannelPayer, record: ChannelRecord, due: PaymentDue, secret: Uint8Array, cap: bigint): Promise<void> {
  const last = baseOf(record);
  const delta = review(last, { maxAmount: cap, entitled: cap, budget: BigInt(record.budget) }, due.proposal);
  if (delta === 0n) return;
  const signed = signSubRav(due.proposal, secret);
  payer.saveSigned(record, signed);
  await payer.post(record, signed);
}

/** The per-message cap a channel allows by default: the message's prompt and max_tokens (+ slack) at the pinned price, within what is left of the budget. */
export function defaultCap(record: ChannelRecord, model: string, messages: ChatMessage[], maxTokens: number): bigint {
  const rule = ruleFor(record.prices, model);
  const prompt = promptBound(new TextEncoder().encode(JSON.stringify(messages)).length);
  const priced = (prompt * rule.inputPer1k + (BigInt(maxTokens) + DEFAULT_SLACK_TOKENS) * rule.outputPer1k + 999_999_999n) / 1_000_000_000n;
  const cap = record.maxPerMessage !== undefined ? BigInt(record.maxPerMessage) : priced;
  const left = BigInt(record.budget) - signedTotal(record);
  return cap < left ? cap : left > 0n ? left : 0n;
}

/** Streams one answer; resolves when it ends, rejects with an `ApiError` or a `Refusal`. */
export async function streamChat(request: ChatRequest): Promise<ChatResult> {
  const { channel } = request;
  const body = { model: request.model, messages: request.messages, max_tokens: request.maxTokens, stream: true, stream_options: { include_usage: true } };
  const headers: Record<string, string> = { "content-type": "application/json", authorization: `Bearer ${request.apiKey}` };
  let allowance: Allowance | undefined;
  if (channel) {
    const rule = ruleFor(channel.record.prices, request.model);
    const prompt = promptBound(new TextEncoder().encode(JSON.stringify(request.messages)).length);
    allowance = Allowance.forRequest(rule, prompt, channel.maxAmount);
    headers[PAYMENT_HEADER] = encodePaymentHeader({ channel: baseOf(channel.record).channelId, subChannel: baseOf(channel.record).subChannel, maxAmount: channel.maxAmount });
  }
  let response: Response;
  try {
    response = await fetch("/v1/chat/completions", { method: "POST", headers, body: JSON.stringify(body), signal: request.signal });
  } catch (e) {
    if (request.signal?.aborted) throw e;
    throw new ApiError(0, "unreachable", "The Tollway server cannot be reached. Check that it is running, then try again.");
  }
  if (!response.ok) {
    const text = await response.text();
    let error: { code?: string; message?: string } | undefined;
    try {
      error = JSON.parse(text)?.error;
    } catch {
      // Not JSON.
    }
    const header = response.headers.get(PAYMENT_HEADER);
    if (response.status === 402 && header && channel) {
      throw new LeftoverDue(decodePaymentDueHeader(header));
    }
    throw new ApiError(response.status, error?.code ?? `http_${response.status}`, error?.message ?? text);
  }
  if (!response.body) throw new ApiError(502, "protocol_error", "The answer has no body.");

  const stream = response.body.getReader();
  const reader = new StreamReader();
  const decoder = new SseDecoder();
  let receipts = 0;
  let lastDue: PaymentDue | undefined;
  let signedNonce = channel ? baseOf(channel.record).nonce : 0n;
  // Receipts go out one at a time, newest first: a proposal that arrives
  // while one is being posted replaces any older one still waiting.
  let waiting: PaymentDue | undefined;
  let posting: Promise<void> = Promise.resolve();
  let failure: unknown;

  const sign = async (due: PaymentDue): Promise<void> => {
    if (!channel || !allowance || failure) return;
    const record = channel.payer.current(channel.record.id) ?? channel.record;
    const decision = allowance.decide(baseOf(record), due.proposal, BigInt(record.budget));
    if (decision.kind !== "sign") return;
    const signed = signSubRav(due.proposal, channel.secret);
    channel.payer.saveSigned(record, signed);
    signedNonce = due.proposal.nonce;
    receipts += 1;
    request.onEvent({ kind: "signed", nonce: due.proposal.nonce, amount: decision.delta, total: due.proposal.accumulated });
    try {
      const ack = await channel.payer.post(record, signed);
      request.onEvent({ kind: "accepted", nonce: BigInt(ack.nonce), total: BigInt(ack.accepted) });
    } catch (e) {
      const code = e instanceof ApiError ? e.code : "unreachable";
      request.onEvent({ kind: "receipt_refused", nonce: due.proposal.nonce, code, message: e instanceof Error ? e.message : String(e) });
      if (!(e instanceof ApiError) || e.status !== 0) throw e;
    }
  };
  const offer = (due: PaymentDue) => {
    waiting = due;
    posting = posting.then(async () => {
      const next = waiting;
      waiting = undefined;
      if (next && next.proposal.nonce > signedNonce) await sign(next);
    }).catch((e) => {
      // A refusal (or a payee refusing a receipt) stops the answer at once.
      failure ??= e;
      void stream.cancel().catch(() => undefined);
    });
  };

  let done = false;
  try {
    while (!done && !failure) {
      const { value, done: ended } = await stream.read();
      if (ended) break;
      for (const event of decoder.push(value)) {
        const step = reader.step(event);
        if (step.text !== undefined) {
          allowance?.receive(step.text);
          request.onEvent({ kind: "text", text: step.text });
        }
        if (step.due) {
          lastDue = step.due;
          request.onEvent({ kind: "proposal", due: step.due });
          if (channel?.mode === "auto") offer(step.due);
          else if (channel && step.pause && (await channel.approve?.(step.due))) offer(step.due);
        }
        if (step.done) done = true;
      }
    }
  } finally {
    if (!done) await stream.cancel().catch(() => undefined);
  }
  await posting;
  if (failure) throw failure;
  if (reader.error) throw new ApiError(200, reader.error.code, reader.error.message);
  if (!done) throw new ApiError(0, "stream_cut", "The answer stopped before its end; what arrived is paid for.");
  request.onEvent({ kind: "usage", prompt: reader.promptTokens, completion: reader.completionTokens });
  const result: ChatResult = {
    chunks: reader.chunks,
    promptTokens: reader.promptTokens,
    completionTokens: reader.completionTokens,
    finishReason: reader.finishReason,
    stopped: reader.stopped,
    cost: reader.cost,
    paid: allowance?.spent ?? 0n,
    receipts,
    pauses: reader.pauses,
  };
  if (channel && lastDue && lastDue.proposal.nonce > signedNonce) {
    const due = lastDue;
    result.unpaid = {
      due,
      approve: async () => {
        offer(due);
        await posting;
        if (failure) throw failure;
      },
    };
  }
  return result;
}

