//! The OpenAI chat-completions wire format (the subset Tollway serves).

use serde::{Deserialize, Serialize};
use tollway_llm::ChatMessage;

/// `POST /v1/chat/completions` body. Unknown fields are ignored, as OpenAI
/// SDKs send many.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    /// Model id from `/v1/models`.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Stream chunks as server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Output token limit (older name).
    pub max_tokens: Option<u64>,
    /// Output token limit.
    pub max_completion_tokens: Option<u64>,
    /// Sampling temperature (0 or absent: greedy).
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Sampler seed.
    pub seed: Option<u64>,
    /// `{"include_usage": true}` adds a final usage chunk to a stream.
    pub stream_options: Option<StreamOptions>,
}

/// Stream options.
#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with usage.
    #[serde(default)]
    pub include_usage: bool,
}

/// Token usage as OpenAI reports it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
}

/// Tollway's billing, in a field standard clients ignore.
#[derive(Debug, Clone, Serialize)]
pub struct Billing {
    /// Chunk number (1-based) in a stream; absent on whole responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u64>,
    /// Output tokens delivered so far.
    pub tokens: u64,
    /// Points charged for prompt and output so far (decimal string).
    pub cost: String,
    /// Balance left after that cost (decimal string).
    pub balance: String,
    /// Why the answer was cut short, if it was (`insufficient_points`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}
