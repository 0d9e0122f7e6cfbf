//! Tollway's pure domain: exact money, the double-entry ledger engine and
//! token pricing, per-minute rate buckets, payment-channel receipts, and
//! the CKB numbers channels depend on (timelocks, capacity, fees).
//! Nothing here does I/O: callers load state, call a pure function, and
//! persist the update it returns (the LDK pattern).

pub mod channel;
pub mod ckb;
pub mod evm;
pub mod ledger;
pub mod login;
pub mod money;
pub mod pricing;
pub mod rate;
pub mod sse;
pub mod usage;
pub mod usage_report;

pub use money::{Amount, Asset, MoneyError};
