//! The OpenAI chat-completions wire format (the subset Tollway reads).

use crate::ApiError;
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
    /// Choices asked for: only 1 (or absent) is served.
    pub n: Option<Value>,
}

/// Highest `temperature` accepted (OpenAI's range is 0-2).
const MAX_TEMPERATURE: f64 = 2.0;

impl ChatRequest {
    /// The output limit the client set, under either name.
    pub fn max_output(&self) -> Option<u64> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    /// Refuses what Tollway cannot serve or bill exactly, before anything
    /// is routed or held: `n` other than 1 (400 `n_unsupported`: choices
    /// are never merged into one answer or billed as one), a zero output
    /// limit, and sampling values outside OpenAI's ranges (400
    /// `invalid_request`). Integers too large or negative for their field
    /// are refused when the body is read.
    pub fn check(&self) -> Result<(), ApiError> {
        let invalid = |m: &str| Err(ApiError::bad_request("invalid_request", m));
        match &self.n {
            None | Some(Value::Null) => {}
            Some(n) if n.as_u64() == Some(1) || n.as_f64() == Some(1.0) => {}
            Some(n) if n.as_u64().is_some_and(|n| n > 1) => {
                return Err(ApiError::bad_request("n_unsupported", format!("n = {n}: Tollway serves one choice per request (n = 1); send separate requests")));
            }
            Some(n) => return Err(ApiError::bad_request("invalid_request", format!("n must be a positive integer, got {n}"))),
        }
        if self.max_output() == Some(0) {
            return invalid("max_tokens must be at least 1");
        }
        if self.temperature.is_some_and(|t| !(0.0..=MAX_TEMPERATURE).contains(&t)) {
            return invalid("temperature must be between 0 and 2");
        }
        if self.top_p.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return invalid("top_p must be between 0 and 1");
        }
        Ok(())
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
    /// On the final figures: the wallet's balance right after the charge
    /// (decimal string); absent while the charge is pending, and on
    /// per-chunk figures (other requests move the balance meanwhile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
    /// Why the answer was cut short, if it was (`insufficient_points`,
    /// `spend_cap_reached`, `arrears_outstanding`, `billing_unavailable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// On the final figures: where the token counts came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_source: Option<&'static str>,
    /// `"pending"` when the ledger could not take the charge yet: the cost
    /// is owed and is charged in the background.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settlement: Option<&'static str>,
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
