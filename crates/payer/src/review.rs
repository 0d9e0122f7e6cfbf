//! Deciding whether to sign a proposal, and keeping only the newest one
//! while the signer is busy. Pure: no I/O. Every signature the payer
//! makes passes [`ChannelRecord::decide`] with the request's
//! [`Allowance`]: its `max_amount`, and what it received at the price
//! pinned when the channel opened (docs/channels.md, "What each side
//! risks").

use crate::error::PayerError;
use crate::state::ChannelRecord;
use tollway_core::channel::wire::PaymentDue;
use tollway_core::channel::{review, Entitlement, PayerLimits, Refusal, SignedSubRav, SubRav};
use tollway_core::Amount;

/// One request's running allowance: the most it may add in all
/// (`max_amount`), what it received (its entitlement), and what its
/// receipts added so far (a 402 proposal signed before the answer counts
/// too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowance {
    max_amount: Amount,
    entitlement: Entitlement,
    added: Amount,
}

impl Allowance {
    /// A request that may add at most `max_amount`, and no more than
    /// `entitlement` says it received.
    pub fn new(max_amount: Amount, entitlement: Entitlement) -> Allowance {
        Allowance { max_amount, entitlement, added: Amount::ZERO }
    }

    /// Counts received content.
    pub fn receive(&mut self, content: &str) {
        self.entitlement.receive(content);
    }

    /// Records what a signed receipt added.
    pub fn add(&mut self, delta: Amount) {
        self.added = self.added.checked_add(delta).unwrap_or(Amount::MAX);
    }

    /// What the request's receipts added so far.
    pub fn added(&self) -> Amount {
        self.added
    }

    /// The request's cap.
    pub fn max_amount(&self) -> Amount {
        self.max_amount
    }

    /// What the next receipt may add: what is left of the cap, and of the
    /// entitlement.
    pub fn left(&self) -> (Amount, Amount) {
        (self.max_amount.saturating_sub(self.added), self.entitlement.amount().saturating_sub(self.added))
    }
}

/// What to do with a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Sign it: the new receipt, and what it adds to the latest signed.
    Sign {
        /// The receipt (persist it as the latest signed before sending).
        receipt: SignedSubRav,
        /// What it adds.
        delta: Amount,
    },
    /// It is the latest signed receipt again: nothing new to sign.
    AlreadySigned,
    /// An older proposal than the latest signed receipt (its nonce is not
    /// above it): already covered, since receipts are cumulative. Never
    /// signed (two receipts with one nonce never are), and not a reason
    /// to stop a stream.
    Superseded,
}

impl ChannelRecord {
    /// Reviews `proposal` against the latest signed receipt with the
    /// payer's own limits: `(max_left, entitled_left)` what the current
    /// request may still add under its cap and for what it received
    /// ([`Allowance::left`]), the budget the record's. A refusal is final
    /// for the request.
    pub fn decide(&self, proposal: &SubRav, (max_left, entitled_left): (Amount, Amount)) -> Result<Decision, PayerError> {
        let last = self.base();
        let limits = PayerLimits { max_amount: max_left, entitled: entitled_left, budget: self.budget };
        match review(&last, &limits, proposal) {
            Ok(_) if proposal.nonce == last.nonce => Ok(Decision::AlreadySigned),
            Ok(delta) => {
                let key = self.key()?;
                if key.id() != proposal.sub_channel {
                    return Err(Refusal::WrongSubChannel.into());
                }
                Ok(Decision::Sign { receipt: proposal.sign(&key), delta })
            }
            // Identity fields matched (they are checked first): only the
            // nonce is behind.
            Err(Refusal::NonceNotIncreasing) if proposal.nonce <= last.nonce => Ok(Decision::Superseded),
            Err(refusal) => Err(refusal.into()),
        }
    }
}

/// The newest proposal not yet handled. Receipts are cumulative, so when
/// several proposals arrive while the signer is busy only the newest
/// matters: older ones are dropped, never signed.
#[derive(Debug, Default)]
pub struct Newest {
    held: Option<PaymentDue>,
    /// (nonce, amount) of the newest proposal taken so far.
    taken: Option<(u64, Amount)>,
    dropped: u64,
}

fn rank(due: &PaymentDue) -> (u64, Amount) {
    (due.proposal.nonce, due.proposal.accumulated)
}

impl Newest {
    /// An empty slot.
    pub fn new() -> Newest {
        Newest::default()
    }

    /// Offers a proposal; kept if it is newer (higher nonce, or the same
    /// nonce and a higher amount) than the one held and every one taken.
    /// A pause (`required` set) is kept even if it was taken before,
    /// unless something newer is held: the payee waits for it, so it must
    /// be handled again (a lost post is retried). Returns whether it was kept.
    pub fn offer(&mut self, due: PaymentDue) -> bool {
        let newer_than_taken = due.required.is_some() || self.taken.is_none_or(|t| rank(&due) > t);
        let newer_than_held = self.held.as_ref().is_none_or(|h| rank(&due) > rank(h));
        if newer_than_taken && newer_than_held {
            if self.held.replace(due).is_some() {
                self.dropped += 1;
            }
            true
        } else {
            self.dropped += 1;
            false
        }
    }

    /// Takes the proposal held, if any.
    pub fn take(&mut self) -> Option<PaymentDue> {
        let due = self.held.take()?;
        self.taken = Some(rank(&due));
        Some(due)
    }

    /// Proposals dropped because a newer one came first.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::{key, record};

    fn proposal(nonce: u64, amount: u128) -> SubRav {
        SubRav { nonce, accumulated: Amount::new(amount), ..record(1).base() }
    }

    fn due(nonce: u64, amount: u128) -> PaymentDue {
        PaymentDue { proposal: proposal(nonce, amount), cost: Amount::new(amount), accepted: Amount::ZERO, required: None, stopped: None }
    }

    #[test]
    fn a_fair_proposal_is_signed_with_the_payers_key() {
        let r = record(1);
        let p = proposal(1, 60);
        match r.decide(&p, (Amount::new(100), Amount::MAX)) {
            Ok(Decision::Sign { receipt, delta }) => {
                assert_eq!(receipt.rav, p);
                assert_eq!(delta, Amount::new(60));
                assert_eq!(receipt.verify(&key(1).public()), Ok(()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refusals_stop_signing() {
        let mut r = record(1);
        r.latest_signed = Some(proposal(3, 500).sign(&key(1)));
        let max = Amount::new(100);
        let code = |r: &ChannelRecord, p: &SubRav| r.decide(p, (max, Amount::MAX)).map_err(|e| e.code().to_owned());
        assert_eq!(code(&r, &proposal(4, 601)), Err("over_max_amount".to_owned()), "adds 101 > 100");
        assert_eq!(code(&r, &proposal(4, 600)).map(|d| matches!(d, Decision::Sign { .. })), Ok(true), "adds exactly 100");
        r.latest_signed = Some(proposal(3, 950).sign(&key(1)));
        assert_eq!(code(&r, &proposal(4, 1001)), Err("over_budget".to_owned()), "budget 1000");
        assert_eq!(code(&r, &proposal(4, 1000)).map(|d| matches!(d, Decision::Sign { .. })), Ok(true));
        let other_channel = SubRav { channel_id: tollway_core::channel::ChannelId([9; 32]), ..proposal(4, 960) };
        assert_eq!(code(&r, &other_channel), Err("wrong_channel".to_owned()));
        assert_eq!(code(&r, &SubRav { chain_id: 8, ..proposal(4, 960) }), Err("wrong_chain".to_owned()));
        assert_eq!(code(&r, &SubRav { epoch: 2, ..proposal(4, 960) }), Err("wrong_epoch".to_owned()));
        assert_eq!(code(&r, &SubRav { sub_channel: key(2).id(), ..proposal(4, 960) }), Err("wrong_sub_channel".to_owned()));
        assert_eq!(code(&r, &proposal(9, 960)).map(|d| matches!(d, Decision::Sign { .. })), Ok(true), "nonce gaps are fine");
        assert_eq!(code(&r, &proposal(4, 900)), Err("amount_decreased".to_owned()));
        // A stale proposal for another channel is still refused, not skipped.
        assert_eq!(code(&r, &SubRav { channel_id: tollway_core::channel::ChannelId([9; 32]), ..proposal(2, 10) }), Err("wrong_channel".to_owned()));
    }

    #[test]
    fn an_increase_beyond_what_was_received_is_refused_even_within_max_amount() {
        let r = record(1);
        let rule = tollway_core::pricing::PriceRule {
            model: "m".into(),
            version: 1,
            input_per_1k: tollway_core::pricing::Price(0),
            output_per_1k: tollway_core::pricing::Price::parse("1000", tollway_core::Asset::POINTS).expect("price"),
            effective_from: 0,
            active: true,
        };
        let mut allowance = Allowance::new(Amount::new(1_000), Entitlement::new(rule, 0, 0));
        // Nothing received: an empty chunk's proposal takes nothing.
        assert_eq!(r.decide(&proposal(1, 1), allowance.left()).map_err(|e| e.code().to_owned()).err(), Some("over_received".to_owned()));
        allowance.receive("hi");
        assert!(matches!(r.decide(&proposal(1, 3), allowance.left()), Ok(Decision::Sign { .. })), "2 bytes + 1 = 3 tokens");
        assert_eq!(r.decide(&proposal(1, 4), allowance.left()).map_err(|e| e.code().to_owned()).err(), Some("over_received".to_owned()));
        allowance.add(Amount::new(3));
        assert_eq!(allowance.left(), (Amount::new(997), Amount::ZERO));
    }

    #[test]
    fn the_latest_signed_again_or_an_older_proposal_is_not_signed() {
        let mut r = record(1);
        r.latest_signed = Some(proposal(3, 500).sign(&key(1)));
        assert!(matches!(r.decide(&proposal(3, 500), (Amount::ZERO, Amount::ZERO)), Ok(Decision::AlreadySigned)));
        // Same nonce for another amount, or an older nonce: never signed.
        assert!(matches!(r.decide(&proposal(3, 520), (Amount::new(100), Amount::MAX)), Ok(Decision::Superseded)));
        assert!(matches!(r.decide(&proposal(2, 400), (Amount::new(100), Amount::MAX)), Ok(Decision::Superseded)));
    }

    #[test]
    fn only_the_newest_proposal_is_kept() {
        let mut slot = Newest::new();
        assert!(slot.offer(due(1, 10)));
        assert!(slot.offer(due(1, 20)), "same nonce, more: newer");
        assert!(slot.offer(due(2, 30)));
        assert!(!slot.offer(due(1, 40)), "older nonce");
        assert!(!slot.offer(due(2, 30)), "the same again");
        assert_eq!(slot.take().map(|d| rank(&d)), Some((2, Amount::new(30))));
        assert_eq!(slot.take(), None);
        assert!(!slot.offer(due(2, 25)), "older than one already taken");
        assert!(!slot.offer(due(2, 30)), "the one already taken");
        assert!(slot.offer(due(3, 40)));
        assert!(slot.offer(due(4, 50)));
        assert_eq!(slot.take().map(|d| rank(&d)), Some((4, Amount::new(50))));
        assert_eq!(slot.dropped(), 7);
        // A pause for a proposal already taken is handled again...
        assert!(slot.offer(PaymentDue { required: Some(Amount::new(50)), ..due(4, 50) }));
        assert_eq!(slot.take().map(|d| rank(&d)), Some((4, Amount::new(50))));
        // ...unless something newer is waiting anyway.
        assert!(slot.offer(due(5, 60)));
        assert!(!slot.offer(PaymentDue { required: Some(Amount::new(50)), ..due(4, 50) }));
    }
}
