//! Session and transfer rows: decoding, locking and saving a session's
//! state.

use super::catalog::parse_address;
use crate::{Dialect, StoreError};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use tollway_core::evm::{Address, Exception, Hash32, Session, Status};

/// A payment session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// `pay_` + 32 hex digits, made by the server.
    pub id: String,
    /// The network's id.
    pub network_id: String,
    /// Its chain id.
    pub chain_id: u64,
    /// The token's symbol.
    pub token_symbol: String,
    /// The token's contract.
    pub token_address: Address,
    /// The token's decimals.
    pub decimals: u8,
    /// Where to pay.
    pub deposit_address: Address,
    /// The product bought, if any.
    pub product_id: Option<String>,
    /// What is bought, in words.
    pub description: String,
    /// The amount asked for before the unique offset, token units.
    pub requested_units: u128,
    /// Its state for the state machine (status, amounts, expiry; the
    /// unique amount due is `state.amount_due`).
    pub state: Session,
    /// Whether the unique amount is still held.
    pub reserved: bool,
    /// The user whose points it buys.
    pub user_id: Option<i64>,
    /// Points credited when paid.
    pub points: Option<u128>,
    /// The merchant's webhook.
    pub webhook_url: Option<String>,
    /// Free JSON from the creator.
    pub metadata: String,
    /// Confirmations a transfer needs.
    pub confirmations_required: u64,
    /// Who created it (`key:{id}` or `ip:{address}`).
    pub creator: String,
    /// When created (Unix ms).
    pub created_at: i64,
    /// When paid (Unix ms).
    pub paid_at: Option<i64>,
    /// When last changed (Unix ms).
    pub updated_at: i64,
}

/// Where a recorded transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferState {
    /// In a block, short of its confirmations.
    Seen,
    /// Confirmed.
    Confirmed,
    /// Its block left the chain in a reorg.
    Dropped,
}

impl TransferState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferState::Seen => "seen",
            TransferState::Confirmed => "confirmed",
            TransferState::Dropped => "dropped",
        }
    }

    fn parse(text: &str) -> Option<TransferState> {
        [TransferState::Seen, TransferState::Confirmed, TransferState::Dropped].into_iter().find(|s| s.as_str() == text)
    }
}

/// A Transfer to a deposit address, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRow {
    /// Chain id.
    pub chain_id: u64,
    /// Transaction hash.
    pub tx_hash: Hash32,
    /// Position of the log in its block.
    pub log_index: u64,
    /// The network's id.
    pub network_id: String,
    /// The token contract that logged it.
    pub token_address: Address,
    /// Sender.
    pub from: Address,
    /// Recipient (a deposit address).
    pub to: Address,
    /// Value in token units, exact decimal text (may exceed `u128`).
    pub value_units: String,
    /// Its block.
    pub block_number: u64,
    /// Its block's hash.
    pub block_hash: Hash32,
    /// Its block's time (Unix ms).
    pub block_time_ms: i64,
    /// Where it stands.
    pub state: TransferState,
    /// The session it pays; `None`: unmatched.
    pub session_id: Option<String>,
    /// `watcher`, `process` (a buyer's hash) or `admin`.
    pub found_by: String,
    /// When first recorded (Unix ms).
    pub found_at: i64,
}

impl TransferRow {
    /// Its value as a number, when it fits.
    pub fn value(&self) -> Option<u128> {
        self.value_units.parse().ok()
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn units(row: &AnyRow, col: &str) -> Result<u128, StoreError> {
    row.try_get::<String, _>(col)?.parse().map_err(|_| corrupt(&format!("payment_sessions.{col}")))
}

fn unsigned(row: &AnyRow, col: &str) -> Result<u64, StoreError> {
    u64::try_from(row.try_get::<i64, _>(col)?).map_err(|_| corrupt(col))
}

pub(crate) fn session_from(row: &AnyRow) -> Result<SessionRow, StoreError> {
    let status: String = row.try_get("status")?;
    let exception: Option<String> = row.try_get("exception")?;
    let points: Option<String> = row.try_get("points")?;
    Ok(SessionRow {
        id: row.try_get("id")?,
        network_id: row.try_get("network_id")?,
        chain_id: unsigned(row, "chain_id")?,
        token_symbol: row.try_get("token_symbol")?,
        token_address: parse_address(&row.try_get::<String, _>("token_address")?, "payment_sessions.token_address")?,
        decimals: u8::try_from(row.try_get::<i64, _>("decimals")?).map_err(|_| corrupt("decimals"))?,
        deposit_address: parse_address(&row.try_get::<String, _>("deposit_address")?, "payment_sessions.deposit_address")?,
        product_id: row.try_get("product_id")?,
        description: row.try_get("description")?,
        requested_units: units(row, "requested_units")?,
        state: Session {
            status: Status::parse(&status).ok_or_else(|| corrupt("payment_sessions.status"))?,
            exception: exception.map(|e| Exception::parse(&e).ok_or_else(|| corrupt("payment_sessions.exception"))).transpose()?,
            amount_due: units(row, "amount_units")?,
            seen: units(row, "seen_units")?,
            confirmed: units(row, "confirmed_units")?,
            late: row.try_get::<i64, _>("late")? != 0,
            expires_at_ms: row.try_get("expires_at")?,
        },
        reserved: row.try_get::<i64, _>("reserved")? != 0,
        user_id: row.try_get("user_id")?,
        points: points.map(|p| p.parse().map_err(|_| corrupt("payment_sessions.points"))).transpose()?,
        webhook_url: row.try_get("webhook_url")?,
        metadata: row.try_get("metadata")?,
        confirmations_required: unsigned(row, "confirmations_required")?,
        creator: row.try_get("creator")?,
        created_at: row.try_get("created_at")?,
        paid_at: row.try_get("paid_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(crate) fn transfer_from(row: &AnyRow) -> Result<TransferRow, StoreError> {
    let hash = |col: &str| -> Result<Hash32, StoreError> {
        row.try_get::<String, _>(col)?.parse().map_err(|_| corrupt(&format!("evm_transfers.{col}")))
    };
    let address = |col: &str| -> Result<Address, StoreError> { parse_address(&row.try_get::<String, _>(col)?, col) };
    Ok(TransferRow {
        chain_id: unsigned(row, "chain_id")?,
        tx_hash: hash("tx_hash")?,
        log_index: unsigned(row, "log_index")?,
        network_id: row.try_get("network_id")?,
        token_address: address("token_address")?,
        from: address("from_address")?,
        to: address("to_address")?,
        value_units: row.try_get("value_units")?,
        block_number: unsigned(row, "block_number")?,
        block_hash: hash("block_hash")?,
        block_time_ms: row.try_get("block_time")?,
        state: TransferState::parse(&row.try_get::<String, _>("state")?).ok_or_else(|| corrupt("evm_transfers.state"))?,
        session_id: row.try_get("session_id")?,
        found_by: row.try_get("found_by")?,
        found_at: row.try_get("found_at")?,
    })
}

/// Reads a session inside a write transaction, locking its row on
/// PostgreSQL (SQLite's write transaction already holds the lock).
pub(crate) async fn lock_session(conn: &mut AnyConnection, dialect: Dialect, id: &str) -> Result<Option<SessionRow>, StoreError> {
    let lock = if dialect == Dialect::Postgres { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!("SELECT * FROM payment_sessions WHERE id = $1{lock}")).bind(id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(session_from).transpose()
}

/// Writes a session's state back; `paid_at` is set when it first
/// becomes paid.
pub(crate) async fn save_session(conn: &mut AnyConnection, before: &SessionRow, after: &Session, now: i64) -> Result<SessionRow, StoreError> {
    let paid_at = before.paid_at.or((after.status == Status::Paid).then_some(now));
    sqlx::query(
        "UPDATE payment_sessions SET status = $1, exception = $2, seen_units = $3, confirmed_units = $4, late = $5, paid_at = $6, \
         updated_at = $7 WHERE id = $8",
    )
    .bind(after.status.as_str())
    .bind(after.exception.map(|e| e.as_str()))
    .bind(after.seen.to_string())
    .bind(after.confirmed.to_string())
    .bind(i64::from(after.late))
    .bind(paid_at)
    .bind(now)
    .bind(&before.id)
    .execute(&mut *conn)
    .await?;
    Ok(SessionRow { state: after.clone(), paid_at, updated_at: now, ..before.clone() })
}
