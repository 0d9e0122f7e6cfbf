//! Why a channel transaction is refused or cannot be built.

use tollway_core::ckb::SplitError;

/// A channel transaction that is not what the channel's terms make, or
/// funds that cannot make one. Each has a stable code (docs/ckb.md).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The channel's funds cannot make valid cells (see [`SplitError`]).
    #[error("{0}")]
    Funds(#[from] SplitError),
    /// The bytes are not a transaction.
    #[error("not a CKB transaction: {0}")]
    Malformed(String),
    /// It spends another cell than this channel's.
    #[error("the transaction spends {found}, not this channel's cell {expected}")]
    WrongChannel {
        /// The channel's cell.
        expected: String,
        /// What it spends.
        found: String,
    },
    /// Its input's `since` is not the one the terms give (0 for a
    /// commitment, the expiry for the refund).
    #[error("the input's since is {found:#x}, the channel's terms give {expected:#x}")]
    SinceChanged {
        /// The terms' since.
        expected: u64,
        /// The transaction's.
        found: u64,
    },
    /// Its outputs are not the seller's and the buyer's plain cells.
    #[error("the outputs are not the channel's: {0}")]
    OutputsChanged(String),
    /// Its outputs leave a fee other than the channel's.
    #[error("the outputs leave a fee of {found} shannons, the channel's fee is {expected}")]
    FeeChanged {
        /// The channel's fee.
        expected: u64,
        /// What the outputs leave.
        found: u64,
    },
    /// Anything else differs from the canonical transaction (cell deps,
    /// header deps, version, extra witnesses).
    #[error("the transaction is not the channel's canonical one: {0}")]
    NotCanonical(String),
    /// The signature is missing, unreadable or not the expected key's.
    #[error("the {role}'s signature does not verify")]
    WrongSigner {
        /// Whose signature was expected.
        role: &'static str,
    },
    /// A funding transaction that does not pay the channel cell as agreed
    /// or takes more of the seller's money than its co-funding.
    #[error("the funding transaction is not as agreed: {0}")]
    FundingMismatch(String),
    /// The inputs do not cover the deposit, the fee and a change cell.
    #[error("the inputs hold {available} shannons, {needed} are needed")]
    InsufficientFunds {
        /// What the inputs hold.
        available: u64,
        /// What is needed.
        needed: u64,
    },
}

impl TxError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            TxError::Funds(e) => e.code(),
            TxError::Malformed(_) => "malformed_transaction",
            TxError::WrongChannel { .. } => "commitment_wrong_channel",
            TxError::SinceChanged { .. } => "commitment_since_changed",
            TxError::OutputsChanged(_) => "commitment_outputs_changed",
            TxError::FeeChanged { .. } => "commitment_fee_changed",
            TxError::NotCanonical(_) => "commitment_not_canonical",
            TxError::WrongSigner { .. } => "commitment_wrong_signer",
            TxError::FundingMismatch(_) => "funding_mismatch",
            TxError::InsufficientFunds { .. } => "insufficient_funds",
        }
    }
}
