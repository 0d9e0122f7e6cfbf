//! CKB: the devnet launcher, its funded test accounts and the JSON-RPC
//! client.

mod accounts;
mod devnet;
mod error;
mod rpc;

pub use accounts::{TestAccount, SIGHASH_TYPE_HASH, TEST_ACCOUNT_CKB};
pub use devnet::{Devnet, DevnetConfig, GENESIS_MESSAGE};
pub use error::ChainError;
pub use rpc::Rpc;
