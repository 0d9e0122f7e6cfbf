//! What the client returns (blocks, ERC-20 `Transfer` logs, receipts) in
//! core's types, and the decoding of a raw log into a [`TransferLog`].

use alloy::primitives::{B256, U256};
use alloy::rpc::types::Log;
use std::sync::LazyLock;
use tollway_core::evm::{Address, Hash32, TRANSFER_TOPIC};

/// A block: its number, hash and timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    /// The block number.
    pub number: u64,
    /// The block hash.
    pub hash: Hash32,
    /// The block's timestamp (seconds since the Unix epoch).
    pub timestamp_secs: u64,
}

pub use tollway_core::evm::TransferLog;

/// The receipt of a mined transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxReceipt {
    /// The transaction hash.
    pub hash: Hash32,
    /// False when the transaction reverted (its logs are then empty).
    pub succeeded: bool,
    /// The block it is in.
    pub block_number: u64,
    /// That block's hash.
    pub block_hash: Hash32,
    /// Every well-formed ERC-20 `Transfer` log of it, whichever contract emitted it.
    pub transfers: Vec<TransferLog>,
}

/// Topic 0 of a `Transfer` log, from core's constant.
pub(crate) static TRANSFER: LazyLock<B256> =
    LazyLock::new(|| B256::from(TRANSFER_TOPIC.parse::<Hash32>().expect("TRANSFER_TOPIC is a 32-byte hash").0));

pub(crate) fn to_core_address(address: alloy::primitives::Address) -> Address {
    Address(address.into_array())
}

pub(crate) fn to_alloy_address(address: &Address) -> alloy::primitives::Address {
    alloy::primitives::Address::from(address.0)
}

pub(crate) fn to_hash(hash: B256) -> Hash32 {
    Hash32(hash.0)
}

/// Where a log is when the log itself does not say (logs inside a receipt
/// may leave it to the receipt).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogPlace {
    pub tx_hash: B256,
    pub block_number: u64,
    pub block_hash: B256,
}

/// True when the log's topic 0 is the `Transfer` event's (well formed or not).
pub(crate) fn is_transfer(log: &Log) -> bool {
    log.topics().first() == Some(&*TRANSFER)
}

/// The address in an indexed `address` topic: 12 zero bytes, then 20.
fn topic_address(topic: &B256) -> Option<Address> {
    let (pad, rest) = topic.0.split_at(12);
    if pad.iter().any(|b| *b != 0) {
        return None;
    }
    let mut out = [0u8; 20];
    out.copy_from_slice(rest);
    Some(Address(out))
}

/// Decodes an ERC-20 `Transfer` log. Refused (with the reason) when it is
/// not one: another topic 0, not exactly 3 topics (ERC-721's `Transfer` has
/// 4), data not exactly 32 bytes, an address topic with non-zero padding,
/// or no transaction hash, block or log index (a pending log).
pub(crate) fn decode_transfer(log: &Log, place: Option<LogPlace>) -> Result<TransferLog, String> {
    let topics = log.topics();
    if topics.first() != Some(&*TRANSFER) {
        return Err("topic 0 is not Transfer(address,address,uint256)".into());
    }
    if topics.len() != 3 {
        return Err(format!("a Transfer log with {} topics (an ERC-20 one has 3)", topics.len()));
    }
    let data = &log.data().data;
    if data.len() != 32 {
        return Err(format!("a Transfer log with {} bytes of data (an ERC-20 one has 32)", data.len()));
    }
    let from = topic_address(&topics[1]).ok_or("topic 1 is not an address")?;
    let to = topic_address(&topics[2]).ok_or("topic 2 is not an address")?;
    let value = U256::from_be_slice(data);
    let tx_hash = log.transaction_hash.or(place.map(|p| p.tx_hash)).ok_or("no transaction hash")?;
    let block_number = log.block_number.or(place.map(|p| p.block_number)).ok_or("no block number")?;
    let block_hash = log.block_hash.or(place.map(|p| p.block_hash)).ok_or("no block hash")?;
    let log_index = log.log_index.ok_or("no log index")?;
    Ok(TransferLog {
        token: to_core_address(log.address()),
        from,
        to,
        value: u128::try_from(value).ok(),
        value_text: value.to_string(),
        tx_hash: to_hash(tx_hash),
        log_index,
        block_number,
        block_hash: to_hash(block_hash),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Bytes, LogData};

    fn log(topics: Vec<B256>, data: Vec<u8>) -> Log {
        let token = alloy::primitives::Address::repeat_byte(0x11);
        Log {
            inner: alloy::primitives::Log { address: token, data: LogData::new_unchecked(topics, Bytes::from(data)) },
            block_hash: Some(B256::repeat_byte(0xbb)),
            block_number: Some(7),
            block_timestamp: None,
            transaction_hash: Some(B256::repeat_byte(0xcc)),
            transaction_index: Some(0),
            log_index: Some(3),
            removed: false,
        }
    }

    fn address_topic(byte: u8) -> B256 {
        let mut t = [0u8; 32];
        t[12..].fill(byte);
        B256::from(t)
    }

    #[test]
    fn the_topic_is_the_event_signature_hash() {
        assert_eq!(*TRANSFER, alloy::primitives::keccak256("Transfer(address,address,uint256)"));
    }

    #[test]
    fn a_transfer_decodes_exactly_and_a_huge_value_keeps_its_text() {
        let value = U256::from(12_345_678u64) * U256::from(10u64).pow(U256::from(12u64));
        let ok =
            decode_transfer(&log(vec![*TRANSFER, address_topic(1), address_topic(2)], value.to_be_bytes_vec()), None).expect("decodes");
        assert_eq!(ok.token, Address([0x11; 20]));
        assert_eq!((ok.from, ok.to), (Address([1; 20]), Address([2; 20])));
        assert_eq!(ok.value, Some(12_345_678_000_000_000_000));
        assert_eq!(ok.value_text, "12345678000000000000");
        assert_eq!((ok.block_number, ok.log_index), (7, 3));
        assert_eq!(ok.tx_hash, Hash32([0xcc; 32]));
        let huge =
            decode_transfer(&log(vec![*TRANSFER, address_topic(1), address_topic(2)], U256::MAX.to_be_bytes_vec()), None).expect("decodes");
        assert_eq!(huge.value, None);
        assert_eq!(huge.value_text, U256::MAX.to_string());
    }

    #[test]
    fn malformed_logs_are_refused_not_panicked_on() {
        let word = vec![0u8; 32];
        let cases = [
            log(vec![*TRANSFER, address_topic(1)], word.clone()),
            log(vec![*TRANSFER, address_topic(1), address_topic(2), address_topic(3)], vec![]),
            log(vec![*TRANSFER, address_topic(1), address_topic(2)], vec![0u8; 31]),
            log(vec![*TRANSFER, address_topic(1), address_topic(2)], vec![0u8; 64]),
            log(vec![*TRANSFER, B256::repeat_byte(0xff), address_topic(2)], word.clone()),
            log(vec![B256::repeat_byte(1), address_topic(1), address_topic(2)], word.clone()),
            log(vec![], word.clone()),
        ];
        for case in &cases {
            assert!(decode_transfer(case, None).is_err(), "{case:?}");
        }
        let mut pending = log(vec![*TRANSFER, address_topic(1), address_topic(2)], word);
        pending.block_hash = None;
        assert_eq!(decode_transfer(&pending, None).err().as_deref(), Some("no block hash"));
        let place = LogPlace { tx_hash: B256::ZERO, block_number: 9, block_hash: B256::repeat_byte(9) };
        assert_eq!(decode_transfer(&pending, Some(place)).expect("placed").block_hash, Hash32([9; 32]));
    }
}
