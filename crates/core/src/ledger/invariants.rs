use super::replay::{check_accounts, Replay};
use super::{Account, PendingStatus, Transfer};
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
    /// A sum of totals would pass 128 bits (a corrupt or forged store).
    #[error("totals of {0} overflow 128 bits")]
    Overflow(String),
    /// Account totals do not equal the sum of the transfers.
    #[error("account {0} totals disagree with its transfers")]
    TotalsMismatch(String),
}

/// Checks the ledger's invariants over a complete set of accounts and
/// transfers (in commit order): per asset, debits equal credits (posted and
/// pending); no flagged account exceeds its limit; every hold is resolved
/// at most once and its status says how; account totals equal the replay
/// of transfers. The checks themselves are [`check_accounts`] and
/// [`Replay`], which an audit also feeds page by page.
pub fn check_invariants(
    accounts: &[Account],
    transfers: &[Transfer],
    holds: &BTreeMap<String, PendingStatus>,
) -> Result<(), InvariantViolation> {
    check_accounts(accounts)?;
    let mut replay = Replay::new();
    for t in transfers {
        replay.push(t, holds.get(&t.id.0).copied())?;
    }
    replay.finish(accounts)
}
