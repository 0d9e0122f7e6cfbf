// One request's allowance and the decision before each signature, as
// crates/payer/src/review.rs: the request's cap, what it received at the
// pinned price, and what its receipts already added (a 402 proposal
// counts too). Pure.
import { Entitlement, review, type PriceRule } from "./review";
import type { SubRav } from "./subrav";

/** What to do with a proposal. */
export type Decision =
  /** Sign it; it adds `delta`. */
  | { kind: "sign"; delta: bigint }
  /** The latest signed receipt again: nothing new to sign. */
  | { kind: "already_signed" }
  /** Older than the latest signed receipt: covered, never signed again. */
  | { kind: "superseded" };

/** A request's running allowance. */
export class Allowance {
  private added = 0n;
  constructor(
    readonly maxAmount: bigint,
    private readonly entitlement: Entitlement,
  ) {}

  /** A request on `rule` with a prompt bound, a cap and the slack. */
  static forRequest(rule: PriceRule, promptTokens: bigint, maxAmount: bigint, slackTokens?: bigint): Allowance {
    return new Allowance(maxAmount, new Entitlement(rule, promptTokens, slackTokens));
  }

  /** Counts received content. */
  receive(content: string): void {
    this.entitlement.receive(content);
  }

  /** Agrees to pay for output not yet seen (a whole answer). */
  prepay(tokens: bigint): void {
    this.entitlement.prepay(tokens);
  }

  /** What this request's receipts added so far. */
  get spent(): bigint {
    return this.added;
  }

  /**
   * Reviews `proposal` against `lastSigned` within what is left of the cap
   * and of the entitlement and within `budget`; records what a signature
   * adds. Throws a `Refusal` otherwise.
   */
  decide(lastSigned: SubRav, proposal: SubRav, budget: bigint): Decision {
    const limits = { maxAmount: this.maxAmount - this.added, entitled: this.entitlement.amount() - this.added, budget };
    try {
      const delta = review(lastSigned, limits, proposal);
      if (proposal.nonce === lastSigned.nonce) return { kind: "already_signed" };
      this.added += delta;
      return { kind: "sign", delta };
    } catch (e) {
      // Identity fields matched (they are checked first): only the nonce is behind.
      if (e instanceof Error && "code" in e && e.code === "nonce_not_increasing" && proposal.nonce <= lastSigned.nonce) return { kind: "superseded" };
      throw e;
    }
  }
}
