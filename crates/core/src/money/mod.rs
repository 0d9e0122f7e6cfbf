//! Exact money: integer amounts in an asset's minor unit, decimal parsing
//! and formatting without floating point.

mod amount;
mod asset;
mod decimal;

pub use amount::Amount;
pub use asset::Asset;
pub use decimal::{format_decimal, parse_decimal};

/// Why an amount could not be built or computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text is not a plain non-negative decimal number.
    #[error("not a decimal number: {0:?}")]
    NotDecimal(String),
    /// The text has more fractional digits than the scale allows.
    #[error("{value:?} has more than {scale} decimal places")]
    TooPrecise {
        /// The text that was parsed.
        value: String,
        /// The number of decimal places allowed.
        scale: u8,
    },
    /// The result does not fit in 128 bits.
    #[error("amount overflows")]
    Overflow,
    /// A subtraction would go below zero.
    #[error("amount would be negative")]
    Negative,
    /// The asset code is not one Tollway knows.
    #[error("unknown asset {0:?}")]
    UnknownAsset(String),
}
