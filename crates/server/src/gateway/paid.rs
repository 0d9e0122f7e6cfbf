//! Metering an answer paid from a payment channel (docs/channels.md,
//! "Paying for chat completions"). A stream proposes its prompt before the
//! first token and the new total with every chunk, and never lets what it
//! delivered run more than a window (W output tokens at the price) ahead
//! of the accepted total, prompt included: when the next chunk would, it
//! pauses with a `payment_required` event and waits for a receipt. A whole
//! answer gets one proposal for its cost at the end and is handed over
//! only once that is paid (`super::held`). Either stops at the request's
//! `max_amount` and at what the collateral still covers.

use super::meter::Shortage;
use crate::channels::{ChannelError, Proposed};
use crate::{ApiError, AppState};
use axum::response::sse::Event;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tollway_core::channel::wire::PaymentDue;
use tollway_core::channel::{ChannelId, KeyId, ReceiptError, SubRav};
use tollway_core::pricing::PriceRule;
use tollway_core::usage::TokenUsage;
use tollway_core::Amount;

/// How often a paused stream reads its channel again, for a receipt
/// accepted by another process sharing the database.
const RECHECK: Duration = Duration::from_secs(1);

/// How a stream is kept within its window.
pub struct Window {
    /// Cost of W output tokens: the most ever delivered unpaid.
    pub unpaid: Amount,
    /// How long a pause waits for a receipt.
    pub timeout: Duration,
    /// Where the pause event goes.
    pub events: mpsc::Sender<Event>,
    /// The sub-channel's accepted total.
    pub accepted: watch::Receiver<Amount>,
}

/// A request's running account against a channel.
pub struct ChannelMeter {
    state: AppState,
    channel: ChannelId,
    sub: KeyId,
    rule: PriceRule,
    prompt_tokens: u64,
    /// The most the request may cost, and what stops it there.
    limit: (Amount, Shortage),
    /// Streams only.
    window: Option<Window>,
    /// What the request has cost so far (proposed, for a stream).
    cost: Amount,
    /// The request's latest proposal and the accepted total then.
    last: Option<(SubRav, Amount)>,
}

fn channel_failure(e: ChannelError) -> ApiError {
    e.into()
}

impl ChannelMeter {
    /// A meter for a request on `sub` of `channel`; `limit` is the most it
    /// may cost and what stops it there.
    pub fn new(state: &AppState, channel: ChannelId, sub: KeyId, rule: PriceRule, prompt_tokens: u64, limit: (Amount, Shortage)) -> ChannelMeter {
        ChannelMeter { state: state.clone(), channel, sub, rule, prompt_tokens, limit, window: None, cost: Amount::ZERO, last: None }
    }

    /// Makes it a stream's meter, kept within `window`.
    pub fn streaming(&mut self, window: Window) {
        self.window = Some(window);
    }

    /// Cost of the prompt plus `output` tokens.
    pub fn cost(&self, output: u64) -> Result<Amount, ApiError> {
        self.rule
            .cost(TokenUsage { input: self.prompt_tokens, output })
            .map_err(|e| ApiError::unprocessable("amount_overflow", e.to_string()))
    }

    /// What the request has cost so far.
    pub fn spent(&self) -> Amount {
        self.cost
    }

    /// The channel and sub-channel paid from.
    pub fn paid_from(&self) -> (ChannelId, KeyId) {
        (self.channel, self.sub)
    }

    /// Makes sure `output` tokens may be delivered: within the request's
    /// limit and, for a stream, within the window (pausing for payment if
    /// needed); a stream's proposal for them is recorded. Before a
    /// stream's first token its prompt is proposed on its own, so a
    /// prompt dearer than the window is paid before any output is sent.
    pub async fn cover(&mut self, output: u64) -> Result<Result<(), Shortage>, ApiError> {
        let cost = self.cost(output)?;
        if cost > self.limit.0 {
            return Ok(Err(self.limit.1));
        }
        if self.window.is_some() {
            if self.last.is_none() {
                let prompt = self.cost(0)?;
                if !prompt.is_zero() {
                    match self.state.channels.propose(&self.channel, &self.sub, prompt).await {
                        Ok(proposed) => self.last = Some(proposed),
                        Err(ChannelError::Receipt(ReceiptError::ExceedsCollateral)) => return Ok(Err(Shortage::Collateral)),
                        Err(e) => return Err(channel_failure(e)),
                    }
                    self.cost = prompt;
                }
            }
            if let Err(stop) = self.propose_within_window(cost.saturating_sub(self.cost)).await? {
                return Ok(Err(stop));
            }
        }
        self.cost = cost;
        Ok(Ok(()))
    }

    /// Proposes `delta` more once delivering it leaves at most the window
    /// unpaid on the sub-channel, pausing for a receipt until it does.
    async fn propose_within_window(&mut self, delta: Amount) -> Result<Result<(), Shortage>, ApiError> {
        let Some(window) = self.window.as_mut() else { return Ok(Ok(())) };
        let channels = self.state.channels.clone();
        loop {
            let required = match channels.propose_within(&self.channel, &self.sub, delta, window.unpaid).await {
                Ok(Proposed::Made { proposal, accepted }) => {
                    self.last = Some((proposal, accepted));
                    return Ok(Ok(()));
                }
                Ok(Proposed::Unpaid { required }) => required,
                Err(ChannelError::Receipt(ReceiptError::ExceedsCollateral)) => return Ok(Err(Shortage::Collateral)),
                Err(e) => return Err(channel_failure(e)),
            };
            channels.persist_pending(&self.channel, &self.sub).await.map_err(channel_failure)?;
            let (pending, accepted) = channels.pending(&self.channel, &self.sub).await.map_err(channel_failure)?;
            if let Some(proposal) = pending {
                let due = PaymentDue { proposal, cost: self.cost, accepted, required: Some(required), stopped: None };
                let event = Event::default().event("payment_required").data(serde_json::json!(due).to_string());
                if window.events.send(event).await.is_err() {
                    return Ok(Err(Shortage::Disconnected));
                }
            }
            let deadline = tokio::time::Instant::now() + window.timeout;
            loop {
                // A receipt may also land at another process sharing the
                // database: read the channel again every RECHECK.
                let until = deadline.min(tokio::time::Instant::now() + RECHECK);
                let wait = window.accepted.wait_for(|a| *a >= required);
                // Some(paid in time, or the watch closed), None on timeout.
                let paid = tokio::select! {
                    paid = tokio::time::timeout_at(until, wait) => paid.ok().map(|r| r.is_ok()),
                    _ = window.events.closed() => return Ok(Err(Shortage::Disconnected)),
                };
                match paid {
                    Some(true) => break,
                    Some(false) => return Ok(Err(Shortage::PaymentTimeout)),
                    None if until >= deadline => return Ok(Err(Shortage::PaymentTimeout)),
                    None => channels.reload(&self.channel).await.map_err(channel_failure)?,
                }
            }
        }
    }

    /// The `tollway` field of a stream's chunk: the proposal to sign.
    pub fn chunk_due(&self) -> Option<PaymentDue> {
        self.last.map(|(proposal, accepted)| PaymentDue { proposal, cost: self.cost, accepted, required: None, stopped: None })
    }

    /// Ends the request: a whole answer proposes its cost now; a stream's
    /// latest proposal is written to the store. Returns what the payer is
    /// asked to sign (`None` when the request cost nothing and nothing is
    /// pending).
    pub async fn finish(&mut self, stopped: Option<Shortage>) -> Result<Option<PaymentDue>, ApiError> {
        let channels = self.state.channels.clone();
        if self.window.is_none() && !self.cost.is_zero() {
            match channels.propose(&self.channel, &self.sub, self.cost).await {
                Ok(proposed) => self.last = Some(proposed),
                Err(e) => return Err(channel_failure(e)),
            }
        }
        channels.persist_pending(&self.channel, &self.sub).await.map_err(channel_failure)?;
        let (pending, accepted) = channels.pending(&self.channel, &self.sub).await.map_err(channel_failure)?;
        let proposal = pending.or(self.last.map(|(p, _)| p));
        Ok(proposal.map(|proposal| PaymentDue {
            proposal,
            cost: self.cost,
            accepted,
            required: None,
            stopped: stopped.map(|s| s.code().to_owned()),
        }))
    }
}
