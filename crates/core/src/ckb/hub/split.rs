//! How a committed payment is divided: the platform fee and each split
//! party's share in basis points of the amount, each rounded down, and the
//! receiver gets the rest, so the shares always sum to the amount exactly
//! and every rounding remainder goes to the receiver.

use crate::ckb::{Shannons, SighashArgs};

/// Basis points in the whole.
pub const BPS_DENOMINATOR: u32 = 10_000;

/// The most split parties one rule may name.
const MAX_PARTIES: usize = 16;

/// A party that takes a share of every payment a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitParty {
    /// Who (a plain key's lock args).
    pub party: SighashArgs,
    /// Its share, basis points of the amount.
    pub bps: u32,
}

/// How payments to one receiver (or to any receiver without a rule of its
/// own) are divided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SplitRule {
    /// The platform's fee, basis points of the amount.
    pub fee_bps: u32,
    /// The other parties.
    pub parties: Vec<SplitParty>,
}

/// Why a rule cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitRuleError {
    /// The fee and the parties' shares exceed the whole.
    #[error("the fee and the parties' shares add up to {0} basis points, more than 10,000")]
    OverWhole(u64),
    /// A party named twice, or the receiver or platform named as a party.
    #[error("party {0} is named twice (or is the receiver or the platform)")]
    Repeated(SighashArgs),
    /// Too many parties.
    #[error("a rule may name at most 16 parties")]
    TooManyParties,
}

/// What a party takes from a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShareRole {
    /// The payment's receiver: the rest.
    Receiver,
    /// A split party of the rule.
    Party,
    /// The platform's fee.
    Fee,
}

impl ShareRole {
    /// Stable name (stored).
    pub fn name(self) -> &'static str {
        match self {
            ShareRole::Receiver => "receiver",
            ShareRole::Party => "party",
            ShareRole::Fee => "fee",
        }
    }

    /// Reads a stored name.
    pub fn parse(name: &str) -> Option<ShareRole> {
        [ShareRole::Receiver, ShareRole::Party, ShareRole::Fee].into_iter().find(|r| r.name() == name)
    }
}

/// One party's part of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Who.
    pub party: SighashArgs,
    /// Why.
    pub role: ShareRole,
    /// How much, shannons (never zero: empty shares are left out).
    pub amount: Shannons,
}

impl SplitRule {
    /// Checks the rule for payments to `receiver` with the platform
    /// `platform`.
    pub fn validate(&self, receiver: SighashArgs, platform: SighashArgs) -> Result<(), SplitRuleError> {
        if self.parties.len() > MAX_PARTIES {
            return Err(SplitRuleError::TooManyParties);
        }
        let total = self.parties.iter().fold(u64::from(self.fee_bps), |sum, p| sum.saturating_add(u64::from(p.bps)));
        if total > u64::from(BPS_DENOMINATOR) {
            return Err(SplitRuleError::OverWhole(total));
        }
        for (i, p) in self.parties.iter().enumerate() {
            if p.party == receiver || p.party == platform || self.parties[..i].iter().any(|q| q.party == p.party) {
                return Err(SplitRuleError::Repeated(p.party));
            }
        }
        Ok(())
    }
}

/// `part` basis points of `amount`, rounded down (exact: u128 arithmetic,
/// `bps` ≤ 10,000 so the result fits the amount).
fn portion(amount: Shannons, bps: u32) -> Shannons {
    let exact = u128::from(amount) * u128::from(bps.min(BPS_DENOMINATOR)) / u128::from(BPS_DENOMINATOR);
    Shannons::try_from(exact).unwrap_or(amount)
}

/// Divides `amount` paid to `receiver` by `rule`: the fee to `platform`,
/// each party its share, each rounded down; the receiver the rest. The
/// shares sum to `amount` exactly; zero shares are left out. The rule must
/// have passed [`SplitRule::validate`].
pub fn split_payment(amount: Shannons, receiver: SighashArgs, platform: SighashArgs, rule: &SplitRule) -> Vec<Share> {
    let fee = portion(amount, rule.fee_bps);
    let parties: Vec<Share> = rule.parties.iter().map(|p| Share { party: p.party, role: ShareRole::Party, amount: portion(amount, p.bps) }).collect();
    let taken = parties.iter().fold(fee, |sum, s| sum.saturating_add(s.amount));
    let rest = amount.saturating_sub(taken);
    std::iter::once(Share { party: receiver, role: ShareRole::Receiver, amount: rest })
        .chain(parties)
        .chain(std::iter::once(Share { party: platform, role: ShareRole::Fee, amount: fee }))
        .filter(|s| s.amount > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn who(n: u8) -> SighashArgs {
        SighashArgs([n; 20])
    }

    #[test]
    fn shares_round_down_and_the_receiver_takes_the_rest() {
        let rule = SplitRule { fee_bps: 100, parties: vec![SplitParty { party: who(3), bps: 2_500 }] };
        let shares = split_payment(999, who(1), who(9), &rule);
        // fee ⌊9.99⌋ = 9, party ⌊249.75⌋ = 249, receiver 999 − 258 = 741.
        assert_eq!(
            shares,
            vec![
                Share { party: who(1), role: ShareRole::Receiver, amount: 741 },
                Share { party: who(3), role: ShareRole::Party, amount: 249 },
                Share { party: who(9), role: ShareRole::Fee, amount: 9 },
            ]
        );
        // One shannon: all of it to the receiver.
        assert_eq!(split_payment(1, who(1), who(9), &rule), vec![Share { party: who(1), role: ShareRole::Receiver, amount: 1 }]);
        assert_eq!(split_payment(u64::MAX, who(1), who(9), &SplitRule { fee_bps: 10_000, parties: vec![] })[0].amount, u64::MAX);
    }

    #[test]
    fn hostile_rules_are_refused() {
        let party = |n, bps| SplitParty { party: who(n), bps };
        let over = SplitRule { fee_bps: 5_000, parties: vec![party(3, 5_001)] };
        assert_eq!(over.validate(who(1), who(9)), Err(SplitRuleError::OverWhole(10_001)));
        let huge = SplitRule { fee_bps: u32::MAX, parties: vec![party(3, u32::MAX)] };
        assert!(matches!(huge.validate(who(1), who(9)), Err(SplitRuleError::OverWhole(_))));
        assert_eq!(SplitRule { fee_bps: 0, parties: vec![party(3, 1), party(3, 1)] }.validate(who(1), who(9)), Err(SplitRuleError::Repeated(who(3))));
        assert_eq!(SplitRule { fee_bps: 0, parties: vec![party(1, 1)] }.validate(who(1), who(9)), Err(SplitRuleError::Repeated(who(1))));
        assert_eq!(SplitRule { fee_bps: 0, parties: vec![party(9, 1)] }.validate(who(1), who(9)), Err(SplitRuleError::Repeated(who(9))));
        let many = SplitRule { fee_bps: 0, parties: (10..27).map(|n| party(n, 1)).collect() };
        assert_eq!(many.validate(who(1), who(9)), Err(SplitRuleError::TooManyParties));
    }

    proptest! {
        #[test]
        fn shares_always_sum_to_the_amount(amount in any::<u64>(), fee in 0u32..=10_000, a_part in 0u32..=10_000, b_part in 0u32..=10_000) {
            // Valid by construction: a and b share what the fee leaves.
            let a = (10_000 - fee) * a_part / 10_000;
            let b = (10_000 - fee - a) * b_part / 10_000;
            let rule = SplitRule { fee_bps: fee, parties: vec![SplitParty { party: who(3), bps: a }, SplitParty { party: who(4), bps: b }] };
            prop_assert!(rule.validate(who(1), who(9)).is_ok());
            let shares = split_payment(amount, who(1), who(9), &rule);
            let sum: u128 = shares.iter().map(|s| u128::from(s.amount)).sum();
            prop_assert_eq!(sum, u128::from(amount));
            prop_assert!(shares.iter().all(|s| s.amount > 0));
            for s in shares.iter().filter(|s| s.role != ShareRole::Receiver) {
                let bps = if s.role == ShareRole::Fee { fee } else if s.party == who(3) { a } else { b };
                prop_assert!(u128::from(s.amount) * 10_000 <= u128::from(amount) * u128::from(bps));
            }
        }
    }
}
