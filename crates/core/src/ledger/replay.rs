//! The ledger's invariants checked over a stream of transfers, in commit
//! order, so an audit holds the accounts and the open holds in memory but
//! never the whole transfer history. [`super::check_invariants`] is this,
//! fed from slices.

use super::{Account, InvariantViolation, PendingStatus, Transfer, TransferKind};
use std::collections::BTreeMap;

/// Per-asset (or per-account) totals: debits posted, credits posted,
/// debits pending, credits pending.
type Totals = [u128; 4];

/// Checks what can be checked from the accounts alone: per asset, debits
/// equal credits (posted and pending), and no flagged account exceeds its
/// limit.
pub fn check_accounts(accounts: &[Account]) -> Result<(), InvariantViolation> {
    let mut sums: BTreeMap<&str, Totals> = BTreeMap::new();
    for a in accounts {
        let s = sums.entry(a.asset.as_str()).or_default();
        s[0] += a.debits_posted.units();
        s[1] += a.credits_posted.units();
        s[2] += a.debits_pending.units();
        s[3] += a.credits_pending.units();
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
        let debits = a.debits_pending.units() + a.debits_posted.units();
        let credits = a.credits_pending.units() + a.credits_posted.units();
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
        let d = self.totals.entry(t.debit.0.clone()).or_default();
        d[0] += dp;
        d[2] += dn;
        let c = self.totals.entry(t.credit.0.clone()).or_default();
        c[1] += cp;
        c[3] += cn;
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
