//! Reading payments, and the moves that do not count anything: signed
//! (prepared → sent), failed and expired (which release the pool cell and
//! the sender's cells). Each locks the payment, asks
//! [`apply_payment`] and moves the state by compare-and-set.

use super::cells::release;
use super::rows::{payment_from, share_from, HubPaymentRow, ShareRow};
use super::{for_update, refused, HubStoreError};
use crate::transaction::{begin_write, finish, retrying};
use crate::{Dialect, Store, StoreError};
use sqlx::AnyConnection;
use tollway_core::ckb::hub::{apply_payment, HubPaymentEvent, HubPaymentState};
use tollway_core::ckb::SighashArgs;

/// Whose payments [`Store::hub_payments`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentsOf {
    /// Everyone's.
    All,
    /// Those this key sent.
    Sender(SighashArgs),
    /// Those paid to this key.
    Receiver(SighashArgs),
}

/// How many overdue payments one sweep expires.
const SWEEP_LIMIT: i64 = 500;

impl Store {
    /// The payment `id`.
    pub async fn hub_payment(&self, id: i64) -> Result<Option<HubPaymentRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM hub_payments WHERE id = $1").bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(payment_from).transpose()
    }

    /// The states of the payments whose transaction is `tx_hash` (one,
    /// or a few when the same cells were prepared again after an expiry;
    /// none when the hub made no such transaction).
    pub async fn hub_payment_states_by_tx(&self, tx_hash: &[u8; 32]) -> Result<Vec<HubPaymentState>, StoreError> {
        let names: Vec<String> =
            sqlx::query_scalar("SELECT state FROM hub_payments WHERE tx_hash = $1").bind(tx_hash.to_vec()).fetch_all(self.pool()).await?;
        names.iter().map(|n| HubPaymentState::parse(n).ok_or_else(|| StoreError::Corrupt("hub payment state".into()))).collect()
    }

    /// Payments of `of`, newest first, up to `limit`, with an id below
    /// `before` (the last id of the previous page).
    pub async fn hub_payments(&self, of: PaymentsOf, limit: i64, before: Option<i64>) -> Result<Vec<HubPaymentRow>, StoreError> {
        let (filter, party) = match of {
            PaymentsOf::All => ("", None),
            PaymentsOf::Sender(p) => (" AND sender = $3", Some(p.to_hex())),
            PaymentsOf::Receiver(p) => (" AND receiver = $3", Some(p.to_hex())),
        };
        let sql = format!("SELECT * FROM hub_payments WHERE id < $1{filter} ORDER BY id DESC LIMIT $2");
        let mut query = sqlx::query(&sql).bind(before.unwrap_or(i64::MAX)).bind(limit);
        if let Some(party) = party {
            query = query.bind(party);
        }
        query.fetch_all(self.pool()).await?.iter().map(payment_from).collect()
    }

    /// The shares of payment `id` (written when it completed), in order.
    pub async fn hub_payment_shares(&self, id: i64) -> Result<Vec<ShareRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM hub_accounts WHERE payment_id = $1 ORDER BY share_index").bind(id).fetch_all(self.pool()).await?;
        rows.iter().map(share_from).collect()
    }

    /// Sent payments, oldest first, up to `limit`: those the tracker
    /// watches until they commit or fail.
    pub async fn sent_hub_payments(&self, limit: i64) -> Result<Vec<HubPaymentRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM hub_payments WHERE state = $1 ORDER BY id LIMIT $2")
            .bind(HubPaymentState::Sent.name())
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(payment_from).collect()
    }

    /// Moves payment `id` from `prepared` to `sent`, storing the
    /// transaction both signed, if it is still prepared and `now` is
    /// before its expiry. `Ok(false)`: it was not (nothing written);
    /// `unknown_payment` when there is no such payment.
    pub async fn sign_hub_payment(&self, id: i64, signed_tx: &[u8], now: i64) -> Result<bool, StoreError> {
        let dialect = self.dialect();
        retrying("hub sign", || async {
            let mut conn = begin_write(self).await?;
            let result = sign_in(&mut conn, dialect, id, signed_tx, now).await;
            finish(conn, result).await
        })
        .await
    }

    /// Moves payment `id` from `prepared` or `sent` to `failed` with
    /// `reason`, releasing its pool cell and the sender's cells.
    /// `Ok(false)`: it had ended already (nothing written);
    /// `unknown_payment` when there is no such payment.
    pub async fn fail_hub_payment(&self, id: i64, reason: &str, now: i64) -> Result<bool, StoreError> {
        let dialect = self.dialect();
        retrying("hub fail", || async {
            let mut conn = begin_write(self).await?;
            let result = async {
                let payment = lock_payment(&mut conn, dialect, id).await?;
                Ok(end_locked(&mut conn, payment, HubPaymentEvent::Failed, Some(reason), now).await?.is_some())
            }
            .await;
            finish(conn, result).await
        })
        .await
    }

    /// Expires the prepared payments whose expiry is at or before `now`
    /// (up to 500 per call, each in its own transaction), releasing their
    /// cells. Returns those it expired.
    pub async fn expire_due_hub_payments(&self, now: i64) -> Result<Vec<HubPaymentRow>, StoreError> {
        let due: Vec<i64> = sqlx::query_scalar("SELECT id FROM hub_payments WHERE state = $1 AND expires_at <= $2 ORDER BY expires_at LIMIT $3")
            .bind(HubPaymentState::Prepared.name())
            .bind(now)
            .bind(SWEEP_LIMIT)
            .fetch_all(self.pool())
            .await?;
        let dialect = self.dialect();
        let mut expired = Vec::new();
        for id in due {
            let ended = retrying("hub expiry", || async {
                let mut conn = begin_write(self).await?;
                let result = expire_in(&mut conn, dialect, id, now).await;
                finish(conn, result).await
            })
            .await?;
            expired.extend(ended);
        }
        Ok(expired)
    }
}

/// Payment `id`, locked for this transaction; `unknown_payment` when there
/// is none.
pub(super) async fn lock_payment(conn: &mut AnyConnection, dialect: Dialect, id: i64) -> Result<HubPaymentRow, StoreError> {
    let row = sqlx::query(&format!("SELECT * FROM hub_payments WHERE id = $1{}", for_update(dialect))).bind(id).fetch_optional(&mut *conn).await?;
    match row {
        Some(row) => payment_from(&row),
        None => refused(HubStoreError::UnknownPayment),
    }
}

/// Payment `id`, locked, and the state `event` moves it to; `None` when
/// the table refuses the move.
pub(super) async fn locked_move(
    conn: &mut AnyConnection,
    dialect: Dialect,
    id: i64,
    event: HubPaymentEvent,
) -> Result<Option<(HubPaymentRow, HubPaymentState)>, StoreError> {
    let before = lock_payment(conn, dialect, id).await?;
    Ok(apply_payment(before.state, event).ok().map(|to| (before, to)))
}

async fn sign_in(conn: &mut AnyConnection, dialect: Dialect, id: i64, signed_tx: &[u8], now: i64) -> Result<bool, StoreError> {
    let Some((before, to)) = locked_move(conn, dialect, id, HubPaymentEvent::Signed).await? else {
        return Ok(false);
    };
    let moved = sqlx::query("UPDATE hub_payments SET state = $1, signed_tx = $2, updated_at = $3 WHERE id = $4 AND state = $5 AND expires_at > $3")
        .bind(to.name())
        .bind(signed_tx)
        .bind(now)
        .bind(id)
        .bind(before.state.name())
        .execute(&mut *conn)
        .await?;
    Ok(moved.rows_affected() == 1)
}

/// Expires payment `id` if it is prepared and its expiry is at or before
/// `now`; returns it expired.
pub(super) async fn expire_in(conn: &mut AnyConnection, dialect: Dialect, id: i64, now: i64) -> Result<Option<HubPaymentRow>, StoreError> {
    let payment = lock_payment(conn, dialect, id).await?;
    if payment.expires_at > now {
        return Ok(None);
    }
    end_locked(conn, payment, HubPaymentEvent::Expired, None, now).await
}

/// Ends a locked open payment (failed or expired) and releases its pool
/// cell and the sender's cells; returns it ended, or `None` when the table
/// refuses the move.
async fn end_locked(
    conn: &mut AnyConnection,
    before: HubPaymentRow,
    event: HubPaymentEvent,
    failure: Option<&str>,
    now: i64,
) -> Result<Option<HubPaymentRow>, StoreError> {
    let Ok(to) = apply_payment(before.state, event) else {
        return Ok(None);
    };
    let moved = sqlx::query("UPDATE hub_payments SET state = $1, failure = $2, updated_at = $3 WHERE id = $4 AND state = $5")
        .bind(to.name())
        .bind(failure)
        .bind(now)
        .bind(before.id)
        .bind(before.state.name())
        .execute(&mut *conn)
        .await?;
    if moved.rows_affected() != 1 {
        return Ok(None);
    }
    release(conn, &format!("payment:{}", before.id), now).await?;
    close_sender_cells(conn, before.id).await?;
    Ok(Some(HubPaymentRow { state: to, failure: failure.map(str::to_owned), updated_at: now, ..before }))
}

/// The sender's cells of payment `id` are no longer held by it.
pub(super) async fn close_sender_cells(conn: &mut AnyConnection, id: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE hub_sender_cells SET open = 0 WHERE payment_id = $1 AND open = 1").bind(id).execute(&mut *conn).await?;
    Ok(())
}
