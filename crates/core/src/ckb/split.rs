//! How a Spilman channel cell's capacity is split by a commitment
//! (settlement) or the refund, in shannons. The design for the 61 CKB
//! floor (docs/ckb.md): the seller **co-funds** the channel cell at open
//! with a cell's minimum (its own input in the funding transaction), so
//! its output (co-funding + what it is paid) is a valid cell from the
//! first shannon paid; the buyer's deposit includes the minimum for its
//! own change cell, so its output stays valid too. Every payment is thus
//! possible, down to one shannon, and each output's owner is always the
//! same: no rounding, no dust.

use super::capacity::PLAIN_CELL;
use super::capacity::Shannons;

/// The money in a channel cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelFunds {
    /// What the buyer put in (its change cell's minimum included).
    pub buyer_deposit: Shannons,
    /// What the seller put in (at least its output cell's minimum).
    pub seller_cofund: Shannons,
    /// The fee a commitment or the refund pays, from the channel.
    pub fee: Shannons,
}

/// The two outputs of a commitment or refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// To the seller's lock.
    pub seller: Shannons,
    /// To the buyer's lock.
    pub buyer: Shannons,
}

/// Why funds or a payment do not make valid outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// The seller's co-funding is below a plain cell's minimum.
    #[error("the seller's co-funding is below the 61 CKB a cell needs")]
    CofundBelowMinimum,
    /// The buyer's deposit does not cover its change cell and the fee.
    #[error("the buyer's deposit does not cover a change cell (61 CKB) and the fee")]
    DepositTooSmall,
    /// The payment leaves the buyer's change cell below its minimum.
    #[error("the payment exceeds what the channel can pay")]
    ExceedsChannel,
}

impl SplitError {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            SplitError::CofundBelowMinimum => "cofund_below_minimum",
            SplitError::DepositTooSmall => "deposit_too_small",
            SplitError::ExceedsChannel => "exceeds_channel",
        }
    }
}


impl ChannelFunds {
    /// Checks the funds make valid outputs at every payment.
    pub fn validate(self) -> Result<ChannelFunds, SplitError> {
        if self.seller_cofund < PLAIN_CELL {
            return Err(SplitError::CofundBelowMinimum);
        }
        let floor = PLAIN_CELL.checked_add(self.fee).ok_or(SplitError::DepositTooSmall)?;
        if self.buyer_deposit < floor {
            return Err(SplitError::DepositTooSmall);
        }
        Ok(self)
    }

    /// The channel cell's capacity: deposit plus co-funding.
    pub fn capacity(self) -> Option<Shannons> {
        self.buyer_deposit.checked_add(self.seller_cofund)
    }

    /// The most the buyer can ever pay: its deposit less its change
    /// cell's minimum and the fee.
    pub fn max_payment(self) -> Shannons {
        self.buyer_deposit.saturating_sub(PLAIN_CELL).saturating_sub(self.fee)
    }

    /// The outputs of the commitment that pays the seller `cumulative`.
    pub fn commitment(self, cumulative: Shannons) -> Result<Split, SplitError> {
        let funds = self.validate()?;
        if cumulative > funds.max_payment() {
            return Err(SplitError::ExceedsChannel);
        }
        let seller = funds.seller_cofund.checked_add(cumulative).ok_or(SplitError::ExceedsChannel)?;
        let buyer = funds.buyer_deposit - funds.fee - cumulative;
        Ok(Split { seller, buyer })
    }

    /// The outputs of the refund: everyone gets back what they put in,
    /// the buyer less the fee.
    pub fn refund(self) -> Result<Split, SplitError> {
        self.commitment(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ckb::CKB;

    fn funds() -> ChannelFunds {
        ChannelFunds { buyer_deposit: 1_061 * CKB, seller_cofund: 61 * CKB, fee: 1_000 }
    }

    #[test]
    fn every_payment_splits_into_two_valid_cells_and_nothing_is_lost() {
        let f = funds();
        assert_eq!(f.max_payment(), 1_000 * CKB - 1_000);
        for paid in [0, 1, 61 * CKB, f.max_payment()] {
            let split = f.commitment(paid).expect("valid");
            assert!(split.seller >= 61 * CKB && split.buyer >= 61 * CKB, "{paid}: {split:?}");
            assert_eq!(split.seller + split.buyer + f.fee, f.capacity().expect("sum"), "nothing created or lost");
            assert_eq!(split.seller - f.seller_cofund, paid, "the seller gets exactly what was paid");
        }
        assert_eq!(f.commitment(f.max_payment() + 1), Err(SplitError::ExceedsChannel));
        assert_eq!(f.refund(), Ok(Split { seller: 61 * CKB, buyer: 1_061 * CKB - 1_000 }));
    }

    #[test]
    fn funds_that_cannot_make_cells_are_refused() {
        let low_cofund = ChannelFunds { seller_cofund: 61 * CKB - 1, ..funds() };
        assert_eq!(low_cofund.commitment(0).map_err(SplitError::code), Err("cofund_below_minimum"));
        let low_deposit = ChannelFunds { buyer_deposit: 61 * CKB + 999, ..funds() };
        assert_eq!(low_deposit.commitment(0), Err(SplitError::DepositTooSmall));
        let exact = ChannelFunds { buyer_deposit: 61 * CKB + 1_000, ..funds() };
        assert_eq!(exact.max_payment(), 0);
        assert_eq!(exact.commitment(0), Ok(Split { seller: 61 * CKB, buyer: 61 * CKB }));
        assert_eq!(exact.commitment(1), Err(SplitError::ExceedsChannel));
    }
}
