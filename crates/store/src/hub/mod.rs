//! The CKB hub's books (issue 16, docs/hub.md "Books (store)"): the pool
//! of the hub's cells, payments with the cells they hold, one share row
//! per party of each committed payment, and the hub's own transactions
//! (payouts and pool rebalances), stored before they are sent.
//!
//! Every move of a payment goes through
//! [`tollway_core::ckb::hub::apply_payment`] and is a compare-and-set on
//! its stored state, in one transaction with all it implies: cells leased,
//! released or spent, shares written, ledger transfers made. A lost race
//! is a typed error ([`HubStoreError`]) or `Ok(false)`, and nothing of it
//! is kept.

mod cells;
mod complete;
mod ledger;
mod payments;
mod payouts;
mod prepare;
mod rows;

pub use cells::{CellOrder, PoolStats};
pub use complete::CompletedPayment;
pub use ledger::{inflow_account, outflow_account, party_account};
pub use payments::PaymentsOf;
pub use payouts::{NewPayout, NewRebalance, PartyBalance};
pub use prepare::NewHubPayment;
pub use rows::{CellState, HubCell, HubPaymentRow, PayoutKind, PayoutRow, ShareRow};

use crate::{Dialect, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeSet;
use tollway_core::ckb::SighashArgs;

/// Why the store refused a hub operation; nothing was written. `code()` is
/// the stable name the HTTP API answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubStoreError {
    /// The sender has as many open (prepared or sent) payments as it may.
    #[error("too many open payments from this sender; sign or let one expire first")]
    TooManyOpen,
    /// The pool cell is leased (to an open payment, a payout or a
    /// rebalance) or spent: another request took it first. Try another.
    #[error("the pool cell is taken; try another")]
    PoolCellTaken,
    /// One of the sender's cells is spent by another open payment.
    #[error("one of the sender's cells is spent by another open payment")]
    SenderCellTaken,
    /// The cell is not in the hub's pool.
    #[error("no such cell in the hub's pool")]
    UnknownCell,
    /// No payment with this id.
    #[error("no payment with this id")]
    UnknownPayment,
    /// No payout (or rebalance) with this id.
    #[error("no payout with this id")]
    UnknownPayout,
    /// The shares of a completion do not add up to the payment's amount
    /// (or one is zero).
    #[error("the shares add up to {shares} shannons, the payment is {amount}")]
    SharesMismatch {
        /// The payment's amount.
        amount: u64,
        /// What the shares add up to (saturating).
        shares: u64,
    },
    /// A party's unpaid shares no longer add up to what the payout pays
    /// it: a concurrent payout took them, or the balance changed since it
    /// was read. Read the balances again.
    #[error("the unpaid balance of {0} no longer matches the payout")]
    PayoutConflict(SighashArgs),
    /// A malformed or inconsistent request (an out point that is not
    /// `0x<tx hash>:<index>`, a cell named twice, a payout to nobody).
    #[error("invalid hub request: {0}")]
    Invalid(String),
}

impl HubStoreError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            HubStoreError::TooManyOpen => "too_many_open_payments",
            HubStoreError::PoolCellTaken => "pool_cell_taken",
            HubStoreError::SenderCellTaken => "sender_cell_taken",
            HubStoreError::UnknownCell => "unknown_cell",
            HubStoreError::UnknownPayment => "unknown_payment",
            HubStoreError::UnknownPayout => "unknown_payout",
            HubStoreError::SharesMismatch { .. } => "shares_mismatch",
            HubStoreError::PayoutConflict(_) => "payout_conflict",
            HubStoreError::Invalid(_) => "invalid_request",
        }
    }
}

/// A refusal as a [`StoreError`].
fn refused<T>(e: HubStoreError) -> Result<T, StoreError> {
    Err(StoreError::Hub(e))
}

/// `v` for a BIGINT column (shannons fit: CKB's supply is below 2^63).
fn signed(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange(what.into()))
}

/// A BIGINT column holding shannons, a block number or a count.
fn unsigned(row: &AnyRow, col: &str) -> Result<u64, StoreError> {
    let v: i64 = row.try_get(col)?;
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("hub {col} {v} is negative")))
}

/// A stored party: `0x` + 40 lowercase hex digits.
fn parse_party(text: &str) -> Result<SighashArgs, StoreError> {
    let mut args = [0u8; 20];
    let ok = text.strip_prefix("0x").is_some_and(|digits| hex::decode_to_slice(digits, &mut args).is_ok());
    let party = SighashArgs(args);
    if ok && party.to_hex() == text {
        Ok(party)
    } else {
        Err(StoreError::Corrupt(format!("hub party {text:?}")))
    }
}

/// Whether `text` is an out point `0x<64 lowercase hex digits>:<index>`.
fn is_out_point(text: &str) -> bool {
    let Some((hash, index)) = text.strip_prefix("0x").and_then(|rest| rest.split_once(':')) else {
        return false;
    };
    hash.len() == 64
        && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && index.bytes().all(|b| b.is_ascii_digit())
        && index.parse::<u32>().is_ok()
}

/// Checks that `cells` are out points, each named once, at least one.
fn check_cells<'a>(what: &str, cells: impl IntoIterator<Item = &'a str>) -> Result<(), StoreError> {
    let mut seen = BTreeSet::new();
    for cell in cells {
        if !is_out_point(cell) {
            return refused(HubStoreError::Invalid(format!("{what} {cell:?} is not 0x<tx hash>:<index>")));
        }
        if !seen.insert(cell) {
            return refused(HubStoreError::Invalid(format!("{what} {cell} is named twice")));
        }
    }
    if seen.is_empty() {
        return refused(HubStoreError::Invalid(format!("no {what}")));
    }
    Ok(())
}

/// The out point of output `index` of transaction `tx_hash`.
fn out_point(tx_hash: &[u8; 32], index: u32) -> String {
    format!("0x{}:{index}", hex::encode(tx_hash))
}

/// ` FOR UPDATE` on PostgreSQL (SQLite's write transaction already holds
/// the database).
fn for_update(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    }
}

/// A JSON column.
fn json<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T, StoreError> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("hub {col}: {e}")))
}

/// A value for a JSON column.
fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::OutOfRange(format!("hub json: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_points_and_parties() {
        let hash = "ab".repeat(32);
        assert!(is_out_point(&format!("0x{hash}:0")));
        assert!(is_out_point(&format!("0x{hash}:4294967295")));
        assert!(!is_out_point(&format!("0x{hash}:4294967296")));
        assert!(!is_out_point(&format!("0x{hash}:+1")));
        assert!(!is_out_point(&format!("0x{}:0", hash.to_uppercase())), "stored lowercase, so one cell has one text");
        assert!(!is_out_point(&format!("0x{}:0", &hash[2..])));
        assert_eq!(out_point(&[0xab; 32], 1), format!("0x{hash}:1"));
        let party = SighashArgs([0xcd; 20]);
        assert_eq!(parse_party(&party.to_hex()).ok(), Some(party));
        assert!(parse_party(&party.to_hex().to_uppercase()).is_err());
        assert!(parse_party("0xcd").is_err());
        assert!(check_cells("cell", ["0x00:0"]).is_err());
        assert!(check_cells("cell", []).is_err());
        let cell = format!("0x{hash}:0");
        assert!(check_cells("cell", [cell.as_str(), cell.as_str()]).is_err());
    }
}
