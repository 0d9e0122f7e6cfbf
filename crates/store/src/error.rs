use tollway_core::ledger::TransferError;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value does not decode (a bug or tampering).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The database URL is neither sqlite: nor postgres:.
    #[error("unsupported database url {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// The ledger writer task has stopped (shutdown).
    #[error("ledger writer stopped")]
    WriterStopped,
    /// A unique name is taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A value does not fit its column.
    #[error("{0} is out of range")]
    OutOfRange(String),
    /// A payment-channel operation was refused; nothing was written.
    #[error(transparent)]
    Channel(#[from] ChannelStoreError),
    /// A checkout operation was refused; nothing was written.
    #[error(transparent)]
    Evm(#[from] crate::evm::EvmStoreError),
    /// A CKB hub operation was refused; nothing was written.
    #[error(transparent)]
    Hub(#[from] crate::hub::HubStoreError),
}

/// Why the store refused a payment-channel operation. `code()` is the
/// stable name the HTTP API answers with (docs/channels.md).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelStoreError {
    /// The payer's wallet holds less than the deposit.
    #[error("the wallet holds less than the deposit")]
    InsufficientPoints,
    /// A channel needs a deposit above zero.
    #[error("the deposit must be above zero")]
    ZeroDeposit,
    /// A channel with this id exists already.
    #[error("a channel with this id exists")]
    ChannelExists,
    /// No channel with this id.
    #[error("no such channel")]
    UnknownChannel,
    /// The channel is closed.
    #[error("the channel is closed")]
    ChannelClosed,
    /// A receipt or proposal stored under another channel or sub-channel
    /// than the one it names.
    #[error("the receipt or proposal is for another channel or sub-channel")]
    ChannelMismatch,
    /// The ledger refused a channel's transfer (a missing wallet, say).
    #[error("the ledger refused the channel's transfer: {0}")]
    Ledger(TransferError),
    /// The channel is backed by a CKB cell, not by the ledger: it is
    /// closed by settling on chain, not by the ledger close.
    #[error("the channel is backed by a CKB cell: close it with the CKB settle endpoint (POST /api/ckb/channels/{{id}}/settle)")]
    CkbChannel,
}

impl ChannelStoreError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ChannelStoreError::InsufficientPoints => "insufficient_points",
            ChannelStoreError::ZeroDeposit => "invalid_amount",
            ChannelStoreError::ChannelExists => "channel_exists",
            ChannelStoreError::UnknownChannel => "unknown_channel",
            ChannelStoreError::ChannelClosed => "channel_closed",
            ChannelStoreError::ChannelMismatch => "channel_mismatch",
            ChannelStoreError::Ledger(e) => e.code(),
            ChannelStoreError::CkbChannel => "ckb_channel",
        }
    }
}

impl StoreError {
    /// True when the same operation may succeed if tried again: lock
    /// contention, serialization failures, deadlocks, pool exhaustion and
    /// connection loss.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database(e) => match e {
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => true,
                sqlx::Error::Database(db) => {
                    let code = db.code().unwrap_or_default();
                    // SQLite BUSY/LOCKED (and extended codes), PostgreSQL
                    // serialization failure, deadlock, unique violation
                    // (a concurrent writer inserted the same key first).
                    matches!(code.as_ref(), "5" | "6" | "261" | "517" | "40001" | "40P01" | "23505" | "2067" | "1555")
                }
                _ => false,
            },
            StoreError::WriterStopped => true,
            _ => false,
        }
    }

    /// True when the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db)) if db.is_unique_violation())
    }
}
