//! Figures over all payment sessions, for `/api/v1/stats/payments`.

use crate::{Store, StoreError};
use sqlx::Row;

/// Counts over every payment session (all processes' work).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentStats {
    /// Sessions created.
    pub total: i64,
    /// Paid.
    pub paid: i64,
    /// Failed (invalidated).
    pub failed: i64,
    /// Expired unpaid.
    pub expired: i64,
    /// Waiting or confirming.
    pub open: i64,
    /// Paid sessions per token symbol.
    pub paid_by_token: Vec<(String, i64)>,
    /// Sessions created in the last 24 hours, 7 days and 30 days.
    pub created_24h: i64,
    /// See `created_24h`.
    pub created_7d: i64,
    /// See `created_24h`.
    pub created_30d: i64,
    /// Mean time from creation to paid, ms.
    pub mean_ms_to_paid: Option<i64>,
    /// Sessions marked paid late, partially paid, over-paid.
    pub paid_late: i64,
    /// See `paid_late`.
    pub paid_partial: i64,
    /// See `paid_late`.
    pub paid_over: i64,
    /// Transfers to a deposit address that matched no session.
    pub unmatched_transfers: i64,
}

impl Store {
    /// The counts, as of `now` (Unix ms).
    pub async fn payment_stats(&self, now: i64) -> Result<PaymentStats, StoreError> {
        let day = 86_400_000i64;
        let row = sqlx::query(
            "SELECT COUNT(*) AS total, \
             COALESCE(SUM(CASE WHEN status = 'paid' THEN 1 ELSE 0 END), 0) AS paid, \
             COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS failed, \
             COALESCE(SUM(CASE WHEN status = 'expired' THEN 1 ELSE 0 END), 0) AS expired, \
             COALESCE(SUM(CASE WHEN status IN ('waiting', 'confirming') THEN 1 ELSE 0 END), 0) AS open, \
             COALESCE(SUM(CASE WHEN created_at >= $1 THEN 1 ELSE 0 END), 0) AS d1, \
             COALESCE(SUM(CASE WHEN created_at >= $2 THEN 1 ELSE 0 END), 0) AS d7, \
             COALESCE(SUM(CASE WHEN created_at >= $3 THEN 1 ELSE 0 END), 0) AS d30, \
             COALESCE(SUM(CASE WHEN exception = 'paid_late' THEN 1 ELSE 0 END), 0) AS late, \
             COALESCE(SUM(CASE WHEN exception = 'paid_partial' THEN 1 ELSE 0 END), 0) AS partial, \
             COALESCE(SUM(CASE WHEN exception = 'paid_over' THEN 1 ELSE 0 END), 0) AS over, \
             CAST(COALESCE(SUM(CASE WHEN paid_at IS NOT NULL THEN paid_at - created_at ELSE 0 END), 0) AS BIGINT) AS paid_ms \
             FROM payment_sessions",
        )
        .bind(now - day)
        .bind(now - 7 * day)
        .bind(now - 30 * day)
        .fetch_one(self.pool())
        .await?;
        let get = |col: &str| -> Result<i64, StoreError> { Ok(row.try_get::<i64, _>(col)?) };
        let paid = get("paid")?;
        let by_token = sqlx::query("SELECT token_symbol, COUNT(*) AS n FROM payment_sessions WHERE status = 'paid' GROUP BY token_symbol ORDER BY token_symbol")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<String, _>("token_symbol")?, r.try_get::<i64, _>("n")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let unmatched: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM evm_transfers WHERE session_id IS NULL AND state <> 'dropped'")
            .fetch_one(self.pool())
            .await?;
        Ok(PaymentStats {
            total: get("total")?,
            paid,
            failed: get("failed")?,
            expired: get("expired")?,
            open: get("open")?,
            paid_by_token: by_token,
            created_24h: get("d1")?,
            created_7d: get("d7")?,
            created_30d: get("d30")?,
            mean_ms_to_paid: (paid > 0).then(|| get("paid_ms").map(|ms| ms / paid)).transpose()?,
            paid_late: get("late")?,
            paid_partial: get("partial")?,
            paid_over: get("over")?,
            unmatched_transfers: unmatched,
        })
    }
}
