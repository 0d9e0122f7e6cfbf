//! The ledger's invariants checked over a stream of transfers, in commit
//! order, so an audit holds the accounts and the open holds in memory but
//! never the whole transfer history. [`super::check_invariants`] is this,
//! fed from slices.

use super::{Account, InvariantViolation, PendingStatus, Transfer, TransferKind};
use std::collections::BTreeMap;

/// Per-asset (or per-account) totals: debits posted, credits posted,
/// debits pending, credits pending.
type Totals = [u128; 4];

/// Adds `amounts` to `totals` with checked arithmetic: a sum past 128 bits
/// (only a corrupt or forged store can hold one) is a violation named
/// after `what`, never a panic or a wrap.
fn add(totals: &mut Totals, amounts: Totals, what: &str) -> Result<(), InvariantViolation> {
    for (total, amount) in totals.iter_mut().zip(amounts) {
        *total = total.checked_add(amount).ok_or_else(|| InvariantViolation::Overflow(what.to_owned()))?;
    }
    Ok(())
}

/// Checks what can be checked from the accounts alone: per asset, debits
/// equal credits (posted and pending), and no flagged account exceeds its
/// limit.
pub fn check_accounts(accounts: &[Account]) -> Result<(), InvariantViolation> {
    let mut sums: BTreeMap<&str, Totals> = BTreeMap::new();
    for a in accounts {
        let s = sums.entry(a.asset.as_str()).or_default();
        let own = [a.debits_posted.units(), a.credits_posted.units(), a.debits_pending.units(), a.credits_pending.units()];
        add(s, own, &a.asset)?;
    }
    for (asset, s) in sums {
        for (side, d, c) in [("posted", s[0], s[1]), ("pending", s[2], s[3])] {
            if d != c {
                return Err(InvariantViolation::Unbalanced {
                    asset: asset.to_owned(),
                    side,
                    debits: crate::money::Amount::new(d),
                    credits: crate::money::Amount::new(c),
                });
            }
        }
    }
    for a in accounts {
        let overflow = || InvariantViolation::Overflow(a.id.0.clone());
        let debits = a.debits_pending.units().checked_add(a.debits_posted.units()).ok_or_else(overflow)?;
        let credits = a.credits_pending.units().checked_add(a.credits_posted.units()).ok_or_else(overflow)?;
        if (a.flags.debits_must_not_exceed_credits && debits > a.credits_posted.units())
            || (a.flags.credits_must_not_exceed_debits && credits > a.debits_posted.units())
        {
            return Err(InvariantViolation::LimitExceeded(a.id.0.clone()));
        }
    }
    Ok(())
}

/// A replay of transfers, fed one at a time in commit order: every hold is
/// resolved at most once, by the kind its status says (a resolution
/// always comes after its hold), and, at the end, every account's totals
/// equal the replay.
#[derive(Debug, Default)]
pub struct Replay {
    /// Totals replayed per account id.
    totals: BTreeMap<String, Totals>,
    /// Holds seen, by id, with the resolution their status calls for
    /// (`None`: still pending, so none); removed once resolved.
    awaiting: BTreeMap<String, Option<&'static str>>,
    /// Transfers fed.
    count: usize,
}

impl Replay {
    /// An empty replay.
    pub fn new() -> Self {
        Self::default()
    }

    /// Transfers fed so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Feeds the next transfer with, for a hold, its stored status.
    pub fn push(&mut self, t: &Transfer, status: Option<PendingStatus>) -> Result<(), InvariantViolation> {
        self.count += 1;
        let unresolved = || InvariantViolation::HoldResolution(t.id.0.clone());
        let (dp, cp, dn, cn) = match &t.kind {
            TransferKind::Single | TransferKind::Post { .. } => (t.amount.units(), t.amount.units(), 0, 0),
            TransferKind::Pending { .. } => {
                let expected = match status.ok_or_else(unresolved)? {
                    PendingStatus::Pending => None,
                    PendingStatus::Posted => Some("post"),
                    PendingStatus::Voided => Some("void"),
                    PendingStatus::Expired => Some("expire"),
                };
                self.awaiting.insert(t.id.0.clone(), expected);
                if expected.is_none() {
                    (0, 0, t.amount.units(), t.amount.units())
                } else {
                    (0, 0, 0, 0)
                }
            }
            TransferKind::Void { .. } | TransferKind::Expire { .. } => (0, 0, 0, 0),
        };
        if let Some(hold) = t.kind.pending_id() {
            // A resolution of a hold never seen, already resolved, still
            // marked pending, or resolved another way than its status says.
            match self.awaiting.remove(&hold.0) {
                Some(Some(kind)) if kind == t.kind.as_str() => {}
                _ => return Err(InvariantViolation::HoldResolution(hold.0.clone())),
            }
        }
        add(self.totals.entry(t.debit.0.clone()).or_default(), [dp, 0, dn, 0], &t.debit.0)?;
        add(self.totals.entry(t.credit.0.clone()).or_default(), [0, cp, 0, cn], &t.credit.0)?;
        Ok(())
    }

    /// Ends the replay: no hold awaits its resolution, and every account's
    /// totals equal the replay of its transfers.
    pub fn finish(self, accounts: &[Account]) -> Result<(), InvariantViolation> {
        if let Some((id, _)) = self.awaiting.iter().find(|(_, expected)| expected.is_some()) {
            return Err(InvariantViolation::HoldResolution(id.clone()));
        }
        for a in accounts {
            let replayed = self.totals.get(&a.id.0).copied().unwrap_or_default();
            let actual = [
                a.debits_posted.units(),
                a.credits_posted.units(),
                a.debits_pending.units(),
                a.credits_pending.units(),
            ];
            if replayed != actual {
                return Err(InvariantViolation::TotalsMismatch(a.id.0.clone()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{AccountFlags, AccountId, Links, Reason, TransferId};
    use crate::money::{Amount, Asset};

    #[test]
    fn totals_past_128_bits_are_a_violation_not_a_panic() {
        let huge = |id: &str| Account {
            debits_posted: Amount::MAX,
            credits_posted: Amount::MAX,
            ..Account::new(AccountId(id.into()), Asset::POINTS, AccountFlags::NONE)
        };
        let accounts = [huge("a"), huge("b")];
        assert_eq!(check_accounts(&accounts), Err(InvariantViolation::Overflow("POINTS".into())));
        let transfer = |id: &str| Transfer {
            id: TransferId(id.into()),
            debit: AccountId("a".into()),
            credit: AccountId("b".into()),
            amount: Amount::MAX,
            asset: "POINTS".into(),
            kind: TransferKind::Single,
            reason: Reason::Grant,
            links: Links::default(),
            timestamp: 0,
        };
        let mut replay = Replay::new();
        replay.push(&transfer("t1"), None).expect("one maximal transfer adds up");
        assert_eq!(replay.push(&transfer("t2"), None), Err(InvariantViolation::Overflow("a".into())));
    }
}
