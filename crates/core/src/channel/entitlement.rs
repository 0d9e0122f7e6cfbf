//! What a payer owes for what it can see: its prompt, the content it
//! received, at the price it agreed to when it opened the channel. The
//! payer signs no increase beyond it (docs/channels.md, "What each side
//! risks"). The counts are upper bounds a payer can compute without the
//! payee's tokenizer: a token of text is at least one byte, so a prompt
//! is at most its bytes (plus the chat template's own tokens) and an
//! answer at most the bytes received (plus one per chunk, for a token
//! that decodes to nothing).

use crate::pricing::PriceRule;
use crate::usage::TokenUsage;
use crate::Amount;

/// Tokens a chat template may add around the messages (role markers, the
/// generation prompt, a default system prompt).
pub const PROMPT_OVERHEAD_TOKENS: u64 = 64;
/// Output tokens a payer pays beyond what it received, by default: covers
/// work left unsigned by an earlier request of the same sub-channel (a
/// crash) and any difference in counting.
pub const DEFAULT_SLACK_TOKENS: u64 = 16;

/// An upper bound on the prompt tokens of a request whose `messages`
/// serialize to `messages_json`.
pub fn prompt_bound(messages_json: &[u8]) -> u64 {
    u64::try_from(messages_json.len()).unwrap_or(u64::MAX).saturating_add(PROMPT_OVERHEAD_TOKENS)
}

/// A request's running entitlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlement {
    rule: PriceRule,
    prompt_tokens: u64,
    output_tokens: u64,
    slack_tokens: u64,
}

impl Entitlement {
    /// A request under the pinned `rule` with a prompt of at most
    /// `prompt_tokens`, paying `slack_tokens` of output beyond what it
    /// receives.
    pub fn new(rule: PriceRule, prompt_tokens: u64, slack_tokens: u64) -> Entitlement {
        Entitlement { rule, prompt_tokens, output_tokens: 0, slack_tokens }
    }

    /// Counts a chunk of received content (an empty chunk adds nothing).
    pub fn receive(&mut self, content: &str) {
        if !content.is_empty() {
            let bound = u64::try_from(content.len()).unwrap_or(u64::MAX).saturating_add(1);
            self.output_tokens = self.output_tokens.saturating_add(bound);
        }
    }

    /// Agrees to pay for up to `tokens` of output before seeing them (a
    /// whole answer is paid before it is handed over).
    pub fn prepay(&mut self, tokens: u64) {
        self.output_tokens = self.output_tokens.saturating_add(tokens);
    }

    /// What the request may have cost by now.
    pub fn amount(&self) -> Amount {
        let usage = TokenUsage { input: self.prompt_tokens, output: self.output_tokens.saturating_add(self.slack_tokens) };
        self.rule.cost(usage).unwrap_or(Amount::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::Price;
    use crate::Asset;

    fn rule() -> PriceRule {
        PriceRule {
            model: "m".into(),
            version: 1,
            input_per_1k: Price::parse("1", Asset::POINTS).expect("price"),
            output_per_1k: Price::parse("2", Asset::POINTS).expect("price"),
            effective_from: 0,
            active: true,
        }
    }

    #[test]
    fn the_entitlement_grows_only_with_what_was_received() {
        let mut e = Entitlement::new(rule(), prompt_bound(b"[{\"role\":\"user\",\"content\":\"hi\"}]"), 0);
        // 33 bytes + 64 = 97 prompt tokens.
        let prompt_only = e.amount();
        assert_eq!(prompt_only, rule().cost(TokenUsage { input: 97, output: 0 }).expect("cost"));
        e.receive("");
        assert_eq!(e.amount(), prompt_only, "an empty chunk is worth nothing");
        e.receive("Hello");
        assert_eq!(e.amount(), rule().cost(TokenUsage { input: 97, output: 6 }).expect("cost"));
        e.prepay(100);
        assert_eq!(e.amount(), rule().cost(TokenUsage { input: 97, output: 106 }).expect("cost"));
        let slack = Entitlement::new(rule(), 0, DEFAULT_SLACK_TOKENS);
        assert_eq!(slack.amount(), rule().cost(TokenUsage { input: 0, output: 16 }).expect("cost"));
    }

    #[test]
    fn huge_counts_saturate_instead_of_overflowing() {
        let mut e = Entitlement::new(rule(), u64::MAX, u64::MAX);
        e.prepay(u64::MAX);
        e.receive("x");
        assert!(e.amount() > Amount::ZERO);
    }
}
