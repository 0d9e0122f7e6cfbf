//! The hub's rows as the store reads them.

use super::{json, out_point, parse_party, unsigned};
use crate::StoreError;
use sqlx::any::AnyRow;
use sqlx::Row;
use tollway_core::ckb::hub::{HubPaymentState, PayoutState, ShareRole};
use tollway_core::ckb::SighashArgs;

/// A hub payment (table `hub_payments`, the seed's `payment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubPaymentRow {
    /// Assigned by the database.
    pub id: i64,
    /// Where it is in its life.
    pub state: HubPaymentState,
    /// Who pays (lock args of a plain key).
    pub sender: SighashArgs,
    /// Who is paid.
    pub receiver: SighashArgs,
    /// What the hub's cell gains, shannons.
    pub amount: u64,
    /// The network fee the sender pays, shannons.
    pub fee: u64,
    /// The sender's change, output 0 of the transaction, shannons.
    pub change: u64,
    /// The transaction's hash (the same prepared and signed).
    pub tx_hash: [u8; 32],
    /// The transaction as prepared (molecule bytes).
    pub prepared_tx: Vec<u8>,
    /// The transaction signed by both, from `sent` on.
    pub signed_tx: Option<Vec<u8>>,
    /// The hub's pool cell it spends (out point), leased while it is open.
    pub pool_cell: String,
    /// The sender's cells it spends, in input order (out points).
    pub sender_cells: Vec<String>,
    /// Until when (Unix ms) it may be signed.
    pub expires_at: i64,
    /// The user whose points it buys, if any.
    pub user_id: Option<i64>,
    /// The points granted to that user when it completes.
    pub points: Option<u128>,
    /// Who prepared it (`key:{id}` or `ip:{address}`).
    pub creator: String,
    /// The block that committed it.
    pub block_number: Option<u64>,
    /// The hub's cell it made (output 1), put in the pool when it completed.
    pub new_pool_cell: Option<String>,
    /// Why it failed.
    pub failure: Option<String>,
    /// When it was prepared (Unix ms).
    pub created_at: i64,
    /// When it last changed (Unix ms).
    pub updated_at: i64,
}

impl HubPaymentRow {
    /// The sender's change cell it makes (output 0: `tx_hash:0`).
    pub fn change_out_point(&self) -> String {
        out_point(&self.tx_hash, 0)
    }
}

/// One party's share of a complete payment (table `hub_accounts`, the
/// seed's `account`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRow {
    /// Assigned by the database.
    pub id: i64,
    /// The payment it is a share of.
    pub payment_id: i64,
    /// Its position among the payment's shares (the `n` of its ledger
    /// transfer `hubpay:{payment}:{n}`).
    pub index: u32,
    /// Who receives it (column `receiver`, the seed's name).
    pub party: SighashArgs,
    /// Why.
    pub role: ShareRole,
    /// Shannons.
    pub amount: u64,
    /// Paid on chain.
    pub is_payed: bool,
    /// The payout that pays (or paid) it; `None` while unpaid.
    pub payout_id: Option<i64>,
    /// The payout's transaction hash, once paid.
    pub tx_hash: Option<[u8; 32]>,
    /// When it was written (Unix ms).
    pub created_at: i64,
    /// When it last changed (Unix ms).
    pub updated_at: i64,
}

/// Where a pool cell is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellState {
    /// Live and not promised to anything.
    Free,
    /// Spent by an open payment, payout or rebalance (named by its lease).
    Leased,
    /// Spent by a committed transaction.
    Spent,
}

impl CellState {
    /// Stable name (stored).
    pub fn name(self) -> &'static str {
        match self {
            CellState::Free => "free",
            CellState::Leased => "leased",
            CellState::Spent => "spent",
        }
    }

    /// Reads a stored name.
    pub fn parse(name: &str) -> Option<CellState> {
        [CellState::Free, CellState::Leased, CellState::Spent].into_iter().find(|s| s.name() == name)
    }
}

/// One of the hub's cells (table `hub_cells`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubCell {
    /// `0x<tx hash>:<index>`.
    pub out_point: String,
    /// Shannons.
    pub capacity: u64,
    /// Where it is.
    pub state: CellState,
    /// Who holds or spent it: `payment:{id}`, `payout:{id}` or
    /// `rebalance:{id}`; `None` while free.
    pub lease: Option<String>,
    /// When it was added (Unix ms).
    pub created_at: i64,
    /// When it last changed (Unix ms).
    pub updated_at: i64,
}

/// What a transaction of the hub's own cells does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutKind {
    /// Pays parties their unpaid balances.
    Payout,
    /// Splits or merges pool cells.
    Rebalance,
}

impl PayoutKind {
    /// Stable name (stored; also the lease prefix of the cells it spends).
    pub fn name(self) -> &'static str {
        match self {
            PayoutKind::Payout => "payout",
            PayoutKind::Rebalance => "rebalance",
        }
    }

    /// Reads a stored name.
    pub fn parse(name: &str) -> Option<PayoutKind> {
        [PayoutKind::Payout, PayoutKind::Rebalance].into_iter().find(|k| k.name() == name)
    }
}

/// A payout or rebalance (table `hub_payouts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutRow {
    /// Assigned by the database.
    pub id: i64,
    /// Payout or rebalance.
    pub kind: PayoutKind,
    /// `sent` (stored, sent or about to be), `paid` (committed) or `failed`.
    pub state: PayoutState,
    /// The transaction's hash.
    pub tx_hash: [u8; 32],
    /// The signed transaction (molecule bytes): re-sent as it is after a
    /// crash.
    pub tx: Vec<u8>,
    /// What it pays the parties, shannons (0 for a rebalance).
    pub total: u64,
    /// Its network fee, shannons.
    pub fee: u64,
    /// The hub cells it spends (out points).
    pub cells: Vec<String>,
    /// The parties it pays and how much, in output order.
    pub outputs: Vec<(SighashArgs, u64)>,
    /// The hub cells it makes (out point, capacity): the payout's change,
    /// a rebalance's outputs; free in the pool once it commits.
    pub new_cells: Vec<(String, u64)>,
    /// The block that committed it.
    pub block_number: Option<u64>,
    /// When it was stored (Unix ms).
    pub created_at: i64,
    /// When it last changed (Unix ms).
    pub updated_at: i64,
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("hub {what}: {detail}"))
}

fn hash(bytes: Vec<u8>, col: &str) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| corrupt(col, format!("{} bytes, not 32", bytes.len())))
}

fn opt_unsigned(row: &AnyRow, col: &str) -> Result<Option<u64>, StoreError> {
    let v: Option<i64> = row.try_get(col)?;
    v.map(|v| u64::try_from(v).map_err(|_| corrupt(col, v))).transpose()
}

/// Decodes a `hub_payments` row.
pub(super) fn payment_from(row: &AnyRow) -> Result<HubPaymentRow, StoreError> {
    let state: String = row.try_get("state")?;
    let points: Option<String> = row.try_get("points")?;
    Ok(HubPaymentRow {
        id: row.try_get("id")?,
        state: HubPaymentState::parse(&state).ok_or_else(|| corrupt("payment state", &state))?,
        sender: parse_party(&row.try_get::<String, _>("sender")?)?,
        receiver: parse_party(&row.try_get::<String, _>("receiver")?)?,
        amount: unsigned(row, "amount")?,
        fee: unsigned(row, "fee")?,
        change: unsigned(row, "change")?,
        tx_hash: hash(row.try_get("tx_hash")?, "tx_hash")?,
        prepared_tx: row.try_get("prepared_tx")?,
        signed_tx: row.try_get("signed_tx")?,
        pool_cell: row.try_get("pool_cell")?,
        sender_cells: json(row, "sender_cells")?,
        expires_at: row.try_get("expires_at")?,
        user_id: row.try_get("user_id")?,
        points: points.map(|p| p.parse().map_err(|e| corrupt("points", e))).transpose()?,
        creator: row.try_get("creator")?,
        block_number: opt_unsigned(row, "block_number")?,
        new_pool_cell: row.try_get("new_pool_cell")?,
        failure: row.try_get("failure")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Decodes a `hub_accounts` row.
pub(super) fn share_from(row: &AnyRow) -> Result<ShareRow, StoreError> {
    let role: String = row.try_get("role")?;
    let tx_hash: Option<Vec<u8>> = row.try_get("tx_hash")?;
    Ok(ShareRow {
        id: row.try_get("id")?,
        payment_id: row.try_get("payment_id")?,
        index: u32::try_from(unsigned(row, "share_index")?).map_err(|e| corrupt("share_index", e))?,
        party: parse_party(&row.try_get::<String, _>("receiver")?)?,
        role: ShareRole::parse(&role).ok_or_else(|| corrupt("share role", &role))?,
        amount: unsigned(row, "amount")?,
        is_payed: row.try_get::<i64, _>("is_payed")? != 0,
        payout_id: row.try_get("payout_id")?,
        tx_hash: tx_hash.map(|h| hash(h, "share tx_hash")).transpose()?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Decodes a `hub_cells` row.
pub(super) fn cell_from(row: &AnyRow) -> Result<HubCell, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(HubCell {
        out_point: row.try_get("out_point")?,
        capacity: unsigned(row, "capacity")?,
        state: CellState::parse(&state).ok_or_else(|| corrupt("cell state", &state))?,
        lease: row.try_get("lease")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Decodes a `hub_payouts` row.
pub(super) fn payout_from(row: &AnyRow) -> Result<PayoutRow, StoreError> {
    let kind: String = row.try_get("kind")?;
    let state: String = row.try_get("state")?;
    let outputs: Vec<(String, u64)> = json(row, "outputs")?;
    Ok(PayoutRow {
        id: row.try_get("id")?,
        kind: PayoutKind::parse(&kind).ok_or_else(|| corrupt("payout kind", &kind))?,
        state: PayoutState::parse(&state).ok_or_else(|| corrupt("payout state", &state))?,
        tx_hash: hash(row.try_get("tx_hash")?, "payout tx_hash")?,
        tx: row.try_get("tx")?,
        total: unsigned(row, "total")?,
        fee: unsigned(row, "fee")?,
        cells: json(row, "cells")?,
        outputs: outputs.into_iter().map(|(party, amount)| Ok((parse_party(&party)?, amount))).collect::<Result<_, StoreError>>()?,
        new_cells: json(row, "new_cells")?,
        block_number: opt_unsigned(row, "block_number")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
