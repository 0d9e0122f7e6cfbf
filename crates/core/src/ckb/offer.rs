//! The buyer's check of a seller's channel offer, before it signs
//! anything (docs/ckb.md, "The buyer's check of an offer"): the expiry
//! must be about the duration the buyer asked for, not years ahead (its
//! deposit would be locked while the seller can settle at any time), and
//! the fees the buyer pays must stay small (a fee rate can burn its
//! cells).

use super::Shannons;

/// Blocks the expiry may exceed `tip + ⌈duration / block interval⌉`: the
/// seller read its tip before the buyer did, and the two nodes may be a
/// few blocks apart. 20 blocks is under 3 minutes at CKB's 8 s.
pub const EXPIRY_SLACK_BLOCKS: u64 = 20;

/// The default highest funding fee rate a buyer accepts, shannons per
/// 1,000 bytes: 5 × the node's minimum.
pub const DEFAULT_MAX_FEE_RATE: u64 = 5 * super::MIN_FEE_RATE;

/// What the seller offers, with what the buyer read from its own node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferTerms {
    /// The tip of the buyer's node.
    pub tip: u64,
    /// The block from which the buyer can take its refund.
    pub expiry_block: u64,
    /// The channel life the buyer asked for, seconds.
    pub duration_secs: u64,
    /// The funding transaction's fee rate, shannons per 1,000 bytes.
    pub fee_rate: u64,
    /// The fee every commitment and the refund pay (out of the deposit).
    pub commitment_fee: Shannons,
    /// The fee of the funding transaction as built (the buyer pays it).
    pub funding_fee: Shannons,
}

/// The buyer's own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferLimits {
    /// The chain's block interval as the buyer knows it, seconds.
    pub block_interval_secs: u64,
    /// The highest funding fee rate accepted.
    pub max_fee_rate: u64,
    /// The most the channel's fees may cost the buyer: the funding fee
    /// plus the commitment (or refund) fee.
    pub max_fee: Shannons,
}

/// Why the buyer refuses an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    /// The expiry is not after the tip.
    #[error("the offer expires at block {expiry_block}, the tip is {tip}")]
    Expired {
        /// The offer's expiry.
        expiry_block: u64,
        /// The buyer's tip.
        tip: u64,
    },
    /// The expiry is further than the duration asked for.
    #[error("the offer expires at block {expiry_block}, after block {latest} (the duration asked for, plus slack)")]
    ExpiryTooFar {
        /// The offer's expiry.
        expiry_block: u64,
        /// The latest expiry accepted.
        latest: u64,
    },
    /// The funding fee rate is above the buyer's limit.
    #[error("the offer's fee rate is {fee_rate} shannons per 1,000 bytes, above the {max} accepted")]
    FeeRateTooHigh {
        /// The offer's rate.
        fee_rate: u64,
        /// The limit.
        max: u64,
    },
    /// The fees together are above the buyer's limit.
    #[error("the channel's fees come to {fee} shannons, above the {max} accepted")]
    FeeTooHigh {
        /// Funding fee plus commitment fee (`u64::MAX` if that overflows).
        fee: Shannons,
        /// The limit.
        max: Shannons,
    },
}

impl OfferError {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            OfferError::Expired { .. } => "offer_expired",
            OfferError::ExpiryTooFar { .. } => "offer_expiry_too_far",
            OfferError::FeeRateTooHigh { .. } => "offer_fee_rate_too_high",
            OfferError::FeeTooHigh { .. } => "offer_fee_too_high",
        }
    }
}

/// The latest expiry a buyer accepts for `duration_secs` from `tip`:
/// `tip + ⌈duration / block interval⌉ + EXPIRY_SLACK_BLOCKS` (a zero
/// interval counts as 1 s).
pub fn latest_expiry(tip: u64, duration_secs: u64, block_interval_secs: u64) -> u64 {
    tip.saturating_add(duration_secs.div_ceil(block_interval_secs.max(1))).saturating_add(EXPIRY_SLACK_BLOCKS)
}

/// Checks an offer against the buyer's limits, first failure first:
/// expiry after the tip and no later than [`latest_expiry`], fee rate at
/// most `max_fee_rate`, funding fee + commitment fee at most `max_fee`.
pub fn check_offer(terms: &OfferTerms, limits: &OfferLimits) -> Result<(), OfferError> {
    if terms.expiry_block <= terms.tip {
        return Err(OfferError::Expired { expiry_block: terms.expiry_block, tip: terms.tip });
    }
    let latest = latest_expiry(terms.tip, terms.duration_secs, limits.block_interval_secs);
    if terms.expiry_block > latest {
        return Err(OfferError::ExpiryTooFar { expiry_block: terms.expiry_block, latest });
    }
    if terms.fee_rate > limits.max_fee_rate {
        return Err(OfferError::FeeRateTooHigh { fee_rate: terms.fee_rate, max: limits.max_fee_rate });
    }
    let fee = terms.funding_fee.checked_add(terms.commitment_fee).unwrap_or(Shannons::MAX);
    if fee > limits.max_fee {
        return Err(OfferError::FeeTooHigh { fee, max: limits.max_fee });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An honest offer: a one-hour channel at 8 s blocks from tip 1,000,
    /// the node's minimum rate, a funding of about 600 bytes.
    fn honest() -> OfferTerms {
        OfferTerms { tip: 1_000, expiry_block: 1_000 + 450, duration_secs: 3_600, fee_rate: 1_000, commitment_fee: 500, funding_fee: 700 }
    }

    fn limits() -> OfferLimits {
        OfferLimits { block_interval_secs: 8, max_fee_rate: DEFAULT_MAX_FEE_RATE, max_fee: 100_000 }
    }

    #[test]
    fn an_honest_offer_passes_up_to_the_slack() {
        assert_eq!(check_offer(&honest(), &limits()), Ok(()));
        // The seller's tip may be ahead of the buyer's by the slack.
        let at_slack = OfferTerms { expiry_block: 1_000 + 450 + EXPIRY_SLACK_BLOCKS, ..honest() };
        assert_eq!(check_offer(&at_slack, &limits()), Ok(()));
        // ⌈⌉: 3,601 s at 8 s is 451 blocks.
        assert_eq!(latest_expiry(1_000, 3_601, 8), 1_000 + 451 + EXPIRY_SLACK_BLOCKS);
        let exact_fee = OfferTerms { funding_fee: 99_500, ..honest() };
        assert_eq!(check_offer(&exact_fee, &limits()), Ok(()));
    }

    /// The hostile seller's expiry years ahead: the buyer's deposit would
    /// be locked while the seller can settle at any time.
    #[test]
    fn an_expiry_years_ahead_is_refused() {
        let years = OfferTerms { expiry_block: 1_000 + 4 * 365 * 86_400 / 8, ..honest() };
        let refused = check_offer(&years, &limits()).expect_err("years ahead");
        assert_eq!(refused.code(), "offer_expiry_too_far");
        assert_eq!(refused, OfferError::ExpiryTooFar { expiry_block: years.expiry_block, latest: 1_000 + 450 + EXPIRY_SLACK_BLOCKS });
        let one_past_slack = OfferTerms { expiry_block: 1_000 + 450 + EXPIRY_SLACK_BLOCKS + 1, ..honest() };
        assert_eq!(check_offer(&one_past_slack, &limits()).map_err(OfferError::code), Err("offer_expiry_too_far"));
        let max = OfferTerms { expiry_block: u64::MAX, ..honest() };
        assert_eq!(check_offer(&max, &limits()).map_err(OfferError::code), Err("offer_expiry_too_far"));
        // A seller claiming 1 s blocks to the buyer who knows 8 s.
        let short_blocks = OfferTerms { expiry_block: 1_000 + 3_600, ..honest() };
        assert_eq!(check_offer(&short_blocks, &limits()).map_err(OfferError::code), Err("offer_expiry_too_far"));
    }

    #[test]
    fn an_expiry_not_after_the_tip_is_refused() {
        for expiry_block in [0, 999, 1_000] {
            let stale = OfferTerms { expiry_block, ..honest() };
            assert_eq!(check_offer(&stale, &limits()).map_err(OfferError::code), Err("offer_expired"), "{expiry_block}");
        }
    }

    /// The hostile seller's fee rate that burns the buyer's cells, and
    /// fees that add up past the limit or past `u64::MAX`.
    #[test]
    fn burning_fees_are_refused() {
        let burning = OfferTerms { fee_rate: 1_000_000_000, ..honest() };
        assert_eq!(check_offer(&burning, &limits()), Err(OfferError::FeeRateTooHigh { fee_rate: 1_000_000_000, max: 5_000 }));
        let just_above = OfferTerms { fee_rate: DEFAULT_MAX_FEE_RATE + 1, ..honest() };
        assert_eq!(check_offer(&just_above, &limits()).map_err(OfferError::code), Err("offer_fee_rate_too_high"));
        let costly = OfferTerms { funding_fee: 99_501, ..honest() };
        assert_eq!(check_offer(&costly, &limits()), Err(OfferError::FeeTooHigh { fee: 100_001, max: 100_000 }));
        let overflowing = OfferTerms { funding_fee: u64::MAX, commitment_fee: u64::MAX, ..honest() };
        assert_eq!(check_offer(&overflowing, &limits()), Err(OfferError::FeeTooHigh { fee: u64::MAX, max: 100_000 }));
    }

    #[test]
    fn a_zero_block_interval_counts_as_one_second() {
        assert_eq!(latest_expiry(10, 60, 0), 10 + 60 + EXPIRY_SLACK_BLOCKS);
        assert_eq!(latest_expiry(u64::MAX - 1, u64::MAX, 1), u64::MAX);
    }
}
