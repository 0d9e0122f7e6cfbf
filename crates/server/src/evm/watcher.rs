//! The watcher of one network. The source of truth is the cursor (last
//! block read and its hash): each step checks the cursor's block is still
//! on the chain (else walks back through the checkpoints to the fork and
//! rewinds), reads Transfer logs to the deposit address from the next
//! block with `eth_getLogs`, and saves them with the new cursor in one
//! transaction; then confirms transfers that have their confirmations
//! (and are at or below the `finalized` block where the chain has one),
//! re-checking each one's block hash first; then expires sessions.
//! Several server processes may watch one database: the cursor is moved
//! by compare-and-set, so a scan two of them made is saved once.

use super::{Evm, Network};
use crate::AppState;
use futures::{StreamExt, TryStreamExt};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tollway_chain::evm::{BlockRef, EvmError, TransferLog};
use tollway_core::evm::Hash32;
use tollway_store::evm::{EvmStoreError, FoundTransfer, SessionRow};
use tollway_store::{now_ms, StoreError};

/// Checkpoints kept behind the cursor (the deepest reorg walked back to
/// without a rescan from the start).
const KEEP_BLOCKS: u64 = 512;

/// Why a step stopped.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The chain could not be read.
    #[error("chain: {0}")]
    Chain(#[from] EvmError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The chain changed while it was read; the next step reads again.
    #[error("the chain moved while it was read")]
    Moved,
}

/// Starts a watcher per network.
pub fn spawn(state: AppState) {
    let Some(evm) = state.evm.clone() else { return };
    for network in evm.networks.values() {
        let (state, evm, network) = (state.clone(), evm.clone(), network.clone());
        tokio::spawn(async move {
            let period = Duration::from_millis(evm.config.poll_interval_ms.max(50));
            loop {
                if let Err(e) = step(&state, &evm, &network).await {
                    tracing::warn!(network = %network.row.id, error = %e, "evm watcher step failed");
                    evm.stats.log("blockchain", "error", None, "in", serde_json::json!({ "network": network.row.id, "error": e.to_string() }));
                }
                tokio::time::sleep(period).await;
            }
        });
    }
}

/// One pass: reorg check, scan, confirmations, expiry.
pub async fn step(state: &AppState, evm: &Evm, network: &Network) -> Result<(), WatchError> {
    let store = &state.store;
    let id = &network.row.id;
    let head = network.client.head().await?;
    evm.hub.set_head(id, head.number);
    let mut changed: Vec<SessionRow> = Vec::new();
    let cursor = match store.evm_cursor(id).await? {
        Some(cursor) => match find_fork(store, network, cursor).await? {
            None => Some(cursor),
            Some(fork) => {
                tracing::warn!(network = %id, from = cursor.0, to = fork.0, "reorg: rewinding the cursor");
                evm.stats.log("blockchain", "reorg", None, "in", serde_json::json!({ "network": id, "from": cursor.0, "to": fork.0 }));
                changed.extend(store.rewind_evm(id, fork, now_ms()).await?);
                Some(fork)
            }
        },
        None => None,
    };
    let from = match cursor {
        Some((n, _)) => n + 1,
        None => network.start_block.unwrap_or(head.number),
    };
    if from <= head.number {
        let to = head.number.min(from + evm.config.max_blocks_per_scan.max(1) - 1);
        match scan(network, from, to).await {
            Ok((end, found)) => {
                let now = now_ms();
                match store.record_evm_scan(&network.row, cursor, (end.number, end.hash), &found, KEEP_BLOCKS, now).await {
                    Ok(outcome) => {
                        evm.stats.log("blockchain", "logs_scan", None, "in", serde_json::json!({ "network": id, "from": from, "to": to, "transfers": found.len() }));
                        for r in outcome.recorded.iter().filter(|r| r.is_new) {
                            let t = &r.transfer;
                            evm.stats.detected(u64::try_from(now - t.block_time_ms).unwrap_or(0));
                            evm.stats.log(
                                "blockchain",
                                "transfer_event",
                                t.session_id.as_deref(),
                                "in",
                                serde_json::json!({ "from": t.from.to_string(), "to": t.to.to_string(), "value": t.value_units,
                                    "token": token_symbol(network, t.token_address), "transactionHash": t.tx_hash.to_string(),
                                    "blockNumber": t.block_number, "matched": t.session_id.is_some() }),
                            );
                        }
                        changed.extend(outcome.recorded.into_iter().filter_map(|r| r.session));
                    }
                    Err(StoreError::Evm(EvmStoreError::CursorMoved)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(WatchError::Moved) => {}
            Err(e) => return Err(e),
        }
    }
    changed.extend(confirm(state, network, &head).await?);
    changed.extend(store.expire_payment_sessions(now_ms()).await?);
    for s in &changed {
        evm.hub.notify(&s.id);
    }
    // Confirming sessions gain a confirmation with every block.
    for t in store.evm_transfers_seen(id).await? {
        if let Some(session) = &t.session_id {
            evm.hub.notify(session);
        }
    }
    Ok(())
}

/// `None` when the cursor's block is still on the chain; else the newest
/// checkpoint below it that is (or block 0 when none is).
async fn find_fork(store: &tollway_store::Store, network: &Network, cursor: (u64, Hash32)) -> Result<Option<(u64, Hash32)>, WatchError> {
    if network.client.block(cursor.0).await?.is_some_and(|b| b.hash == cursor.1) {
        return Ok(None);
    }
    for (number, hash) in store.evm_checkpoints(&network.row.id).await? {
        if number < cursor.0 && network.client.block(number).await?.is_some_and(|b| b.hash == hash) {
            return Ok(Some((number, hash)));
        }
    }
    let genesis = network.client.block(0).await?.ok_or(WatchError::Moved)?;
    Ok(Some((0, genesis.hash)))
}

/// How many blocks a scan asks the node for at once (for the time and hash
/// of each block that holds a log): against a node across a network, the
/// round trips overlap instead of adding up.
const BLOCKS_IN_FLIGHT: usize = 8;

/// Reads blocks `from..=to`: the end block, the logs, and each log's
/// block time; `Moved` when the end block or a log's block changed
/// meanwhile.
async fn scan(network: &Network, from: u64, to: u64) -> Result<(BlockRef, Vec<FoundTransfer>), WatchError> {
    let client = &network.client;
    let end = client.block(to).await?.ok_or(WatchError::Moved)?;
    let tokens: Vec<_> = network.tokens.iter().map(|t| t.contract_address).collect();
    let logs = client.transfer_logs(from, to, &tokens, &[network.row.deposit_address]).await?;
    let numbers: BTreeSet<u64> = logs.iter().map(|log| log.block_number).collect();
    let blocks: BTreeMap<u64, BlockRef> = futures::stream::iter(numbers)
        .map(|number| async move { Ok::<_, WatchError>((number, client.block(number).await?.ok_or(WatchError::Moved)?)) })
        .buffered(BLOCKS_IN_FLIGHT)
        .try_collect()
        .await?;
    if client.block(to).await?.is_none_or(|b| b.hash != end.hash) {
        return Err(WatchError::Moved);
    }
    let found = logs
        .iter()
        .map(|log| {
            let block = blocks.get(&log.block_number).ok_or(WatchError::Moved)?;
            if block.hash != log.block_hash {
                return Err(WatchError::Moved);
            }
            Ok(found_transfer(log, block))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((end, found))
}

/// A chain log as the store records it.
pub fn found_transfer(log: &TransferLog, block: &BlockRef) -> FoundTransfer {
    FoundTransfer { log: log.clone(), block_time_ms: i64::try_from(block.timestamp_secs.saturating_mul(1_000)).unwrap_or(i64::MAX) }
}

/// Confirms seen transfers with enough blocks on top (and finalized where
/// the chain says), each after re-checking its block's hash; one whose
/// block changed is dropped.
async fn confirm(state: &AppState, network: &Network, head: &BlockRef) -> Result<Vec<SessionRow>, WatchError> {
    let required = network.row.confirmations.max(1);
    let Some(mut limit) = (head.number + 1).checked_sub(required) else { return Ok(Vec::new()) };
    if let Some(finalized) = network.client.finalized().await? {
        limit = limit.min(finalized.number);
    }
    let due = state.store.evm_transfers_to_confirm(&network.row.id, limit).await?;
    // Each block is read once per step, however many transfers it holds,
    // and several at once.
    let numbers: BTreeSet<u64> = due.iter().map(|t| t.block_number).collect();
    let hashes: BTreeMap<u64, Option<Hash32>> = futures::stream::iter(numbers)
        .map(|number| async move { Ok::<_, WatchError>((number, network.client.block(number).await?.map(|b| b.hash))) })
        .buffered(BLOCKS_IN_FLIGHT)
        .try_collect()
        .await?;
    let mut changed = Vec::new();
    for t in due {
        let now = now_ms();
        let hash = hashes.get(&t.block_number).copied().flatten();
        let on_chain = hash == Some(t.block_hash);
        let session = if on_chain { state.store.confirm_evm_transfer(&t, now).await? } else { state.store.drop_evm_transfer(&t, now).await? };
        changed.extend(session);
    }
    Ok(changed)
}

fn token_symbol(network: &Network, address: tollway_core::evm::Address) -> String {
    network.tokens.iter().find(|t| t.contract_address == address).map_or_else(|| address.to_string(), |t| t.symbol.clone())
}
