//! Schemas of the OpenAI-compatible routes (`/v1/models`,
//! `/v1/chat/completions`). The gateway reads and writes these shapes as
//! JSON values (unknown fields pass through to upstreams), so the types
//! here only describe them for the document.

use utoipa::ToSchema;

/// `POST /v1/chat/completions` body (the subset Tollway reads; other
/// OpenAI fields are accepted and passed on to upstreams unchanged).
#[derive(ToSchema)]
pub struct ChatCompletionRequest {
    /// Model id from `/v1/models`.
    pub model: String,
    /// The conversation: at least one message.
    #[schema(min_items = 1)]
    pub messages: Vec<ChatMessage>,
    /// Stream chunks as server-sent events (`text/event-stream`).
    pub stream: Option<bool>,
    /// Output token limit (older name), at least 1.
    #[schema(minimum = 1)]
    pub max_tokens: Option<u64>,
    /// Output token limit, at least 1.
    #[schema(minimum = 1)]
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

/// One message.
#[derive(ToSchema)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant` (upstreams may take others).
    pub role: String,
    /// Text, or (for upstreams) content parts.
    pub content: Option<serde_json::Value>,
}

/// Stream options.
#[derive(ToSchema)]
pub struct StreamOptions {
    /// Send a last chunk with the usage charged.
    pub include_usage: Option<bool>,
}

/// A whole answer (`stream` false).
#[derive(ToSchema)]
pub struct ChatCompletion {
    /// `chatcmpl-…`.
    pub id: String,
    /// `chat.completion`.
    pub object: String,
    /// Unix seconds.
    pub created: i64,
    /// The model asked for.
    pub model: String,
    /// One choice.
    pub choices: Vec<Choice>,
    /// Token counts charged.
    pub usage: Usage,
    /// Tollway's billing: settled cost, balance left, where the counts came from.
    pub tollway: Billing,
}

/// The answer's one choice.
#[derive(ToSchema)]
pub struct Choice {
    /// 0.
    pub index: u32,
    /// `{"role": "assistant", "content": "…"}`.
    pub message: ChatMessage,
    /// `stop` or `length` (also when money ran out).
    pub finish_reason: Option<String>,
}

/// Token usage as OpenAI reports it.
#[derive(ToSchema)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
}

/// Tollway's billing field (standard clients ignore it).
#[derive(ToSchema)]
pub struct Billing {
    /// Output tokens delivered.
    pub tokens: u64,
    /// Points charged (decimal string).
    pub cost: String,
    /// Balance left (decimal string).
    pub balance: Option<String>,
    /// `upstream`, `tokenizer` or `heuristic`.
    pub usage_source: Option<String>,
    /// Why the answer was cut short: `insufficient_points`, `spend_cap_reached`, ….
    pub stopped: Option<String>,
}

/// `GET /v1/models`.
#[derive(ToSchema)]
pub struct ModelList {
    /// `list`.
    pub object: String,
    /// The models.
    pub data: Vec<Model>,
}

/// A model clients may ask for.
#[derive(ToSchema)]
pub struct Model {
    /// Its name.
    pub id: String,
    /// `model`.
    pub object: String,
    /// Always 0.
    pub created: i64,
    /// `local` (the embedded model) or the upstream serving it.
    pub owned_by: String,
}
