//! Preparing a payment: one transaction that checks the sender's limit,
//! inserts the payment, leases its pool cell and reserves the sender's
//! cells, or keeps nothing. And what a sender's cells are promised to.

use super::cells::lease;
use super::payments::expire_in;
use super::rows::HubPaymentRow;
use super::{check_cells, is_out_point, out_point, refused, signed, to_json, unsigned, HubStoreError};
use crate::transaction::{begin_write, finish, retrying};
use crate::{Dialect, Store, StoreError};
use sqlx::{AnyConnection, Row};
use tollway_core::ckb::hub::HubPaymentState;
use tollway_core::ckb::SighashArgs;

/// A payment to prepare (the transaction is built; the pool cell and the
/// sender's cells are picked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHubPayment {
    /// Who pays.
    pub sender: SighashArgs,
    /// Who is paid.
    pub receiver: SighashArgs,
    /// What the hub's cell gains, shannons.
    pub amount: u64,
    /// The network fee the sender pays, shannons.
    pub fee: u64,
    /// The sender's change (output 0), shannons.
    pub change: u64,
    /// The transaction's hash.
    pub tx_hash: [u8; 32],
    /// The prepared transaction (molecule bytes).
    pub prepared_tx: Vec<u8>,
    /// The pool cell to lease (out point `0x<tx hash>:<index>`).
    pub pool_cell: String,
    /// The sender's cells it spends, in input order (out points).
    pub sender_cells: Vec<String>,
    /// The user whose points it buys, if any.
    pub user_id: Option<i64>,
    /// The points granted to that user when it completes.
    pub points: Option<u128>,
    /// Who prepares it (`key:{id}` or `ip:{address}`).
    pub creator: String,
    /// The most open (prepared or sent) payments one sender may have.
    pub max_open_per_sender: u32,
    /// Now (Unix ms).
    pub now: i64,
    /// Until when it may be signed (Unix ms).
    pub expires_at: i64,
}

impl Store {
    /// Prepares a payment in one transaction: the sender's prepared
    /// payments past their expiry are expired first (their cells
    /// released); then `too_many_open_payments` if the sender still has
    /// `max_open_per_sender` open ones; the payment is inserted
    /// (`prepared`), its pool cell leased (`pool_cell_taken` when another
    /// request holds it, `unknown_cell` when the pool has no such cell)
    /// and each sender cell reserved (`sender_cell_taken` when an open
    /// payment spends it, or a completed one spent it: the caller's view
    /// of the sender's cells may be older than that payment). On any refusal nothing is kept: pick another
    /// cell and try again.
    pub async fn prepare_hub_payment(&self, new: &NewHubPayment) -> Result<HubPaymentRow, StoreError> {
        check_cells("sender cell", new.sender_cells.iter().map(String::as_str))?;
        if !is_out_point(&new.pool_cell) || new.sender_cells.contains(&new.pool_cell) {
            return refused(HubStoreError::Invalid(format!("pool cell {:?}", new.pool_cell)));
        }
        for (v, what) in [(new.amount, "amount"), (new.fee, "fee"), (new.change, "change")] {
            signed(v, what)?;
        }
        let dialect = self.dialect();
        retrying("hub prepare", || async {
            let mut conn = begin_write(self).await?;
            let result = prepare_in(&mut conn, dialect, new).await;
            finish(conn, result).await
        })
        .await
    }

    /// The cells of `sender` its open payments spend (sent ones, and
    /// prepared ones not yet expired at `now`), and those its payments
    /// committed after block `indexed_through` spent (the node's indexer,
    /// at that block, still lists them live): not to be offered again.
    /// Those of prepared payments past their expiry are left out: the next
    /// prepare of this sender releases them.
    pub async fn hub_sender_held_cells(&self, sender: &SighashArgs, now: i64, indexed_through: Option<u64>) -> Result<Vec<String>, StoreError> {
        let cells = sqlx::query_scalar(
            "SELECT s.out_point FROM hub_sender_cells s JOIN hub_payments p ON p.id = s.payment_id \
             WHERE p.sender = $1 AND ((s.open = 1 AND (p.state = $2 OR p.expires_at > $3)) OR (p.state = $4 AND p.block_number > $5)) \
             ORDER BY s.out_point",
        )
        .bind(sender.to_hex())
        .bind(HubPaymentState::Sent.name())
        .bind(now)
        .bind(HubPaymentState::Complete.name())
        .bind(block_bound(indexed_through))
        .fetch_all(self.pool())
        .await?;
        Ok(cells)
    }

    /// How many prepared payments `creator` (`key:{id}` or `ip:{address}`)
    /// has open and not yet expired at `now`: a client may not hold many
    /// pool cells (or someone else's cells) at once.
    pub async fn hub_open_prepared_by_creator(&self, creator: &str, now: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM hub_payments WHERE creator = $1 AND state = $2 AND expires_at > $3")
            .bind(creator)
            .bind(HubPaymentState::Prepared.name())
            .bind(now)
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The change cells (`tx_hash:0`, capacity) the node's indexer, at
    /// block `indexed_through`, does not list yet, oldest first: those of
    /// `sender`'s sent payments (not committed yet, but the sender may
    /// spend them in its next payment: the node accepts a chain of pending
    /// transactions) and of its payments committed after that block. One
    /// a payment spends already is among [`Store::hub_sender_held_cells`].
    pub async fn hub_sender_pending_change(&self, sender: &SighashArgs, indexed_through: Option<u64>) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT tx_hash, change FROM hub_payments WHERE sender = $1 AND (state = $2 OR (state = $3 AND block_number > $4)) ORDER BY id",
        )
        .bind(sender.to_hex())
        .bind(HubPaymentState::Sent.name())
        .bind(HubPaymentState::Complete.name())
        .bind(block_bound(indexed_through))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let hash: Vec<u8> = row.try_get("tx_hash")?;
                let hash = <[u8; 32]>::try_from(hash.as_slice()).map_err(|_| StoreError::Corrupt("hub tx_hash".into()))?;
                Ok((out_point(&hash, 0), unsigned(row, "change")?))
            })
            .collect()
    }
}

/// `indexed_through` as the bound of `block_number > $n`: no block yet
/// indexed counts every committed payment.
fn block_bound(indexed_through: Option<u64>) -> i64 {
    indexed_through.map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX))
}

async fn prepare_in(conn: &mut AnyConnection, dialect: Dialect, new: &NewHubPayment) -> Result<HubPaymentRow, StoreError> {
    let sender = new.sender.to_hex();
    if dialect == Dialect::Postgres {
        // One prepare per sender at a time, so two cannot both pass the
        // limit (SQLite's write transaction serialises them already).
        sqlx::query("SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock(hashtext('tollway.hub.sender'), hashtext($1))) AS l")
            .bind(&sender)
            .fetch_one(&mut *conn)
            .await?;
    }
    let overdue: Vec<i64> = sqlx::query_scalar("SELECT id FROM hub_payments WHERE sender = $1 AND state = $2 AND expires_at <= $3 ORDER BY id")
        .bind(&sender)
        .bind(HubPaymentState::Prepared.name())
        .bind(new.now)
        .fetch_all(&mut *conn)
        .await?;
    for id in overdue {
        expire_in(conn, dialect, id, new.now).await?;
    }
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM hub_payments WHERE sender = $1 AND state IN ($2, $3)")
        .bind(&sender)
        .bind(HubPaymentState::Prepared.name())
        .bind(HubPaymentState::Sent.name())
        .fetch_one(&mut *conn)
        .await?;
    if open >= i64::from(new.max_open_per_sender) {
        return refused(HubStoreError::TooManyOpen);
    }
    // The partial unique index refuses a second open payment of one pool
    // cell without failing the transaction; the lease below is the
    // compare-and-set that also keeps payouts and rebalances off it.
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO hub_payments (state, sender, receiver, amount, fee, change, tx_hash, prepared_tx, signed_tx, pool_cell, \
         sender_cells, expires_at, user_id, points, creator, block_number, new_pool_cell, failure, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, $11, $12, $13, $14, NULL, NULL, NULL, $15, $15) \
         ON CONFLICT (pool_cell) WHERE state IN ('prepared', 'sent') DO NOTHING RETURNING id",
    )
    .bind(HubPaymentState::Prepared.name())
    .bind(&sender)
    .bind(new.receiver.to_hex())
    .bind(signed(new.amount, "amount")?)
    .bind(signed(new.fee, "fee")?)
    .bind(signed(new.change, "change")?)
    .bind(new.tx_hash.to_vec())
    .bind(new.prepared_tx.as_slice())
    .bind(&new.pool_cell)
    .bind(to_json(&new.sender_cells)?)
    .bind(new.expires_at)
    .bind(new.user_id)
    .bind(new.points.map(|p| p.to_string()))
    .bind(&new.creator)
    .bind(new.now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else {
        return refused(HubStoreError::PoolCellTaken);
    };
    lease(conn, &new.pool_cell, &format!("payment:{id}"), new.now).await?;
    // In one order, so two prepares never wait on each other's cells.
    let mut cells: Vec<&String> = new.sender_cells.iter().collect();
    cells.sort_unstable();
    for cell in cells {
        let reserved = sqlx::query(
            "INSERT INTO hub_sender_cells (payment_id, out_point, open) VALUES ($1, $2, 1) ON CONFLICT (out_point) WHERE open = 1 DO NOTHING",
        )
        .bind(id)
        .bind(cell)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if reserved == 0 {
            return refused(HubStoreError::SenderCellTaken);
        }
        // Spent on chain by a payment that committed since the caller
        // read the sender's cells (after the reservation: a completion
        // racing it has either closed its row, seen here, or made the
        // insert above conflict).
        let spent: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM hub_sender_cells s JOIN hub_payments p ON p.id = s.payment_id WHERE s.out_point = $1 AND p.state = $2",
        )
        .bind(cell)
        .bind(HubPaymentState::Complete.name())
        .fetch_one(&mut *conn)
        .await?;
        if spent > 0 {
            return refused(HubStoreError::SenderCellTaken);
        }
    }
    Ok(HubPaymentRow {
        id,
        state: HubPaymentState::Prepared,
        sender: new.sender,
        receiver: new.receiver,
        amount: new.amount,
        fee: new.fee,
        change: new.change,
        tx_hash: new.tx_hash,
        prepared_tx: new.prepared_tx.clone(),
        signed_tx: None,
        pool_cell: new.pool_cell.clone(),
        sender_cells: new.sender_cells.clone(),
        expires_at: new.expires_at,
        user_id: new.user_id,
        points: new.points,
        creator: new.creator.clone(),
        block_number: None,
        new_pool_cell: None,
        failure: None,
        created_at: new.now,
        updated_at: new.now,
    })
}
