// The payer's review before it signs, as crates/core/src/channel/payer.rs
// and entitlement.rs: a hostile server can no more drain a browser wallet
// than the CLI's. Pure: no I/O. Amounts are minor units (bigint).
import { bytesToHex } from "@noble/hashes/utils";
import { SUBRAV_VERSION, type SubRav } from "./subrav";

/** The largest step a nonce may take (2^20). */
export const MAX_NONCE_GAP = 1n << 20n;
/** Tokens a chat template may add around the messages. */
export const PROMPT_OVERHEAD_TOKENS = 64n;
/** Output tokens paid beyond what was received, by default. */
export const DEFAULT_SLACK_TOKENS = 16n;

/** A price per 1,000 tokens in units of 10^-6 of the asset's minor unit (core's `Price`). */
export interface PriceRule {
  inputPer1k: bigint;
  outputPer1k: bigint;
}

/** `ceil((input × in + output × out) / 10^9)`: core's `PriceRule::cost`. */
export function cost(rule: PriceRule, input: bigint, output: bigint): bigint {
  const total = input * rule.inputPer1k + output * rule.outputPer1k;
  const divisor = 1_000_000_000n;
  return (total + divisor - 1n) / divisor;
}

/** An upper bound on the prompt tokens of messages serialized to `messagesJson` (UTF-8 bytes). */
export function promptBound(messagesJsonBytes: number): bigint {
  return BigInt(messagesJsonBytes) + PROMPT_OVERHEAD_TOKENS;
}

/** A request's running entitlement: what it received is worth at the pinned price. */
export class Entitlement {
  private output = 0n;
  constructor(
    private readonly rule: PriceRule,
    private readonly promptTokens: bigint,
    private readonly slackTokens: bigint = DEFAULT_SLACK_TOKENS,
  ) {}

  /** Counts a chunk of received content: at most its UTF-8 bytes + 1 tokens. */
  receive(content: string): void {
    if (content.length > 0) this.output += BigInt(new TextEncoder().encode(content).length) + 1n;
  }

  /** Agrees to pay for `tokens` of output before seeing them (a whole answer). */
  prepay(tokens: bigint): void {
    this.output += tokens;
  }

  /** What the request may have cost by now. */
  amount(): bigint {
    return cost(this.rule, this.promptTokens, this.output + this.slackTokens);
  }
}

/** The payer's limits for one review. */
export interface PayerLimits {
  /** What is left of the request's cap. */
  maxAmount: bigint;
  /** What is left of what the request received is worth. */
  entitled: bigint;
  /** The most the sub-channel may owe in total. */
  budget: bigint;
}

/** Why the payer will not sign: the same stable codes as Rust's `Refusal`. */
export type RefusalCode =
  | "unsupported_version"
  | "wrong_chain"
  | "wrong_channel"
  | "wrong_epoch"
  | "wrong_sub_channel"
  | "nonce_not_increasing"
  | "nonce_too_far"
  | "amount_decreased"
  | "over_max_amount"
  | "over_received"
  | "over_budget";

/** A refusal to sign. */
export class Refusal extends Error {
  constructor(readonly code: RefusalCode) {
    super(code);
  }
}

const same = (a: Uint8Array, b: Uint8Array) => bytesToHex(a) === bytesToHex(b);

/**
 * Reviews `proposal` against `last`, the latest receipt signed on that
 * sub-channel; returns what signing it adds (0 for `last` again). The
 * checks run in Rust's order, so the same proposal gets the same code.
 */
export function review(last: SubRav, limits: PayerLimits, proposal: SubRav): bigint {
  if (proposal.version !== SUBRAV_VERSION) throw new Refusal("unsupported_version");
  if (proposal.chainId !== last.chainId) throw new Refusal("wrong_chain");
  if (!same(proposal.channelId, last.channelId)) throw new Refusal("wrong_channel");
  if (proposal.epoch !== last.epoch) throw new Refusal("wrong_epoch");
  if (!same(proposal.subChannel, last.subChannel)) throw new Refusal("wrong_sub_channel");
  if (proposal.nonce === last.nonce && proposal.accumulated === last.accumulated) return 0n;
  if (proposal.nonce <= last.nonce) throw new Refusal("nonce_not_increasing");
  if (proposal.nonce - last.nonce > MAX_NONCE_GAP) throw new Refusal("nonce_too_far");
  if (proposal.accumulated < last.accumulated) throw new Refusal("amount_decreased");
  const delta = proposal.accumulated - last.accumulated;
  if (delta > limits.maxAmount) throw new Refusal("over_max_amount");
  if (delta > limits.entitled) throw new Refusal("over_received");
  if (proposal.accumulated > limits.budget) throw new Refusal("over_budget");
  return delta;
}
