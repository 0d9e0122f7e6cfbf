//! A double-entry ledger modelled on TigerBeetle: accounts keep pending and
//! posted debits and credits; transfers are immutable and keyed by a
//! client-supplied id (the idempotency key); holds are two-phase.
//!
//! The engine is pure. A store loads the accounts and transfers a batch
//! touches into a [`Batch`], applies requests with [`Batch::apply_chain`],
//! and persists what [`Batch::into_changes`] returns in one database
//! transaction before acknowledging anything.

mod account;
mod batch;
mod command;
mod error;
mod ids;
mod invariants;
mod replay;
mod transfer;

pub use account::{Account, AccountFlags, AccountId};
pub use batch::{Applied, Batch, ChainError, Changes};
pub use command::{Charge, Command, Grant};
pub use error::TransferError;
pub use ids::{is_client_key, CLIENT_KEY_MAX, CLIENT_KEY_RULE};
pub use invariants::{check_invariants, InvariantViolation};
pub use replay::{check_accounts, Replay};
pub use transfer::{
    Links, Operation, PendingStatus, Reason, Timestamp, Transfer, TransferId, TransferKind, TransferRequest,
};
