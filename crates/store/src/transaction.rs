//! Write transactions opened by hand, so SQLite's takes the write lock up
//! front (`BEGIN IMMEDIATE`: a deferred transaction that reads first can
//! fail with BUSY when it upgrades), and retries of work that lost a race
//! for a lock.

use crate::{Dialect, Store, StoreError};
use sqlx::pool::PoolConnection;
use sqlx::Any;
use std::future::Future;
use std::time::Duration;

/// A pooled connection inside a new write transaction.
pub(crate) async fn begin_write(store: &Store) -> Result<PoolConnection<Any>, StoreError> {
    let mut conn = store.pool().acquire().await?;
    let begin = match store.dialect() {
        Dialect::Sqlite => "BEGIN IMMEDIATE",
        Dialect::Postgres => "BEGIN",
    };
    sqlx::query(begin).execute(&mut *conn).await?;
    Ok(conn)
}

/// Commits the transaction `begin_write` opened when `result` is a success,
/// rolls it back otherwise (or when the commit fails). A connection whose
/// rollback fails is closed rather than returned to the pool.
pub(crate) async fn finish<T>(mut conn: PoolConnection<Any>, result: Result<T, StoreError>) -> Result<T, StoreError> {
    let failure = match result {
        Ok(value) => match sqlx::query("COMMIT").execute(&mut *conn).await {
            Ok(_) => return Ok(value),
            Err(e) => StoreError::from(e),
        },
        Err(e) => e,
    };
    if let Err(rollback) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
        tracing::warn!(error = %rollback, "rollback failed; closing connection");
        drop(conn.detach());
    }
    Err(failure)
}

/// Runs `op` again, with growing pauses, while it fails with a retryable
/// error (lock contention, deadlock, serialization failure), up to 8 times.
///
/// `op` is a plain closure returning a future (not an async closure): the
/// futures of async closures are not provably `Send` for every lifetime,
/// which the writer tasks need.
pub(crate) async fn retrying<T, F>(what: &str, op: impl Fn() -> F) -> Result<T, StoreError>
where
    F: Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 0u32;
    loop {
        match op().await {
            Err(e) if e.is_retryable() && attempt < 8 => {
                attempt += 1;
                tracing::debug!(error = %e, attempt, "retrying {what}");
                tokio::time::sleep(Duration::from_millis(5 << attempt.min(6))).await;
            }
            other => return other,
        }
    }
}
