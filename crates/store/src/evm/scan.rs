//! What the watcher writes: transfers found (matched to a session by its
//! unique amount, or kept unmatched), the cursor moved in the same
//! transaction, reorgs rewound, confirmations counted, and the points of a
//! session that becomes paid credited in the transaction that marks it.

use super::catalog::NetworkRow;
use super::rows::{lock_session, save_session, session_from, transfer_from, SessionRow, TransferRow, TransferState};
use super::webhooks::enqueue;
use super::EvmStoreError;
use crate::transaction::{begin_write, finish, retrying};
use crate::writer::execute_in_transaction;
use crate::{Dialect, Store, StoreError};
use sqlx::{AnyConnection, Row};
use tollway_core::evm::{apply, Effect, Event, Hash32, TransferLog};
use tollway_core::ledger::{Command, Grant, Links, Reason, TransferId};
use tollway_core::{Amount, Asset};

/// A Transfer log to a deposit address, as read from the chain, with its
/// block's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundTransfer {
    /// The log.
    pub log: TransferLog,
    /// Its block's time (Unix ms).
    pub block_time_ms: i64,
}

/// What recording one found transfer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The transfer's row after recording.
    pub transfer: TransferRow,
    /// Whether this call recorded it (first time, or back after a reorg).
    pub is_new: bool,
    /// The session it pays, after the change (when it changed).
    pub session: Option<SessionRow>,
}

/// What a scan recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanOutcome {
    /// Every transfer of the scan, in order.
    pub recorded: Vec<Recorded>,
}

fn signed(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange(what.into()))
}

impl Store {
    /// The watcher's cursor for `network`: the last block read and its hash.
    pub async fn evm_cursor(&self, network: &str) -> Result<Option<(u64, Hash32)>, StoreError> {
        let row = sqlx::query("SELECT block_number, block_hash FROM evm_cursors WHERE network_id = $1")
            .bind(network)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| checkpoint(&r)).transpose()
    }

    /// The recent cursor positions of `network`, newest first.
    pub async fn evm_checkpoints(&self, network: &str) -> Result<Vec<(u64, Hash32)>, StoreError> {
        let rows = sqlx::query("SELECT block_number, block_hash FROM evm_checkpoints WHERE network_id = $1 ORDER BY block_number DESC")
            .bind(network)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(checkpoint).collect()
    }

    /// Records the transfers read from the block after `expected` up to
    /// `cursor`, and moves the cursor there, in one transaction; a cursor
    /// that is no longer `expected` (another process scanned first) is
    /// `cursor_moved` and nothing is written. Checkpoints older than
    /// `keep_blocks` behind the new cursor are pruned.
    pub async fn record_evm_scan(
        &self,
        network: &NetworkRow,
        expected: Option<(u64, Hash32)>,
        cursor: (u64, Hash32),
        found: &[FoundTransfer],
        keep_blocks: u64,
        now: i64,
    ) -> Result<ScanOutcome, StoreError> {
        let dialect = self.dialect();
        retrying("evm scan", || async {
            let mut conn = begin_write(self).await?;
            let result = async {
                move_cursor(&mut conn, dialect, &network.id, expected, cursor, keep_blocks, now).await?;
                let mut outcome = ScanOutcome::default();
                for f in found {
                    outcome.recorded.push(record_in(&mut conn, dialect, network, f, "watcher", now).await?);
                }
                Ok(outcome)
            }
            .await;
            finish(conn, result).await
        })
        .await
    }

    /// Records transfers found outside a scan (a transaction hash a buyer
    /// submitted): the same matching as the watcher's, no cursor move.
    pub async fn record_evm_transfers(&self, network: &NetworkRow, found: &[FoundTransfer], found_by: &str, now: i64) -> Result<Vec<Recorded>, StoreError> {
        let dialect = self.dialect();
        retrying("evm transfers", || async {
            let mut conn = begin_write(self).await?;
            let mut recorded = Vec::new();
            let mut result = Ok(());
            for f in found {
                match record_in(&mut conn, dialect, network, f, found_by, now).await {
                    Ok(r) => recorded.push(r),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            finish(conn, result.map(|()| recorded)).await
        })
        .await
    }

    /// A reorg: every transfer of `network` above block `fork` is dropped
    /// (its session told), checkpoints above it are forgotten, and the
    /// cursor goes back to `fork`. Returns the sessions that changed.
    pub async fn rewind_evm(&self, network: &str, fork: (u64, Hash32), now: i64) -> Result<Vec<SessionRow>, StoreError> {
        let dialect = self.dialect();
        retrying("evm rewind", || async {
            let mut conn = begin_write(self).await?;
            let result = async {
                let fork_number = signed(fork.0, "block")?;
                let rows = sqlx::query("SELECT * FROM evm_transfers WHERE network_id = $1 AND block_number > $2 AND state <> 'dropped'")
                    .bind(network)
                    .bind(fork_number)
                    .fetch_all(&mut *conn)
                    .await?;
                let mut changed = Vec::new();
                for row in &rows {
                    let t = transfer_from(row)?;
                    changed.extend(drop_in(&mut conn, dialect, &t, now).await?);
                }
                sqlx::query("DELETE FROM evm_checkpoints WHERE network_id = $1 AND block_number > $2")
                    .bind(network)
                    .bind(fork_number)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("UPDATE evm_cursors SET block_number = $1, block_hash = $2, updated_at = $3 WHERE network_id = $4")
                    .bind(fork_number)
                    .bind(fork.1.to_string())
                    .bind(now)
                    .bind(network)
                    .execute(&mut *conn)
                    .await?;
                Ok(changed)
            }
            .await;
            finish(conn, result).await
        })
        .await
    }

    /// Transfers of `network` in a block, not yet confirmed, at or below
    /// block `up_to`.
    pub async fn evm_transfers_to_confirm(&self, network: &str, up_to: u64) -> Result<Vec<TransferRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM evm_transfers WHERE network_id = $1 AND state = 'seen' AND block_number <= $2 ORDER BY block_number, log_index",
        )
        .bind(network)
        .bind(signed(up_to, "block")?)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(transfer_from).collect()
    }

    /// Transfers of `network` in a block, not yet confirmed.
    pub async fn evm_transfers_seen(&self, network: &str) -> Result<Vec<TransferRow>, StoreError> {
        self.evm_transfers_to_confirm(network, i64::MAX as u64).await
    }

    /// Confirms a seen transfer (compare-and-set: `None` if it is no
    /// longer seen); its session is told, and if that makes it paid, its
    /// points are credited in this same transaction (transfer
    /// `evmpay/{session}`: a replay is the same transfer, never a second
    /// credit).
    pub async fn confirm_evm_transfer(&self, t: &TransferRow, now: i64) -> Result<Option<SessionRow>, StoreError> {
        let dialect = self.dialect();
        retrying("evm confirm", || async {
            let mut conn = begin_write(self).await?;
            let result = async {
                let moved = sqlx::query(
                    "UPDATE evm_transfers SET state = 'confirmed', updated_at = $1 WHERE chain_id = $2 AND tx_hash = $3 AND log_index = $4 \
                     AND state = 'seen' AND block_hash = $5",
                )
                .bind(now)
                .bind(signed(t.chain_id, "chain_id")?)
                .bind(t.tx_hash.to_string())
                .bind(signed(t.log_index, "log_index")?)
                .bind(t.block_hash.to_string())
                .execute(&mut *conn)
                .await?
                .rows_affected();
                let (Some(id), Some(value), 1) = (&t.session_id, t.value(), moved) else { return Ok(None) };
                let Some(before) = lock_session(&mut conn, dialect, id).await? else { return Ok(None) };
                let step = apply(&before.state, Event::Confirmed { value }, now).map_err(EvmStoreError::from)?;
                let after = save_session(&mut conn, &before, &step.session, now).await?;
                if step.effects.contains(&Effect::CreditPoints) {
                    credit(&mut conn, dialect, &after).await?;
                }
                if step.effects.contains(&Effect::Notify) {
                    enqueue(&mut conn, &after, now).await?;
                }
                Ok(Some(after))
            }
            .await;
            finish(conn, result).await
        })
        .await
    }

    /// Drops one transfer whose block left the chain (found when
    /// re-checking its block before confirming it).
    pub async fn drop_evm_transfer(&self, t: &TransferRow, now: i64) -> Result<Option<SessionRow>, StoreError> {
        let dialect = self.dialect();
        retrying("evm drop", || async {
            let mut conn = begin_write(self).await?;
            let result = drop_in(&mut conn, dialect, t, now).await;
            finish(conn, result).await
        })
        .await
    }

    /// Every transfer counted for session `id`, oldest first.
    pub async fn session_transfers(&self, id: &str) -> Result<Vec<TransferRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM evm_transfers WHERE session_id = $1 ORDER BY block_number, log_index")
            .bind(id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(transfer_from).collect()
    }

    /// Transfers that matched no session (not dropped), newest first.
    pub async fn unmatched_evm_transfers(&self, limit: i64) -> Result<Vec<TransferRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM evm_transfers WHERE session_id IS NULL AND state <> 'dropped' ORDER BY found_at DESC LIMIT $1")
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(transfer_from).collect()
    }
}

fn checkpoint(row: &sqlx::any::AnyRow) -> Result<(u64, Hash32), StoreError> {
    let number = u64::try_from(row.try_get::<i64, _>("block_number")?).map_err(|_| StoreError::Corrupt("cursor block".into()))?;
    let hash = row.try_get::<String, _>("block_hash")?.parse().map_err(|_| StoreError::Corrupt("cursor hash".into()))?;
    Ok((number, hash))
}

/// Compare-and-set of the cursor from `expected` to `cursor`, with a
/// checkpoint at the new position.
async fn move_cursor(
    conn: &mut AnyConnection,
    dialect: Dialect,
    network: &str,
    expected: Option<(u64, Hash32)>,
    cursor: (u64, Hash32),
    keep_blocks: u64,
    now: i64,
) -> Result<(), StoreError> {
    let lock = if dialect == Dialect::Postgres { " FOR UPDATE" } else { "" };
    let current = sqlx::query(&format!("SELECT block_number, block_hash FROM evm_cursors WHERE network_id = $1{lock}"))
        .bind(network)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| checkpoint(&r))
        .transpose()?;
    if current != expected {
        return Err(EvmStoreError::CursorMoved.into());
    }
    let (number, hash) = (signed(cursor.0, "block")?, cursor.1.to_string());
    sqlx::query(
        "INSERT INTO evm_cursors (network_id, block_number, block_hash, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (network_id) DO UPDATE SET block_number = $2, block_hash = $3, updated_at = $4",
    )
    .bind(network)
    .bind(number)
    .bind(&hash)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO evm_checkpoints (network_id, block_number, block_hash) VALUES ($1, $2, $3) \
         ON CONFLICT (network_id, block_number) DO UPDATE SET block_hash = $3",
    )
    .bind(network)
    .bind(number)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM evm_checkpoints WHERE network_id = $1 AND block_number < $2")
        .bind(network)
        .bind(number.saturating_sub(signed(keep_blocks, "keep")?))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records one found transfer: new ones are matched to the open session
/// holding exactly their value (to that session's deposit address, in
/// that token) or kept unmatched; one dropped by a reorg and found again
/// comes back to its session; one already recorded changes nothing.
async fn record_in(
    conn: &mut AnyConnection,
    dialect: Dialect,
    network: &NetworkRow,
    f: &FoundTransfer,
    found_by: &str,
    now: i64,
) -> Result<Recorded, StoreError> {
    let key = (signed(network.chain_id, "chain_id")?, f.log.tx_hash.to_string(), signed(f.log.log_index, "log_index")?);
    let existing = sqlx::query("SELECT * FROM evm_transfers WHERE chain_id = $1 AND tx_hash = $2 AND log_index = $3")
        .bind(key.0)
        .bind(&key.1)
        .bind(key.2)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| transfer_from(&r))
        .transpose()?;
    let session_id = match &existing {
        Some(t) if t.state != TransferState::Dropped => return Ok(Recorded { transfer: t.clone(), is_new: false, session: None }),
        Some(t) => t.session_id.clone(),
        None => match f.log.value {
            Some(value) => matching_session(conn, dialect, network, f, value).await?,
            None => None,
        },
    };
    let block = signed(f.log.block_number, "block")?;
    if existing.is_some() {
        sqlx::query(
            "UPDATE evm_transfers SET state = 'seen', block_number = $1, block_hash = $2, block_time = $3, updated_at = $4 \
             WHERE chain_id = $5 AND tx_hash = $6 AND log_index = $7",
        )
        .bind(block)
        .bind(f.log.block_hash.to_string())
        .bind(f.block_time_ms)
        .bind(now)
        .bind(key.0)
        .bind(&key.1)
        .bind(key.2)
        .execute(&mut *conn)
        .await?;
    } else {
        sqlx::query(
            "INSERT INTO evm_transfers (chain_id, tx_hash, log_index, network_id, token_address, from_address, to_address, value_units, \
             block_number, block_hash, block_time, state, session_id, found_by, found_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'seen', $12, $13, $14, $14)",
        )
        .bind(key.0)
        .bind(&key.1)
        .bind(key.2)
        .bind(&network.id)
        .bind(f.log.token.to_string())
        .bind(f.log.from.to_string())
        .bind(f.log.to.to_string())
        .bind(&f.log.value_text)
        .bind(block)
        .bind(f.log.block_hash.to_string())
        .bind(f.block_time_ms)
        .bind(&session_id)
        .bind(found_by)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    let transfer = TransferRow {
        chain_id: network.chain_id,
        tx_hash: f.log.tx_hash,
        log_index: f.log.log_index,
        network_id: network.id.clone(),
        token_address: f.log.token,
        from: f.log.from,
        to: f.log.to,
        value_units: f.log.value_text.clone(),
        block_number: f.log.block_number,
        block_hash: f.log.block_hash,
        block_time_ms: f.block_time_ms,
        state: TransferState::Seen,
        session_id: session_id.clone(),
        found_by: existing.as_ref().map_or_else(|| found_by.to_owned(), |t| t.found_by.clone()),
        found_at: existing.as_ref().map_or(now, |t| t.found_at),
    };
    let session = match (&session_id, f.log.value) {
        (Some(id), Some(value)) => {
            let Some(before) = lock_session(conn, dialect, id).await? else { return Err(StoreError::Corrupt(format!("transfer for missing session {id}"))) };
            let step = apply(&before.state, Event::Seen { value, block_time_ms: f.block_time_ms }, now).map_err(EvmStoreError::from)?;
            let after = save_session(conn, &before, &step.session, now).await?;
            if step.effects.contains(&Effect::Notify) {
                enqueue(conn, &after, now).await?;
            }
            Some(after)
        }
        _ => None,
    };
    Ok(Recorded { transfer, is_new: true, session })
}

/// The session holding exactly `value` of this token at this deposit
/// address, if any.
async fn matching_session(
    conn: &mut AnyConnection,
    dialect: Dialect,
    network: &NetworkRow,
    f: &FoundTransfer,
    value: u128,
) -> Result<Option<String>, StoreError> {
    let lock = if dialect == Dialect::Postgres { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!(
        "SELECT * FROM payment_sessions WHERE network_id = $1 AND token_address = $2 AND amount_units = $3 AND reserved = 1{lock}"
    ))
    .bind(&network.id)
    .bind(f.log.token.to_string())
    .bind(value.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(session) = row.as_ref().map(session_from).transpose()? else { return Ok(None) };
    Ok((session.deposit_address == f.log.to).then_some(session.id))
}

/// Marks a transfer dropped and tells its session.
async fn drop_in(conn: &mut AnyConnection, dialect: Dialect, t: &TransferRow, now: i64) -> Result<Option<SessionRow>, StoreError> {
    let moved = sqlx::query(
        "UPDATE evm_transfers SET state = 'dropped', updated_at = $1 WHERE chain_id = $2 AND tx_hash = $3 AND log_index = $4 AND state = $5",
    )
    .bind(now)
    .bind(signed(t.chain_id, "chain_id")?)
    .bind(t.tx_hash.to_string())
    .bind(signed(t.log_index, "log_index")?)
    .bind(t.state.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let (Some(id), Some(value), 1) = (&t.session_id, t.value(), moved) else { return Ok(None) };
    if t.state == TransferState::Dropped {
        return Ok(None);
    }
    let Some(before) = lock_session(conn, dialect, id).await? else { return Ok(None) };
    let was_confirmed = t.state == TransferState::Confirmed;
    let step = apply(&before.state, Event::Dropped { value, was_confirmed }, now).map_err(EvmStoreError::from)?;
    if step.effects.contains(&Effect::Alert) {
        tracing::error!(session = %id, tx = %t.tx_hash, "a reorg deeper than the confirmations dropped a confirmed payment of a paid session");
    }
    let after = save_session(conn, &before, &step.session, now).await?;
    if step.effects.contains(&Effect::Notify) {
        enqueue(conn, &after, now).await?;
    }
    Ok(Some(after))
}

/// Credits a paid session's points to its user, under the id
/// `evmpay/{session}` (a system id: no client can choose it).
async fn credit(conn: &mut AnyConnection, dialect: Dialect, s: &SessionRow) -> Result<(), StoreError> {
    let (Some(user_id), Some(points)) = (s.user_id, s.points) else { return Ok(()) };
    if points == 0 {
        return Ok(());
    }
    let grant = Command::Grant(Grant {
        id: TransferId(format!("evmpay/{}", s.id)),
        user_id,
        asset: Asset::POINTS,
        amount: Amount::new(points),
        reason: Reason::Purchase,
        links: Links {
            user_id: Some(user_id),
            request_id: Some(s.id.clone()),
            memo: Some(format!("stablecoin payment {}: {} units of {}", s.id, s.state.amount_due, s.token_symbol)),
            ..Links::default()
        },
    });
    let results = execute_in_transaction(conn, dialect, &[grant]).await?;
    match results.into_iter().next() {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(StoreError::Corrupt(format!("the ledger refused the credit of payment {}: {}", s.id, e.error))),
        None => Err(StoreError::Corrupt("no ledger result".into())),
    }
}
