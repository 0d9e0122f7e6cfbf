//! A small CKB JSON-RPC client: what the devnet and the tests need.

use super::ChainError;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A CKB node's JSON-RPC endpoint. Cheap to clone.
#[derive(Clone)]
pub struct Rpc {
    url: String,
    http: reqwest::Client,
    next_id: Arc<AtomicU64>,
}

/// A hex quantity (`0x…`) from an RPC answer.
fn quantity(method: &str, v: &Value) -> Result<u64, ChainError> {
    v.as_str()
        .and_then(|s| s.strip_prefix("0x"))
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .ok_or_else(|| ChainError::Transport { method: method.to_owned(), message: format!("expected a hex quantity, got {v}") })
}

impl Rpc {
    /// The endpoint at `url` (`http://127.0.0.1:8114`).
    pub fn new(url: impl Into<String>) -> Rpc {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
        Rpc { url: url.into(), http, next_id: Arc::new(AtomicU64::new(1)) }
    }

    /// The endpoint's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method` with `params`; the result, or the node's error.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, ChainError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"id": id, "jsonrpc": "2.0", "method": method, "params": params});
        let transport = |e: reqwest::Error| ChainError::Transport { method: method.to_owned(), message: e.to_string() };
        let answer: Value = self.http.post(&self.url).json(&body).send().await.map_err(transport)?.json().await.map_err(transport)?;
        if let Some(error) = answer.get("error").filter(|e| !e.is_null()) {
            return Err(ChainError::Rpc {
                method: method.to_owned(),
                code: error["code"].as_i64().unwrap_or_default(),
                message: error["message"].as_str().unwrap_or_default().to_owned(),
            });
        }
        Ok(answer.get("result").cloned().unwrap_or(Value::Null))
    }

    /// The tip block number.
    pub async fn tip_block_number(&self) -> Result<u64, ChainError> {
        let v = self.call("get_tip_block_number", json!([])).await?;
        quantity("get_tip_block_number", &v)
    }

    /// The hash of block `number` (`None` past the tip).
    pub async fn block_hash(&self, number: u64) -> Result<Option<String>, ChainError> {
        let v = self.call("get_block_hash", json!([format!("{number:#x}")])).await?;
        Ok(v.as_str().map(str::to_owned))
    }

    /// Mines one block now (the devnet's `IntegrationTest` module); its
    /// hash. The node may still be adding it to the chain when this
    /// returns: [`Rpc::generate_blocks`] waits for the tip.
    pub async fn generate_block(&self) -> Result<String, ChainError> {
        let v = self.call("generate_block", json!([])).await?;
        v.as_str().map(str::to_owned).ok_or_else(|| ChainError::Transport { method: "generate_block".into(), message: format!("expected a block hash, got {v}") })
    }

    /// Mines `n` blocks, one at a time: each is mined once the previous
    /// one is the tip (a block made from a template that is not yet up to
    /// date would fork instead of extending the chain; such a block is
    /// mined again). The new tip.
    pub async fn generate_blocks(&self, n: u64) -> Result<u64, ChainError> {
        let mut tip = self.tip_block_number().await?;
        let target = tip.saturating_add(n);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tip < target {
            self.generate_block().await?;
            let before = tip;
            let step_deadline = tokio::time::Instant::now() + Duration::from_secs(2);
            while tip == before && tokio::time::Instant::now() < step_deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
                tip = self.tip_block_number().await?;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(ChainError::Transport {
                    method: "generate_block".into(),
                    message: format!("the tip stayed at {tip}, below {target}, for 30 s"),
                });
            }
        }
        Ok(tip)
    }

    /// Total capacity, shannons, of the live cells locked by `lock`
    /// (a script as JSON: `code_hash`, `hash_type`, `args`), from the
    /// node's indexer.
    pub async fn capacity_of_lock(&self, lock: Value) -> Result<u64, ChainError> {
        let search = json!({"script": lock, "script_type": "lock"});
        let v = self.call("get_cells_capacity", json!([search])).await?;
        quantity("get_cells_capacity", &v["capacity"])
    }

    /// The indexer's tip block number (`None` before it indexed a block).
    pub async fn indexer_tip(&self) -> Result<Option<u64>, ChainError> {
        let v = self.call("get_indexer_tip", json!([])).await?;
        if v.is_null() {
            return Ok(None);
        }
        quantity("get_indexer_tip", &v["block_number"]).map(Some)
    }
}
