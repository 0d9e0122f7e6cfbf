//! A client for OpenAI-compatible chat-completions upstreams, streamed.

mod chunk;

pub use chunk::{ChunkView, ReportedUsage};
pub use tollway_core::sse::{SseDecoder, SseError};

use serde_json::Value;
use std::collections::VecDeque;
use std::time::Duration;

/// Bytes of an upstream error body quoted in the error message.
const ERROR_EXCERPT: usize = 300;

/// Why an upstream call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream could not be reached.
    #[error("cannot reach the upstream: {0}")]
    Connect(String),
    /// The upstream answered with an error status.
    #[error("the upstream answered {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The upstream's error message, shortened.
        message: String,
    },
    /// The connection broke or timed out while streaming.
    #[error("the upstream stream broke: {0}")]
    Read(String),
    /// The upstream sent something that is not an OpenAI chunk stream.
    #[error("the upstream sent an invalid stream: {0}")]
    Protocol(String),
}

impl UpstreamError {
    /// True when the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        match self {
            UpstreamError::Connect(_) | UpstreamError::Read(_) => true,
            UpstreamError::Status { status, .. } => *status == 429 || *status >= 500,
            UpstreamError::Protocol(_) => false,
        }
    }
}

/// One OpenAI-compatible endpoint (`{base_url}/chat/completions`).
#[derive(Debug, Clone)]
pub struct RemoteModel {
    endpoint: String,
    api_key: Option<String>,
    http: reqwest::Client,
}

impl RemoteModel {
    /// A client for `base_url` (such as `https://api.openai.com/v1`),
    /// sending `api_key` as a bearer token when given. `idle` bounds the
    /// wait for each piece of the answer.
    pub fn new(base_url: &str, api_key: Option<String>, idle: Duration) -> Result<RemoteModel, UpstreamError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(idle)
            .build()
            .map_err(|e| UpstreamError::Connect(e.to_string()))?;
        let endpoint = format!("{}/chat/completions", base_url.trim_end_matches('/'));
        Ok(RemoteModel { endpoint, api_key, http })
    }

    /// Sends `body` (a chat-completions request that asks to stream) and
    /// returns its chunks once the upstream has accepted it.
    pub async fn stream_chat(&self, body: &Value) -> Result<ChunkStream, UpstreamError> {
        let mut request = self.http.post(&self.endpoint).json(body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| UpstreamError::Connect(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(UpstreamError::Status { status: status.as_u16(), message: error_message(&body) });
        }
        Ok(ChunkStream { response, decoder: SseDecoder::new(), ready: VecDeque::new(), done: false, marker: false })
    }
}

/// The upstream's error message from an OpenAI error body, or the start
/// of the body.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.pointer("/error/message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| body.to_owned());
    match message.char_indices().nth(ERROR_EXCERPT) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message,
    }
}

/// The chunks of a streamed answer, read as they arrive. Dropping it
/// closes the connection, which stops the upstream.
#[derive(Debug)]
pub struct ChunkStream {
    response: reqwest::Response,
    decoder: SseDecoder,
    ready: VecDeque<String>,
    /// Nothing more will be read.
    done: bool,
    /// The stream ended with `[DONE]`.
    marker: bool,
}

impl ChunkStream {
    /// The next chunk; `None` after `[DONE]` or when the upstream closed
    /// the stream.
    pub async fn next(&mut self) -> Option<Result<Value, UpstreamError>> {
        loop {
            if let Some(data) = self.ready.pop_front() {
                if data == "[DONE]" {
                    self.done = true;
                    self.marker = true;
                    self.ready.clear();
                    return None;
                }
                return Some(serde_json::from_str(&data).map_err(|e| UpstreamError::Protocol(format!("chunk is not JSON: {e}"))));
            }
            if self.done {
                return None;
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => match self.decoder.push(&bytes) {
                    Ok(events) => self.ready.extend(events),
                    Err(e) => return Some(Err(UpstreamError::Protocol(e.to_string()))),
                },
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => return Some(Err(UpstreamError::Read(e.to_string()))),
            }
        }
    }

    /// True when the upstream ended the stream with `[DONE]` (rather than
    /// just closing it).
    pub fn saw_done_marker(&self) -> bool {
        self.marker
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_taken_from_openai_bodies_and_shortened() {
        assert_eq!(error_message(r#"{"error":{"message":"bad key","code":"x"}}"#), "bad key");
        assert_eq!(error_message("plain"), "plain");
        let long = "é".repeat(1000);
        let shown = error_message(&long);
        assert_eq!(shown.chars().count(), ERROR_EXCERPT + 1);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn retryable_errors() {
        assert!(UpstreamError::Status { status: 503, message: String::new() }.is_retryable());
        assert!(UpstreamError::Status { status: 429, message: String::new() }.is_retryable());
        assert!(!UpstreamError::Status { status: 400, message: String::new() }.is_retryable());
        assert!(!UpstreamError::Protocol(String::new()).is_retryable());
        assert!(UpstreamError::Connect(String::new()).is_retryable());
    }
}
