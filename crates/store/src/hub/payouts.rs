//! The hub's own transactions (`hub_payouts`): payouts of the parties'
//! unpaid shares and rebalances (splits and merges) of the pool. Each is
//! stored with its signed transaction before it is sent, with the cells
//! it spends leased (and, for a payout, the share rows it pays attached),
//! so a crash after sending re-sends the same bytes; it then commits
//! (`paid`: the cells spent, its new cells free, a payout's rows paid and
//! its ledger transfers made) or fails (everything released), once.

use super::cells::{add_free, lease, release, spend};
use super::ledger::debit_payout;
use super::rows::{payout_from, PayoutKind, PayoutRow};
use super::{check_cells, for_update, parse_party, refused, signed, to_json, unsigned, HubStoreError};
use crate::transaction::{begin_write, finish, retrying};
use crate::{Dialect, Store, StoreError};
use sqlx::{AnyConnection, Row};
use std::collections::BTreeSet;
use tollway_core::ckb::hub::PayoutState;
use tollway_core::ckb::SighashArgs;

/// A payout to store before sending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayout {
    /// The signed transaction (molecule bytes).
    pub tx: Vec<u8>,
    /// Its hash.
    pub tx_hash: [u8; 32],
    /// Its network fee, shannons.
    pub fee: u64,
    /// Each party and its whole unpaid balance as read by
    /// [`Store::unpaid_hub_balances`], in output order.
    pub outputs: Vec<(SighashArgs, u64)>,
    /// The hub cells it spends (out points).
    pub cells: Vec<String>,
    /// The hub's change cell it makes (out point, capacity).
    pub change: (String, u64),
    /// Now (Unix ms).
    pub now: i64,
}

/// A split or merge of pool cells to store before sending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRebalance {
    /// The signed transaction (molecule bytes).
    pub tx: Vec<u8>,
    /// Its hash.
    pub tx_hash: [u8; 32],
    /// Its network fee, shannons.
    pub fee: u64,
    /// The hub cells it spends (out points).
    pub cells: Vec<String>,
    /// The cells it makes (out point, capacity).
    pub outputs: Vec<(String, u64)>,
    /// Now (Unix ms).
    pub now: i64,
}

/// What the hub owes one party, by the state of its share rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartyBalance {
    /// Shares not in any payout, shannons.
    pub unpaid: u64,
    /// Shares in a payout not committed yet.
    pub in_payout: u64,
    /// Shares paid on chain.
    pub paid: u64,
}

/// What `store_in` writes.
struct Stored<'a> {
    kind: PayoutKind,
    tx: &'a [u8],
    tx_hash: [u8; 32],
    fee: u64,
    cells: &'a [String],
    outputs: &'a [(SighashArgs, u64)],
    new_cells: &'a [(String, u64)],
    now: i64,
}

impl Store {
    /// Each party's unpaid balance: its shares in no payout, summed, by
    /// party.
    pub async fn unpaid_hub_balances(&self) -> Result<Vec<(SighashArgs, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT receiver, CAST(SUM(amount) AS BIGINT) AS unpaid FROM hub_accounts WHERE is_payed = 0 AND payout_id IS NULL \
             GROUP BY receiver ORDER BY receiver",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((parse_party(&r.try_get::<String, _>("receiver")?)?, unsigned(r, "unpaid")?))).collect()
    }

    /// What the hub owes `party`: unpaid, in a payout, paid.
    pub async fn hub_party_balance(&self, party: &SighashArgs) -> Result<PartyBalance, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN payout_id IS NULL THEN amount ELSE 0 END), 0) AS BIGINT) AS unpaid, \
             CAST(COALESCE(SUM(CASE WHEN payout_id IS NOT NULL AND is_payed = 0 THEN amount ELSE 0 END), 0) AS BIGINT) AS in_payout, \
             CAST(COALESCE(SUM(CASE WHEN is_payed = 1 THEN amount ELSE 0 END), 0) AS BIGINT) AS paid \
             FROM hub_accounts WHERE receiver = $1",
        )
        .bind(party.to_hex())
        .fetch_one(self.pool())
        .await?;
        Ok(PartyBalance { unpaid: unsigned(&row, "unpaid")?, in_payout: unsigned(&row, "in_payout")?, paid: unsigned(&row, "paid")? })
    }

    /// Stores a payout (`sent`) before it is sent, in one transaction:
    /// each party's unpaid share rows, oldest first, that add up exactly
    /// to its output are attached to it (`payout_conflict` when they do
    /// not: a concurrent payout took some, or the balance changed), and
    /// its cells are leased (`pool_cell_taken`, `unknown_cell`). Nothing
    /// is kept on a refusal. Returns its id.
    pub async fn store_hub_payout(&self, new: &NewPayout) -> Result<i64, StoreError> {
        let parties: BTreeSet<SighashArgs> = new.outputs.iter().map(|(p, _)| *p).collect();
        if new.outputs.is_empty() || parties.len() != new.outputs.len() || new.outputs.iter().any(|(_, a)| *a == 0) {
            return refused(HubStoreError::Invalid("a payout pays each of one or more parties once, each above zero".into()));
        }
        let stored = Stored {
            kind: PayoutKind::Payout,
            tx: &new.tx,
            tx_hash: new.tx_hash,
            fee: new.fee,
            cells: &new.cells,
            outputs: &new.outputs,
            new_cells: std::slice::from_ref(&new.change),
            now: new.now,
        };
        self.store_hub_transaction(&stored).await
    }

    /// Stores a rebalance (`sent`) before it is sent, leasing its cells
    /// (`pool_cell_taken`, `unknown_cell`; nothing kept on a refusal).
    /// Returns its id.
    pub async fn store_hub_rebalance(&self, new: &NewRebalance) -> Result<i64, StoreError> {
        let stored = Stored {
            kind: PayoutKind::Rebalance,
            tx: &new.tx,
            tx_hash: new.tx_hash,
            fee: new.fee,
            cells: &new.cells,
            outputs: &[],
            new_cells: &new.outputs,
            now: new.now,
        };
        self.store_hub_transaction(&stored).await
    }

    /// Payout `id` committed in `block_number`: in one transaction its
    /// share rows are paid (with its transaction hash), each party's
    /// amount moves `hub/party/{args}/CKB` → `hub/outflow/CKB`
    /// (`hubout:{id}:{args}`), its cells are spent and its change is added
    /// free. `Ok(false)`: it was not `sent` (a repeat), nothing written.
    pub async fn complete_hub_payout(&self, id: i64, block_number: u64, now: i64) -> Result<bool, StoreError> {
        self.end_hub_transaction(id, PayoutKind::Payout, PayoutState::Paid, Some(block_number), now).await
    }

    /// Payout `id` failed: its share rows are unpaid again (a later payout
    /// pays them) and its cells free. `Ok(false)`: it was not `sent`.
    pub async fn fail_hub_payout(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        self.end_hub_transaction(id, PayoutKind::Payout, PayoutState::Failed, None, now).await
    }

    /// Rebalance `id` committed: its cells spent, its outputs free in the
    /// pool. `Ok(false)`: it was not `sent`.
    pub async fn complete_hub_rebalance(&self, id: i64, block_number: u64, now: i64) -> Result<bool, StoreError> {
        self.end_hub_transaction(id, PayoutKind::Rebalance, PayoutState::Paid, Some(block_number), now).await
    }

    /// Rebalance `id` failed: its cells free again. `Ok(false)`: it was
    /// not `sent`.
    pub async fn fail_hub_rebalance(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        self.end_hub_transaction(id, PayoutKind::Rebalance, PayoutState::Failed, None, now).await
    }

    /// The payouts or rebalances still `sent`, oldest first: those the
    /// tracker watches (and re-sends) until they commit or fail.
    pub async fn sent_hub_transactions(&self, kind: PayoutKind) -> Result<Vec<PayoutRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM hub_payouts WHERE kind = $1 AND state = $2 ORDER BY id")
            .bind(kind.name())
            .bind(PayoutState::Sent.name())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(payout_from).collect()
    }

    /// The payout or rebalance `id`.
    pub async fn hub_payout(&self, id: i64) -> Result<Option<PayoutRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM hub_payouts WHERE id = $1").bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(payout_from).transpose()
    }

    /// Payouts and rebalances, newest first, up to `limit`, with an id
    /// below `before`.
    pub async fn hub_payouts(&self, limit: i64, before: Option<i64>) -> Result<Vec<PayoutRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM hub_payouts WHERE id < $1 ORDER BY id DESC LIMIT $2")
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(payout_from).collect()
    }

    async fn store_hub_transaction(&self, s: &Stored<'_>) -> Result<i64, StoreError> {
        check_cells("hub cell", s.cells.iter().map(String::as_str))?;
        check_cells("new cell", s.new_cells.iter().map(|(c, _)| c.as_str()))?;
        let total =
            s.outputs.iter().try_fold(0u64, |sum, (_, a)| sum.checked_add(*a)).ok_or_else(|| StoreError::OutOfRange("payout total".into()))?;
        for (v, what) in [(total, "payout total"), (s.fee, "fee")].into_iter().chain(s.new_cells.iter().map(|(_, c)| (*c, "capacity"))) {
            signed(v, what)?;
        }
        let dialect = self.dialect();
        retrying("hub payout store", || async {
            let mut conn = begin_write(self).await?;
            let result = store_in(&mut conn, dialect, s, total).await;
            finish(conn, result).await
        })
        .await
    }

    async fn end_hub_transaction(&self, id: i64, kind: PayoutKind, to: PayoutState, block: Option<u64>, now: i64) -> Result<bool, StoreError> {
        let block = block.map(|b| signed(b, "block")).transpose()?;
        let dialect = self.dialect();
        retrying("hub payout end", || async {
            let mut conn = begin_write(self).await?;
            let result = end_in(&mut conn, dialect, id, kind, to, block, now).await;
            finish(conn, result).await
        })
        .await
    }
}

async fn store_in(conn: &mut AnyConnection, dialect: Dialect, s: &Stored<'_>, total: u64) -> Result<i64, StoreError> {
    let outputs: Vec<(String, u64)> = s.outputs.iter().map(|(p, a)| (p.to_hex(), *a)).collect();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO hub_payouts (kind, state, tx_hash, tx, total, fee, cells, outputs, new_cells, block_number, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $10) RETURNING id",
    )
    .bind(s.kind.name())
    .bind(PayoutState::Sent.name())
    .bind(s.tx_hash.to_vec())
    .bind(s.tx)
    .bind(signed(total, "payout total")?)
    .bind(signed(s.fee, "fee")?)
    .bind(to_json(&s.cells)?)
    .bind(to_json(&outputs)?)
    .bind(to_json(&s.new_cells)?)
    .bind(s.now)
    .fetch_one(&mut *conn)
    .await?;
    // Parties and cells each in one order, so two payouts never wait on
    // each other's rows.
    let mut parties: Vec<&(SighashArgs, u64)> = s.outputs.iter().collect();
    parties.sort_unstable();
    for (party, amount) in parties {
        attach(conn, dialect, id, party, *amount, s.now).await?;
    }
    let mut cells: Vec<&String> = s.cells.iter().collect();
    cells.sort_unstable();
    let holder = format!("{}:{id}", s.kind.name());
    for cell in cells {
        lease(conn, cell, &holder, s.now).await?;
    }
    Ok(id)
}

/// Attaches to payout `id` the oldest unpaid share rows of `party` that add
/// up to exactly `amount`; `payout_conflict` when none do.
async fn attach(conn: &mut AnyConnection, dialect: Dialect, id: i64, party: &SighashArgs, amount: u64, now: i64) -> Result<(), StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT id, amount FROM hub_accounts WHERE receiver = $1 AND is_payed = 0 AND payout_id IS NULL ORDER BY id{}",
        for_update(dialect)
    ))
    .bind(party.to_hex())
    .fetch_all(&mut *conn)
    .await?;
    let (mut sum, mut count, mut last) = (0u64, 0u64, None);
    for row in &rows {
        if sum >= amount {
            break;
        }
        sum = sum.checked_add(unsigned(row, "amount")?).ok_or_else(|| StoreError::Corrupt("hub shares overflow".into()))?;
        count += 1;
        last = Some(row.try_get::<i64, _>("id")?);
    }
    let (true, Some(last)) = (sum == amount, last) else {
        return refused(HubStoreError::PayoutConflict(*party));
    };
    let attached = sqlx::query(
        "UPDATE hub_accounts SET payout_id = $1, updated_at = $2 WHERE receiver = $3 AND is_payed = 0 AND payout_id IS NULL AND id <= $4",
    )
    .bind(id)
    .bind(now)
    .bind(party.to_hex())
    .bind(last)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if attached != count {
        return refused(HubStoreError::PayoutConflict(*party));
    }
    Ok(())
}

async fn end_in(
    conn: &mut AnyConnection,
    dialect: Dialect,
    id: i64,
    kind: PayoutKind,
    to: PayoutState,
    block: Option<i64>,
    now: i64,
) -> Result<bool, StoreError> {
    let row = sqlx::query(&format!("SELECT * FROM hub_payouts WHERE id = $1 AND kind = $2{}", for_update(dialect)))
        .bind(id)
        .bind(kind.name())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(payout) = row.as_ref().map(payout_from).transpose()? else {
        return refused(HubStoreError::UnknownPayout);
    };
    let moved = sqlx::query("UPDATE hub_payouts SET state = $1, block_number = $2, updated_at = $3 WHERE id = $4 AND state = $5")
        .bind(to.name())
        .bind(block)
        .bind(now)
        .bind(id)
        .bind(PayoutState::Sent.name())
        .execute(&mut *conn)
        .await?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    let holder = format!("{}:{id}", kind.name());
    if to == PayoutState::Failed {
        sqlx::query("UPDATE hub_accounts SET payout_id = NULL, updated_at = $1 WHERE payout_id = $2 AND is_payed = 0")
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        release(conn, &holder, now).await?;
        return Ok(true);
    }
    if kind == PayoutKind::Payout {
        pay_rows(conn, dialect, &payout, now).await?;
    }
    let spent = spend(conn, &holder, now).await?;
    if spent != payout.cells.len() as u64 {
        return Err(StoreError::Corrupt(format!("hub {holder} held {spent} cells, not its {}", payout.cells.len())));
    }
    add_free(conn, &payout.new_cells, now).await?;
    Ok(true)
}

/// Marks a committed payout's rows paid and makes its ledger transfers;
/// the rows must add up to its outputs, party by party.
async fn pay_rows(conn: &mut AnyConnection, dialect: Dialect, payout: &PayoutRow, now: i64) -> Result<(), StoreError> {
    let rows = sqlx::query(
        "SELECT receiver, CAST(SUM(amount) AS BIGINT) AS paid FROM hub_accounts WHERE payout_id = $1 AND is_payed = 0 \
         GROUP BY receiver",
    )
    .bind(payout.id)
    .fetch_all(&mut *conn)
    .await?;
    let mut paid: Vec<(SighashArgs, u64)> =
        rows.iter().map(|r| Ok((parse_party(&r.try_get::<String, _>("receiver")?)?, unsigned(r, "paid")?))).collect::<Result<_, StoreError>>()?;
    paid.sort_unstable();
    let mut outputs = payout.outputs.clone();
    outputs.sort_unstable();
    if paid != outputs {
        return Err(StoreError::Corrupt(format!("hub payout {}: its rows do not add up to its outputs", payout.id)));
    }
    sqlx::query("UPDATE hub_accounts SET is_payed = 1, tx_hash = $1, updated_at = $2 WHERE payout_id = $3 AND is_payed = 0")
        .bind(payout.tx_hash.to_vec())
        .bind(now)
        .bind(payout.id)
        .execute(&mut *conn)
        .await?;
    debit_payout(conn, dialect, payout.id, &paid).await
}
