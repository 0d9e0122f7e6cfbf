//! Admitting a chat completion paid from a payment channel: the
//! `X-Tollway-Channel` header names the channel and sub-channel, may carry
//! the signed receipt for the latest proposal, and may cap the request
//! (`max_amount`). See docs/channels.md, "Paying for chat completions".

use super::held::{self, payment_required, Held};
use super::meter::Shortage;
use super::paid::ChannelMeter;
use crate::channels::ChannelError;
use crate::{ApiError, AppState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tokio::sync::watch;
use tollway_core::channel::wire::{decode_header, PaymentData, PaymentDue, PAYMENT_HEADER};
use tollway_core::channel::ReceiptError;
use tollway_core::pricing::PriceRule;
use tollway_core::usage::TokenUsage;
use tollway_core::Amount;

/// The request's payment data, if it is paid from a channel.
pub fn payment_data(headers: &HeaderMap) -> Result<Option<PaymentData>, ApiError> {
    let Some(value) = headers.get(PAYMENT_HEADER) else { return Ok(None) };
    decode_header(value.as_bytes()).map(Some).map_err(|e| ChannelError::from(e).into())
}

/// A channel request let in, or answered at once.
pub enum Admission {
    /// Serve it with this meter; a stream also needs the sub-channel's
    /// accepted total and the cost it may run ahead of it.
    Admitted {
        /// The meter.
        meter: Box<ChannelMeter>,
        /// The accepted total of the sub-channel.
        accepted: watch::Receiver<Amount>,
        /// The cost of W output tokens.
        window: Amount,
    },
    /// Answered without serving (402 with the proposal to sign first).
    Answered(Response),
}

fn mismatch() -> ApiError {
    ApiError::bad_request("channel_mismatch", "the receipt is for another channel or sub-channel than the header names")
}

/// Checks the channel is the caller's and open, accepts the receipt sent
/// with the request, and sets the request's limits. A whole answer is
/// handed over once paid: the same request (`request_hash`) again finds
/// its held answer, returned if paid, else 402 again; any other unsigned
/// proposal must be signed before new work starts.
pub async fn admit(
    state: &AppState,
    user_id: i64,
    data: PaymentData,
    rule: PriceRule,
    prompt_tokens: u64,
    request_hash: Option<&str>,
) -> Result<Admission, ApiError> {
    let channels = &state.channels;
    let (owner, asset, open) = channels.owner(&data.channel).await?;
    if owner != user_id {
        return Err(ChannelError::UnknownChannel.into());
    }
    if !open {
        return Err(ChannelError::Receipt(ReceiptError::ChannelClosed).into());
    }
    // A CKB channel's receipts carry their commitment: too big for the
    // header, they go to the receipts endpoint.
    if asset == tollway_core::Asset::CKB && data.receipt.is_some() {
        return Err(ApiError::bad_request("commitment_required", "on a CKB channel, post the receipt with its commitment to /api/channels/{id}/receipts, not in the header"));
    }
    // A CKB channel pays the model's price in shannons.
    let rule = if asset == tollway_core::Asset::CKB {
        let rate = state.config.ckb.shannons_per_point;
        rule.converted(rate).map_err(|e| ApiError::unprocessable("amount_overflow", e.to_string()))?
    } else {
        rule
    };
    if !channels.has_sub(&data.channel, &data.sub_channel).await? {
        return Err(ChannelError::UnknownSubChannel.into());
    }
    if let Some(receipt) = &data.receipt {
        if receipt.rav.channel_id != data.channel || receipt.rav.sub_channel != data.sub_channel {
            return Err(mismatch());
        }
        channels.accept(receipt).await?;
    }
    let (mut pending, mut accepted) = channels.pending(&data.channel, &data.sub_channel).await?;
    if request_hash.is_some() && pending.is_some() {
        // About to ask for payment: another process sharing the database
        // may have accepted it meanwhile, so read the channel again first.
        channels.reload(&data.channel).await?;
        (pending, accepted) = channels.pending(&data.channel, &data.sub_channel).await?;
    }
    if let Some(hash) = request_hash {
        let proposal = match (held::lookup(state, &data.channel, &data.sub_channel, hash, accepted).await?, pending) {
            (Some(Held::Paid(answer)), _) => return Ok(Admission::Answered(answer)),
            (_, Some(proposal)) => Some(proposal),
            // Held but no longer proposed (the proposal was lost): propose what it lacks.
            (Some(Held::Waiting(total)), None) => Some(channels.propose(&data.channel, &data.sub_channel, total.saturating_sub(accepted)).await?.0),
            (None, None) => None,
        };
        if let Some(proposal) = proposal {
            let cost = proposal.accumulated.saturating_sub(accepted);
            let due = PaymentDue { proposal, cost, accepted, required: Some(proposal.accumulated), stopped: None };
            return Ok(Admission::Answered(payment_required(&due)));
        }
    }
    let room = channels.room(&data.channel).await?;
    let limit = match data.max_amount {
        Some(max) if max < room => (max, Shortage::MaxAmount),
        _ => (room, Shortage::Collateral),
    };
    let cost = |output| rule.cost(TokenUsage { input: prompt_tokens, output }).map_err(|e| ApiError::unprocessable("amount_overflow", e.to_string()));
    let first = cost(1)?;
    if first > limit.0 {
        let message = format!("the prompt and one output token cost {first}; this request may spend {}", limit.0);
        return Err(ApiError::new(StatusCode::PAYMENT_REQUIRED, limit.1.code(), message));
    }
    let window = rule.cost(TokenUsage { input: 0, output: state.config.channels.window_tokens.max(1) });
    let window = window.map_err(|e| ApiError::unprocessable("amount_overflow", e.to_string()))?;
    let watch = channels.watch(&data.channel, &data.sub_channel).await?;
    let meter = ChannelMeter::new(state, data.channel, data.sub_channel, rule, prompt_tokens, limit);
    Ok(Admission::Admitted { meter: Box::new(meter), accepted: watch, window })
}
