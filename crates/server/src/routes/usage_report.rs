//! Parsing a reported usage event, in Dify's `message_end` shape or the
//! relay shape, with strict validation of every field.

use crate::ApiError;
use serde_json::Value;
use tollway_core::money::parse_decimal;
use tollway_core::usage::{TokenUsage, MAX_TOKENS};

/// A usage report, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    /// The message id (idempotency key within the app).
    pub message_id: String,
    /// The user's handle.
    pub user: String,
    /// The model name.
    pub model: String,
    /// Token counts.
    pub usage: TokenUsage,
    /// A reservation to settle.
    pub reservation_id: Option<String>,
    /// The conversation.
    pub conversation_id: Option<String>,
    /// Dify's own total price, as given.
    pub reported_price: Option<String>,
    /// Its currency.
    pub reported_currency: Option<String>,
}

fn invalid(field: &str, why: &str) -> ApiError {
    ApiError::unprocessable("invalid_field", format!("{field}: {why}"))
}

/// A token count: a JSON integer in `0..=MAX_TOKENS`.
fn tokens(v: Option<&Value>, field: &str) -> Result<u64, ApiError> {
    let bad = |why: &str| ApiError::unprocessable("invalid_tokens", format!("{field}: {why}"));
    let v = v.ok_or_else(|| bad("is required"))?;
    let Value::Number(n) = v else { return Err(bad("must be a whole number")) };
    if let Some(u) = n.as_u64() {
        return if u > MAX_TOKENS { Err(bad(&format!("must be at most {MAX_TOKENS}"))) } else { Ok(u) };
    }
    // Not a u64: negative, written with a fraction or exponent, or huge.
    match n.as_f64() {
        Some(f) if f.is_sign_negative() => Err(bad("must not be negative")),
        Some(f) if f.fract() == 0.0 && f > MAX_TOKENS as f64 => Err(bad(&format!("must be at most {MAX_TOKENS}"))),
        _ => Err(bad("must be a whole number")),
    }
}

/// A non-empty string of at most `max` bytes, if present.
fn opt_text(v: Option<&Value>, field: &str, max: usize) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= max => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(invalid(field, &format!("must be 1-{max} characters"))),
        Some(Value::Number(n)) if field.ends_with("user_id") || field.ends_with("user") => Ok(Some(n.to_string())),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

fn required(v: Option<String>, code: &'static str, what: &str) -> Result<String, ApiError> {
    v.ok_or_else(|| ApiError::unprocessable(code, format!("{what} is required")))
}

/// A decimal price string as Dify sends them ("0.0010330").
fn price(v: Option<&Value>, field: &str) -> Result<Option<String>, ApiError> {
    match opt_text(v, field, 64)? {
        Some(s) => match parse_decimal(&s, 18) {
            Ok(_) => Ok(Some(s)),
            Err(e) => Err(ApiError::unprocessable("invalid_price", format!("{field}: {e}"))),
        },
        None => Ok(None),
    }
}

/// Parses either shape. `event` must be `message_end`.
pub fn parse(body: &Value) -> Result<UsageReport, ApiError> {
    let obj = body.as_object().ok_or_else(|| ApiError::bad_request("malformed_json", "body must be a JSON object"))?;
    match obj.get("event").and_then(Value::as_str) {
        Some("message_end") => {}
        Some(other) => {
            return Err(ApiError::unprocessable("unsupported_event", format!("event {other:?} is not message_end")))
        }
        None => return Err(ApiError::unprocessable("unsupported_event", "event is required (message_end)")),
    }
    if let Some(data) = obj.get("data").filter(|d| d.is_object()) {
        // Relay shape: {event, data:{conversation_id, message_id, user_id, model_name, input_tokens, …}, request_id}
        let usage = TokenUsage {
            input: tokens(data.get("input_tokens"), "data.input_tokens")?,
            output: tokens(data.get("output_tokens"), "data.output_tokens")?,
        };
        check_total(data.get("total_tokens"), usage, "data.total_tokens")?;
        return Ok(UsageReport {
            message_id: required(opt_text(data.get("message_id"), "data.message_id", 200)?, "invalid_field", "data.message_id")?,
            user: required(opt_text(data.get("user_id"), "data.user_id", 200)?, "missing_user", "data.user_id")?,
            model: required(opt_text(data.get("model_name"), "data.model_name", 200)?, "missing_model", "data.model_name")?,
            usage,
            reservation_id: opt_text(data.get("reservation_id").or(obj.get("reservation_id")), "reservation_id", 128)?,
            conversation_id: opt_text(data.get("conversation_id"), "data.conversation_id", 200)?,
            reported_price: None,
            reported_currency: None,
        });
    }
    // Dify's message_end: usage under metadata.usage; the relay adds user and model.
    let usage_obj = obj
        .get("metadata")
        .and_then(|m| m.get("usage"))
        .filter(|u| u.is_object())
        .ok_or_else(|| ApiError::unprocessable("invalid_field", "metadata.usage is required (or the relay shape's data)"))?;
    let usage = TokenUsage {
        input: tokens(usage_obj.get("prompt_tokens"), "metadata.usage.prompt_tokens")?,
        output: tokens(usage_obj.get("completion_tokens"), "metadata.usage.completion_tokens")?,
    };
    check_total(usage_obj.get("total_tokens"), usage, "metadata.usage.total_tokens")?;
    for f in ["prompt_unit_price", "prompt_price", "completion_unit_price", "completion_price", "prompt_price_unit", "completion_price_unit"] {
        price(usage_obj.get(f), &format!("metadata.usage.{f}"))?;
    }
    let user = opt_text(obj.get("user").or(obj.get("user_id")), "user", 200)?;
    let model = opt_text(obj.get("model").or(obj.get("model_name")), "model", 200)?;
    Ok(UsageReport {
        message_id: required(
            opt_text(obj.get("message_id").or(obj.get("id")), "message_id", 200)?,
            "invalid_field",
            "message_id",
        )?,
        user: required(user, "missing_user", "user (added by the relay)")?,
        model: required(model, "missing_model", "model (added by the relay)")?,
        usage,
        reservation_id: opt_text(obj.get("reservation_id"), "reservation_id", 128)?,
        conversation_id: opt_text(obj.get("conversation_id"), "conversation_id", 200)?,
        reported_price: price(usage_obj.get("total_price"), "metadata.usage.total_price")?,
        reported_currency: opt_text(usage_obj.get("currency"), "metadata.usage.currency", 16)?,
    })
}

fn check_total(total: Option<&Value>, usage: TokenUsage, field: &str) -> Result<(), ApiError> {
    match total {
        None | Some(Value::Null) => Ok(()),
        Some(v) => {
            let t = tokens(Some(v), field)?;
            if t == usage.input + usage.output {
                Ok(())
            } else {
                Err(ApiError::unprocessable("invalid_tokens", format!("{field} is not input + output")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn relay_shape() {
        let r = parse(&json!({"event":"message_end","data":{"conversation_id":"c","message_id":"m1","user_id":"u",
            "model_name":"gpt-4","input_tokens":1500,"output_tokens":800,"total_tokens":2300,
            "timestamp":"2024-01-15T10:30:00Z"},"request_id":"r"}))
        .expect("parse");
        assert_eq!((r.message_id.as_str(), r.user.as_str(), r.model.as_str()), ("m1", "u", "gpt-4"));
        assert_eq!(r.usage, TokenUsage { input: 1500, output: 800 });
    }

    #[test]
    fn dify_shape_with_string_prices() {
        let r = parse(&json!({"event":"message_end","conversation_id":"c","message_id":"m2","id":"m2",
            "created_at":1705395332,"task_id":"t","user":"u","model":"gpt-4",
            "metadata":{"usage":{"prompt_tokens":1033,"prompt_unit_price":"0.001","prompt_price_unit":"0.001",
            "prompt_price":"0.0010330","completion_tokens":128,"completion_unit_price":"0.002",
            "completion_price_unit":"0.001","completion_price":"0.0002560","total_tokens":1161,
            "total_price":"0.0012890","currency":"USD","latency":0.768}}}))
        .expect("parse");
        assert_eq!(r.usage, TokenUsage { input: 1033, output: 128 });
        assert_eq!(r.reported_price.as_deref(), Some("0.0012890"));
    }

    #[test]
    fn bad_token_counts() {
        for (v, code) in [
            (json!(-1), "invalid_tokens"),
            (json!(1.5), "invalid_tokens"),
            (json!(1.0), "invalid_tokens"),
            (json!("10"), "invalid_tokens"),
            (json!(1e30), "invalid_tokens"),
            (json!(100_000_001u64), "invalid_tokens"),
            (json!(u64::MAX), "invalid_tokens"),
        ] {
            let body = json!({"event":"message_end","data":{"message_id":"m","user_id":"u","model_name":"x",
                "input_tokens":v,"output_tokens":1}});
            assert_eq!(parse(&body).err().map(|e| e.code), Some(code), "{v}");
        }
        let big: Value = serde_json::from_str(r#"{"event":"message_end","data":{"message_id":"m","user_id":"u",
            "model_name":"x","input_tokens":123456789012345678901234567890,"output_tokens":1}}"#)
        .expect("json");
        assert_eq!(parse(&big).err().map(|e| e.code), Some("invalid_tokens"));
    }

    #[test]
    fn missing_things() {
        assert_eq!(parse(&json!({"event":"message"})).err().map(|e| e.code), Some("unsupported_event"));
        let no_user = json!({"event":"message_end","data":{"message_id":"m","model_name":"x","input_tokens":1,"output_tokens":1}});
        assert_eq!(parse(&no_user).err().map(|e| e.code), Some("missing_user"));
        let bad_total = json!({"event":"message_end","data":{"message_id":"m","user_id":"u","model_name":"x",
            "input_tokens":1,"output_tokens":1,"total_tokens":5}});
        assert_eq!(parse(&bad_total).err().map(|e| e.code), Some("invalid_tokens"));
    }
}
