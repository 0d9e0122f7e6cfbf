//! What Tollway reads out of an OpenAI `chat.completion.chunk`: the delta
//! to pass on, the text to meter, the finish reason and reported usage.

use serde_json::Value;

/// The parts of one streamed chunk that matter for metering.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkView {
    /// The first choice's delta, passed on to the client as is.
    pub delta: Option<Value>,
    /// All generated text in the delta (content, reasoning, tool names and
    /// arguments): what is metered.
    pub text: String,
    /// The first choice's finish reason, when this chunk ends it.
    pub finish_reason: Option<String>,
    /// `usage` as reported, when the chunk carries it.
    pub usage: Option<ReportedUsage>,
}

/// Token usage as an upstream reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportedUsage {
    /// `prompt_tokens`.
    pub prompt_tokens: u64,
    /// `completion_tokens`.
    pub completion_tokens: u64,
}

impl ChunkView {
    /// Reads a chunk. Fields that are absent or of the wrong type count as
    /// absent; a usage object without both counts is ignored.
    pub fn parse(chunk: &Value) -> ChunkView {
        let choice = chunk.get("choices").and_then(Value::as_array).and_then(|c| c.first());
        let delta = choice.and_then(|c| c.get("delta")).filter(|d| d.is_object()).cloned();
        let text = delta.as_ref().map(delta_text).unwrap_or_default();
        let finish_reason = choice.and_then(|c| c.get("finish_reason")).and_then(Value::as_str).map(str::to_owned);
        let usage = chunk.get("usage").and_then(|u| {
            Some(ReportedUsage {
                prompt_tokens: u.get("prompt_tokens")?.as_u64()?,
                completion_tokens: u.get("completion_tokens")?.as_u64()?,
            })
        });
        ChunkView { delta, text, finish_reason, usage }
    }
}

/// The generated text of a delta.
fn delta_text(delta: &Value) -> String {
    let mut text = String::new();
    for key in ["content", "reasoning_content", "reasoning", "refusal"] {
        if let Some(s) = delta.get(key).and_then(Value::as_str) {
            text.push_str(s);
        }
    }
    for call in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
        let function = call.get("function");
        for key in ["name", "arguments"] {
            if let Some(s) = function.and_then(|f| f.get(key)).and_then(Value::as_str) {
                text.push_str(s);
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_chunk() {
        let v = ChunkView::parse(&json!({"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": null}]}));
        assert_eq!(v.text, "Hel");
        assert_eq!(v.delta, Some(json!({"content": "Hel"})));
        assert_eq!((v.finish_reason, v.usage), (None, None));
    }

    #[test]
    fn tool_call_and_reasoning_text_is_metered() {
        let v = ChunkView::parse(&json!({"choices": [{"delta": {
            "reasoning_content": "think ",
            "tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "{\"x\":1}"}}]
        }}]}));
        assert_eq!(v.text, "think f{\"x\":1}");
    }

    #[test]
    fn usage_chunk_with_no_choices() {
        let v = ChunkView::parse(&json!({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46}}));
        assert_eq!(v.usage, Some(ReportedUsage { prompt_tokens: 12, completion_tokens: 34 }));
        assert_eq!((v.delta, v.text.as_str()), (None, ""));
    }

    #[test]
    fn finish_and_malformed_fields() {
        let v = ChunkView::parse(&json!({"choices": [{"delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": "12"}}));
        assert_eq!(v.finish_reason.as_deref(), Some("stop"));
        assert_eq!(v.usage, None, "a string count is not usage");
        let v = ChunkView::parse(&json!({"choices": "nope", "usage": null}));
        assert_eq!(v, ChunkView { delta: None, text: String::new(), finish_reason: None, usage: None });
    }
}
