//! A fast OpenAI-compatible upstream for `tollway bench gateway`.
//!
//! A benchmark fixture only, not a model: the issue asks for the gateway's
//! overhead to be measured "against a fast upstream", so this one answers
//! `POST /v1/chat/completions` (`stream: true`) at once with canned chunks
//! and no sleeps: an opening role chunk, `chunks` content chunks of one
//! short word each, a finish chunk (`finish_reason: "stop"`), a usage chunk
//! when the request has `stream_options.include_usage`, then
//! `data: [DONE]`. Each event is written out on its own (see [`answer`]),
//! so a proxy in front of it handles one chunk at a time.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;

/// The text of every content chunk (one token by Tollway's estimate).
pub const WORD: &str = " tok";
/// Prompt tokens the fixture reports in its usage chunk.
const PROMPT_TOKENS: usize = 12;

/// Serves the fixture on a free port of 127.0.0.1; every answer has
/// `chunks` content chunks. Returns its base URL (up to `/v1`). Its
/// connections send each write at once (`TCP_NODELAY`), as a fast upstream
/// would.
pub async fn start(chunks: usize) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = Router::new().route("/v1/chat/completions", post(chat)).with_state(chunks);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}/v1"))
}

/// `POST /v1/chat/completions`: streamed answers only.
async fn chat(State(chunks): State<usize>, Json(request): Json<Value>) -> Response {
    if request.get("stream") != Some(&Value::Bool(true)) {
        let error = json!({"error": {"message": "this benchmark fixture only streams"}});
        return (StatusCode::BAD_REQUEST, Json(error)).into_response();
    }
    let model = request.get("model").and_then(Value::as_str).unwrap_or("fast-model");
    let usage = request.pointer("/stream_options/include_usage") == Some(&Value::Bool(true));
    answer(events(model, chunks, usage))
}

/// An SSE response writing `events` one by one: the body yields to the
/// runtime before each event, so the HTTP layer writes out the previous one
/// first (an always-ready body would be coalesced into a few large writes).
fn answer(events: Vec<Bytes>) -> Response {
    let body = futures::stream::iter(events).then(|event| async move {
        tokio::task::yield_now().await;
        Ok::<_, Infallible>(event)
    });
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], Body::from_stream(body)).into_response()
}

/// Every event of one answer, each an SSE `data:` line and a blank line.
/// The content event is built once and shared.
fn events(model: &str, chunks: usize, usage: bool) -> Vec<Bytes> {
    let created = chrono::Utc::now().timestamp();
    let chunk = |choices: Value, extra: Option<(&str, Value)>| {
        let mut body = json!({"id": "chatcmpl-fast", "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices});
        if let Some((key, value)) = extra {
            body[key] = value;
        }
        Bytes::from(format!("data: {body}\n\n"))
    };
    let delta = |delta: Value, finish: Value| json!([{"index": 0, "delta": delta, "finish_reason": finish}]);
    let content = chunk(delta(json!({"content": WORD}), Value::Null), None);
    let mut events = vec![chunk(delta(json!({"role": "assistant", "content": ""}), Value::Null), None)];
    events.extend(std::iter::repeat_n(content, chunks));
    events.push(chunk(delta(json!({}), json!("stop")), None));
    if usage {
        let counts = json!({"prompt_tokens": PROMPT_TOKENS, "completion_tokens": chunks, "total_tokens": PROMPT_TOKENS + chunks});
        events.push(chunk(json!([]), Some(("usage", counts))));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}
