//! An ERC-20 `Transfer` log as the chain adapter reads it and the store
//! records it.

use super::{Address, Hash32};

/// One ERC-20 `Transfer(address indexed from, address indexed to, uint256 value)`
/// log of a mined transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferLog {
    /// The token contract that emitted the log.
    pub token: Address,
    /// The sender (topic 1).
    pub from: Address,
    /// The recipient (topic 2).
    pub to: Address,
    /// The amount in the token's smallest units; `None` when the `uint256`
    /// is above `u128::MAX` (then only [`value_text`](Self::value_text) has it).
    pub value: Option<u128>,
    /// The amount in smallest units, exact, as a decimal string.
    pub value_text: String,
    /// The transaction that emitted it.
    pub tx_hash: Hash32,
    /// The log's index in its block.
    pub log_index: u64,
    /// The block it is in.
    pub block_number: u64,
    /// That block's hash.
    pub block_hash: Hash32,
}
