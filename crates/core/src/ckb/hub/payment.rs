//! A hub payment's life, one transition table: `prepared` (the hub built
//! the 2-in-2-out transaction and leased a pool cell) → `sent` (the
//! sender's signature checked, the hub's added, stored, then sent) →
//! `complete` (committed on chain: only now split and counted); or
//! `prepared` → `expired` (not signed in time) / `failed` (the node
//! refused it), and `sent` → `failed` (dropped, or the sender spent its
//! input elsewhere). The three ends release the pool cell.

/// Where a hub payment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubPaymentState {
    /// Built, waiting for the sender's signature.
    Prepared,
    /// Signed by both, sent to the node, not yet committed.
    Sent,
    /// Committed on chain: split and counted.
    Complete,
    /// Refused or dropped; nothing counted.
    Failed,
    /// Not signed in time; nothing counted.
    Expired,
}

/// What happens to a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubPaymentEvent {
    /// The sender's signed transaction passed the checks; the hub signed
    /// and stores it before sending.
    Signed,
    /// Its transaction is committed.
    Committed,
    /// The node refused it, or it is gone from the pool with an input
    /// spent by another transaction.
    Failed,
    /// The prepared payment's time ran out before it was signed.
    Expired,
}

/// A move the table does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {state:?} payment cannot take {event:?}")]
pub struct PaymentNotAllowed {
    /// The state it was in.
    pub state: HubPaymentState,
    /// The refused event.
    pub event: HubPaymentEvent,
}

impl HubPaymentState {
    /// Stable name (stored, and in the API).
    pub fn name(self) -> &'static str {
        match self {
            HubPaymentState::Prepared => "prepared",
            HubPaymentState::Sent => "sent",
            HubPaymentState::Complete => "complete",
            HubPaymentState::Failed => "failed",
            HubPaymentState::Expired => "expired",
        }
    }

    /// Reads a stored name.
    pub fn parse(name: &str) -> Option<HubPaymentState> {
        use HubPaymentState::*;
        [Prepared, Sent, Complete, Failed, Expired].into_iter().find(|s| s.name() == name)
    }

    /// Whether the payment still holds its pool cell and the sender's
    /// cells (prepared or sent).
    pub fn is_open(self) -> bool {
        matches!(self, HubPaymentState::Prepared | HubPaymentState::Sent)
    }
}

/// The one transition table.
pub fn apply_payment(state: HubPaymentState, event: HubPaymentEvent) -> Result<HubPaymentState, PaymentNotAllowed> {
    use HubPaymentEvent as E;
    use HubPaymentState as S;
    match (state, event) {
        (S::Prepared, E::Signed) => Ok(S::Sent),
        (S::Prepared, E::Expired) => Ok(S::Expired),
        (S::Prepared | S::Sent, E::Failed) => Ok(S::Failed),
        (S::Sent, E::Committed) => Ok(S::Complete),
        _ => Err(PaymentNotAllowed { state, event }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HubPaymentEvent as E;
    use HubPaymentState as S;

    #[test]
    fn the_table_allows_exactly_these_moves() {
        let states = [S::Prepared, S::Sent, S::Complete, S::Failed, S::Expired];
        let events = [E::Signed, E::Committed, E::Failed, E::Expired];
        let mut allowed = Vec::new();
        for s in states {
            for e in events {
                if let Ok(to) = apply_payment(s, e) {
                    allowed.push((s, e, to));
                }
            }
        }
        assert_eq!(
            allowed,
            vec![
                (S::Prepared, E::Signed, S::Sent),
                (S::Prepared, E::Failed, S::Failed),
                (S::Prepared, E::Expired, S::Expired),
                (S::Sent, E::Committed, S::Complete),
                (S::Sent, E::Failed, S::Failed),
            ]
        );
        // Counted once: a complete payment takes nothing more, and an
        // expired one can never be signed (its pool cell is free again).
        assert!(apply_payment(S::Complete, E::Committed).is_err());
        assert!(apply_payment(S::Expired, E::Signed).is_err());
        for s in states {
            assert_eq!(S::parse(s.name()), Some(s));
        }
        assert_eq!(S::parse("complete "), None);
    }
}
