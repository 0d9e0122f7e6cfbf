//! Token usage as reported or counted, and its validation.

use serde::{Deserialize, Serialize};

/// The largest token count accepted for one side of one message. Larger
/// counts are refused as malformed (no model has a context near it).
pub const MAX_TOKENS: u64 = 100_000_000;

/// Tokens in and out of one model call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Prompt tokens.
    pub input: u64,
    /// Completion tokens.
    pub output: u64,
}

impl TokenUsage {
    /// All zero: the reporter did not know (never "free").
    pub fn is_unknown(self) -> bool {
        self.input == 0 && self.output == 0
    }

    /// Sum of both sides.
    pub fn total(self) -> u64 {
        self.input.saturating_add(self.output)
    }
}

/// Where token counts came from, recorded with every charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    /// Reported by the upstream model or platform (Dify, an OpenAI usage chunk).
    Upstream,
    /// Counted by Tollway with the model's tokenizer.
    Tokenizer,
    /// Estimated from characters.
    Heuristic,
}

impl UsageSource {
    /// Stable storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            UsageSource::Upstream => "upstream",
            UsageSource::Tokenizer => "tokenizer",
            UsageSource::Heuristic => "heuristic",
        }
    }
}
