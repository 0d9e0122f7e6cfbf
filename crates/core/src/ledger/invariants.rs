use super::{Account, PendingStatus, Transfer, TransferKind};
use crate::money::Amount;
use std::collections::BTreeMap;

/// A broken ledger invariant, found by [`check_invariants`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvariantViolation {
    /// Total debits differ from total credits for an asset.
    #[error("asset {asset}: {side} debits {debits} != credits {credits}")]
    Unbalanced {
        /// Asset code.
        asset: String,
        /// "posted" or "pending".
        side: &'static str,
        /// Sum of debits.
        debits: Amount,
        /// Sum of credits.
        credits: Amount,
    },
    /// A flagged account exceeded its limit.
    #[error("account {0} exceeds its balance limit")]
    LimitExceeded(String),
    /// A hold was resolved more than once, or its status disagrees with its
    /// resolutions.
    #[error("hold {0} resolved inconsistently")]
    HoldResolution(String),
    /// Account totals do not equal the sum of the transfers.
    #[error("account {0} totals disagree with its transfers")]
    TotalsMismatch(String),
}

/// Checks the ledger's invariants over a complete set of accounts and
/// transfers: per asset, debits equal credits (posted and pending); no
/// flagged account exceeds its limit; every hold is resolved at most once
/// and its status says how; account totals equal the replay of transfers.
pub fn check_invariants(
    accounts: &[Account],
    transfers: &[Transfer],
    holds: &BTreeMap<String, PendingStatus>,
) -> Result<(), InvariantViolation> {
    check_balanced(accounts)?;
    for a in accounts {
        let debits = a.debits_pending.units() + a.debits_posted.units();
        let credits = a.credits_pending.units() + a.credits_posted.units();
        if (a.flags.debits_must_not_exceed_credits && debits > a.credits_posted.units())
            || (a.flags.credits_must_not_exceed_debits && credits > a.debits_posted.units())
        {
            return Err(InvariantViolation::LimitExceeded(a.id.0.clone()));
        }
    }
    check_holds(transfers, holds)?;
    check_replay(accounts, transfers, holds)
}

fn check_balanced(accounts: &[Account]) -> Result<(), InvariantViolation> {
    let mut sums: BTreeMap<&str, [u128; 4]> = BTreeMap::new();
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
                    debits: Amount::new(d),
                    credits: Amount::new(c),
                });
            }
        }
    }
    Ok(())
}

fn check_holds(transfers: &[Transfer], holds: &BTreeMap<String, PendingStatus>) -> Result<(), InvariantViolation> {
    let mut resolutions: BTreeMap<&str, Vec<&TransferKind>> = BTreeMap::new();
    for t in transfers {
        if let Some(p) = t.kind.pending_id() {
            resolutions.entry(p.0.as_str()).or_default().push(&t.kind);
        }
    }
    for t in transfers.iter().filter(|t| matches!(t.kind, TransferKind::Pending { .. })) {
        let found = resolutions.get(t.id.0.as_str()).map(Vec::as_slice).unwrap_or_default();
        let expected = match holds.get(&t.id.0) {
            Some(PendingStatus::Pending) => None,
            Some(PendingStatus::Posted) => Some("post"),
            Some(PendingStatus::Voided) => Some("void"),
            Some(PendingStatus::Expired) => Some("expire"),
            None => return Err(InvariantViolation::HoldResolution(t.id.0.clone())),
        };
        let ok = match (expected, found) {
            (None, []) => true,
            (Some(kind), [only]) => only.as_str() == kind,
            _ => false,
        };
        if !ok {
            return Err(InvariantViolation::HoldResolution(t.id.0.clone()));
        }
    }
    Ok(())
}

fn check_replay(
    accounts: &[Account],
    transfers: &[Transfer],
    holds: &BTreeMap<String, PendingStatus>,
) -> Result<(), InvariantViolation> {
    let mut totals: BTreeMap<&str, [u128; 4]> = BTreeMap::new();
    for t in transfers {
        let (dp, cp, dn, cn) = match &t.kind {
            TransferKind::Single | TransferKind::Post { .. } => (t.amount.units(), t.amount.units(), 0, 0),
            TransferKind::Pending { .. } if holds.get(&t.id.0) == Some(&PendingStatus::Pending) => {
                (0, 0, t.amount.units(), t.amount.units())
            }
            _ => (0, 0, 0, 0),
        };
        let d = totals.entry(t.debit.0.as_str()).or_default();
        d[0] += dp;
        d[2] += dn;
        let c = totals.entry(t.credit.0.as_str()).or_default();
        c[1] += cp;
        c[3] += cn;
    }
    for a in accounts {
        let t = totals.get(a.id.0.as_str()).copied().unwrap_or_default();
        let actual = [
            a.debits_posted.units(),
            a.credits_posted.units(),
            a.debits_pending.units(),
            a.credits_pending.units(),
        ];
        if t != actual {
            return Err(InvariantViolation::TotalsMismatch(a.id.0.clone()));
        }
    }
    Ok(())
}
