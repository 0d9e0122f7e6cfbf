//! EVM networks (issue 15, stablecoin checkout on BNB Smart Chain; see
//! docs/evm.md and docs/stablecoin.md), through alloy: [`EvmClient`], one
//! network behind several RPC URLs with failover, reading heads, blocks,
//! ERC-20 `Transfer` logs and receipts in core's types
//! ([`tollway_core::evm::Address`], [`tollway_core::evm::Hash32`]); and
//! [`EvmDevnet`], a local anvil with the three test tokens.

mod anvil;
mod client;
mod devnet;
mod endpoints;
mod error;
mod tokens;
mod types;

pub use anvil::{find_anvil, ANVIL_VERSION};
pub use client::{EvmClient, DEFAULT_MAX_LAG_BLOCKS, DEFAULT_REQUEST_TIMEOUT, DEFAULT_SURVEY_INTERVAL};
pub use devnet::{EvmDevnet, EvmDevnetConfig};
pub use endpoints::EndpointStatus;
pub use error::EvmError;
pub use tokens::{DevAccount, DevToken, DEV_TOKEN_DECIMALS, DEV_TOKEN_SUPPLY};
pub use types::{BlockRef, TransferLog, TxReceipt};
