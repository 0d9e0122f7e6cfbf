//! CKB: the devnet launcher, its funded test accounts, the JSON-RPC
//! client, the system lock scripts, signing, and the Spilman channel's
//! transactions.

mod accounts;
mod devnet;
mod error;
pub mod hub;
mod node;
mod rpc;
pub mod scripts;
pub mod signing;
pub mod spilman;

pub use accounts::{TestAccount, SIGHASH_TYPE_HASH, TEST_ACCOUNT_CKB};
pub use devnet::{Devnet, DevnetConfig, GENESIS_MESSAGE};
pub use error::ChainError;
pub use node::{Rejection, TxStatus};
pub use rpc::Rpc;
pub use scripts::{LockScripts, ScriptRef};
