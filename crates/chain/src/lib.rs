//! Tollway's chain adapters. For now: a local CKB development chain
//! ([`ckb::Devnet`]) started from the real `ckb` node binary, and a small
//! JSON-RPC client ([`ckb::Rpc`]) for it.

pub mod ckb;
