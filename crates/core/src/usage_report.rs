//! Decoding a reported usage event from its JSON: Dify's own `message_end`
//! (usage under `metadata.usage`) or a relay's flat shape (`data.{…}`),
//! with every field validated and every number checked (no arithmetic on
//! a reported value can overflow or panic). Where the user and the model
//! are found is the reporting app's choice ([`Source`]).

use crate::money::parse_decimal;
use crate::usage::{TokenUsage, MAX_TOKENS};
use serde_json::Value;

/// Longest id, user, model or conversation text accepted.
pub const TEXT_MAX: usize = 200;
/// Longest reservation key accepted before namespacing (the ledger's own
/// rule, 1-64 of `[A-Za-z0-9._-]`, is checked where it is mapped).
const RESERVATION_MAX: usize = 128;
/// Most segments in a field path.
const PATH_SEGMENTS_MAX: usize = 8;

/// Where an app's reports name the user or the model.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Source {
    /// The built-in places: `data.user_id` / `data.model_name` in the relay
    /// shape, `user` (or `user_id`) / `model` (or `model_name`) at the top
    /// of Dify's shape.
    #[default]
    Default,
    /// A dotted path into the body, e.g. `from_end_user_id` or `inputs.user`.
    Field(String),
    /// A request header (users only); its value is passed to [`parse`].
    Header(String),
    /// One model for every report of the app (models only).
    Fixed(String),
}

/// Why a source is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

fn is_path(path: &str) -> bool {
    let segments: Vec<&str> = path.split('.').collect();
    segments.len() <= PATH_SEGMENTS_MAX
        && segments.iter().all(|s| {
            !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        })
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Source {
    /// A user source from its kind (`field` or `header`) and value;
    /// header names are kept in lower case.
    pub fn user(kind: &str, value: &str) -> Result<Source, SourceError> {
        match kind {
            "field" if is_path(value) => Ok(Source::Field(value.to_owned())),
            "field" => Err(SourceError("user.field must be a dotted path of 1-8 names of [A-Za-z0-9_-]".into())),
            "header" if is_header_name(value) => Ok(Source::Header(value.to_ascii_lowercase())),
            "header" => Err(SourceError("user.header must be 1-64 of [A-Za-z0-9-]".into())),
            _ => Err(SourceError("user must be {\"field\": path} or {\"header\": name}".into())),
        }
    }

    /// A model source from its kind (`field` or `fixed`) and value.
    pub fn model(kind: &str, value: &str) -> Result<Source, SourceError> {
        match kind {
            "field" if is_path(value) => Ok(Source::Field(value.to_owned())),
            "field" => Err(SourceError("model.field must be a dotted path of 1-8 names of [A-Za-z0-9_-]".into())),
            "fixed" if !value.is_empty() && value.len() <= TEXT_MAX => Ok(Source::Fixed(value.to_owned())),
            "fixed" => Err(SourceError(format!("model.fixed must be 1-{TEXT_MAX} characters"))),
            _ => Err(SourceError("model must be {\"field\": path} or {\"fixed\": name}".into())),
        }
    }

    /// The stored form: `None` for the default, else `kind:value`.
    pub fn encode(&self) -> Option<String> {
        match self {
            Source::Default => None,
            Source::Field(v) => Some(format!("field:{v}")),
            Source::Header(v) => Some(format!("header:{v}")),
            Source::Fixed(v) => Some(format!("fixed:{v}")),
        }
    }

    /// Reads the stored form back (`None` for anything unreadable).
    pub fn decode(text: Option<&str>) -> Option<Source> {
        let Some(text) = text else { return Some(Source::Default) };
        let (kind, value) = text.split_once(':')?;
        match kind {
            "header" => Source::user(kind, value).ok(),
            "fixed" => Source::model(kind, value).ok(),
            "field" => Source::user(kind, value).ok(),
            _ => None,
        }
    }

    /// `(kind, value)`, or `None` for the default.
    pub fn parts(&self) -> Option<(&'static str, &str)> {
        match self {
            Source::Default => None,
            Source::Field(v) => Some(("field", v)),
            Source::Header(v) => Some(("header", v)),
            Source::Fixed(v) => Some(("fixed", v)),
        }
    }
}

/// Where to find the user and the model in one report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sources<'a> {
    /// The app's user source.
    pub user: &'a Source,
    /// The app's model source.
    pub model: &'a Source,
    /// The value of the user header, when the user source is a header.
    pub user_header: Option<&'a str>,
}

/// A usage report, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    /// The message id (idempotency key within the app).
    pub message_id: String,
    /// The user, as reported.
    pub user: String,
    /// The model, as reported.
    pub model: String,
    /// Token counts.
    pub usage: TokenUsage,
    /// The client key of a reservation to settle.
    pub reservation_id: Option<String>,
    /// The conversation.
    pub conversation_id: Option<String>,
    /// Dify's own total price, as given.
    pub reported_price: Option<String>,
    /// Its currency.
    pub reported_currency: Option<String>,
}

/// Why a report was refused. [`ReportError::code`] is the stable API code,
/// [`ReportError::field`] the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The body is not a JSON object.
    #[error("body must be a JSON object")]
    NotAnObject,
    /// `event` is missing or not `message_end`.
    #[error("{0}")]
    UnsupportedEvent(String),
    /// A field is missing or malformed.
    #[error("{field}: {why}")]
    InvalidField {
        /// The field.
        field: String,
        /// What is wrong.
        why: String,
    },
    /// A token count is not a whole number in range.
    #[error("{field}: {why}")]
    InvalidTokens {
        /// The field.
        field: String,
        /// What is wrong.
        why: String,
    },
    /// A price string is not an exact decimal.
    #[error("{field}: {why}")]
    InvalidPrice {
        /// The field.
        field: String,
        /// What is wrong.
        why: String,
    },
    /// The user is not where the app's source says.
    #[error("{0} is required (the user)")]
    MissingUser(String),
    /// The model is not where the app's source says.
    #[error("{0} is required (the model)")]
    MissingModel(String),
}

impl ReportError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ReportError::NotAnObject => "malformed_json",
            ReportError::UnsupportedEvent(_) => "unsupported_event",
            ReportError::InvalidField { .. } => "invalid_field",
            ReportError::InvalidTokens { .. } => "invalid_tokens",
            ReportError::InvalidPrice { .. } => "invalid_price",
            ReportError::MissingUser(_) => "missing_user",
            ReportError::MissingModel(_) => "missing_model",
        }
    }

    /// The field at fault, if one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            ReportError::NotAnObject => None,
            ReportError::UnsupportedEvent(_) => Some("event"),
            ReportError::InvalidField { field, .. }
            | ReportError::InvalidTokens { field, .. }
            | ReportError::InvalidPrice { field, .. }
            | ReportError::MissingUser(field)
            | ReportError::MissingModel(field) => Some(field),
        }
    }
}

fn invalid(field: &str, why: impl Into<String>) -> ReportError {
    ReportError::InvalidField { field: field.to_owned(), why: why.into() }
}

/// A token count: a JSON integer in `0..=MAX_TOKENS`.
fn tokens(v: Option<&Value>, field: &str) -> Result<u64, ReportError> {
    let bad = |why: &str| ReportError::InvalidTokens { field: field.to_owned(), why: why.to_owned() };
    let v = v.ok_or_else(|| bad("is required"))?;
    let Value::Number(n) = v else { return Err(bad("must be a whole number")) };
    if let Some(u) = n.as_u64() {
        return if u > MAX_TOKENS { Err(bad(&format!("must be at most {MAX_TOKENS}"))) } else { Ok(u) };
    }
    if n.is_i64() {
        return Err(bad("must not be negative"));
    }
    Err(bad("must be a whole number of at most 100000000 (no fraction or exponent)"))
}

/// A non-empty string of at most `max` bytes, if present; numbers are
/// taken as their text where `numbers` allows (user ids).
fn opt_text(v: Option<&Value>, field: &str, max: usize, numbers: bool) -> Result<Option<String>, ReportError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= max => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(invalid(field, format!("must be 1-{max} characters"))),
        Some(Value::Number(n)) if numbers && (n.is_u64() || n.is_i64()) => Ok(Some(n.to_string())),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

/// A decimal price string as Dify sends them (`"0.0010330"`), if present.
fn price(v: Option<&Value>, field: &str) -> Result<Option<String>, ReportError> {
    let Some(s) = opt_text(v, field, 64, false)? else { return Ok(None) };
    match parse_decimal(&s, 18) {
        Ok(_) => Ok(Some(s)),
        Err(e) => Err(ReportError::InvalidPrice { field: field.to_owned(), why: e.to_string() }),
    }
}

/// A non-negative integer that fits i64 (Unix seconds), if present.
fn opt_time(v: Option<&Value>, field: &str) -> Result<(), ReportError> {
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Number(n)) if n.as_i64().is_some_and(|t| t >= 0) => Ok(()),
        Some(_) => Err(invalid(field, "must be a whole number of seconds, 0 or more")),
    }
}

/// A finite non-negative number (seconds), if present.
fn opt_seconds(v: Option<&Value>, field: &str) -> Result<(), ReportError> {
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Number(n)) if n.as_f64().is_some_and(|f| f.is_finite() && f >= 0.0) => Ok(()),
        Some(_) => Err(invalid(field, "must be a number of seconds, 0 or more")),
    }
}

/// The value at a dotted path.
fn at_path<'v>(body: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(body, |v, key| v.get(key))
}

/// Finds the user or the model: the app's source, else the built-in places.
fn locate(
    body: &Value,
    source: &Source,
    header: Option<&str>,
    builtin: &[&str],
    numbers: bool,
) -> Result<(Option<String>, String), ReportError> {
    let text = |path: &str| opt_text(at_path(body, path), path, TEXT_MAX, numbers);
    match source {
        Source::Field(path) => Ok((text(path)?, path.clone())),
        Source::Header(name) => match header {
            Some(v) if !v.is_empty() && v.len() <= TEXT_MAX => Ok((Some(v.to_owned()), format!("header {name}"))),
            Some(_) => Err(invalid(&format!("header {name}"), format!("must be 1-{TEXT_MAX} characters"))),
            None => Ok((None, format!("header {name}"))),
        },
        Source::Fixed(model) => Ok((Some(model.clone()), "model".into())),
        Source::Default => {
            for path in builtin {
                if let Some(v) = text(path)? {
                    return Ok((Some(v), (*path).to_owned()));
                }
            }
            Ok((None, builtin[0].to_owned()))
        }
    }
}

fn check_total(total: Option<&Value>, usage: TokenUsage, field: &str) -> Result<(), ReportError> {
    if matches!(total, None | Some(Value::Null)) {
        return Ok(());
    }
    let t = tokens(total, field)?;
    if usage.input.checked_add(usage.output) == Some(t) {
        Ok(())
    } else {
        Err(ReportError::InvalidTokens { field: field.to_owned(), why: "is not input + output".into() })
    }
}

/// Parses either shape. `event` must be `message_end`.
pub fn parse(body: &Value, sources: Sources<'_>) -> Result<UsageReport, ReportError> {
    let obj = body.as_object().ok_or(ReportError::NotAnObject)?;
    match obj.get("event") {
        Some(Value::String(e)) if e == "message_end" => {}
        Some(Value::String(other)) if other.len() <= 64 => {
            return Err(ReportError::UnsupportedEvent(format!("event {other:?} is not message_end")))
        }
        _ => return Err(ReportError::UnsupportedEvent("event is required (message_end)".into())),
    }
    let relay = obj.get("data").filter(|d| d.is_object());
    let (usage, usage_at, builtin_user, builtin_model): (&Value, &str, &[&str], &[&str]) = match relay {
        Some(data) => (data, "data", &["data.user_id"], &["data.model_name"]),
        None => {
            let usage = at_path(body, "metadata.usage")
                .filter(|u| u.is_object())
                .ok_or_else(|| invalid("metadata.usage", "is required (or the relay shape's data)"))?;
            (usage, "metadata.usage", &["user", "user_id"], &["model", "model_name"])
        }
    };
    let field = |name: &str| format!("{usage_at}.{name}");
    let (input_name, output_name) = if relay.is_some() { ("input_tokens", "output_tokens") } else { ("prompt_tokens", "completion_tokens") };
    let usage_counts = TokenUsage {
        input: tokens(usage.get(input_name), &field(input_name))?,
        output: tokens(usage.get(output_name), &field(output_name))?,
    };
    check_total(usage.get("total_tokens"), usage_counts, &field("total_tokens"))?;
    for name in ["latency", "time_to_first_token", "time_to_generate"] {
        opt_seconds(usage.get(name), &field(name))?;
    }
    let mut reported = (None, None);
    if relay.is_none() {
        for name in ["prompt_unit_price", "prompt_price", "completion_unit_price", "completion_price", "prompt_price_unit", "completion_price_unit"] {
            price(usage.get(name), &field(name))?;
        }
        reported = (price(usage.get("total_price"), &field("total_price"))?, opt_text(usage.get("currency"), &field("currency"), 16, false)?);
        opt_time(obj.get("created_at"), "created_at")?;
    }
    let message_id = match relay {
        Some(data) => opt_text(data.get("message_id"), "data.message_id", TEXT_MAX, false)?,
        None => {
            let message_id = opt_text(obj.get("message_id"), "message_id", TEXT_MAX, false)?;
            let id = opt_text(obj.get("id"), "id", TEXT_MAX, false)?;
            if message_id.is_some() && id.is_some() && message_id != id {
                return Err(invalid("id", "differs from message_id"));
            }
            message_id.or(id)
        }
    };
    let message_id = message_id.ok_or_else(|| invalid(if relay.is_some() { "data.message_id" } else { "message_id" }, "is required"))?;
    let (user, user_at) = locate(body, sources.user, sources.user_header, builtin_user, true)?;
    let (model, model_at) = locate(body, sources.model, None, builtin_model, false)?;
    let reservation = relay.and_then(|d| d.get("reservation_id")).or(obj.get("reservation_id"));
    let conversation_at = if relay.is_some() { "data.conversation_id" } else { "conversation_id" };
    Ok(UsageReport {
        message_id,
        user: user.ok_or(ReportError::MissingUser(user_at))?,
        model: model.ok_or(ReportError::MissingModel(model_at))?,
        usage: usage_counts,
        reservation_id: opt_text(reservation, "reservation_id", RESERVATION_MAX, false)?,
        conversation_id: opt_text(at_path(body, conversation_at), conversation_at, TEXT_MAX, false)?,
        reported_price: reported.0,
        reported_currency: reported.1,
    })
}

#[cfg(test)]
#[path = "usage_report_tests.rs"]
mod tests;
