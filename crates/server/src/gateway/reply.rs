//! Serving an admitted answer: every piece of output is paid for (the hold
//! covers it) before it is handed on; at the end the real usage is settled
//! and the request recorded with it.

use super::meter::{Settled, Shortage};
use super::openai::{Billing, Usage};
use super::payment::{Payment, PaymentGuard};
use super::pieces::{Counter, Piece, Pieces};
use super::now_secs;
use crate::{ApiError, AppState};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::future::Future;
use tokio::sync::mpsc;
use tollway_core::channel::wire::PaymentDue;
use tollway_core::ledger::Command;
use tollway_core::usage::{TokenUsage, UsageSource};
use tollway_store::directory::ApiKey;
use tollway_store::requests::RequestRecord;
use tollway_store::{Record, Submission};

/// What answers are made of.
pub struct Reply {
    /// Server state (limits, clock).
    pub state: AppState,
    /// The key the request came with.
    pub key: ApiKey,
    /// Prompt tokens as counted or estimated at admission.
    pub prompt_tokens: u64,
    /// The client asked for per-chunk billing (`X-Tollway-Billing: chunk`).
    pub billing: bool,
    /// Counts an upstream's text; `None` for the embedded model, whose
    /// pieces are single tokens.
    pub counter: Option<Counter>,
    /// The request's usage record, completed at the end.
    pub record: RequestRecord,
}

impl Reply {
    fn id(&self) -> &str {
        &self.record.id
    }

    fn chunk(&self, delta: Value, finish: Option<&str>, extra: Option<(&str, Value)>) -> Event {
        let mut body = json!({
            "id": self.id(),
            "object": "chat.completion.chunk",
            "created": now_secs(),
            "model": self.record.model,
            "choices": if delta.is_null() { json!([]) } else { json!([{"index": 0, "delta": delta, "finish_reason": finish}]) },
        });
        if let Some((key, value)) = extra {
            body[key] = value;
        }
        Event::default().data(body.to_string())
    }
}

/// Why an answer ended.
enum Ending {
    /// The upstream finished, with this reason.
    Finished(String),
    /// The money (or the key's cap) ran out.
    Short(Shortage),
    /// The upstream failed: nothing is charged.
    Failed(String),
    /// The ledger could not hold more (the store failing): the answer
    /// stops at what is held, and what was delivered is charged.
    LedgerDown(String),
    /// The client went away.
    Disconnected,
}

impl Ending {
    fn finish_reason(&self) -> &str {
        match self {
            Ending::Finished(reason) => reason,
            _ => "length",
        }
    }

    fn status(&self) -> &str {
        match self {
            Ending::Finished(reason) => reason,
            Ending::Short(s) => s.code(),
            Ending::Failed(_) => "upstream_error",
            Ending::LedgerDown(_) => BILLING_UNAVAILABLE,
            Ending::Disconnected => "disconnected",
        }
    }

    /// Why the answer was cut short by Tollway, if it was.
    fn stopped(&self) -> Option<&str> {
        match self {
            Ending::Short(s) => Some(s.code()),
            Ending::LedgerDown(_) => Some(BILLING_UNAVAILABLE),
            _ => None,
        }
    }

    /// What ran out, for a channel's final proposal.
    fn stopped_by(&self) -> Option<Shortage> {
        match self {
            Ending::Short(s) => Some(*s),
            _ => None,
        }
    }
}

/// `tollway.stopped` (and the record's status) when the ledger could not
/// hold more of an answer.
const BILLING_UNAVAILABLE: &str = "billing_unavailable";

/// What was delivered, and how it ended.
struct Outcome {
    ending: Ending,
    /// Output tokens delivered, as metered.
    delivered: u64,
    /// The delivered text, when it is to be counted (`Reply::counter`).
    text: String,
    /// Usage the upstream reported.
    reported: Option<TokenUsage>,
}

/// Where delivered output goes.
trait Deliver {
    /// Hands on one delta with its `tollway` field, if any; false when the
    /// client is gone.
    fn deliver(&mut self, delta: Value, tollway: Option<Value>) -> impl Future<Output = bool> + Send;
}

/// Reads pieces, paying for each before delivering it.
async fn drive(pieces: &mut Pieces, meter: &mut Payment, reply: &Reply, out: &mut impl Deliver) -> Outcome {
    let (mut delivered, mut chunks, mut text, mut reported) = (0u64, 0u64, String::new(), None);
    let ending = loop {
        match pieces.next().await {
            Piece::Output { delta, text: piece, tokens } => {
                let total = delivered.saturating_add(tokens);
                match meter.cover(total).await {
                    Ok(Ok(())) => {}
                    Ok(Err(Shortage::Disconnected)) => break Ending::Disconnected,
                    Ok(Err(shortage)) => break Ending::Short(shortage),
                    Err(e) => break Ending::LedgerDown(e.message),
                }
                let billing = match reply.billing.then(|| meter.cost(total)).transpose() {
                    Ok(cost) => cost.map(|cost| Billing {
                        chunk: Some(chunks + 1),
                        tokens: total,
                        cost: cost.to_string(),
                        balance: None,
                        stopped: None,
                        usage_source: None,
                        settlement: None,
                    }),
                    Err(e) => break Ending::LedgerDown(e.message),
                };
                let tollway = meter.chunk_due().or_else(|| billing.map(|b| json!(b)));
                if !out.deliver(delta, tollway).await {
                    break Ending::Disconnected;
                }
                (delivered, chunks) = (total, chunks + 1);
                // Kept only where it will be counted (an upstream's text).
                if reply.counter.is_some() {
                    text.push_str(&piece);
                }
            }
            Piece::Usage(u) => reported = Some(u),
            Piece::Finished(reason) => break Ending::Finished(reason),
            Piece::Failed(e) => break Ending::Failed(e),
        }
    };
    Outcome { ending, delivered, text, reported }
}

/// The usage to charge and where it came from: the upstream's report when
/// it finished and sent one, else a count of what was delivered.
fn final_usage(reply: &Reply, outcome: &Outcome) -> (TokenUsage, UsageSource) {
    match (&outcome.ending, outcome.reported, &reply.counter) {
        (Ending::Finished(_), Some(reported), _) => (reported, UsageSource::Upstream),
        (_, _, None) => (TokenUsage { input: reply.prompt_tokens, output: outcome.delivered }, UsageSource::Tokenizer),
        (_, _, Some(counter)) => (TokenUsage { input: reply.prompt_tokens, output: counter.count(&outcome.text) }, counter.source()),
    }
}

/// The request's record, completed.
fn completed(reply: &Reply, outcome: &Outcome, usage: TokenUsage, source: UsageSource) -> RequestRecord {
    let now = tollway_store::now_ms();
    RequestRecord {
        input_tokens: i64::try_from(usage.input).unwrap_or(i64::MAX),
        output_tokens: i64::try_from(usage.output).unwrap_or(i64::MAX),
        usage_source: source.as_str().to_owned(),
        status: outcome.ending.status().to_owned(),
        duration_ms: now - reply.record.started_at,
        created_at: now,
        ..reply.record.clone()
    }
}

/// How a concluded request ended for the client.
struct Concluded {
    /// The last chunk's (or the body's) `tollway` field.
    tollway: Value,
    /// A channel's proposal to sign, for the response header.
    due: Option<PaymentDue>,
    /// The usage charged.
    usage: TokenUsage,
}

/// Settles (or, after an upstream failure, voids) and records the request.
/// `Ok(None)` when the upstream failed (nothing more is charged). A points
/// charge the ledger cannot take now is retried in the background, so
/// this answers even while the store fails.
async fn conclude(payment: Payment, reply: &Reply, outcome: &Outcome) -> Result<Option<Concluded>, ApiError> {
    let (usage, source) = final_usage(reply, outcome);
    let mut record = completed(reply, outcome, usage, source);
    let now = record.created_at;
    reply.state.limiter.record(&reply.key, usage.total().saturating_sub(reply.prompt_tokens), now);
    let failed = matches!(outcome.ending, Ending::Failed(_));
    if let Ending::Failed(e) = &outcome.ending {
        tracing::warn!(request = %reply.id(), error = %e, "upstream failed; nothing more charged");
    }
    if let Ending::LedgerDown(e) = &outcome.ending {
        tracing::error!(request = %reply.id(), error = %e, "the ledger could not hold more; the answer stops at what was held");
    }
    let meter = match payment {
        Payment::Points(meter) if failed => {
            if let Err(e) = meter.void(record).await {
                tracing::error!(request = %reply.id(), error = %e.message, "could not release the hold; it expires");
            }
            return Ok(None);
        }
        Payment::Points(meter) => meter,
        Payment::Channel(mut channel) => {
            let due = channel.finish(outcome.ending.stopped_by()).await?;
            record.cost = channel.spent();
            let submission = Submission { command: Command::Chain(Vec::new()), record: Some(Record::Request(record)) };
            reply.state.writer.submit(submission).await?;
            if failed {
                return Ok(None);
            }
            let tollway = match &due {
                Some(d) => json!(d),
                None => json!({"cost": channel.spent(), "stopped": outcome.ending.stopped()}),
            };
            return Ok(Some(Concluded { tollway, due, usage }));
        }
    };
    let settled = meter.settle(usage, record).await;
    if settled.capped {
        tracing::warn!(request = %reply.id(), cost = %settled.cost, "reported usage exceeded what could be held; charged the hold");
    }
    Ok(Some(Concluded { tollway: json!(final_billing(settled, outcome, source)), due: None, usage }))
}

fn final_billing(settled: Settled, outcome: &Outcome, source: UsageSource) -> Billing {
    Billing {
        chunk: None,
        tokens: outcome.delivered,
        cost: settled.cost.to_string(),
        balance: settled.balance.map(|b| b.to_string()),
        stopped: outcome.ending.stopped().map(str::to_owned),
        usage_source: Some(source.as_str()),
        settlement: settled.balance.is_none().then_some("pending"),
    }
}

fn usage_json(usage: TokenUsage) -> Usage {
    Usage { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.total() }
}

/// Collects a whole answer's content.
struct Collect(String);

impl Deliver for Collect {
    async fn deliver(&mut self, delta: Value, _tollway: Option<Value>) -> bool {
        if let Some(s) = delta.get("content").and_then(Value::as_str) {
            self.0.push_str(s);
        }
        true
    }
}

/// A whole (non-streamed) answer. If the client goes away, this future is
/// dropped and the guard releases the hold. An answer paid from a channel
/// (`request_hash` set) is held until its proposal is paid
/// (`super::held`): the answer now is 402 with the proposal to sign.
pub async fn whole(payment: Payment, mut pieces: Pieces, reply: Reply, request_hash: Option<String>) -> Result<Response, ApiError> {
    let paid_from = match &payment {
        Payment::Channel(meter) => Some(meter.paid_from()),
        Payment::Points(_) => None,
    };
    let mut guard = PaymentGuard::new(payment, reply.record.clone());
    let mut content = Collect(String::new());
    let outcome = drive(&mut pieces, guard.payment()?, &reply, &mut content).await;
    drop(pieces);
    let payment = guard.take()?;
    let Some(done) = conclude(payment, &reply, &outcome).await? else {
        let message = match &outcome.ending {
            Ending::Failed(e) => e.clone(),
            _ => "the upstream failed".to_owned(),
        };
        return Err(ApiError::new(StatusCode::BAD_GATEWAY, "upstream_error", message));
    };
    let body = json!({
        "id": reply.id(),
        "object": "chat.completion",
        "created": now_secs(),
        "model": reply.record.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content.0}, "finish_reason": outcome.ending.finish_reason()}],
        "usage": usage_json(done.usage),
        "tollway": done.tollway,
    });
    match (paid_from, request_hash, done.due) {
        (Some(from), Some(hash), Some(due)) if due.proposal.accumulated > due.accepted => super::held::hold(&reply.state, from, &hash, &due, &body).await,
        _ => Ok(Json(body).into_response()),
    }
}

/// Sends chunks to the HTTP body.
struct ToClient<'a> {
    tx: &'a mpsc::Sender<Event>,
    reply: &'a Reply,
}

impl Deliver for ToClient<'_> {
    async fn deliver(&mut self, delta: Value, tollway: Option<Value>) -> bool {
        let extra = tollway.map(|b| ("tollway", b));
        self.tx.send(self.reply.chunk(delta, None, extra)).await.is_ok()
    }
}

/// Streams chunks while paying for them: each piece is covered by the hold
/// before its chunk is sent; when the balance (or the key's cap) cannot
/// cover the next one, or the ledger cannot be written, the stream ends
/// with `finish_reason: "length"` and `tollway.stopped`. A client that goes
/// away is charged for the chunks handed to HTTP. The usage chunk is sent
/// only if the client asked. Every stream that is not abandoned ends with
/// `[DONE]`, after an `error` event when it failed.
///
/// A channel's stream gets its pause events through `tx`, so `payment` is
/// made from it by `pay`.
pub fn stream(
    pay: impl FnOnce(&mpsc::Sender<Event>) -> Payment + Send + 'static,
    mut pieces: Pieces,
    reply: Reply,
    include_usage: bool,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    // Capacity 1: a chunk counts as delivered once the HTTP layer took it.
    let (tx, rx) = mpsc::channel::<Event>(1);
    let mut meter = pay(&tx);
    tokio::spawn(async move {
        let opening = reply.chunk(json!({"role": "assistant", "content": ""}), None, None);
        let outcome = if tx.send(opening).await.is_err() {
            Outcome { ending: Ending::Disconnected, delivered: 0, text: String::new(), reported: None }
        } else {
            drive(&mut pieces, &mut meter, &reply, &mut ToClient { tx: &tx, reply: &reply }).await
        };
        drop(pieces);
        let last = match conclude(meter, &reply, &outcome).await {
            Ok(Some(_)) if matches!(outcome.ending, Ending::Disconnected) => return,
            Ok(Some(done)) => {
                let last = reply.chunk(json!({}), Some(outcome.ending.finish_reason()), Some(("tollway", done.tollway)));
                if tx.send(last).await.is_err() {
                    return;
                }
                include_usage.then(|| reply.chunk(Value::Null, None, Some(("usage", json!(usage_json(done.usage))))))
            }
            Ok(None) => {
                let message = match &outcome.ending {
                    Ending::Failed(e) => e.clone(),
                    _ => String::new(),
                };
                Some(reply.chunk(Value::Null, None, Some(("error", json!({"message": message, "code": "upstream_error"})))))
            }
            Err(e) => {
                tracing::error!(request = %reply.id(), error = %e.message, "could not conclude the stream");
                Some(reply.chunk(Value::Null, None, Some(("error", json!({"message": e.message, "code": e.code})))))
            }
        };
        if let Some(event) = last {
            if tx.send(event).await.is_err() {
                return;
            }
        }
        let _ = tx.send(Event::default().data("[DONE]")).await;
    });
    let body = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) });
    Sse::new(body)
}
