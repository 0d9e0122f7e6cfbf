/// Why a transfer request was refused. Checks run in the order of this
/// enum's variants (documented in docs/ledger.md); the first failing check
/// is the one reported. `code()` is the stable machine-readable name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// The id is empty, longer than 128 bytes or has characters outside
    /// `[A-Za-z0-9._:/-]`.
    #[error("transfer id must be 1-128 characters of [A-Za-z0-9._:/-]")]
    IdInvalid,
    /// A transfer or hold of zero.
    #[error("amount must not be zero")]
    AmountZero,
    /// Debit and credit are the same account.
    #[error("debit and credit accounts must be different")]
    AccountsMustBeDifferent,
    /// A hold without a positive timeout.
    #[error("a hold needs a timeout of at least one second")]
    TimeoutInvalid,
    /// The id exists with other fields: a conflicting reuse of the key.
    /// `field` names the first field that differs.
    #[error("a transfer with this id exists with a different {field}")]
    ExistsWithDifferentFields {
        /// The first differing field (`op`, `debit`, `credit`, `amount`,
        /// `timeout_secs`, `pending_id`, `reason`, `user_id`, `model`,
        /// `request_id`, `price_version`, `memo`).
        field: &'static str,
    },
    /// The debit account does not exist.
    #[error("debit account not found")]
    DebitAccountNotFound,
    /// The credit account does not exist.
    #[error("credit account not found")]
    CreditAccountNotFound,
    /// The two accounts hold different assets.
    #[error("accounts must have the same asset")]
    AssetMismatch,
    /// The hold to post, void or expire does not exist.
    #[error("pending transfer not found")]
    PendingTransferNotFound,
    /// The referenced transfer is not a hold.
    #[error("referenced transfer is not a hold")]
    PendingTransferNotPending,
    /// The hold was already posted.
    #[error("hold already posted")]
    PendingTransferAlreadyPosted,
    /// The hold was already voided.
    #[error("hold already voided")]
    PendingTransferAlreadyVoided,
    /// The hold expired.
    #[error("hold expired")]
    PendingTransferExpired,
    /// An expiry was requested before the hold's timeout.
    #[error("hold has not expired yet")]
    PendingTransferNotExpired,
    /// A post for more than the hold.
    #[error("post amount exceeds the held amount")]
    ExceedsPendingTransferAmount,
    /// A running total would overflow 128 bits.
    #[error("account totals would overflow")]
    Overflow,
    /// The debit account may not go below zero and would.
    #[error("insufficient funds")]
    ExceedsCredits,
    /// The credit account may not be credited beyond its debits and would.
    #[error("credit exceeds what is owed")]
    ExceedsDebits,
    /// A guarded command ([`super::Command::Guarded`]) found arrears owed;
    /// checked before any request of its chain.
    #[error("arrears are outstanding")]
    ArrearsOutstanding,
}

impl TransferError {
    /// Stable snake_case code for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            TransferError::IdInvalid => "id_invalid",
            TransferError::AmountZero => "amount_zero",
            TransferError::AccountsMustBeDifferent => "accounts_must_be_different",
            TransferError::TimeoutInvalid => "timeout_invalid",
            TransferError::ExistsWithDifferentFields { .. } => "exists_with_different_fields",
            TransferError::DebitAccountNotFound => "debit_account_not_found",
            TransferError::CreditAccountNotFound => "credit_account_not_found",
            TransferError::AssetMismatch => "asset_mismatch",
            TransferError::PendingTransferNotFound => "pending_transfer_not_found",
            TransferError::PendingTransferNotPending => "pending_transfer_not_pending",
            TransferError::PendingTransferAlreadyPosted => "pending_transfer_already_posted",
            TransferError::PendingTransferAlreadyVoided => "pending_transfer_already_voided",
            TransferError::PendingTransferExpired => "pending_transfer_expired",
            TransferError::PendingTransferNotExpired => "pending_transfer_not_expired",
            TransferError::ExceedsPendingTransferAmount => "exceeds_pending_transfer_amount",
            TransferError::Overflow => "overflow",
            TransferError::ExceedsCredits => "exceeds_credits",
            TransferError::ExceedsDebits => "exceeds_debits",
            TransferError::ArrearsOutstanding => "arrears_outstanding",
        }
    }
}
