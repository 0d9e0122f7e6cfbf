//! Tollway's chain adapters: a local CKB development chain
//! ([`ckb::Devnet`]) started from the real `ckb` node binary, and a small
//! JSON-RPC client ([`ckb::Rpc`]) for it; and EVM networks through alloy
//! ([`evm::EvmClient`], several RPC URLs with failover, and
//! [`evm::EvmDevnet`], a local anvil with the stablecoin test tokens).

pub mod ckb;
pub mod evm;
