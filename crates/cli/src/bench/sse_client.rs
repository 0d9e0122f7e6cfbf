//! The client side of `tollway bench gateway`: one streamed chat completion
//! read chunk by chunk as the bytes arrive, each SSE event timed when it is
//! decoded. The direct and the proxied path use this same code.

use serde_json::Value;
use std::time::{Duration, Instant};
use tollway_llm::remote::SseDecoder;

/// What one stream delivered, and when.
pub struct Streamed {
    /// When the request was sent.
    sent: Instant,
    /// When each content chunk arrived.
    content: Vec<Instant>,
    /// When the body ended.
    ended: Instant,
    /// `tollway.cost` of the final chunk, when there was one.
    pub cost: Option<u128>,
    /// The stream ended with `data: [DONE]`.
    pub done: bool,
}

/// Sends `body` to `url` (with `key` as a bearer token, if any) and reads
/// the answer to its end. An error status or an `error` chunk is an error.
pub async fn stream(client: &reqwest::Client, url: &str, key: Option<&str>, body: &str) -> anyhow::Result<Streamed> {
    let sent = Instant::now();
    let mut request = client.post(url).header("content-type", "application/json").body(body.to_owned());
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let mut response = request.send().await?;
    anyhow::ensure!(response.status().is_success(), "{url} answered {}", response.status());
    let mut decoder = SseDecoder::new();
    let mut streamed = Streamed { sent, content: Vec::new(), ended: sent, cost: None, done: false };
    while let Some(bytes) = response.chunk().await? {
        let now = Instant::now();
        for data in decoder.push(&bytes)? {
            streamed.read(&data, now)?;
        }
    }
    streamed.ended = Instant::now();
    Ok(streamed)
}

impl Streamed {
    /// Takes in one event's data, arrived at `now`.
    fn read(&mut self, data: &str, now: Instant) -> anyhow::Result<()> {
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(data)?;
        if let Some(error) = chunk.get("error") {
            anyhow::bail!("error chunk: {error}");
        }
        let content = chunk.pointer("/choices/0/delta/content").and_then(Value::as_str);
        if content.is_some_and(|c| !c.is_empty()) {
            self.content.push(now);
        }
        if let Some(cost) = chunk.pointer("/tollway/cost").and_then(Value::as_str) {
            self.cost = Some(cost.parse()?);
        }
        Ok(())
    }

    /// Content chunks received.
    pub fn chunks(&self) -> usize {
        self.content.len()
    }

    /// From sending the request to the first content chunk.
    pub fn first_chunk(&self) -> Option<Duration> {
        self.content.first().map(|t| *t - self.sent)
    }

    /// From sending the request to the end of the body.
    pub fn total(&self) -> Duration {
        self.ended - self.sent
    }

    /// Mean time per content chunk after the first: first to last content
    /// chunk over the chunks in between.
    pub fn per_chunk(&self) -> Option<Duration> {
        let (first, last) = (self.content.first()?, self.content.last()?);
        let steps = u32::try_from(self.content.len().checked_sub(1).filter(|&n| n > 0)?).ok()?;
        Some((*last - *first) / steps)
    }

    /// The time between each content chunk and the next.
    pub fn gaps(&self) -> impl Iterator<Item = Duration> + '_ {
        self.content.windows(2).map(|w| w[1] - w[0])
    }
}
