//! Ledger reads: balances, a user's history, and a whole-ledger audit.

use crate::ledger_io::{account_from_row, transfer_from_row, ACCOUNT_COLUMNS, TRANSFER_COLUMNS};
use crate::{Dialect, Store, StoreError};
use sqlx::{AnyConnection, Row};
use tollway_core::ledger::{check_accounts, Account, AccountId, InvariantViolation, PendingStatus, Replay, Transfer};

/// Transfers the audit reads per page: its memory holds the accounts, the
/// open holds and one page, whatever the length of the history.
pub const AUDIT_PAGE: i64 = 5_000;

/// Filters for a user's history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    /// Only these reasons (`charge`, `grant`, …); empty for all.
    pub reasons: Vec<String>,
    /// Only this model.
    pub model: Option<String>,
    /// From this time (inclusive, Unix ms).
    pub from: Option<i64>,
    /// Until this time (exclusive, Unix ms).
    pub to: Option<i64>,
}

/// A history row: the transfer, its position, and a hold's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Position (the pagination cursor).
    pub seq: i64,
    /// The transfer.
    pub transfer: Transfer,
    /// For holds, their status.
    pub status: Option<PendingStatus>,
}

/// The result of an audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// Accounts checked.
    pub accounts: usize,
    /// Transfers replayed (up to the first violation).
    pub transfers: usize,
    /// The first broken invariant, if any.
    pub violation: Option<InvariantViolation>,
}

/// A hold past its timeout, as the expiry sweep sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredHold {
    /// The hold's transfer id.
    pub id: String,
    /// Its user, if linked.
    pub user_id: Option<i64>,
    /// When it expired (Unix ms).
    pub expires_at: i64,
}

impl Store {
    /// An account by id.
    pub async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(
            "SELECT id, asset, flags, debits_pending, debits_posted, credits_pending, credits_posted \
             FROM accounts WHERE id = $1",
        )
        .bind(&id.0)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    /// Accounts whose id starts with `prefix` and ends with `suffix`.
    pub async fn accounts_matching(&self, prefix: &str, suffix: &str) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, asset, flags, debits_pending, debits_posted, credits_pending, credits_posted \
             FROM accounts WHERE id LIKE $1 ORDER BY id",
        )
        .bind(format!("{prefix}%{suffix}"))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(account_from_row).collect()
    }

    /// A user's transfers, newest first, before cursor `before_seq`.
    pub async fn history(
        &self,
        user_id: i64,
        filter: &HistoryFilter,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut sql = format!(
            "SELECT seq, {TRANSFER_COLUMNS} FROM transfers \
             WHERE user_id = $1 AND seq < $2 AND ts >= $3 AND ts < $4 AND ($5 IS NULL OR model = $5)"
        );
        if !filter.reasons.is_empty() {
            sql.push_str(&format!(" AND reason IN ({})", crate::codec::placeholders(5, filter.reasons.len())));
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ${}", 6 + filter.reasons.len()));
        let mut q = sqlx::query(&sql)
            .bind(user_id)
            .bind(before_seq.unwrap_or(i64::MAX))
            .bind(filter.from.unwrap_or(i64::MIN))
            .bind(filter.to.unwrap_or(i64::MAX))
            .bind(filter.model.clone());
        for r in &filter.reasons {
            q = q.bind(r);
        }
        let rows = q.bind(limit).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                let (transfer, status) = transfer_from_row(row)?;
                Ok(HistoryEntry { seq: row.try_get("seq")?, transfer, status })
            })
            .collect()
    }

    /// Pending holds whose timeout passed by `now`, in (expiry, id) order,
    /// starting after `after` (the last hold of the previous page), at most
    /// `limit`. Paging by position, not by status, means a hold that cannot
    /// be released is passed over by the next page instead of filling it.
    pub async fn expired_holds(&self, now: i64, after: Option<&ExpiredHold>, limit: i64) -> Result<Vec<ExpiredHold>, StoreError> {
        let (after_ts, after_id) = after.map_or((i64::MIN, String::new()), |h| (h.expires_at, h.id.clone()));
        let rows = sqlx::query(
            "SELECT id, user_id, expires_at FROM transfers WHERE status = 'pending' AND expires_at <= $1 \
             AND (expires_at > $2 OR (expires_at = $2 AND id > $3)) ORDER BY expires_at, id LIMIT $4",
        )
        .bind(now)
        .bind(after_ts)
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok(ExpiredHold { id: r.try_get("id")?, user_id: r.try_get("user_id")?, expires_at: r.try_get("expires_at")? }))
            .collect()
    }

    /// Replays the whole ledger and checks every invariant, reading the
    /// transfers in pages of [`AUDIT_PAGE`] in commit order, all from one
    /// snapshot (a read transaction) so concurrent writes cannot make a
    /// consistent ledger look broken.
    pub async fn audit(&self) -> Result<Audit, StoreError> {
        let mut conn = self.pool().acquire().await?;
        let begin = match self.dialect() {
            Dialect::Sqlite => "BEGIN",
            Dialect::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        sqlx::query(begin).execute(&mut *conn).await?;
        let audit = audit_snapshot(&mut conn).await;
        if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
            // Never hand a connection still inside a transaction back to the pool.
            drop(conn.detach());
        }
        audit
    }
}

/// The audit inside its read transaction.
async fn audit_snapshot(conn: &mut AnyConnection) -> Result<Audit, StoreError> {
    let accounts: Vec<Account> = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id"))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(account_from_row)
        .collect::<Result<_, _>>()?;
    let mut violation = check_accounts(&accounts).err();
    let mut replay = Replay::new();
    let sql = format!("SELECT seq, {TRANSFER_COLUMNS} FROM transfers WHERE seq > $1 ORDER BY seq LIMIT $2");
    let mut after = i64::MIN;
    while violation.is_none() {
        let rows = sqlx::query(&sql).bind(after).bind(AUDIT_PAGE).fetch_all(&mut *conn).await?;
        for row in &rows {
            let (transfer, status) = transfer_from_row(row)?;
            after = row.try_get("seq")?;
            if let Err(v) = replay.push(&transfer, status) {
                violation = Some(v);
                break;
            }
        }
        if (rows.len() as i64) < AUDIT_PAGE {
            break;
        }
    }
    let transfers = replay.count();
    if violation.is_none() {
        violation = replay.finish(&accounts).err();
    }
    Ok(Audit { accounts: accounts.len(), transfers, violation })
}
