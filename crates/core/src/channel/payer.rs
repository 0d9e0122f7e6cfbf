//! The payer's side: a proposal is signed only if it is for the payer's
//! own channel and sub-channel, moves the nonce up (by a bounded step),
//! never lowers the amount, adds no more than the request may (its
//! `max_amount`) and no more than what the payer actually received is
//! worth at the price it agreed to (its entitlement), and keeps the total
//! within the payer's own budget. The payer checks all of it itself; it
//! trusts the payee for nothing beyond the documented slack.

use super::subrav::{SubRav, SUBRAV_VERSION};
use crate::Amount;

/// The largest step a nonce may take: a proposal (or receipt) more than
/// this above the latest one is refused, so no one can push a
/// sub-channel's nonce to `u64::MAX` and freeze it.
pub const MAX_NONCE_GAP: u64 = 1 << 20;

/// The payer's own limits for one review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayerLimits {
    /// The most this proposal may add: what is left of the request's
    /// `max_amount`.
    pub max_amount: Amount,
    /// The most this proposal may add for what the payer received: the
    /// request's entitlement so far ([`super::Entitlement`]) less what
    /// the request's receipts already added.
    pub entitled: Amount,
    /// The most the sub-channel may owe in total.
    pub budget: Amount,
}

/// Why the payer will not sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// An encoding version the payer does not know.
    #[error("unsupported SubRAV version")]
    UnsupportedVersion,
    /// For another chain.
    #[error("the proposal is for another chain")]
    WrongChain,
    /// For another channel.
    #[error("the proposal is for another channel")]
    WrongChannel,
    /// For another epoch.
    #[error("the proposal is for another epoch")]
    WrongEpoch,
    /// For another key.
    #[error("the proposal is for another sub-channel")]
    WrongSubChannel,
    /// The nonce is not above the last signed one.
    #[error("the proposal's nonce is not above the last signed receipt's")]
    NonceNotIncreasing,
    /// The nonce jumps more than [`MAX_NONCE_GAP`] above the last signed.
    #[error("the proposal's nonce jumps more than {MAX_NONCE_GAP} above the last signed receipt's")]
    NonceTooFar,
    /// The amount is below what was already signed.
    #[error("the proposal lowers the accumulated amount")]
    AmountDecreased,
    /// The proposal adds more than `max_amount`.
    #[error("the proposal adds {delta}, more than the {max} allowed per request")]
    OverMaxAmount {
        /// What it adds.
        delta: Amount,
        /// The limit.
        max: Amount,
    },
    /// The proposal adds more than what was received is worth.
    #[error("the proposal adds {delta}, more than the {entitled} that what was received is worth at the agreed price")]
    OverReceived {
        /// What it adds.
        delta: Amount,
        /// What the payer is entitled to be asked for.
        entitled: Amount,
    },
    /// The total would pass the budget.
    #[error("the proposal's total {accumulated} passes the budget of {budget}")]
    OverBudget {
        /// The proposed total.
        accumulated: Amount,
        /// The budget.
        budget: Amount,
    },
}

impl Refusal {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::UnsupportedVersion => "unsupported_version",
            Refusal::WrongChain => "wrong_chain",
            Refusal::WrongChannel => "wrong_channel",
            Refusal::WrongEpoch => "wrong_epoch",
            Refusal::WrongSubChannel => "wrong_sub_channel",
            Refusal::NonceNotIncreasing => "nonce_not_increasing",
            Refusal::NonceTooFar => "nonce_too_far",
            Refusal::AmountDecreased => "amount_decreased",
            Refusal::OverMaxAmount { .. } => "over_max_amount",
            Refusal::OverReceived { .. } => "over_received",
            Refusal::OverBudget { .. } => "over_budget",
        }
    }
}

/// Reviews `proposal` against `last`, the latest receipt the payer signed
/// on that sub-channel (before the first: nonce 0, amount 0); returns what
/// signing it adds (0 for `last` proposed again, which may be re-signed
/// harmlessly). The checks run in the order of docs/channels.md.
pub fn review(last: &SubRav, limits: &PayerLimits, proposal: &SubRav) -> Result<Amount, Refusal> {
    if proposal.version != SUBRAV_VERSION {
        return Err(Refusal::UnsupportedVersion);
    }
    if proposal.chain_id != last.chain_id {
        return Err(Refusal::WrongChain);
    }
    if proposal.channel_id != last.channel_id {
        return Err(Refusal::WrongChannel);
    }
    if proposal.epoch != last.epoch {
        return Err(Refusal::WrongEpoch);
    }
    if proposal.sub_channel != last.sub_channel {
        return Err(Refusal::WrongSubChannel);
    }
    if proposal.nonce == last.nonce && proposal.accumulated == last.accumulated {
        return Ok(Amount::ZERO);
    }
    if proposal.nonce <= last.nonce {
        return Err(Refusal::NonceNotIncreasing);
    }
    if proposal.nonce - last.nonce > MAX_NONCE_GAP {
        return Err(Refusal::NonceTooFar);
    }
    if proposal.accumulated < last.accumulated {
        return Err(Refusal::AmountDecreased);
    }
    let delta = proposal.accumulated.saturating_sub(last.accumulated);
    if delta > limits.max_amount {
        return Err(Refusal::OverMaxAmount { delta, max: limits.max_amount });
    }
    if delta > limits.entitled {
        return Err(Refusal::OverReceived { delta, entitled: limits.entitled });
    }
    if proposal.accumulated > limits.budget {
        return Err(Refusal::OverBudget { accumulated: proposal.accumulated, budget: limits.budget });
    }
    Ok(delta)
}
