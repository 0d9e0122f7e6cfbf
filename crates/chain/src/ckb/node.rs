//! What the CKB rail asks of a node, on top of [`Rpc`]: the genesis and
//! its system locks, live plain cells through the indexer, sending and
//! pre-checking transactions, and their status. The node's refusals are
//! sorted into [`Rejection`]s with stable codes.

use super::scripts::LockScripts;
use super::spilman::LiveCell;
use super::{ChainError, Rpc};
use ckb_types::core::{BlockView, TransactionView};
use ckb_types::packed::{Byte32, CellOutput, OutPoint, Script};
use ckb_types::prelude::*;
use serde_json::{json, Value};

/// Where a transaction stands on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxStatus {
    /// In the pool, not yet proposed.
    Pending,
    /// Proposed, not yet committed.
    Proposed,
    /// In block `number` of the main chain.
    Committed(u64),
    /// Refused or dropped by the pool, with the node's reason.
    Rejected(String),
    /// The node does not know it.
    Unknown,
}

/// Why the node refused a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// An input's `since` is not reached yet (a refund before expiry).
    Immature,
    /// A lock or type script failed (a bad signature).
    ScriptFailed,
    /// An input is already spent.
    InputSpent,
    /// An input does not exist.
    InputUnknown,
    /// The transaction is already in the pool or the chain.
    Duplicate,
    /// The fee is below the pool's rate.
    FeeTooLow,
    /// Anything else the node refused.
    Other,
}

impl Rejection {
    /// Sorts the node's error message.
    pub fn of(message: &str) -> Rejection {
        let has = |s: &str| message.contains(s);
        if has("Immature") {
            Rejection::Immature
        } else if has("ValidationFailure") || has("Script") || has("script") {
            Rejection::ScriptFailed
        } else if has("Dead(") {
            Rejection::InputSpent
        } else if has("Unknown(") || has("Unknown cell") {
            Rejection::InputUnknown
        } else if has("Duplicated") || has("Duplicate") {
            Rejection::Duplicate
        } else if has("MinFeeRate") || has("fee rate") {
            Rejection::FeeTooLow
        } else {
            Rejection::Other
        }
    }

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Rejection::Immature => "tx_immature",
            Rejection::ScriptFailed => "tx_script_failed",
            Rejection::InputSpent => "tx_input_spent",
            Rejection::InputUnknown => "tx_input_unknown",
            Rejection::Duplicate => "tx_duplicate",
            Rejection::FeeTooLow => "tx_fee_too_low",
            Rejection::Other => "tx_rejected",
        }
    }
}

impl ChainError {
    /// What the node's refusal of a transaction means (`None` if this is
    /// not a refusal of a transaction).
    pub fn rejection(&self) -> Option<Rejection> {
        match self {
            ChainError::Rpc { method, message, .. } if method == "send_transaction" || method == "test_tx_pool_accept" => Some(Rejection::of(message)),
            _ => None,
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(method: &str, v: Value) -> Result<T, ChainError> {
    serde_json::from_value(v).map_err(|e| ChainError::Transport { method: method.to_owned(), message: e.to_string() })
}

fn quantity(method: &str, v: &Value) -> Result<u64, ChainError> {
    v.as_str()
        .and_then(|s| s.strip_prefix("0x"))
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .ok_or_else(|| ChainError::Transport { method: method.to_owned(), message: format!("expected a hex quantity, got {v}") })
}

fn tx_json(tx: &TransactionView) -> Value {
    serde_json::to_value(ckb_jsonrpc_types::Transaction::from(tx.data())).unwrap_or(Value::Null)
}

fn script_json(script: &Script) -> Value {
    serde_json::to_value(ckb_jsonrpc_types::Script::from(script.clone())).unwrap_or(Value::Null)
}

impl Rpc {
    /// The genesis block.
    pub async fn genesis(&self) -> Result<BlockView, ChainError> {
        let v = self.call("get_block_by_number", json!(["0x0"])).await?;
        let block: ckb_jsonrpc_types::BlockView = decode("get_block_by_number", v)?;
        Ok(block.into())
    }

    /// The system locks of this chain.
    pub async fn lock_scripts(&self) -> Result<LockScripts, ChainError> {
        LockScripts::from_genesis(&self.genesis().await?)
    }

    /// Live plain cells (no type, no data) locked by `lock`, from the
    /// indexer, oldest first, until they hold at least `at_least` (all of
    /// them if they never do).
    pub async fn live_cells(&self, lock: &Script, at_least: u64) -> Result<Vec<LiveCell>, ChainError> {
        let search = json!({
            "script": script_json(lock), "script_type": "lock",
            "filter": {"script_len_range": ["0x0", "0x1"], "output_data_len_range": ["0x0", "0x1"]},
        });
        let (mut cells, mut held, mut cursor) = (Vec::new(), 0u64, Value::Null);
        loop {
            let page = self.call("get_cells", json!([search, "asc", "0x64", cursor])).await?;
            let objects = page["objects"].as_array().cloned().unwrap_or_default();
            for object in &objects {
                let point: ckb_jsonrpc_types::OutPoint = decode("get_cells", object["out_point"].clone())?;
                let capacity = quantity("get_cells", &object["output"]["capacity"])?;
                cells.push(LiveCell { out_point: point.into(), capacity });
                held = held.saturating_add(capacity);
                if held >= at_least {
                    return Ok(cells);
                }
            }
            if objects.is_empty() {
                return Ok(cells);
            }
            cursor = page["last_cursor"].clone();
        }
    }

    /// Total capacity of the live cells locked by `lock`.
    pub async fn capacity_of(&self, lock: &Script) -> Result<u64, ChainError> {
        self.capacity_of_lock(script_json(lock)).await
    }

    /// Sends `tx` to the pool; its hash. A refusal is a
    /// [`ChainError::Rpc`] whose [`ChainError::rejection`] says why.
    pub async fn send(&self, tx: &TransactionView) -> Result<Byte32, ChainError> {
        self.call("send_transaction", json!([tx_json(tx), "passthrough"])).await?;
        Ok(tx.hash())
    }

    /// Checks `tx` as the pool would, without sending it.
    pub async fn test_accept(&self, tx: &TransactionView) -> Result<(), ChainError> {
        self.call("test_tx_pool_accept", json!([tx_json(tx), "passthrough"])).await.map(drop)
    }

    /// Where transaction `hash` stands.
    pub async fn tx_status(&self, hash: &Byte32) -> Result<TxStatus, ChainError> {
        let v = self.call("get_transaction", json!([format!("0x{}", hex::encode(hash.raw_data()))])).await?;
        let status = &v["tx_status"];
        Ok(match status["status"].as_str() {
            Some("pending") => TxStatus::Pending,
            Some("proposed") => TxStatus::Proposed,
            Some("committed") => {
                let hash = status["block_hash"].as_str().unwrap_or_default().to_owned();
                let header = self.call("get_header", json!([hash])).await?;
                TxStatus::Committed(quantity("get_header", &header["number"])?)
            }
            Some("rejected") => TxStatus::Rejected(status["reason"].as_str().unwrap_or_default().to_owned()),
            _ => TxStatus::Unknown,
        })
    }

    /// The transaction `hash`, if the node knows it.
    pub async fn transaction(&self, hash: &Byte32) -> Result<Option<TransactionView>, ChainError> {
        let v = self.call("get_transaction", json!([format!("0x{}", hex::encode(hash.raw_data()))])).await?;
        if v["transaction"].is_null() {
            return Ok(None);
        }
        let tx: ckb_jsonrpc_types::TransactionView = decode("get_transaction", v["transaction"].clone())?;
        Ok(Some(ckb_types::packed::Transaction::from(tx.inner).into_view()))
    }

    /// Whether the cell at `point` is live.
    pub async fn is_live(&self, point: &OutPoint) -> Result<bool, ChainError> {
        Ok(self.live_cell(point).await?.is_some())
    }

    /// The cell at `point` (its output: capacity, lock, type) if it is live.
    pub async fn live_cell(&self, point: &OutPoint) -> Result<Option<CellOutput>, ChainError> {
        let json_point = serde_json::to_value(ckb_jsonrpc_types::OutPoint::from(point.clone())).unwrap_or(Value::Null);
        let v = self.call("get_live_cell", json!([json_point, false])).await?;
        if v["status"].as_str() != Some("live") {
            return Ok(None);
        }
        let output: ckb_jsonrpc_types::CellOutput = decode("get_live_cell", v["cell"]["output"].clone())?;
        Ok(Some(output.into()))
    }

    /// The chain's median time (of the last 37 blocks), milliseconds: what
    /// an absolute timestamp `since` is compared with.
    pub async fn median_time_ms(&self) -> Result<u64, ChainError> {
        let v = self.call("get_blockchain_info", json!([])).await?;
        quantity("get_blockchain_info", &v["median_time"])
    }
}

impl Rpc {
    /// Devnet only: mines blocks one at a time until `hash` is committed
    /// (at most `max_blocks`); its block number. A transaction the pool
    /// rejected is an error.
    pub async fn mine_until_committed(&self, hash: &Byte32, max_blocks: u64) -> Result<u64, ChainError> {
        for _ in 0..max_blocks {
            match self.tx_status(hash).await? {
                TxStatus::Committed(number) => return Ok(number),
                TxStatus::Rejected(reason) => {
                    return Err(ChainError::Rpc { method: "get_transaction".into(), code: 0, message: reason });
                }
                _ => self.generate_blocks(1).await.map(drop)?,
            }
        }
        Err(ChainError::Transport { method: "generate_block".into(), message: format!("not committed after {max_blocks} blocks") })
    }

    /// Waits until the indexer has indexed the tip (at most 10 s).
    pub async fn indexer_synced(&self) -> Result<(), ChainError> {
        let tip = self.tip_block_number().await?;
        for _ in 0..200 {
            if self.indexer_tip().await?.is_some_and(|t| t >= tip) {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Err(ChainError::Transport { method: "get_indexer_tip".into(), message: format!("the indexer did not reach block {tip} in 10 s") })
    }
}
