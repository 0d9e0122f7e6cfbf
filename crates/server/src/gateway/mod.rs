//! The OpenAI-compatible gateway: `/v1/models` and `/v1/chat/completions`
//! (whole or streamed), served by the embedded model and billed per token
//! as it is delivered.

pub mod engine;
mod meter;
mod openai;

use crate::auth::CurrentUser;
use crate::routes::points::position;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use engine::{Engine, EngineError, EngineEvent};
use meter::{Meter, MeterGuard, Settled};
use openai::{Billing, ChatRequest, Usage};
use serde_json::json;
use std::convert::Infallible;
use tokio::sync::mpsc;
use tollway_core::usage::TokenUsage;
use tollway_core::Amount;
use tollway_llm::GenerateParams;

/// Output tokens generated when the request sets no limit.
const DEFAULT_MAX_TOKENS: u64 = 512;

fn engine(state: &AppState) -> Result<&Engine, ApiError> {
    state.engine.as_ref().ok_or_else(|| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "model_unavailable", "the local model is not loaded (see model_path)")
    })
}

fn now_secs() -> i64 {
    tollway_store::now_ms() / 1000
}

/// `GET /v1/models`.
pub async fn models(State(state): State<AppState>, CurrentUser(_user): CurrentUser) -> Result<Json<serde_json::Value>, ApiError> {
    let data: Vec<_> = state
        .engine
        .iter()
        .map(|e| json!({"id": e.name, "object": "model", "created": 0, "owned_by": "tollway"}))
        .collect();
    Ok(Json(json!({"object": "list", "data": data})))
}

/// Everything a generation needs once admitted and paid for.
struct Admitted {
    meter: Meter,
    events: mpsc::Receiver<EngineEvent>,
    reply: Reply,
}

/// What answers are made of.
struct Reply {
    prompt_tokens: u64,
    request_id: String,
    model: String,
    available: Amount,
    rule: tollway_core::pricing::PriceRule,
    billing: bool,
}

impl Reply {
    /// Billing of the chunk that carries output token `tokens`.
    fn chunk_billing(&self, tokens: u64) -> Billing {
        let cost = self.rule.cost(TokenUsage { input: self.prompt_tokens, output: tokens }).unwrap_or(Amount::MAX);
        Billing {
            chunk: Some(tokens),
            tokens,
            cost: cost.to_string(),
            balance: self.available.saturating_sub(cost).to_string(),
            stopped: None,
        }
    }
}

/// Billing of a whole answer or a stream's last chunk, once settled.
fn final_billing(settled: Settled, delivered: u64, ending: &Ending) -> Billing {
    Billing {
        chunk: None,
        tokens: delivered,
        cost: settled.cost.to_string(),
        balance: settled.balance.to_string(),
        stopped: matches!(ending, Ending::OutOfPoints).then(|| "insufficient_points".to_owned()),
    }
}

async fn admit(state: &AppState, user_id: i64, req: &ChatRequest, headers: &HeaderMap) -> Result<Admitted, ApiError> {
    let engine = engine(state)?;
    if req.model != engine.name {
        return Err(ApiError::not_found("model_not_found", format!("no model {:?}; see /v1/models", req.model)));
    }
    if req.messages.is_empty() {
        return Err(ApiError::bad_request("invalid_request", "messages must not be empty"));
    }
    let rule = state.rule_for(&req.model).await?;
    let (_, available, arrears) = position(state, user_id).await?;
    if !arrears.is_zero() {
        return Err(ApiError::new(StatusCode::PAYMENT_REQUIRED, "arrears_outstanding", format!("{arrears} points are owed")));
    }
    let prompt = engine.prompt(&req.messages).map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;
    let room = engine.context_len().saturating_sub(prompt.len()) as u64;
    if room == 0 {
        return Err(ApiError::bad_request("context_length_exceeded", format!("the prompt has {} tokens; the context is {}", prompt.len(), engine.context_len())));
    }
    let max_tokens = req.max_completion_tokens.or(req.max_tokens).unwrap_or(DEFAULT_MAX_TOKENS).min(room);
    if max_tokens == 0 {
        return Err(ApiError::bad_request("invalid_request", "max_tokens must be at least 1"));
    }
    let request_id = format!("chatcmpl-{}", crate::ops::new_secret(""));
    let prompt_tokens = prompt.len() as u64;
    let window = state.config.billing_window_tokens.max(1).min(max_tokens);
    let meter = Meter::open(state, user_id, rule.clone(), request_id.clone(), prompt_tokens, window).await?;
    let params = GenerateParams {
        max_tokens: usize::try_from(max_tokens).unwrap_or(usize::MAX),
        temperature: req.temperature,
        top_p: req.top_p,
        seed: req.seed.unwrap_or(299_792_458),
        ..GenerateParams::default()
    };
    let events = match engine.generate(prompt, params) {
        Ok(rx) => rx,
        Err(e) => {
            meter.void().await?;
            let code = match e {
                EngineError::Busy => "engine_busy",
                EngineError::Stopped => "model_unavailable",
            };
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, e.to_string()));
        }
    };
    let billing = headers.get("x-tollway-billing").and_then(|v| v.to_str().ok()) == Some("chunk");
    let reply = Reply { prompt_tokens, request_id, model: req.model.clone(), available, rule, billing };
    Ok(Admitted { meter, events, reply })
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
    body: Result<Json<ChatRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request("invalid_request", e.body_text()))?;
    let admitted = admit(&state, user.id, &req, &headers).await?;
    if req.stream {
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        Ok(stream(admitted, include_usage).into_response())
    } else {
        whole(admitted).await.map(IntoResponse::into_response)
    }
}

/// Why generation ended, for `finish_reason` and billing.
enum Ending {
    Finished(tollway_llm::FinishReason),
    OutOfPoints,
    Failed(String),
    Disconnected,
}

fn finish_reason(ending: &Ending) -> &'static str {
    match ending {
        Ending::Finished(tollway_llm::FinishReason::Stop) => "stop",
        _ => "length",
    }
}

async fn whole(a: Admitted) -> Result<Json<serde_json::Value>, ApiError> {
    let Admitted { meter, mut events, reply } = a;
    // If the client goes away, this future is dropped: the guard releases the hold.
    let mut guard = MeterGuard::new(meter);
    let mut text = String::new();
    let mut delivered = 0u64;
    let ending = loop {
        match events.recv().await {
            Some(EngineEvent::Token(t)) => {
                if !guard.meter()?.cover(delivered + 1).await? {
                    break Ending::OutOfPoints;
                }
                delivered += 1;
                text.push_str(&t);
            }
            Some(EngineEvent::Done(g)) => break Ending::Finished(g.finish),
            Some(EngineEvent::Failed(e)) => break Ending::Failed(e),
            None => break Ending::Failed("the model stopped".into()),
        }
    };
    drop(events);
    let meter = guard.take()?;
    if let Ending::Failed(e) = &ending {
        meter.void().await?;
        return Err(ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", e.clone()));
    }
    let settled = meter.settle(delivered).await?;
    let usage = usage(&reply, delivered);
    let billing = final_billing(settled, delivered, &ending);
    Ok(Json(json!({
        "id": reply.request_id,
        "object": "chat.completion",
        "created": now_secs(),
        "model": reply.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason(&ending)}],
        "usage": usage,
        "tollway": billing,
    })))
}

fn usage(reply: &Reply, delivered: u64) -> Usage {
    Usage { prompt_tokens: reply.prompt_tokens, completion_tokens: delivered, total_tokens: reply.prompt_tokens + delivered }
}

fn chunk(reply: &Reply, delta: serde_json::Value, finish: Option<&str>, extra: Option<(&str, serde_json::Value)>) -> Event {
    let mut body = json!({
        "id": reply.request_id,
        "object": "chat.completion.chunk",
        "created": now_secs(),
        "model": reply.model,
        "choices": if delta.is_null() { json!([]) } else { json!([{"index": 0, "delta": delta, "finish_reason": finish}]) },
    });
    if let Some((key, value)) = extra {
        body[key] = value;
    }
    Event::default().data(body.to_string())
}

/// Streams chunks while paying for them: every token is covered by the hold
/// before its chunk is sent; when the balance cannot cover the next token,
/// the stream ends with `finish_reason: "length"` and `tollway.stopped`.
/// A client that goes away is charged for the chunks handed to HTTP.
fn stream(a: Admitted, include_usage: bool) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    // Capacity 1: a chunk counts as delivered once the HTTP layer took it.
    let (tx, rx) = mpsc::channel::<Event>(1);
    tokio::spawn(async move {
        let Admitted { mut meter, mut events, reply } = a;
        let mut delivered = 0u64;
        let opening = chunk(&reply, json!({"role": "assistant", "content": ""}), None, None);
        let mut ending = if tx.send(opening).await.is_err() { Some(Ending::Disconnected) } else { None };
        while ending.is_none() {
            ending = match events.recv().await {
                Some(EngineEvent::Token(t)) => match meter.cover(delivered + 1).await {
                    Ok(true) => {
                        let billing = reply.billing.then(|| json!(reply.chunk_billing(delivered + 1)));
                        let event = chunk(&reply, json!({"content": t}), None, billing.map(|b| ("tollway", b)));
                        if tx.send(event).await.is_err() {
                            Some(Ending::Disconnected)
                        } else {
                            delivered += 1;
                            None
                        }
                    }
                    Ok(false) => Some(Ending::OutOfPoints),
                    Err(e) => Some(Ending::Failed(e.message)),
                },
                Some(EngineEvent::Done(g)) => Some(Ending::Finished(g.finish)),
                Some(EngineEvent::Failed(e)) => Some(Ending::Failed(e)),
                None => Some(Ending::Failed("the model stopped".into())),
            };
        }
        drop(events);
        let ending = ending.unwrap_or(Ending::Disconnected);
        if let Ending::Failed(e) = &ending {
            tracing::warn!(request = %reply.request_id, error = %e, "generation failed; nothing charged");
            if let Err(v) = meter.void().await {
                tracing::error!(request = %reply.request_id, error = %v.message, "could not release hold; it expires");
            }
            let error = json!({"message": e, "code": "upstream_error"});
            let _ = tx.send(chunk(&reply, serde_json::Value::Null, None, Some(("error", error)))).await;
            return;
        }
        let settled = match meter.settle(delivered).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(request = %reply.request_id, error = %e.message, "settlement failed; the hold expires");
                return;
            }
        };
        if matches!(ending, Ending::Disconnected) {
            return;
        }
        let billing = final_billing(settled, delivered, &ending);
        let last = chunk(&reply, json!({}), Some(finish_reason(&ending)), Some(("tollway", json!(billing))));
        if tx.send(last).await.is_err() {
            return;
        }
        if include_usage {
            let usage = json!(usage(&reply, delivered));
            if tx.send(chunk(&reply, serde_json::Value::Null, None, Some(("usage", usage)))).await.is_err() {
                return;
            }
        }
        let _ = tx.send(Event::default().data("[DONE]")).await;
    });
    let body = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) });
    Sse::new(body)
}
