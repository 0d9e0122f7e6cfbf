//! One shape for every upstream's answer: output to deliver (with its token
//! count), reported usage, the end, or a failure. The embedded model gives
//! one token per piece; an OpenAI-compatible upstream gives one chunk per
//! piece, counted with the embedded model's tokenizer or estimated.

use super::engine::EngineEvent;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::mpsc;
use tollway_core::usage::{TokenUsage, UsageSource};
use tollway_llm::remote::{ChunkStream, ChunkView};
use tollway_llm::{estimate_tokens, ChatTokenizer};

/// A step of an answer.
#[derive(Debug)]
pub enum Piece {
    /// Output for the client: the delta to pass on, its generated text and
    /// how many tokens that text counts.
    Output {
        /// The OpenAI delta object.
        delta: Value,
        /// Its text (what is metered).
        text: String,
        /// Tokens of `text`.
        tokens: u64,
    },
    /// The upstream reported usage for the whole answer.
    Usage(TokenUsage),
    /// The answer ended, with this finish reason.
    Finished(String),
    /// The upstream failed; nothing is charged.
    Failed(String),
}

/// Counts tokens of text an upstream produced.
#[derive(Clone)]
pub enum Counter {
    /// The embedded model's tokenizer.
    Tokenizer(Arc<ChatTokenizer>),
    /// [`estimate_tokens`], when no tokenizer is loaded.
    Heuristic,
}

impl Counter {
    /// Tokens of `text`.
    pub fn count(&self, text: &str) -> u64 {
        match self {
            Counter::Tokenizer(t) => t.count(text).map(|n| n as u64).unwrap_or_else(|_| estimate_tokens(text)),
            Counter::Heuristic => estimate_tokens(text),
        }
    }

    /// How counts from this counter are labelled.
    pub fn source(&self) -> UsageSource {
        match self {
            Counter::Tokenizer(_) => UsageSource::Tokenizer,
            Counter::Heuristic => UsageSource::Heuristic,
        }
    }
}

/// The pieces of one answer.
pub enum Pieces {
    /// From the embedded model's worker.
    Local(mpsc::Receiver<EngineEvent>),
    /// From an OpenAI-compatible upstream.
    Remote(Box<RemotePieces>),
}

/// Reads an upstream's chunk stream as pieces.
pub struct RemotePieces {
    chunks: ChunkStream,
    counter: Counter,
    ready: VecDeque<Piece>,
    finish: Option<String>,
}

impl Pieces {
    /// Pieces of an upstream stream, counted by `counter`.
    pub fn remote(chunks: ChunkStream, counter: Counter) -> Pieces {
        Pieces::Remote(Box::new(RemotePieces { chunks, counter, ready: VecDeque::new(), finish: None }))
    }

    /// The next piece. After `Finished` or `Failed` there are no more.
    pub async fn next(&mut self) -> Piece {
        match self {
            Pieces::Local(events) => match events.recv().await {
                Some(EngineEvent::Token(text)) => Piece::Output { delta: json!({"content": text}), text, tokens: 1 },
                Some(EngineEvent::Done(g)) => Piece::Finished(
                    match g.finish {
                        tollway_llm::FinishReason::Stop => "stop",
                        tollway_llm::FinishReason::Length | tollway_llm::FinishReason::Cancelled => "length",
                    }
                    .to_owned(),
                ),
                Some(EngineEvent::Failed(e)) => Piece::Failed(e),
                None => Piece::Failed("the model stopped".into()),
            },
            Pieces::Remote(r) => r.next().await,
        }
    }
}

impl RemotePieces {
    async fn next(&mut self) -> Piece {
        loop {
            if let Some(piece) = self.ready.pop_front() {
                return piece;
            }
            let chunk = match self.chunks.next().await {
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => return Piece::Failed(e.to_string()),
                None => return self.end(),
            };
            if let Some(error) = chunk.get("error") {
                let message = error.get("message").and_then(Value::as_str).unwrap_or("the upstream reported an error");
                return Piece::Failed(format!("the upstream reported an error mid-stream: {message}"));
            }
            let view = ChunkView::parse(&chunk);
            if let Some(delta) = view.delta.filter(carries_something) {
                let tokens = self.counter.count(&view.text);
                self.ready.push_back(Piece::Output { delta, text: view.text, tokens });
            }
            if let Some(u) = view.usage {
                self.ready.push_back(Piece::Usage(TokenUsage { input: u.prompt_tokens, output: u.completion_tokens }));
            }
            if view.finish_reason.is_some() {
                self.finish = view.finish_reason;
            }
        }
    }

    /// The stream closed: finished if the upstream said how it ended.
    fn end(&mut self) -> Piece {
        match (self.finish.take(), self.chunks.saw_done_marker()) {
            (Some(reason), _) => Piece::Finished(reason),
            (None, true) => Piece::Finished("stop".into()),
            (None, false) => Piece::Failed("the upstream closed the stream before the answer ended".into()),
        }
    }
}

/// False for a delta with nothing but a role and empty content (the
/// opening chunk, which Tollway sends itself).
fn carries_something(delta: &Value) -> bool {
    delta.as_object().is_some_and(|fields| {
        fields.iter().any(|(key, value)| key != "role" && !value.is_null() && value.as_str() != Some(""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_deltas_carry_nothing() {
        assert!(!carries_something(&json!({"role": "assistant", "content": ""})));
        assert!(!carries_something(&json!({"content": null})));
        assert!(carries_something(&json!({"content": "a"})));
        assert!(carries_something(&json!({"tool_calls": [{"index": 0, "id": "call_1"}]})));
    }

    #[test]
    fn heuristic_counter() {
        assert_eq!(Counter::Heuristic.count("abcdefgh"), 2);
        assert_eq!(Counter::Heuristic.source(), UsageSource::Heuristic);
    }
}
