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
