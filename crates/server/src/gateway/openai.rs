//! The OpenAI chat-completions wire format (the subset Tollway reads).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /v1/chat/completions` body. Unknown fields are ignored here and
/// passed on unchanged to OpenAI-compatible upstreams.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    /// Model id from `/v1/models`.
    pub model: String,
    /// The conversation, as sent (text or content-part messages).
    pub messages: Vec<Value>,
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

impl ChatRequest {
    /// The output limit the client set, under either name.
    pub fn max_output(&self) -> Option<u64> {
        self.max_completion_tokens.or(self.max_tokens)
    }
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
    /// Chunk number (1-based) in a stream; absent on whole responses and
    /// a stream's final chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u64>,
    /// Output tokens delivered so far.
    pub tokens: u64,
    /// Points charged for prompt and output so far (decimal string).
    pub cost: String,
    /// Balance left after that cost (decimal string).
    pub balance: String,
    /// Why the answer was cut short, if it was (`insufficient_points`,
    /// `spend_cap_reached`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// On the final figures: where the token counts came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_source: Option<&'static str>,
}

/// The text of a message's `content`: a string, or the `text` of its
/// content parts.
pub fn message_text(message: &Value) -> String {
    match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    }
}

/// The request to send upstream: the client's body with the upstream's
/// model name, streaming on, and usage asked for (Tollway strips the usage
/// chunk again unless the client asked for it too).
pub fn upstream_body(raw: &Value, upstream_model: &str) -> Value {
    let mut body = raw.clone();
    body["model"] = Value::String(upstream_model.to_owned());
    body["stream"] = Value::Bool(true);
    if !body.get("stream_options").is_some_and(Value::is_object) {
        body["stream_options"] = Value::Object(serde_json::Map::new());
    }
    body["stream_options"]["include_usage"] = Value::Bool(true);
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upstream_body_keeps_client_fields_and_asks_for_usage() {
        let raw = json!({"model": "pub", "messages": [], "tools": [{"type": "function"}], "stream": false, "stream_options": null});
        let body = upstream_body(&raw, "up");
        assert_eq!(body["model"], "up");
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
        assert_eq!(body["tools"], raw["tools"]);
        let raw = json!({"model": "pub", "stream_options": {"include_usage": false, "other": 1}});
        assert_eq!(upstream_body(&raw, "up")["stream_options"], json!({"include_usage": true, "other": 1}));
    }

    #[test]
    fn message_text_of_strings_and_parts() {
        assert_eq!(message_text(&json!({"role": "user", "content": "hi"})), "hi");
        let parts = json!({"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}]});
        assert_eq!(message_text(&parts), "a\nb");
        assert_eq!(message_text(&json!({"role": "assistant", "content": null})), "");
    }
}
