//! Why a hub transaction cannot be built, or why the hub refuses to sign one.

use tollway_core::ckb::Shannons;

/// A hub transaction that cannot be built from what it was given, or a
/// signed payment the hub refuses to complete. Each has a stable code
/// (docs/hub.md, "Transactions (chain)").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubTxError {
    /// A payment of nothing.
    #[error("the amount is zero")]
    AmountZero,
    /// A payment smaller than the network fee its sender would pay.
    #[error("the amount ({amount} shannons) is below the network fee ({fee} shannons)")]
    AmountBelowFee {
        /// The payment.
        amount: Shannons,
        /// The fee of its transaction.
        fee: Shannons,
    },
    /// The cells cannot pay the outputs, the fee and a change cell of at
    /// least 61 CKB.
    #[error("the cells hold {available} shannons, {needed} are needed")]
    InsufficientFunds {
        /// What the cells hold.
        available: Shannons,
        /// The outputs, the fee and 61 CKB of change.
        needed: Shannons,
    },
    /// The sender's first cells (at most this many inputs) do not cover
    /// the payment though all its cells together might: it should merge
    /// its cells first.
    #[error("the sender's first {max} cells do not cover the payment; merge its cells first")]
    TooManyInputs {
        /// The most sender inputs a payment takes.
        max: usize,
    },
    /// The sender's key is the hub's: one input group could not keep the
    /// two signatures apart.
    #[error("the sender is the hub")]
    SenderIsHub,
    /// An output would hold less than a plain cell needs (61 CKB).
    #[error("output {index} would hold {capacity} shannons, a plain cell needs 61 CKB")]
    OutputBelowMinimum {
        /// The output's index.
        index: usize,
        /// What it would hold.
        capacity: Shannons,
    },
    /// Capacities, amounts or the fee overflow 64 bits (hostile or corrupt
    /// figures).
    #[error("the capacities or the fee overflow 64 bits")]
    Overflow,
    /// The plan cannot make a transaction: nothing to pay, nothing to
    /// split, a cell given twice.
    #[error("nothing valid to build: {0}")]
    InvalidPlan(String),
    /// The signed payment is not the prepared one: its hash (inputs,
    /// outputs, cell deps, since, version, data) or a witness byte other
    /// than the sender's signature differs.
    #[error("the signed transaction is not the prepared one: {0}")]
    TxMismatch(String),
    /// The sender's signature is missing, malformed, or not the sender's
    /// key's over its input group.
    #[error("the sender's signature does not verify: {0}")]
    BadSignature(String),
    /// The prepared payment itself does not pay the hub exactly its pool
    /// cell plus the amount (a bug or a corrupt record, never the sender's
    /// doing): the hub signs nothing else.
    #[error("the prepared payment does not move the hub's capacity as agreed: {0}")]
    HubCellMismatch(String),
}

impl HubTxError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            HubTxError::AmountZero => "amount_zero",
            HubTxError::AmountBelowFee { .. } => "amount_below_fee",
            HubTxError::InsufficientFunds { .. } => "insufficient_funds",
            HubTxError::TooManyInputs { .. } => "too_many_inputs",
            HubTxError::SenderIsHub => "sender_is_hub",
            HubTxError::OutputBelowMinimum { .. } => "output_below_minimum",
            HubTxError::Overflow => "overflow",
            HubTxError::InvalidPlan(_) => "invalid_plan",
            HubTxError::TxMismatch(_) => "tx_mismatch",
            HubTxError::BadSignature(_) => "bad_signature",
            HubTxError::HubCellMismatch(_) => "hub_cell_mismatch",
        }
    }
}
