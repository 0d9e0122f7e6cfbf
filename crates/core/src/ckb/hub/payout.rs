//! Payouts: every party whose unpaid balance exceeds the threshold is paid
//! its whole balance in one on-chain output; many parties share one
//! transaction. A payout is stored with its transaction before it is sent
//! (`sent`), so a crash between sending and recording re-sends the same
//! bytes, which can only commit once.

use crate::ckb::{Shannons, SighashArgs};

/// Where a payout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutState {
    /// Stored with its transaction (the balances held), sent or about to be.
    Sent,
    /// Committed: the split records are paid.
    Paid,
    /// Its inputs were spent elsewhere or it was refused: the holds are
    /// released and the parties are paid by a later payout.
    Failed,
}

impl PayoutState {
    /// Stable name (stored).
    pub fn name(self) -> &'static str {
        match self {
            PayoutState::Sent => "sent",
            PayoutState::Paid => "paid",
            PayoutState::Failed => "failed",
        }
    }

    /// Reads a stored name.
    pub fn parse(name: &str) -> Option<PayoutState> {
        [PayoutState::Sent, PayoutState::Paid, PayoutState::Failed].into_iter().find(|s| s.name() == name)
    }
}

/// Who one payout transaction pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutPlan {
    /// Each party and its whole unpaid balance, largest first.
    pub outputs: Vec<(SighashArgs, Shannons)>,
}

impl PayoutPlan {
    /// What the outputs pay in all.
    pub fn total(&self) -> Shannons {
        self.outputs.iter().fold(0, |sum, (_, amount)| sum.saturating_add(*amount))
    }
}

/// The parties of `balances` whose balance is above `threshold` (and can
/// make a cell: at least `min_cell`), at most `max_outputs` of them, the
/// largest first; `None` when nobody is due. Parties in `never` (the hub's
/// own key: its fees stay in the pool) are skipped.
pub fn plan_payout(
    balances: &[(SighashArgs, Shannons)],
    threshold: Shannons,
    min_cell: Shannons,
    max_outputs: usize,
    never: &[SighashArgs],
) -> Option<PayoutPlan> {
    let mut due: Vec<(SighashArgs, Shannons)> =
        balances.iter().copied().filter(|(party, amount)| *amount > threshold && *amount >= min_cell && !never.contains(party)).collect();
    due.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    due.truncate(max_outputs);
    (!due.is_empty()).then_some(PayoutPlan { outputs: due })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ckb::CKB;

    fn who(n: u8) -> SighashArgs {
        SighashArgs([n; 20])
    }

    #[test]
    fn only_balances_above_the_threshold_are_paid_largest_first() {
        let balances = [(who(1), 65 * CKB), (who(2), 65 * CKB + 1), (who(3), 500 * CKB), (who(4), 0), (who(9), 900 * CKB)];
        let plan = plan_payout(&balances, 65 * CKB, 61 * CKB, 10, &[who(9)]).expect("due");
        assert_eq!(
            plan.outputs,
            vec![(who(3), 500 * CKB), (who(2), 65 * CKB + 1)],
            "65 CKB exactly is not above the threshold; the hub's own key is never paid"
        );
        assert_eq!(plan.total(), 565 * CKB + 1);
        assert_eq!(plan_payout(&balances, 65 * CKB, 61 * CKB, 1, &[who(9)]).expect("due").outputs, vec![(who(3), 500 * CKB)]);
        assert_eq!(plan_payout(&balances[..2], 65 * CKB + 1, 61 * CKB, 10, &[]), None);
        // A threshold below a cell's minimum still never makes an invalid output.
        assert_eq!(plan_payout(&[(who(1), 60 * CKB)], 0, 61 * CKB, 10, &[]), None);
        for s in [PayoutState::Sent, PayoutState::Paid, PayoutState::Failed] {
            assert_eq!(PayoutState::parse(s.name()), Some(s));
        }
    }
}
