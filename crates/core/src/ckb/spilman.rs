//! The life of a Spilman channel on CKB as one pure state machine:
//! [`apply`] takes a state and an event and returns the transition, or
//! the reason the event is not allowed now. Every allowed move is in one
//! table ([`next_state`]); nothing here does I/O, and the caller persists
//! the new state before it acts on it (sends a transaction, serves a
//! chunk).
//!
//! ```text
//! Proposed --RefundPresigned--> RefundSigned --FundingSent--> Funding
//! Funding --FundingCommitted--> Active        Funding --FundingDropped--> Abandoned
//! Active --SettleSent--> Settling --SettleCommitted--> Settled
//! Active --ExpiryReached--> Expired --SettleSent--> Settling
//! Expired --RefundSent--> Refunding --RefundCommitted--> Refunded
//! Settling --TxDropped--> (back where it was sent from); Refunding likewise
//! ```
//!
//! The seller may settle until the refund commits (the chain lets the
//! first spend of the channel cell win); payments are accepted only while
//! `Active`.

/// Where a channel is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpilmanState {
    /// The buyer proposed a funding transaction; nothing signed yet.
    Proposed,
    /// The seller checked the funding and pre-signed the refund.
    RefundSigned,
    /// The buyer sent the funding transaction; not committed yet.
    Funding,
    /// The funding is committed: payments flow.
    Active,
    /// The channel passed its expiry unsettled: the buyer may refund,
    /// the seller may still settle.
    Expired,
    /// A settlement (the latest commitment, both signatures) was sent.
    Settling {
        /// Whether it was sent after expiry (where a dropped one returns).
        after_expiry: bool,
    },
    /// The settlement committed. Final.
    Settled,
    /// The refund was sent.
    Refunding,
    /// The refund committed. Final.
    Refunded,
    /// The funding never committed (dropped or never sent). Final.
    Abandoned,
}

/// What happened to a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpilmanEvent {
    /// The seller verified the funding and pre-signed the refund.
    RefundPresigned,
    /// The buyer sent the funding.
    FundingSent,
    /// The funding committed on chain.
    FundingCommitted,
    /// The funding was dropped by the node (or never sent before a deadline).
    FundingDropped,
    /// The seller sent a settlement.
    SettleSent,
    /// The settlement committed.
    SettleCommitted,
    /// The expiry passed.
    ExpiryReached,
    /// The buyer sent the refund.
    RefundSent,
    /// The refund committed.
    RefundCommitted,
    /// A settlement or refund was dropped by the node (not committed).
    TxDropped,
}

/// An event that is not allowed in a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{event:?} is not allowed while the channel is {state:?}")]
pub struct NotAllowed {
    /// The state.
    pub state: SpilmanState,
    /// The event.
    pub event: SpilmanEvent,
}

impl NotAllowed {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        "channel_state_conflict"
    }
}

/// A state change to persist before acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The state before.
    pub from: SpilmanState,
    /// The state after.
    pub to: SpilmanState,
}

/// The single table of allowed moves; `None`: not allowed.
pub fn next_state(state: SpilmanState, event: SpilmanEvent) -> Option<SpilmanState> {
    use SpilmanEvent as E;
    use SpilmanState as S;
    Some(match (state, event) {
        (S::Proposed, E::RefundPresigned) => S::RefundSigned,
        (S::Proposed | S::RefundSigned, E::FundingDropped) => S::Abandoned,
        (S::RefundSigned, E::FundingSent) => S::Funding,
        (S::Funding, E::FundingCommitted) => S::Active,
        (S::Funding, E::FundingDropped) => S::Abandoned,
        (S::Active, E::SettleSent) => S::Settling { after_expiry: false },
        (S::Active, E::ExpiryReached) => S::Expired,
        (S::Expired, E::SettleSent) => S::Settling { after_expiry: true },
        (S::Expired, E::RefundSent) => S::Refunding,
        (S::Settling { .. }, E::SettleCommitted) => S::Settled,
        (S::Settling { after_expiry: false }, E::TxDropped) => S::Active,
        (S::Settling { after_expiry: true }, E::TxDropped) => S::Expired,
        // Expiry passing while a settlement is in flight changes where a
        // dropped one returns.
        (S::Settling { .. }, E::ExpiryReached) => S::Settling { after_expiry: true },
        (S::Refunding, E::RefundCommitted) => S::Refunded,
        (S::Refunding, E::TxDropped) => S::Expired,
        // The seller's settlement may win the race against a refund.
        (S::Refunding, E::SettleCommitted) => S::Settled,
        _ => return None,
    })
}

/// Applies `event` to `state`.
pub fn apply(state: SpilmanState, event: SpilmanEvent) -> Result<Transition, NotAllowed> {
    next_state(state, event).map(|to| Transition { from: state, to }).ok_or(NotAllowed { state, event })
}

impl SpilmanState {
    /// True while the seller accepts payments (commitments).
    pub fn accepts_payments(self) -> bool {
        self == SpilmanState::Active
    }

    /// True when nothing more can happen.
    pub fn is_final(self) -> bool {
        matches!(self, SpilmanState::Settled | SpilmanState::Refunded | SpilmanState::Abandoned)
    }

    /// Stable name (stored, shown by the API).
    pub fn name(self) -> &'static str {
        match self {
            SpilmanState::Proposed => "proposed",
            SpilmanState::RefundSigned => "refund_signed",
            SpilmanState::Funding => "funding",
            SpilmanState::Active => "active",
            SpilmanState::Expired => "expired",
            SpilmanState::Settling { after_expiry: false } => "settling",
            SpilmanState::Settling { after_expiry: true } => "settling_after_expiry",
            SpilmanState::Settled => "settled",
            SpilmanState::Refunding => "refunding",
            SpilmanState::Refunded => "refunded",
            SpilmanState::Abandoned => "abandoned",
        }
    }

    /// Every state, for tables and round trips.
    pub const ALL: [SpilmanState; 11] = [
        SpilmanState::Proposed,
        SpilmanState::RefundSigned,
        SpilmanState::Funding,
        SpilmanState::Active,
        SpilmanState::Expired,
        SpilmanState::Settling { after_expiry: false },
        SpilmanState::Settling { after_expiry: true },
        SpilmanState::Settled,
        SpilmanState::Refunding,
        SpilmanState::Refunded,
        SpilmanState::Abandoned,
    ];

    /// The state a stored name names.
    pub fn from_name(name: &str) -> Option<SpilmanState> {
        SpilmanState::ALL.into_iter().find(|s| s.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::SpilmanEvent as E;
    use super::SpilmanState as S;
    use super::*;

    const EVENTS: [SpilmanEvent; 10] = [
        E::RefundPresigned,
        E::FundingSent,
        E::FundingCommitted,
        E::FundingDropped,
        E::SettleSent,
        E::SettleCommitted,
        E::ExpiryReached,
        E::RefundSent,
        E::RefundCommitted,
        E::TxDropped,
    ];

    fn run(events: &[SpilmanEvent]) -> Result<SpilmanState, NotAllowed> {
        events.iter().try_fold(S::Proposed, |s, e| apply(s, *e).map(|t| t.to))
    }

    #[test]
    fn the_happy_paths() {
        let open = [E::RefundPresigned, E::FundingSent, E::FundingCommitted];
        assert_eq!(run(&open), Ok(S::Active));
        assert_eq!(run(&[&open[..], &[E::SettleSent, E::SettleCommitted]].concat()), Ok(S::Settled));
        assert_eq!(run(&[&open[..], &[E::ExpiryReached, E::RefundSent, E::RefundCommitted]].concat()), Ok(S::Refunded));
        // The auto-settle job after expiry, and a settlement beating a refund.
        assert_eq!(run(&[&open[..], &[E::ExpiryReached, E::SettleSent, E::SettleCommitted]].concat()), Ok(S::Settled));
        assert_eq!(run(&[&open[..], &[E::ExpiryReached, E::RefundSent, E::SettleCommitted]].concat()), Ok(S::Settled));
    }

    #[test]
    fn the_order_of_signing_is_enforced() {
        // No funding before the refund is pre-signed: the buyer's deposit
        // could be locked for good.
        assert_eq!(apply(S::Proposed, E::FundingSent), Err(NotAllowed { state: S::Proposed, event: E::FundingSent }));
        // No refund before expiry (the node would refuse it too).
        assert_eq!(apply(S::Active, E::RefundSent).map_err(|e| e.code()), Err("channel_state_conflict"));
        // Payments only while active.
        let accepting: Vec<SpilmanState> = S::ALL.into_iter().filter(|s| s.accepts_payments()).collect();
        assert_eq!(accepting, vec![S::Active]);
    }

    #[test]
    fn dropped_transactions_return_where_they_came_from() {
        assert_eq!(apply(S::Settling { after_expiry: false }, E::TxDropped).map(|t| t.to), Ok(S::Active));
        assert_eq!(apply(S::Settling { after_expiry: true }, E::TxDropped).map(|t| t.to), Ok(S::Expired));
        assert_eq!(apply(S::Settling { after_expiry: false }, E::ExpiryReached).map(|t| t.to), Ok(S::Settling { after_expiry: true }));
        assert_eq!(apply(S::Refunding, E::TxDropped).map(|t| t.to), Ok(S::Expired));
        assert_eq!(apply(S::Funding, E::FundingDropped).map(|t| t.to), Ok(S::Abandoned));
    }

    #[test]
    fn final_states_allow_nothing_and_names_round_trip() {
        for state in S::ALL {
            assert_eq!(SpilmanState::from_name(state.name()), Some(state));
            if state.is_final() {
                for event in EVENTS {
                    assert!(apply(state, event).is_err(), "{state:?} + {event:?}");
                }
            }
        }
        // Every non-final state has a way out.
        for state in S::ALL.into_iter().filter(|s| !s.is_final()) {
            assert!(EVENTS.iter().any(|e| apply(state, *e).is_ok()), "{state:?} is stuck");
        }
    }
}
