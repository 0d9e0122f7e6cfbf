//! Reading and writing ledger rows.

use crate::codec::{amount, opt_amount, positional};
use crate::{Dialect, StoreError};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet};
use tollway_core::ledger::{
    Account, AccountFlags, AccountId, Changes, Links, PendingStatus, Reason, Transfer, TransferId, TransferKind,
};

pub(crate) const TRANSFER_COLUMNS: &str = "id, debit, credit, amount, asset, kind, pending_id, timeout_secs, expires_at, \
     requested, status, reason, user_id, model, request_id, price_version, memo, ts";
pub(crate) const ACCOUNT_COLUMNS: &str = "id, asset, flags, debits_pending, debits_posted, credits_pending, credits_posted";
/// Rows per multi-row statement. SQLite: small and fixed, so the statement
/// is prepared once and reused. PostgreSQL: large, to save round trips.
fn chunk_rows(dialect: Dialect) -> usize {
    match dialect {
        Dialect::Sqlite => 32,
        Dialect::Postgres => 500,
    }
}
/// Ids per `IN (…)` lookup.
const LOOKUP_CHUNK: usize = 500;

fn flags_to_int(f: AccountFlags) -> i64 {
    i64::from(f.debits_must_not_exceed_credits) | (i64::from(f.credits_must_not_exceed_debits) << 1)
}

fn flags_from_int(v: i64) -> AccountFlags {
    AccountFlags { debits_must_not_exceed_credits: v & 1 != 0, credits_must_not_exceed_debits: v & 2 != 0 }
}

/// Decodes an `accounts` row.
pub(crate) fn account_from_row(row: &AnyRow) -> Result<Account, StoreError> {
    Ok(Account {
        id: AccountId(row.try_get("id")?),
        asset: row.try_get("asset")?,
        flags: flags_from_int(row.try_get("flags")?),
        debits_pending: amount(row, "debits_pending")?,
        debits_posted: amount(row, "debits_posted")?,
        credits_pending: amount(row, "credits_pending")?,
        credits_posted: amount(row, "credits_posted")?,
    })
}

/// Decodes a `transfers` row and, for a hold, its status.
pub(crate) fn transfer_from_row(row: &AnyRow) -> Result<(Transfer, Option<PendingStatus>), StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("transfer {what}"));
    let pending_id = || -> Result<TransferId, StoreError> {
        let p: Option<String> = row.try_get("pending_id")?;
        p.map(TransferId).ok_or_else(|| corrupt("pending_id"))
    };
    let kind_name: String = row.try_get("kind")?;
    let kind = match kind_name.as_str() {
        "single" => TransferKind::Single,
        "pending" => {
            let timeout: Option<i64> = row.try_get("timeout_secs")?;
            let expires_at: Option<i64> = row.try_get("expires_at")?;
            TransferKind::Pending {
                timeout_secs: timeout.and_then(|t| u32::try_from(t).ok()).ok_or_else(|| corrupt("timeout"))?,
                expires_at: expires_at.ok_or_else(|| corrupt("expires_at"))?,
            }
        }
        "post" => TransferKind::Post { pending_id: pending_id()?, requested: opt_amount(row, "requested")? },
        "void" => TransferKind::Void { pending_id: pending_id()? },
        "expire" => TransferKind::Expire { pending_id: pending_id()? },
        _ => return Err(corrupt("kind")),
    };
    let reason: String = row.try_get("reason")?;
    let status: Option<String> = row.try_get("status")?;
    let status = status.map(|s| PendingStatus::parse(&s).ok_or_else(|| corrupt("status"))).transpose()?;
    let transfer = Transfer {
        id: TransferId(row.try_get("id")?),
        debit: AccountId(row.try_get("debit")?),
        credit: AccountId(row.try_get("credit")?),
        amount: amount(row, "amount")?,
        asset: row.try_get("asset")?,
        kind,
        reason: Reason::parse(&reason).ok_or_else(|| corrupt("reason"))?,
        links: Links {
            user_id: row.try_get("user_id")?,
            model: row.try_get("model")?,
            request_id: row.try_get("request_id")?,
            price_version: row.try_get("price_version")?,
            memo: row.try_get("memo")?,
        },
        timestamp: row.try_get("ts")?,
    };
    Ok((transfer, status))
}

/// Writes accounts in multi-row statements: existing ones are left alone,
/// or, with `overwrite`, get the given totals.
pub(crate) async fn write_accounts(
    conn: &mut AnyConnection,
    dialect: Dialect,
    accounts: &[Account],
    overwrite: bool,
) -> Result<(), StoreError> {
    let on_conflict = if overwrite {
        "DO UPDATE SET debits_pending = excluded.debits_pending, debits_posted = excluded.debits_posted, \
         credits_pending = excluded.credits_pending, credits_posted = excluded.credits_posted"
    } else {
        "DO NOTHING"
    };
    for chunk in accounts.chunks(chunk_rows(dialect)) {
        let rows: Vec<String> = (0..chunk.len()).map(|i| format!("({})", positional(dialect, i * 7, 7))).collect();
        let sql = format!(
            "INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES {} ON CONFLICT (id) {on_conflict}",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for a in chunk {
            q = q
                .bind(&a.id.0)
                .bind(&a.asset)
                .bind(flags_to_int(a.flags))
                .bind(a.debits_pending.to_string())
                .bind(a.debits_posted.to_string())
                .bind(a.credits_pending.to_string())
                .bind(a.credits_posted.to_string());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Loads accounts by id; on PostgreSQL locks them (in id order, so two
/// writers never deadlock on each other).
pub(crate) async fn load_accounts(
    conn: &mut AnyConnection,
    dialect: Dialect,
    ids: &[String],
) -> Result<Vec<Account>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let lock = if dialect == Dialect::Postgres { " ORDER BY id FOR UPDATE" } else { "" };
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id IN ({}){lock}", positional(dialect, 0, ids.len()));
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id);
    }
    q.fetch_all(&mut *conn).await?.iter().map(account_from_row).collect()
}

/// Loads transfers by id.
pub(crate) async fn load_transfers(
    conn: &mut AnyConnection,
    dialect: Dialect,
    ids: &[String],
) -> Result<Vec<(Transfer, Option<PendingStatus>)>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let sql = format!("SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id IN ({})", positional(dialect, 0, chunk.len()));
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        for row in q.fetch_all(&mut *conn).await? {
            out.push(transfer_from_row(&row)?);
        }
    }
    Ok(out)
}

/// Writes a batch's changes. The caller owns the transaction.
pub(crate) async fn persist(conn: &mut AnyConnection, dialect: Dialect, changes: &Changes) -> Result<(), StoreError> {
    // Accounts always exist here; the upsert is a multi-row update.
    write_accounts(conn, dialect, &changes.accounts, true).await?;
    let statuses: BTreeMap<&TransferId, PendingStatus> = changes.pending.iter().map(|(id, s)| (id, *s)).collect();
    let status_of = |id: &TransferId| statuses.get(id).map(|s| s.as_str());
    for chunk in changes.transfers.chunks(chunk_rows(dialect)) {
        let rows: Vec<String> = (0..chunk.len()).map(|i| format!("({})", positional(dialect, i * 18, 18))).collect();
        let sql = format!("INSERT INTO transfers ({TRANSFER_COLUMNS}) VALUES {}", rows.join(", "));
        let mut q = sqlx::query(&sql);
        for t in chunk {
            let (timeout, expires_at, requested) = match &t.kind {
                TransferKind::Pending { timeout_secs, expires_at } => (Some(i64::from(*timeout_secs)), Some(*expires_at), None),
                TransferKind::Post { requested, .. } => (None, None, requested.map(|r| r.to_string())),
                _ => (None, None, None),
            };
            q = q
                .bind(&t.id.0)
                .bind(&t.debit.0)
                .bind(&t.credit.0)
                .bind(t.amount.to_string())
                .bind(&t.asset)
                .bind(t.kind.as_str())
                .bind(t.kind.pending_id().map(|p| p.0.clone()))
                .bind(timeout)
                .bind(expires_at)
                .bind(requested)
                .bind(status_of(&t.id))
                .bind(t.reason.as_str())
                .bind(t.links.user_id)
                .bind(t.links.model.clone())
                .bind(t.links.request_id.clone())
                .bind(t.links.price_version)
                .bind(t.links.memo.clone())
                .bind(t.timestamp);
        }
        q.execute(&mut *conn).await?;
    }
    let new: BTreeSet<&TransferId> = changes.transfers.iter().map(|t| &t.id).collect();
    for (id, status) in changes.pending.iter().filter(|(id, _)| !new.contains(id)) {
        sqlx::query("UPDATE transfers SET status = $1 WHERE id = $2")
            .bind(status.as_str())
            .bind(&id.0)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
