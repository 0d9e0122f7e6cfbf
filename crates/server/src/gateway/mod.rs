//! The OpenAI-compatible gateway: `/v1/models` and `/v1/chat/completions`
//! (whole or streamed), served by the embedded model or an OpenAI-compatible
//! upstream and billed per chunk as it is delivered.

mod channel_mode;
pub mod engine;
mod held;
mod late;
mod limits;
mod meter;
mod openai;
mod paid;
mod payment;
mod pieces;
mod reply;
pub mod route;

pub use limits::KeyLimiter;

use crate::auth::Caller;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use channel_mode::Admission;
use engine::EngineError;
use meter::Meter;
use paid::{ChannelMeter, Window};
use payment::Payment;
use openai::{message_text, upstream_body, ChatRequest};
use pieces::{Counter, Pieces};
use reply::Reply;
use route::Target;
use serde_json::{json, Value};
use tollway_core::ledger::{AccountId, Command};
use tollway_core::pricing::PriceRule;
use tollway_core::Asset;
use tollway_llm::remote::UpstreamError;
use tollway_llm::{ChatMessage, GenerateParams};
use tollway_store::requests::RequestRecord;
use tollway_store::{Record, Submission};

/// Output tokens the embedded model generates when the request sets no limit.
const DEFAULT_MAX_TOKENS: u64 = 512;
/// Tokens OpenAI chat formats add per message, and to open the reply.
const TOKENS_PER_MESSAGE: u64 = 3;
/// Temperatures below this sample greedily on the embedded model.
const MIN_TEMPERATURE: f64 = 1e-6;

fn now_secs() -> i64 {
    tollway_store::now_ms() / 1000
}

/// `GET /v1/models`.
#[utoipa::path(get, path = "/v1/models", tag = "gateway", security(("api_key" = [])),
    responses((status = 200, body = crate::openapi::gateway::ModelList),
              (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn models(State(state): State<AppState>, _caller: Caller) -> Result<Json<Value>, ApiError> {
    let data: Vec<_> = state
        .models
        .list()
        .map(|(id, upstream)| json!({"id": id, "object": "model", "created": 0, "owned_by": upstream}))
        .collect();
    Ok(Json(json!({"object": "list", "data": data})))
}

/// How a request will be served, before any money moves.
struct Plan {
    start: Start,
    prompt_tokens: u64,
    window: u64,
    counter: Option<Counter>,
}

/// What starts the answer.
enum Start {
    Local { engine: engine::Engine, prompt: Vec<u32>, params: GenerateParams },
    Remote { client: tollway_llm::remote::RemoteModel, body: Value },
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_request", message)
}

fn plan(state: &AppState, target: &Target, req: &ChatRequest, raw: &Value) -> Result<Plan, ApiError> {
    let max_output = req.max_output();
    let window = state.config.billing_window_tokens.max(1);
    match target {
        Target::Local(engine) => {
            let messages: Vec<ChatMessage> = serde_json::from_value(Value::Array(req.messages.clone()))
                .map_err(|e| invalid(format!("the embedded model takes text messages (system, user, assistant): {e}")))?;
            let prompt = engine.prompt(&messages).map_err(|e| invalid(e.to_string()))?;
            let room = engine.context_len().saturating_sub(prompt.len()) as u64;
            if room == 0 {
                let message = format!("the prompt has {} tokens; the context is {}", prompt.len(), engine.context_len());
                return Err(ApiError::bad_request("context_length_exceeded", message));
            }
            let max_tokens = max_output.unwrap_or(DEFAULT_MAX_TOKENS).min(room);
            // top_p 0 keeps only the likeliest token, and a temperature too
            // small to divide logits by without overflow is greedy too.
            let greedy = req.top_p == Some(0.0) || req.temperature.is_some_and(|t| t < MIN_TEMPERATURE);
            let params = GenerateParams {
                max_tokens: usize::try_from(max_tokens).unwrap_or(usize::MAX),
                temperature: if greedy { None } else { req.temperature },
                top_p: req.top_p,
                seed: req.seed.unwrap_or(299_792_458),
                ..GenerateParams::default()
            };
            let prompt_tokens = prompt.len() as u64;
            Ok(Plan { start: Start::Local { engine: engine.clone(), prompt, params }, prompt_tokens, window: window.min(max_tokens), counter: None })
        }
        Target::Remote { client, model, .. } => {
            let counter = state.models.engine().map_or(Counter::Heuristic, |e| Counter::Tokenizer(e.tokenizer()));
            let overflow = || ApiError::unprocessable("amount_overflow", "the prompt's token count overflows");
            let text_tokens = req.messages.iter().try_fold(0u64, |sum, m| sum.checked_add(counter.count(&message_text(m)))).ok_or_else(overflow)?;
            let framing = (req.messages.len() as u64).checked_add(1).and_then(|n| n.checked_mul(TOKENS_PER_MESSAGE)).ok_or_else(overflow)?;
            let prompt_tokens = text_tokens.checked_add(framing).ok_or_else(overflow)?;
            let window = max_output.map_or(window, |m| window.min(m));
            let start = Start::Remote { client: client.clone(), body: upstream_body(raw, model) };
            Ok(Plan { start, prompt_tokens, window, counter: Some(counter) })
        }
    }
}

/// The error a client sees when the upstream refused or failed to start.
fn upstream_refusal(e: &UpstreamError) -> ApiError {
    match e {
        UpstreamError::Status { status: 400 | 404 | 413 | 422, message } => {
            ApiError::bad_request("upstream_rejected", format!("the upstream refused the request: {message}"))
        }
        UpstreamError::Status { status: 429, .. } => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "upstream_busy", e.to_string()),
        _ => ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", e.to_string()),
    }
}

/// Starts the answer; an upstream's chunks are counted by `counter`.
async fn start(plan: Start, counter: Counter) -> Result<Pieces, ApiError> {
    match plan {
        Start::Local { engine, prompt, params } => engine.generate(prompt, params).map(Pieces::Local).map_err(|e| {
            let code = match e {
                EngineError::Busy => "engine_busy",
                EngineError::Stopped => "model_unavailable",
            };
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, e.to_string())
        }),
        Start::Remote { client, body } => {
            let chunks = client.stream_chat(&body).await.map_err(|e| upstream_refusal(&e))?;
            Ok(Pieces::remote(chunks, counter))
        }
    }
}

/// Where the money for a request comes from.
enum Funding {
    /// A points hold.
    Points(Box<Meter>),
    /// A payment channel.
    Channel {
        meter: Box<ChannelMeter>,
        accepted: tokio::sync::watch::Receiver<tollway_core::Amount>,
        window: tollway_core::Amount,
        /// A whole answer's request hash (it is held until paid).
        request_hash: Option<String>,
    },
}

/// Admits a points-paid request: the first hold placed in one step with
/// the check that no arrears are owed (402 `arrears_outstanding`).
async fn fund_from_points(state: &AppState, caller: &Caller, rule: PriceRule, request_id: &str, plan: &Plan) -> Result<Funding, ApiError> {
    let allowance = caller.key.spend_cap.map(|_| AccountId::key_allowance(caller.key.id, Asset::POINTS));
    let meter = Meter::open(state, caller.user.id, allowance, rule, request_id.to_owned(), plan.prompt_tokens, plan.window).await?;
    Ok(Funding::Points(Box::new(meter)))
}

/// `POST /v1/chat/completions`: paid from points, or from a payment
/// channel when the `X-Tollway-Channel` header is sent.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "gateway", security(("api_key" = [])),
    request_body = crate::openapi::gateway::ChatCompletionRequest,
    params(
        ("X-Tollway-Billing" = Option<String>, Header, description = "`chunk`: every chunk carries its billing in a `tollway` field"),
        ("X-Tollway-Channel" = Option<String>, Header, description = "Pay from a payment channel: the channel's payment data (docs/channels.md)"),
    ),
    responses(
        (status = 200, description = "The answer: whole (JSON) or streamed (server-sent events of `chat.completion.chunk`, then `[DONE]`)",
            content((crate::openapi::gateway::ChatCompletion = "application/json"), (String = "text/event-stream"))),
        (status = 400, description = "Invalid request, context too long, unreadable payment header, or refused by the upstream", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 402, description = "Not enough points, arrears, spending cap, or a channel payment to sign first", body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, description = "`model_not_found` (also when the embedded model is not loaded), unknown channel", body = crate::error::ErrorBody),
        (status = 409, description = "Channel state conflicts", body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody),
        (status = 422, description = "Unknown price for the model, amount overflow", body = crate::error::ErrorBody),
        (status = 429, description = "Rate limited (with `Retry-After`)", body = crate::error::ErrorBody),
        (status = 502, description = "`upstream_error`", body = crate::error::ErrorBody),
        (status = 503, description = "`model_unavailable`, `engine_busy`, `upstream_busy`, `storage_busy`", body = crate::error::ErrorBody),
    ))]
pub async fn chat_completions(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let started = tollway_store::now_ms();
    let Json(raw) = body.map_err(|e| invalid(e.body_text()))?;
    let req: ChatRequest = serde_json::from_value(raw.clone()).map_err(|e| invalid(e.to_string()))?;
    req.check()?;
    let channel = channel_mode::payment_data(&headers)?;
    let target = state.models.get(&req.model).cloned().ok_or_else(|| {
        ApiError::not_found("model_not_found", format!("no model {:?}; see /v1/models", req.model))
    })?;
    if req.messages.is_empty() {
        return Err(invalid("messages must not be empty"));
    }
    let plan = plan(&state, &target, &req, &raw)?;
    state.limiter.admit(&caller.key, plan.prompt_tokens, started)?;
    let rule = state.rule_for(&req.model).await?;
    let request_id = format!("chatcmpl-{}", crate::ops::new_secret(""));
    let funding = match channel {
        None => fund_from_points(&state, &caller, rule.clone(), &request_id, &plan).await?,
        Some(data) => {
            let hash = (!req.stream).then(|| held::request_hash(&raw));
            match channel_mode::admit(&state, caller.user.id, data, rule.clone(), plan.prompt_tokens, hash.as_deref()).await? {
                Admission::Answered(response) => return Ok(response),
                Admission::Admitted { meter, accepted, window } => Funding::Channel { meter, accepted, window, request_hash: hash },
            }
        }
    };
    let record = RequestRecord {
        id: request_id.clone(),
        user_id: caller.user.id,
        key_id: Some(caller.key.id),
        model: req.model.clone(),
        upstream: target.upstream_name().to_owned(),
        stream: req.stream,
        input_tokens: i64::try_from(plan.prompt_tokens).unwrap_or(i64::MAX),
        output_tokens: 0,
        usage_source: String::new(),
        status: "upstream_error".into(),
        cost: tollway_core::Amount::ZERO,
        price_version: Some(rule.version),
        started_at: started,
        duration_ms: 0,
        created_at: started,
    };
    let counter = plan.counter.clone();
    let pieces = match start(plan.start, counter.clone().unwrap_or(Counter::Heuristic)).await {
        Ok(pieces) => pieces,
        Err(e) => {
            let mut failed = record;
            failed.duration_ms = tollway_store::now_ms() - started;
            let released = match funding {
                Funding::Points(meter) => meter.void(failed).await,
                Funding::Channel { .. } => {
                    let submission = Submission { command: Command::Chain(Vec::new()), record: Some(Record::Request(failed)) };
                    state.writer.submit(submission).await.map(|_| ()).map_err(ApiError::from)
                }
            };
            if let Err(v) = released {
                tracing::error!(request = %request_id, error = %v.message, "could not release hold; it expires");
            }
            return Err(e);
        }
    };
    let billing = headers.get("x-tollway-billing").and_then(|v| v.to_str().ok()) == Some("chunk");
    let reply = Reply { state: state.clone(), key: caller.key, prompt_tokens: plan.prompt_tokens, billing, counter, record };
    let timeout = std::time::Duration::from_secs(state.config.channels.pay_timeout_secs.max(1));
    match (funding, req.stream) {
        (Funding::Points(meter), false) => reply::whole(Payment::Points(meter), pieces, reply, None).await,
        (Funding::Channel { meter, request_hash, .. }, false) => reply::whole(Payment::Channel(meter), pieces, reply, request_hash).await,
        (funding, true) => {
            let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
            let pay = move |events: &tokio::sync::mpsc::Sender<axum::response::sse::Event>| match funding {
                Funding::Points(meter) => Payment::Points(meter),
                Funding::Channel { mut meter, accepted, window, .. } => {
                    meter.streaming(Window { unpaid: window, timeout, events: events.clone(), accepted });
                    Payment::Channel(meter)
                }
            };
            Ok(reply::stream(pay, pieces, reply, include_usage).into_response())
        }
    }
}
