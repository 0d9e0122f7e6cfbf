//! [`EvmClient`]: one EVM network behind several RPC URLs, with failover
//! (a dead, slow or lagging endpoint is passed over for the next one) and
//! the few reads the stablecoin watcher needs.

use super::endpoints::{EndpointStatus, Endpoints};
use super::types::{decode_transfer, is_transfer, to_alloy_address, to_hash, LogPlace, TRANSFER};
use super::{BlockRef, EvmError, TransferLog, TxReceipt};
use alloy::eips::BlockNumberOrTag;
use alloy::network::{AnyNetwork, BlockResponse, ReceiptResponse};
use alloy::primitives::B256;
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::Filter;
use alloy::transports::http::reqwest::Url;
use alloy::transports::RpcError;
use alloy::transports::{TransportError, TransportErrorKind};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tollway_core::evm::{Address, Hash32};

/// The default per-request timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The default lag: an endpoint more blocks than this behind the best head
/// seen is passed over.
pub const DEFAULT_MAX_LAG_BLOCKS: u64 = 16;
/// The default interval between two surveys of every endpoint's head.
pub const DEFAULT_SURVEY_INTERVAL: Duration = Duration::from_secs(60);

/// A client for one EVM network (one chain id) behind one or more RPC URLs.
///
/// Each request goes to the current endpoint, within a timeout. A transport
/// error, a timeout or an unreadable answer marks that endpoint failed, the
/// next one (round robin) becomes current and the same request is tried
/// there, so a request fails only when every endpoint failed it. A JSON-RPC
/// error is the request's fault (or a refusal) and is returned at once.
/// [`head`](Self::head) also passes over an endpoint more than
/// `max_lag_blocks` behind the best head seen. Clones share the endpoints'
/// state.
#[derive(Debug, Clone)]
pub struct EvmClient {
    endpoints: Arc<Endpoints>,
    malformed_logs: Arc<AtomicU64>,
    chain_id: u64,
    timeout: Duration,
    max_lag_blocks: u64,
    survey_interval: Duration,
}

/// Why one attempt on one endpoint did not give an answer.
enum Failure {
    /// The endpoint's fault (transport, timeout, lag): try the next one.
    Endpoint(String),
    /// The endpoint answered garbage: try the next one.
    Malformed(String),
    /// The request's fault, or the node's refusal: stop here.
    Final(EvmError),
}

fn classify(method: &str, error: TransportError) -> Failure {
    match error {
        RpcError::ErrorResp(payload) => {
            Failure::Final(EvmError::Rpc { method: method.into(), code: payload.code, message: payload.message.to_string() })
        }
        RpcError::DeserError { err, text } => Failure::Malformed(format!("{err}: {}", text.chars().take(200).collect::<String>())),
        RpcError::NullResp => Failure::Malformed("a null result".into()),
        RpcError::Transport(kind) => Failure::Endpoint(transport_message(&kind)),
        other => Failure::Final(EvmError::Local { method: method.into(), message: other.to_string() }),
    }
}

fn transport_message(kind: &TransportErrorKind) -> String {
    // reqwest's top-level message ("error sending request") hides the cause.
    let mut message = kind.to_string();
    let mut source = std::error::Error::source(kind);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

fn block_ref(block: &<AnyNetwork as alloy::network::Network>::BlockResponse) -> BlockRef {
    let header = block.header();
    BlockRef { number: header.number, hash: to_hash(header.hash), timestamp_secs: header.timestamp }
}

async fn get_block(provider: RootProvider<AnyNetwork>, tag: BlockNumberOrTag, method: &str) -> Result<Option<BlockRef>, Failure> {
    let block = provider.get_block_by_number(tag).await.map_err(|e| classify(method, e))?;
    Ok(block.as_ref().map(block_ref))
}

impl EvmClient {
    /// A client for the network with `chain_id` behind `urls` (tried in that
    /// order). No I/O: refuses an empty list or a URL that is not absolute
    /// `http(s)`.
    pub fn new(urls: &[String], chain_id: u64) -> Result<EvmClient, EvmError> {
        if urls.is_empty() {
            return Err(EvmError::NoEndpoints);
        }
        let mut providers = Vec::with_capacity(urls.len());
        for url in urls {
            let invalid = |message: String| EvmError::InvalidUrl { url: url.clone(), message };
            let parsed = Url::parse(url).map_err(|e| invalid(e.to_string()))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(invalid("must be an http:// or https:// URL with a host".into()));
            }
            providers.push(RootProvider::<AnyNetwork>::new_http(parsed));
        }
        Ok(EvmClient {
            endpoints: Arc::new(Endpoints::new(urls.to_vec(), providers)),
            malformed_logs: Arc::new(AtomicU64::new(0)),
            chain_id,
            timeout: DEFAULT_REQUEST_TIMEOUT,
            max_lag_blocks: DEFAULT_MAX_LAG_BLOCKS,
            survey_interval: DEFAULT_SURVEY_INTERVAL,
        })
    }

    /// The same client with another per-request timeout (default 5 s).
    pub fn with_request_timeout(mut self, timeout: Duration) -> EvmClient {
        self.timeout = timeout;
        self
    }

    /// The same client with another lag limit in blocks (default 16).
    pub fn with_max_lag_blocks(mut self, blocks: u64) -> EvmClient {
        self.max_lag_blocks = blocks;
        self
    }

    /// The same client with another interval between surveys of every
    /// endpoint's head (default 60 s; see [`head`](Self::head)).
    pub fn with_survey_interval(mut self, interval: Duration) -> EvmClient {
        self.survey_interval = interval;
        self
    }

    /// The configured chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Runs `op` on the current endpoint, failing over to the next ones;
    /// returns the index of the endpoint that answered, and its answer.
    async fn run<T, F, Fut>(&self, method: &str, op: F) -> Result<(usize, T), EvmError>
    where
        F: Fn(RootProvider<AnyNetwork>) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let n = self.endpoints.len();
        let start = self.endpoints.current();
        let mut attempts = Vec::new();
        let mut all_malformed = true;
        for k in 0..n {
            let index = (start + k) % n;
            self.endpoints.note_request(index);
            let outcome = match tokio::time::timeout(self.timeout, op(self.endpoints.provider(index))).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure::Endpoint(format!("no answer within {} ms", self.timeout.as_millis()))),
            };
            let message = match outcome {
                Ok(value) => {
                    self.endpoints.note_ok(index);
                    return Ok((index, value));
                }
                Err(Failure::Final(error)) => {
                    // It answered: the endpoint works, the request does not.
                    self.endpoints.note_ok(index);
                    return Err(error);
                }
                Err(Failure::Endpoint(message)) => {
                    all_malformed = false;
                    message
                }
                Err(Failure::Malformed(message)) => format!("malformed answer: {message}"),
            };
            tracing::debug!(url = self.endpoints.url(index), method, error = %message, "evm rpc attempt failed");
            self.endpoints.note_failure(index, &message, true);
            attempts.push(format!("{}: {message}", self.endpoints.url(index)));
        }
        Err(if all_malformed {
            EvmError::Malformed { method: method.into(), message: attempts.join("; ") }
        } else {
            EvmError::Unavailable { method: method.into(), attempts }
        })
    }

    /// Checks that the serving endpoint's `eth_chainId` is the configured
    /// chain id. On a mismatch the endpoint is marked failed (the next one
    /// serves from then on) and `wrong_chain` is returned.
    pub async fn check_chain_id(&self) -> Result<(), EvmError> {
        let method = "eth_chainId";
        let (index, got) = self.run(method, |p| async move { p.get_chain_id().await.map_err(|e| classify(method, e)) }).await?;
        if got == self.chain_id {
            return Ok(());
        }
        let error = EvmError::WrongChain { url: self.endpoints.url(index).to_owned(), expected: self.chain_id, got };
        self.endpoints.note_failure(index, &error.to_string(), true);
        Err(error)
    }

    /// Asks every endpoint for its block number (at once, each within the
    /// timeout) and raises the best head seen; one more than `max_lag_blocks`
    /// behind it, or not answering, is marked failed (not switched away from:
    /// the request that uses it does that).
    async fn survey(&self) {
        let mut tasks = tokio::task::JoinSet::new();
        for index in 0..self.endpoints.len() {
            let provider = self.endpoints.provider(index);
            let timeout = self.timeout;
            self.endpoints.note_request(index);
            tasks.spawn(async move {
                let answer = match tokio::time::timeout(timeout, provider.get_block_number()).await {
                    Ok(Ok(number)) => Ok(number),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
                };
                (index, answer)
            });
        }
        let mut heads = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let Ok((index, answer)) = joined else { continue };
            match answer {
                Ok(number) => {
                    self.endpoints.note_ok(index);
                    self.endpoints.raise_best_head(number);
                    heads.push((index, number));
                }
                Err(message) => self.endpoints.note_failure(index, &message, false),
            }
        }
        let best = self.endpoints.best_head().unwrap_or(0);
        for (index, number) in heads {
            if number.saturating_add(self.max_lag_blocks) < best {
                self.endpoints.note_failure(index, &self.lag_message(number, best), false);
            }
        }
    }

    fn lag_message(&self, number: u64, best: u64) -> String {
        format!(
            "lagging: head {number} is {} blocks behind the best head seen ({best}; at most {} allowed)",
            best - number,
            self.max_lag_blocks
        )
    }

    /// The serving endpoint's latest block.
    ///
    /// With several endpoints, every endpoint's head is surveyed on the
    /// first call and then at most once per survey interval, so the best
    /// head seen is known. An endpoint whose head is more than
    /// `max_lag_blocks` behind that best is treated as failed for this
    /// call. If every endpoint that answered lags (the chain itself went
    /// back, as after a rollback), the highest of their heads is returned
    /// and becomes the best head seen.
    pub async fn head(&self) -> Result<BlockRef, EvmError> {
        if self.endpoints.len() > 1 && self.endpoints.survey_due(self.survey_interval) {
            self.survey().await;
        }
        let method = "eth_getBlockByNumber(latest)";
        // Lag is relative to the other endpoints: one alone never lags.
        let best = if self.endpoints.len() > 1 { self.endpoints.best_head() } else { None };
        let lagging: Arc<Mutex<Vec<BlockRef>>> = Arc::default();
        let result = self
            .run(method, |p| {
                let lagging = lagging.clone();
                async move {
                    let block =
                        get_block(p, BlockNumberOrTag::Latest, method).await?.ok_or(Failure::Malformed("no latest block".into()))?;
                    match best {
                        Some(best) if block.number.saturating_add(self.max_lag_blocks) < best => {
                            lagging.lock().unwrap_or_else(|e| e.into_inner()).push(block);
                            Err(Failure::Endpoint(self.lag_message(block.number, best)))
                        }
                        _ => Ok(block),
                    }
                }
            })
            .await;
        let highest_lagging = lagging.lock().unwrap_or_else(|e| e.into_inner()).iter().max_by_key(|b| b.number).copied();
        match (result, highest_lagging) {
            (Ok((_, block)), _) => {
                self.endpoints.raise_best_head(block.number);
                Ok(block)
            }
            (Err(EvmError::Unavailable { .. }), Some(block)) => {
                tracing::warn!(head = block.number, "evm rpc: every endpoint is behind the best head seen; taking the highest");
                self.endpoints.reset_best_head(block.number);
                Ok(block)
            }
            (Err(error), _) => Err(error),
        }
    }

    /// The serving endpoint's finalized block (the `finalized` tag); `None`
    /// when the node has none (it answers null, or refuses the tag).
    pub async fn finalized(&self) -> Result<Option<BlockRef>, EvmError> {
        let method = "eth_getBlockByNumber(finalized)";
        match self.run(method, |p| get_block(p, BlockNumberOrTag::Finalized, method)).await {
            Ok((_, block)) => Ok(block),
            Err(EvmError::Rpc { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The block with this number; `None` when the endpoint has no such block yet.
    pub async fn block(&self, number: u64) -> Result<Option<BlockRef>, EvmError> {
        let method = "eth_getBlockByNumber";
        self.run(method, |p| get_block(p, BlockNumberOrTag::Number(number), method)).await.map(|(_, block)| block)
    }

    /// ERC-20 `Transfer` logs in blocks `from..=to` emitted by any of
    /// `tokens`, whose `to` (topic 2) is any of `recipients`, in chain order.
    /// Empty lists match nothing (no request is sent). A malformed log is
    /// skipped and counted ([`malformed_logs`](Self::malformed_logs)), as is
    /// a log the node returned that the filter does not match.
    pub async fn transfer_logs(
        &self,
        from: u64,
        to: u64,
        tokens: &[Address],
        recipients: &[Address],
    ) -> Result<Vec<TransferLog>, EvmError> {
        if from > to {
            return Err(EvmError::InvalidRequest(format!("block range {from}..={to} is empty")));
        }
        if tokens.is_empty() || recipients.is_empty() {
            return Ok(Vec::new());
        }
        let filter = Filter::new()
            .from_block(from)
            .to_block(to)
            .address(tokens.iter().map(to_alloy_address).collect::<Vec<_>>())
            .event_signature(*TRANSFER)
            .topic2(recipients.iter().map(|r| B256::from(r.as_topic())).collect::<Vec<_>>());
        let method = "eth_getLogs";
        let (_, logs) = self
            .run(method, |p| {
                let filter = filter.clone();
                async move { p.get_logs(&filter).await.map_err(|e| classify(method, e)) }
            })
            .await?;
        let mut out = Vec::with_capacity(logs.len());
        for log in logs.iter().filter(|log| !log.removed) {
            match decode_transfer(log, None) {
                Ok(t) if tokens.contains(&t.token) && recipients.contains(&t.to) && (from..=to).contains(&t.block_number) => out.push(t),
                Ok(t) => self.count_malformed(&format!("a log outside the filter: {t:?}")),
                Err(why) => self.count_malformed(&why),
            }
        }
        out.sort_by_key(|t| (t.block_number, t.log_index));
        Ok(out)
    }

    /// The receipt of a mined transaction with every well-formed ERC-20
    /// `Transfer` log in it (any emitter); `None` if the endpoint does not
    /// know the transaction or it is still pending.
    pub async fn transaction(&self, hash: Hash32) -> Result<Option<TxReceipt>, EvmError> {
        let method = "eth_getTransactionReceipt";
        let (_, receipt) = self
            .run(method, |p| async move { p.get_transaction_receipt(B256::from(hash.0)).await.map_err(|e| classify(method, e)) })
            .await?;
        let Some(receipt) = receipt else { return Ok(None) };
        let (Some(block_number), Some(block_hash)) = (receipt.block_number(), receipt.block_hash()) else { return Ok(None) };
        let place = LogPlace { tx_hash: receipt.transaction_hash(), block_number, block_hash };
        let mut transfers = Vec::new();
        for log in receipt.inner.inner.logs().iter().filter(|log| is_transfer(log)) {
            match decode_transfer(log, Some(place)) {
                Ok(t) => transfers.push(t),
                Err(why) => self.count_malformed(&why),
            }
        }
        Ok(Some(TxReceipt { hash, succeeded: receipt.status(), block_number, block_hash: to_hash(block_hash), transfers }))
    }

    fn count_malformed(&self, why: &str) {
        self.malformed_logs.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(why, "evm rpc: skipped a malformed Transfer log");
    }

    /// How many `Transfer` logs were skipped as malformed so far.
    pub fn malformed_logs(&self) -> u64 {
        self.malformed_logs.load(Ordering::Relaxed)
    }

    /// Every endpoint's state, in the configured order.
    pub fn endpoints(&self) -> Vec<EndpointStatus> {
        self.endpoints.statuses()
    }

    /// The URL of the endpoint serving now.
    pub fn url(&self) -> String {
        self.endpoints.url(self.endpoints.current()).to_owned()
    }
}
