//! Streaming a chat completion paid per chunk: the reader hands each
//! chunk's text to the caller and its proposal (`tollway` field, or a
//! `payment_required` pause) to the background signer, and reads on.

use crate::api::{self, base, transport};
use crate::client::{allowance_for, with_stream, Payer};
use crate::error::PayerError;
use crate::signer::{HttpSink, Signer, SignerReport};
use serde_json::Value;
use std::time::Duration;
use tollway_core::channel::wire::{decode_json, encode_header, PaymentData, PaymentDue, PAYMENT_HEADER};
use tollway_core::channel::{ChannelId, Refusal, SubRav};
use tollway_core::sse::{SseDecoder, SseEvent};
use tollway_core::Amount;

/// The longest wait for the next bytes of a stream (a paused stream waits
/// at most the payee's pay timeout, 30 s by default).
const IDLE: Duration = Duration::from_secs(180);

/// How a paid stream went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSummary {
    /// The channel paid from.
    pub channel: ChannelId,
    /// Chunks with text.
    pub chunks: u64,
    /// Prompt tokens, from the usage chunk.
    pub prompt_tokens: Option<u64>,
    /// Output tokens, from the usage chunk.
    pub completion_tokens: Option<u64>,
    /// Why the answer ended (`stop`, `length`).
    pub finish_reason: Option<String>,
    /// Why the payee stopped it early, if it did (`max_amount_reached`,
    /// `collateral_exhausted`, `payment_timeout`).
    pub stopped: Option<String>,
    /// What the request cost, as the payee last stated it.
    pub cost: Amount,
    /// What this request's receipts added to the sub-channel's total
    /// (includes unpaid work left from an earlier request, if any).
    pub paid: Amount,
    /// Receipts signed.
    pub receipts: u64,
    /// Proposals not signed because a newer one came first or the payee
    /// had not seen the latest receipt yet.
    pub skipped: u64,
    /// Pauses (`payment_required` events) seen.
    pub pauses: u32,
    /// The latest receipt signed.
    pub latest_signed: Option<SubRav>,
    /// The sub-channel's total the payee last confirmed accepted.
    pub accepted: Amount,
    /// Why the latest receipt is not confirmed, if it is not (run
    /// `recover` later).
    pub unconfirmed: Option<String>,
}

/// What one server-sent event asks of the reader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Step {
    /// Text for the caller.
    pub text: Option<String>,
    /// A proposal for the signer.
    pub due: Option<PaymentDue>,
    /// The stream is complete (`[DONE]`).
    pub done: bool,
}

/// Reads the events of a paid stream; pure.
#[derive(Debug, Default)]
pub(crate) struct StreamReader {
    pub chunks: u64,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub finish_reason: Option<String>,
    pub stopped: Option<String>,
    pub cost: Amount,
    pub pauses: u32,
    /// An error the payee reported in the stream.
    pub error: Option<(String, String)>,
    /// The highest total proposed so far (with content or in a pause).
    pub proposed: Amount,
}

impl StreamReader {
    /// Handles one event.
    pub fn step(&mut self, event: &SseEvent) -> Result<Step, PayerError> {
        let mut step = Step::default();
        if event.event.as_deref() == Some("payment_required") {
            let due: PaymentDue = decode_json(event.data.as_bytes())
                .map_err(|e| PayerError::Protocol(format!("a payment_required event: {e}")))?;
            self.pauses += 1;
            self.proposed = self.proposed.max(due.proposal.accumulated);
            step.due = Some(due);
            return Ok(step);
        }
        if event.data.trim() == "[DONE]" {
            step.done = true;
            return Ok(step);
        }
        let chunk: Value =
            serde_json::from_str(&event.data).map_err(|e| PayerError::Protocol(format!("a stream chunk is not JSON: {e}")))?;
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            let code = error["code"].as_str().unwrap_or("stream_error").to_owned();
            let message = error["message"].as_str().unwrap_or_default().to_owned();
            self.error = Some((code, message));
        }
        let choice = &chunk["choices"][0];
        if let Some(text) = choice["delta"]["content"].as_str().filter(|t| !t.is_empty()) {
            self.chunks += 1;
            step.text = Some(text.to_owned());
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(reason.to_owned());
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.prompt_tokens = usage["prompt_tokens"].as_u64().or(self.prompt_tokens);
            self.completion_tokens = usage["completion_tokens"].as_u64().or(self.completion_tokens);
        }
        if let Some(tollway) = chunk.get("tollway").filter(|t| t.is_object()) {
            match serde_json::from_value::<PaymentDue>(tollway.clone()) {
                Ok(due) => {
                    // A chunk without content delivers nothing: it may
                    // repeat a proposal, never raise one.
                    if step.text.is_none() && due.proposal.accumulated > self.proposed {
                        return Err(PayerError::Refused(Refusal::OverReceived { delta: due.proposal.accumulated.saturating_sub(self.proposed), entitled: Amount::ZERO }));
                    }
                    self.proposed = self.proposed.max(due.proposal.accumulated);
                    self.cost = due.cost;
                    if due.stopped.is_some() {
                        self.stopped.clone_from(&due.stopped);
                    }
                    step.due = Some(due);
                }
                // The last chunk of a request that cost nothing has no
                // proposal: `{"cost", "stopped"}`.
                Err(_) => {
                    if let Some(cost) = tollway["cost"].as_str().and_then(|c| Amount::from_units_str(c).ok()) {
                        self.cost = cost;
                    }
                    if let Some(stopped) = tollway["stopped"].as_str() {
                        self.stopped = Some(stopped.to_owned());
                    }
                }
            }
        }
        Ok(step)
    }
}

impl Payer {
    /// Streams a chat completion paid per chunk from the channel
    /// `selector` names (`None`: the default). `request` is an OpenAI
    /// chat request (`stream` is set here); `max_amount` is the most this
    /// request's receipts may add (default: the channel's, else what is
    /// left of its budget), enforced here as well as asked of the payee.
    /// `on_text` gets each text delta as it arrives; receipts are signed
    /// and posted in the background without holding up the reading. A
    /// refusal to sign stops the stream with the refusal's code.
    pub async fn chat<F: FnMut(&str) + Send>(
        &self,
        selector: Option<&str>,
        request: Value,
        max_amount: Option<Amount>,
        mut on_text: F,
    ) -> Result<ChatSummary, PayerError> {
        let record = self.local(selector).await?;
        if !record.open {
            return Err(PayerError::ChannelClosed(record.channel.to_string()));
        }
        // A receipt signed but never confirmed (a crash before it was
        // posted) goes first; a transient failure is left to the signer.
        match self.flush(&record).await {
            Ok(_) => {}
            Err(e) if e.is_transient() => {}
            Err(e) => return Err(e),
        }
        let body = with_stream(request, true)?;
        let allowance = allowance_for(&record, &body, max_amount, false)?;
        let url = format!("{}/v1/chat/completions", base(&record.server));
        let data = PaymentData { channel: record.channel, sub_channel: record.sub_channel, max_amount: Some(allowance.max_amount()), receipt: None };
        let mut response = self
            .http
            .post(&url)
            .bearer_auth(record.api_key.expose())
            .header(PAYMENT_HEADER, encode_header(&data))
            .json(&body)
            .send()
            .await
            .map_err(|e| transport(&url, e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let bytes = response.bytes().await.map_err(|e| transport(&url, e))?;
            return Err(api::api_error(status, &bytes));
        }
        let mut signer = Signer::spawn(self.state.clone(), record.channel, allowance, HttpSink::new(self.http.clone(), &record));
        let mut decoder = SseDecoder::new();
        let mut reader = StreamReader::default();
        let mut done = false;
        let ended: Result<(), PayerError> = loop {
            let next = tokio::select! {
                biased;
                () = signer.failed() => None,
                next = tokio::time::timeout(IDLE, response.chunk()) => Some(next),
            };
            let bytes = match next {
                // The signer stopped (a refusal): drop the stream at once.
                None => break Ok(()),
                Some(Err(_)) => break Err(transport(&url, format!("no data for {} s", IDLE.as_secs()))),
                Some(Ok(Err(e))) => break Err(transport(&url, e)),
                Some(Ok(Ok(None))) => break Ok(()),
                Some(Ok(Ok(Some(bytes)))) => bytes,
            };
            let events = match decoder.push_events(&bytes) {
                Ok(events) => events,
                Err(e) => break Err(PayerError::Protocol(e.to_string())),
            };
            let mut failed = None;
            for event in &events {
                match reader.step(event) {
                    Ok(step) => {
                        if let Some(text) = step.text {
                            signer.receive(&text);
                            on_text(&text);
                        }
                        if let Some(due) = step.due {
                            signer.offer(due);
                        }
                        done |= step.done;
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if let Some(e) = failed {
                break Err(e);
            }
            if done {
                break Ok(());
            }
        };
        drop(response);
        // Sign what was delivered, whatever ended the stream.
        let report = signer.finish().await?;
        ended?;
        if let Some((code, message)) = reader.error.take() {
            return Err(PayerError::Api { status: 200, code, message });
        }
        if !done {
            return Err(transport(&url, "the stream ended before [DONE]"));
        }
        Ok(summary(record.channel, reader, report, record.accepted_total()))
    }
}

fn summary(channel: ChannelId, reader: StreamReader, report: SignerReport, accepted_before: Amount) -> ChatSummary {
    ChatSummary {
        channel,
        chunks: reader.chunks,
        prompt_tokens: reader.prompt_tokens,
        completion_tokens: reader.completion_tokens,
        finish_reason: reader.finish_reason,
        stopped: reader.stopped,
        cost: reader.cost,
        paid: report.added,
        receipts: report.receipts,
        skipped: report.skipped + report.coalesced,
        pauses: reader.pauses,
        latest_signed: report.latest_signed.map(|s| s.rav),
        accepted: report.ack.map_or(accepted_before, |a| a.accepted),
        unconfirmed: report.unconfirmed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::record;
    use serde_json::json;

    fn due(nonce: u64, amount: u128) -> PaymentDue {
        let proposal = SubRav { nonce, accumulated: Amount::new(amount), ..record(1).base() };
        PaymentDue { proposal, cost: Amount::new(amount), accepted: Amount::ZERO, required: None, stopped: None }
    }

    fn chunk(text: &str, tollway: Option<Value>) -> SseEvent {
        let mut body = json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
        if let Some(t) = tollway {
            body["tollway"] = t;
        }
        SseEvent { event: None, data: body.to_string() }
    }

    #[test]
    fn a_paid_stream_is_read_as_text_proposals_and_a_summary() {
        let mut reader = StreamReader::default();
        let opening = reader.step(&chunk("", None)).expect("opening");
        assert_eq!(opening, Step::default(), "the empty opening chunk carries nothing");
        let one = reader.step(&chunk("Hel", Some(json!(due(1, 10))))).expect("chunk");
        assert_eq!((one.text.as_deref(), one.due.map(|d| d.proposal.nonce)), (Some("Hel"), Some(1)));
        let pause = SseEvent { event: Some("payment_required".into()), data: json!(PaymentDue { required: Some(Amount::new(10)), ..due(1, 12) }).to_string() };
        assert_eq!(reader.step(&pause).expect("pause").due.and_then(|d| d.required), Some(Amount::new(10)));
        let two = reader.step(&chunk("lo", Some(json!(due(2, 20))))).expect("chunk");
        assert_eq!(two.due.map(|d| d.proposal.nonce), Some(2));
        // The last chunk repeats the latest proposal with why it stopped.
        let mut last_due = due(2, 20);
        last_due.stopped = Some("max_amount_reached".into());
        let last = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}], "tollway": last_due});
        reader.step(&SseEvent { event: None, data: last.to_string() }).expect("last");
        let usage = json!({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}});
        reader.step(&SseEvent { event: None, data: usage.to_string() }).expect("usage");
        assert!(reader.step(&SseEvent { event: None, data: "[DONE]".into() }).expect("done").done);
        assert_eq!((reader.chunks, reader.pauses, reader.cost), (2, 1, Amount::new(20)));
        assert_eq!((reader.prompt_tokens, reader.completion_tokens), (Some(7), Some(3)));
        assert_eq!((reader.finish_reason.as_deref(), reader.stopped.as_deref()), (Some("length"), Some("max_amount_reached")));
    }

    #[test]
    fn a_chunk_without_content_may_not_raise_the_proposal() {
        let mut reader = StreamReader::default();
        reader.step(&chunk("Hi", Some(json!(due(1, 10))))).expect("content");
        let repeat = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "tollway": due(1, 10)});
        assert!(reader.step(&SseEvent { event: None, data: repeat.to_string() }).is_ok(), "the same proposal again");
        let raise = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": null}], "tollway": due(2, 11)});
        let refused = reader.step(&SseEvent { event: None, data: raise.to_string() });
        assert_eq!(refused.map_err(|e| e.code().to_owned()).err(), Some("over_received".to_owned()));
    }

    #[test]
    fn a_free_last_chunk_and_errors_are_understood() {
        let mut reader = StreamReader::default();
        let free = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "tollway": {"cost": "0", "stopped": null}});
        assert_eq!(reader.step(&SseEvent { event: None, data: free.to_string() }).expect("free").due, None);
        let error = json!({"choices": [], "error": {"code": "upstream_error", "message": "boom"}});
        reader.step(&SseEvent { event: None, data: error.to_string() }).expect("error chunk");
        assert_eq!(reader.error, Some(("upstream_error".into(), "boom".into())));
        assert!(reader.step(&SseEvent { event: None, data: "{not json".into() }).is_err());
        let bad_pause = SseEvent { event: Some("payment_required".into()), data: "{}".into() };
        assert_eq!(reader.step(&bad_pause).map_err(|e| e.code().to_owned()), Err("protocol_error".to_owned()));
    }
}
