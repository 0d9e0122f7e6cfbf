//! A payment committed: counted once, in one transaction with its shares,
//! its ledger transfers, its points and its cells.

use super::cells::{add_free, spend};
use super::ledger::credit_payment;
use super::payments::{close_sender_cells, locked_move};
use super::rows::HubPaymentRow;
use super::{is_out_point, refused, signed, HubStoreError};
use crate::transaction::{begin_write, finish, retrying};
use crate::{Dialect, Store, StoreError};
use sqlx::AnyConnection;
use tollway_core::ckb::hub::{HubPaymentEvent, Share};

/// A sent payment whose transaction committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPayment {
    /// The payment.
    pub id: i64,
    /// The block that committed it.
    pub block_number: u64,
    /// How it is divided ([`tollway_core::ckb::hub::split_payment`] of its
    /// amount): each above zero, together exactly the amount.
    pub shares: Vec<Share>,
    /// The hub's cell it made (output 1: out point, capacity), free in the
    /// pool from now on.
    pub new_pool_cell: (String, u64),
    /// Now (Unix ms).
    pub now: i64,
}

impl Store {
    /// Moves a payment from `sent` to `complete` and counts it, all in one
    /// transaction: one share row per share (unpaid), the ledger transfers
    /// `hub/inflow/CKB` → `hub/party/{args}/CKB` (`hubpay:{id}:{n}`), the
    /// payment's points granted to its user (`hubpoints:{id}`), its pool
    /// cell spent and the new one added free, the sender's cells no longer
    /// held. `Ok(false)`: it was not sent (a repeat, or it ended
    /// otherwise), and nothing was written. `unknown_payment` when there is
    /// no such payment; `shares_mismatch` when the shares do not add up to
    /// its amount.
    pub async fn complete_hub_payment(&self, done: &CompletedPayment) -> Result<bool, StoreError> {
        if !is_out_point(&done.new_pool_cell.0) {
            return refused(HubStoreError::Invalid(format!("new pool cell {:?}", done.new_pool_cell.0)));
        }
        signed(done.new_pool_cell.1, "new pool cell capacity")?;
        signed(done.block_number, "block")?;
        let dialect = self.dialect();
        retrying("hub complete", || async {
            let mut conn = begin_write(self).await?;
            let result = complete_in(&mut conn, dialect, done).await;
            finish(conn, result).await
        })
        .await
    }
}

/// Checks that `shares` are each above zero and add up to the payment's
/// amount.
fn check_shares(payment: &HubPaymentRow, shares: &[Share]) -> Result<(), StoreError> {
    let sum = shares.iter().try_fold(0u64, |sum, s| if s.amount == 0 { None } else { sum.checked_add(s.amount) });
    if sum == Some(payment.amount) {
        return Ok(());
    }
    let shares = shares.iter().fold(0u64, |sum, s| sum.saturating_add(s.amount));
    refused(HubStoreError::SharesMismatch { amount: payment.amount, shares })
}

async fn complete_in(conn: &mut AnyConnection, dialect: Dialect, done: &CompletedPayment) -> Result<bool, StoreError> {
    let Some((payment, to)) = locked_move(conn, dialect, done.id, HubPaymentEvent::Committed).await? else {
        return Ok(false);
    };
    check_shares(&payment, &done.shares)?;
    let (new_cell, capacity) = &done.new_pool_cell;
    let moved =
        sqlx::query("UPDATE hub_payments SET state = $1, block_number = $2, new_pool_cell = $3, updated_at = $4 WHERE id = $5 AND state = $6")
            .bind(to.name())
            .bind(signed(done.block_number, "block")?)
            .bind(new_cell)
            .bind(done.now)
            .bind(payment.id)
            .bind(payment.state.name())
            .execute(&mut *conn)
            .await?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    for (n, share) in done.shares.iter().enumerate() {
        sqlx::query(
            "INSERT INTO hub_accounts (payment_id, share_index, receiver, role, amount, is_payed, payout_id, tx_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 0, NULL, NULL, $6, $6)",
        )
        .bind(payment.id)
        .bind(signed(n as u64, "share index")?)
        .bind(share.party.to_hex())
        .bind(share.role.name())
        .bind(signed(share.amount, "share")?)
        .bind(done.now)
        .execute(&mut *conn)
        .await?;
    }
    credit_payment(conn, dialect, &payment, &done.shares).await?;
    let spent = spend(conn, &format!("payment:{}", payment.id), done.now).await?;
    if spent != 1 {
        return Err(StoreError::Corrupt(format!("hub payment {} held {spent} pool cells, not its one", payment.id)));
    }
    add_free(conn, &[(new_cell.clone(), *capacity)], done.now).await?;
    close_sender_cells(conn, payment.id).await?;
    Ok(true)
}
