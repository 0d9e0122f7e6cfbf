//! The payee's side: which signed receipts to accept, and the next
//! proposal for a cost. Checks run in a fixed, documented order, so the same
//! bad receipt always gets the same code (docs/channels.md).

use super::identity::KeyId;
use super::payer::MAX_NONCE_GAP;
use super::subrav::{ChannelId, SignedSubRav, SubRav, SUBRAV_VERSION};
use crate::Amount;
use secp256k1::PublicKey;
use std::collections::BTreeMap;

/// A channel as the payee tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// The chain (or ledger) it lives on.
    pub chain_id: u64,
    /// Its id.
    pub id: ChannelId,
    /// Its current epoch.
    pub epoch: u64,
    /// What backs it: all sub-channels together may owe at most this.
    pub collateral: Amount,
    /// False once closing began: no receipt is accepted any more.
    pub open: bool,
    /// Its sub-channels by key id.
    pub subs: BTreeMap<KeyId, SubChannel>,
}

/// One payer key's running account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubChannel {
    /// The key that signs (its id is the sub-channel id).
    pub key: PublicKey,
    /// Nonce of the latest accepted receipt (0: none yet).
    pub nonce: u64,
    /// Amount of the latest accepted receipt.
    pub accumulated: Amount,
    /// The latest proposal not yet signed.
    pub pending: Option<SubRav>,
}

/// Why a receipt or a proposal is refused, in the order the checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// Not encoding version 1.
    #[error("unsupported SubRAV version")]
    UnsupportedVersion,
    /// For another chain.
    #[error("the receipt is for another chain")]
    WrongChain,
    /// For another channel (or none this payee has).
    #[error("no such channel")]
    UnknownChannel,
    /// The channel is closing or closed.
    #[error("the channel is closed")]
    ChannelClosed,
    /// For another epoch of the channel (a replay from an earlier life).
    #[error("the receipt is for another epoch of the channel")]
    EpochMismatch,
    /// No such sub-channel in the channel.
    #[error("no such sub-channel")]
    UnknownSubChannel,
    /// The signature is not the sub-channel key's.
    #[error("the signature does not verify")]
    BadSignature,
    /// The latest accepted nonce again, with another amount: the nonce is
    /// the receipt's idempotency key.
    #[error("a receipt with this nonce was accepted for a different accumulated_amount")]
    NonceReused,
    /// Nonce not above the latest accepted (and not an exact replay).
    #[error("the nonce is not above the latest accepted receipt's")]
    NonceStale,
    /// Nonce more than [`MAX_NONCE_GAP`] above both the latest accepted
    /// receipt and the latest proposal (a jump that would exhaust the
    /// nonces and freeze the sub-channel).
    #[error("the nonce jumps more than {MAX_NONCE_GAP} above the latest receipt and proposal")]
    NonceTooFar,
    /// Amount below the latest accepted.
    #[error("the accumulated amount is below the latest accepted receipt's")]
    AmountDecreased,
    /// More than the channel's collateral would be owed.
    #[error("the channel's collateral does not cover this amount")]
    ExceedsCollateral,
}

impl ReceiptError {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            ReceiptError::UnsupportedVersion => "unsupported_version",
            ReceiptError::WrongChain => "wrong_chain",
            ReceiptError::UnknownChannel => "unknown_channel",
            ReceiptError::ChannelClosed => "channel_closed",
            ReceiptError::EpochMismatch => "epoch_mismatch",
            ReceiptError::UnknownSubChannel => "unknown_sub_channel",
            ReceiptError::BadSignature => "signature_invalid",
            ReceiptError::NonceReused => "idempotency_conflict",
            ReceiptError::NonceStale => "nonce_stale",
            ReceiptError::NonceTooFar => "nonce_too_far",
            ReceiptError::AmountDecreased => "amount_decreased",
            ReceiptError::ExceedsCollateral => "exceeds_collateral",
        }
    }
}

/// The update to persist before acting on an accepted receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The sub-channel.
    pub sub_channel: KeyId,
    /// Its new nonce.
    pub nonce: u64,
    /// Its new accumulated amount.
    pub accumulated: Amount,
    /// What this receipt adds to what was owed.
    pub delta: Amount,
}

/// What a valid receipt means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// New: persist it.
    Accepted(Accepted),
    /// The latest accepted receipt again: nothing to do.
    Replay,
}

impl Channel {
    /// Everything owed on the channel now.
    pub fn total_owed(&self) -> Amount {
        self.subs.values().fold(Amount::ZERO, |sum, s| sum.checked_add(s.accumulated).unwrap_or(Amount::MAX))
    }

    /// Total owed if `sub` owed `accumulated`, or `ExceedsCollateral`.
    fn within_collateral(&self, sub: &SubChannel, accumulated: Amount) -> Result<(), ReceiptError> {
        let total = self.total_owed().saturating_sub(sub.accumulated).checked_add(accumulated);
        match total {
            Ok(total) if total <= self.collateral => Ok(()),
            _ => Err(ReceiptError::ExceedsCollateral),
        }
    }

    /// The sub-channel `rav` names, after the checks every receipt and
    /// proposal share (version, chain, channel, open, epoch, sub-channel).
    fn sub_for(&self, rav: &SubRav) -> Result<&SubChannel, ReceiptError> {
        if rav.version != SUBRAV_VERSION {
            return Err(ReceiptError::UnsupportedVersion);
        }
        if rav.chain_id != self.chain_id {
            return Err(ReceiptError::WrongChain);
        }
        if rav.channel_id != self.id {
            return Err(ReceiptError::UnknownChannel);
        }
        if !self.open {
            return Err(ReceiptError::ChannelClosed);
        }
        if rav.epoch != self.epoch {
            return Err(ReceiptError::EpochMismatch);
        }
        self.subs.get(&rav.sub_channel).ok_or(ReceiptError::UnknownSubChannel)
    }

    /// Checks a signed receipt; the first failing check names the error.
    pub fn check(&self, signed: &SignedSubRav) -> Result<Verdict, ReceiptError> {
        let rav = &signed.rav;
        let sub = self.sub_for(rav)?;
        signed.verify(&sub.key).map_err(|_| ReceiptError::BadSignature)?;
        if rav.nonce == sub.nonce && rav.accumulated == sub.accumulated {
            return Ok(Verdict::Replay);
        }
        if rav.nonce == sub.nonce {
            return Err(ReceiptError::NonceReused);
        }
        if rav.nonce < sub.nonce {
            return Err(ReceiptError::NonceStale);
        }
        let latest = sub.pending.map_or(sub.nonce, |p| p.nonce.max(sub.nonce));
        if rav.nonce - latest.min(rav.nonce) > MAX_NONCE_GAP {
            return Err(ReceiptError::NonceTooFar);
        }
        if rav.accumulated < sub.accumulated {
            return Err(ReceiptError::AmountDecreased);
        }
        self.within_collateral(sub, rav.accumulated)?;
        Ok(Verdict::Accepted(Accepted {
            sub_channel: rav.sub_channel,
            nonce: rav.nonce,
            accumulated: rav.accumulated,
            delta: rav.accumulated.saturating_sub(sub.accumulated),
        }))
    }

    /// Records an accepted receipt (after it was persisted); a pending
    /// proposal it covers is dropped.
    pub fn apply(&mut self, accepted: &Accepted) {
        if let Some(sub) = self.subs.get_mut(&accepted.sub_channel) {
            sub.nonce = accepted.nonce;
            sub.accumulated = accepted.accumulated;
            if sub.pending.is_some_and(|p| p.nonce <= accepted.nonce) {
                sub.pending = None;
            }
        }
    }

    /// The next proposal for `sub_channel` after a further `cost`: one
    /// nonce above both the latest accepted receipt and the pending
    /// proposal, for the amount of the pending proposal (if any: it was not
    /// signed yet and is replaced) or else of the latest accepted, plus
    /// `cost`. Every proposal has its own nonce, so a payer may sign any of
    /// them, in order, or skip to the newest.
    pub fn propose(&self, sub_channel: KeyId, cost: Amount) -> Result<SubRav, ReceiptError> {
        let template = SubRav {
            version: SUBRAV_VERSION,
            chain_id: self.chain_id,
            channel_id: self.id,
            epoch: self.epoch,
            sub_channel,
            nonce: 0,
            accumulated: Amount::ZERO,
        };
        let sub = self.sub_for(&template)?;
        let base = sub.pending.map_or(sub.accumulated, |p| p.accumulated);
        let accumulated = base.checked_add(cost).map_err(|_| ReceiptError::ExceedsCollateral)?;
        self.within_collateral(sub, accumulated)?;
        let nonce = sub.pending.map_or(sub.nonce, |p| p.nonce.max(sub.nonce)).checked_add(1).ok_or(ReceiptError::NonceTooFar)?;
        Ok(SubRav { nonce, accumulated, ..template })
    }
}
