//! A paced OpenAI-compatible upstream for `tollway bench channels`: the
//! same answers as the [fast upstream](super::fast_upstream) (a role chunk,
//! `chunks` content chunks of one word, a finish chunk, a usage chunk when
//! asked, `[DONE]`), but each content chunk is sent `interval` after the
//! one before, as a model generating at a steady rate would. A benchmark
//! fixture only.

use super::fast_upstream::WORD;
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
use std::time::Duration;

/// Prompt tokens the fixture reports in its usage chunk.
const PROMPT_TOKENS: usize = 12;

/// What every answer looks like.
#[derive(Clone, Copy)]
struct Pace {
    chunks: usize,
    interval: Duration,
}

/// Serves the fixture on a free port of 127.0.0.1 (`TCP_NODELAY`); every
/// answer has `chunks` content chunks, `interval` apart. Returns its base
/// URL (up to `/v1`).
pub async fn start(chunks: usize, interval: Duration) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = Router::new().route("/v1/chat/completions", post(chat)).with_state(Pace { chunks, interval });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}/v1"))
}

/// `POST /v1/chat/completions`: streamed answers only.
async fn chat(State(pace): State<Pace>, Json(request): Json<Value>) -> Response {
    if request.get("stream") != Some(&Value::Bool(true)) {
        let error = json!({"error": {"message": "this benchmark fixture only streams"}});
        return (StatusCode::BAD_REQUEST, Json(error)).into_response();
    }
    let model = request.get("model").and_then(Value::as_str).unwrap_or("paced-model");
    let usage = request.pointer("/stream_options/include_usage") == Some(&Value::Bool(true));
    let interval = pace.interval;
    let body = futures::stream::iter(events(model, pace.chunks, usage)).then(move |(paced, event)| async move {
        if paced {
            tokio::time::sleep(interval).await;
        } else {
            tokio::task::yield_now().await;
        }
        Ok::<_, Infallible>(event)
    });
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], Body::from_stream(body)).into_response()
}

/// Every event of one answer, each marked whether it waits for the pace
/// (the content chunks).
fn events(model: &str, chunks: usize, usage: bool) -> Vec<(bool, Bytes)> {
    let created = chrono::Utc::now().timestamp();
    let chunk = |choices: Value, extra: Option<(&str, Value)>| {
        let mut body = json!({"id": "chatcmpl-paced", "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices});
        if let Some((key, value)) = extra {
            body[key] = value;
        }
        Bytes::from(format!("data: {body}\n\n"))
    };
    let delta = |delta: Value, finish: Value| json!([{"index": 0, "delta": delta, "finish_reason": finish}]);
    let content = chunk(delta(json!({"content": WORD}), Value::Null), None);
    let mut events = vec![(false, chunk(delta(json!({"role": "assistant", "content": ""}), Value::Null), None))];
    events.extend(std::iter::repeat_n((true, content), chunks));
    events.push((false, chunk(delta(json!({}), json!("stop")), None)));
    if usage {
        let counts = json!({"prompt_tokens": PROMPT_TOKENS, "completion_tokens": chunks, "total_tokens": PROMPT_TOKENS + chunks});
        events.push((false, chunk(json!([]), Some(("usage", counts)))));
    }
    events.push((false, Bytes::from_static(b"data: [DONE]\n\n")));
    events
}
