//! A local EVM chain for development and tests: anvil (BNB Smart Chain's
//! chain id 56, a block a second, Prague rules) with the three test tokens
//! (USDT, USDC, BUSD) at their deterministic addresses, reused when one is
//! already running, and the helpers tests need (transfers, mining, reorgs).

use super::anvil::{find_anvil, AnvilProcess};
use super::tokens::{dev_accounts, dev_tokens, ensure_tokens, signer, TollwayToken, RECEIPT_TIMEOUT};
use super::types::{to_alloy_address, to_hash};
use super::{DevAccount, DevToken, EvmClient, EvmError};
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::U256;
use alloy::providers::ext::AnvilApi;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::anvil::ReorgOptions;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tollway_core::evm::{Address, Hash32};

/// How long anvil may take to answer after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Gas limit of a devnet token transfer: fixed, so a transfer that reverts
/// is still mined (gas estimation would refuse it before sending).
const TRANSFER_GAS: u64 = 100_000;

/// Where and how to run the devnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmDevnetConfig {
    /// The anvil binary; `None` finds it with [`find_anvil`].
    pub anvil_bin: Option<PathBuf>,
    /// The host anvil listens on (default `127.0.0.1`).
    pub host: String,
    /// The JSON-RPC port (default 8545).
    pub port: u16,
    /// The chain id (default 56, BNB Smart Chain's).
    pub chain_id: u64,
    /// Seconds between blocks (default 1); 0 mines a block per transaction.
    pub block_time_secs: u64,
    /// A file the chain is kept in across restarts (anvil `--state`:
    /// loaded at start when it exists, written every 2 s and at exit);
    /// `None`: the chain lives only as long as the process.
    pub state_file: Option<PathBuf>,
}

impl Default for EvmDevnetConfig {
    fn default() -> Self {
        EvmDevnetConfig { anvil_bin: None, host: "127.0.0.1".into(), port: 8545, chain_id: 56, block_time_secs: 1, state_file: None }
    }
}

impl EvmDevnetConfig {
    /// The JSON-RPC URL, `http://host:port`.
    pub fn rpc_url(&self) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{}", self.host, self.port)
        } else {
            format!("http://{}:{}", self.host, self.port)
        }
    }

    /// anvil's command line for this configuration.
    pub fn anvil_args(&self) -> Vec<String> {
        let mut args = vec!["--chain-id".to_owned(), self.chain_id.to_string()];
        if self.block_time_secs > 0 {
            args.extend(["--block-time".to_owned(), self.block_time_secs.to_string()]);
        }
        args.extend(["--hardfork", "prague", "--slots-in-an-epoch", "1", "--order", "fifo"].map(String::from));
        args.extend(["--host".to_owned(), self.host.clone(), "--port".to_owned(), self.port.to_string()]);
        if let Some(file) = &self.state_file {
            args.extend(["--state".to_owned(), file.display().to_string(), "--state-interval".to_owned(), "2".to_owned()]);
        }
        args
    }
}

/// A local EVM chain with the test tokens deployed. When this value started
/// anvil it owns the process: dropping it (or [`stop`](Self::stop)) ends
/// it. A reused node is left running.
#[derive(Debug)]
pub struct EvmDevnet {
    config: EvmDevnetConfig,
    process: Option<AnvilProcess>,
    client: EvmClient,
    deployed_now: Vec<&'static str>,
}

impl EvmDevnet {
    /// Reuses the node answering on the configured port with the configured
    /// chain id, or starts anvil there and waits for it; then makes sure the
    /// three tokens exist (deploying those missing from account 0). A node
    /// with another chain id on the port is `wrong_chain`; something else
    /// listening there is `port_taken`.
    pub async fn start_or_reuse(config: EvmDevnetConfig) -> Result<EvmDevnet, EvmError> {
        let url = config.rpc_url();
        let probe = EvmClient::new(std::slice::from_ref(&url), config.chain_id)?.with_request_timeout(Duration::from_secs(2));
        let process = match probe.check_chain_id().await {
            Ok(()) => {
                tracing::info!(%url, "evm devnet: reusing the node already running");
                None
            }
            Err(e @ EvmError::WrongChain { .. }) => return Err(e),
            Err(EvmError::Unavailable { .. }) => Some(Self::spawn(&config).await?),
            Err(_) => return Err(EvmError::PortTaken { host: config.host.clone(), port: config.port }),
        };
        let client = EvmClient::new(std::slice::from_ref(&url), config.chain_id)?;
        let mut devnet = EvmDevnet { config, process, client, deployed_now: Vec::new() };
        devnet.deployed_now = match ensure_tokens(&url).await {
            Ok(deployed) => deployed,
            Err(e) => return Err(devnet.with_output(e)),
        };
        Ok(devnet)
    }

    async fn spawn(config: &EvmDevnetConfig) -> Result<AnvilProcess, EvmError> {
        if std::net::TcpListener::bind((config.host.as_str(), config.port)).is_err() {
            return Err(EvmError::PortTaken { host: config.host.clone(), port: config.port });
        }
        let bin = match &config.anvil_bin {
            Some(bin) => bin.clone(),
            None => tokio::task::spawn_blocking(find_anvil)
                .await
                .map_err(|e| EvmError::AnvilMissing(format!("looking for anvil panicked: {e}")))??,
        };
        if !bin.is_file() {
            return Err(EvmError::AnvilMissing(format!("{} is not a file", bin.display())));
        }
        let mut process = AnvilProcess::spawn(&bin, &config.anvil_args())?;
        let probe = EvmClient::new(&[config.rpc_url()], config.chain_id)?.with_request_timeout(Duration::from_secs(1));
        let started = Instant::now();
        loop {
            match probe.check_chain_id().await {
                Ok(()) => return Ok(process),
                Err(e @ EvmError::WrongChain { .. }) => return Err(e),
                Err(_) => {}
            }
            if let Some(status) = process.exited() {
                return Err(EvmError::NodeDidNotStart(format!("anvil exited ({status}):\n{}", process.output.text())));
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(EvmError::NodeDidNotStart(format!("no answer in {} s:\n{}", START_TIMEOUT.as_secs(), process.output.text())));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A deployment error with anvil's last output lines, when it is ours.
    fn with_output(&self, error: EvmError) -> EvmError {
        match (&self.process, error) {
            (Some(process), EvmError::Deploy(message)) => {
                EvmError::Deploy(format!("{message}\nanvil's last output:\n{}", process.output.text()))
            }
            (_, error) => error,
        }
    }

    /// anvil's first five default accounts with their secret keys (public
    /// test keys: devnet only). Account 0 deployed the tokens and holds them.
    pub fn accounts() -> Vec<DevAccount> {
        dev_accounts()
    }

    /// The three tokens: USDT, USDC, BUSD (18 decimals), in deployment order.
    pub fn tokens(&self) -> Vec<DevToken> {
        dev_tokens()
    }

    /// The symbols of the tokens this start deployed (empty when they were
    /// all there already).
    pub fn deployed_now(&self) -> &[&'static str] {
        &self.deployed_now
    }

    /// True when the node was already running (this value does not own it).
    pub fn is_reused(&self) -> bool {
        self.process.is_none()
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &EvmDevnetConfig {
        &self.config
    }

    /// The JSON-RPC URL.
    pub fn rpc_url(&self) -> String {
        self.config.rpc_url()
    }

    /// A client for this node alone (shares state with other clones).
    pub fn client(&self) -> EvmClient {
        self.client.clone()
    }

    /// The last lines anvil printed (empty for a reused node).
    pub fn output_tail(&self) -> String {
        self.process.as_ref().map(|p| p.output.text()).unwrap_or_default()
    }

    fn provider(&self) -> Result<impl Provider, EvmError> {
        let url = self.rpc_url();
        let parsed = url.parse().map_err(|e| EvmError::InvalidUrl { url, message: format!("{e}") })?;
        Ok(ProviderBuilder::new().connect_http(parsed))
    }

    /// Sends `units` of `token` from the account of `from_secret` to `to`
    /// (ERC-20 `transfer`, a fixed gas limit), and returns its hash once it
    /// is mined, whether it succeeded or reverted (see
    /// [`EvmClient::transaction`]).
    pub async fn transfer(&self, token: Address, from_secret: &[u8; 32], to: Address, units: u128) -> Result<Hash32, EvmError> {
        let url = self.rpc_url();
        let parsed = url.parse().map_err(|e| EvmError::InvalidUrl { url, message: format!("{e}") })?;
        let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer(from_secret)?)).connect_http(parsed);
        let call = TollwayToken::transferCall { to: to_alloy_address(&to), value: U256::from(units) };
        let tx = TransactionRequest::default().with_to(to_alloy_address(&token)).with_input(call.abi_encode()).with_gas_limit(TRANSFER_GAS);
        let pending = provider.send_transaction(tx).await.map_err(|e| EvmError::transport("eth_sendRawTransaction", e))?;
        let hash = *pending.tx_hash();
        pending
            .with_timeout(Some(RECEIPT_TIMEOUT))
            .get_receipt()
            .await
            .map_err(|e| EvmError::NotMined { hash: hash.to_string(), message: e.to_string() })?;
        Ok(to_hash(hash))
    }

    /// `token.balanceOf(owner)` at the latest block.
    pub async fn balance_of(&self, token: Address, owner: Address) -> Result<u128, EvmError> {
        let call = TollwayToken::balanceOfCall { owner: to_alloy_address(&owner) };
        let tx = TransactionRequest::default().with_to(to_alloy_address(&token)).with_input(call.abi_encode());
        let out = self.provider()?.call(tx).await.map_err(|e| EvmError::transport("eth_call", e))?;
        let balance = TollwayToken::balanceOfCall::abi_decode_returns(&out)
            .map_err(|e| EvmError::Malformed { method: "eth_call(balanceOf)".into(), message: e.to_string() })?;
        u128::try_from(balance)
            .map_err(|_| EvmError::Malformed { method: "eth_call(balanceOf)".into(), message: format!("balance {balance} is above u128") })
    }

    /// Mines `blocks` blocks now (`anvil_mine`).
    pub async fn mine(&self, blocks: u64) -> Result<(), EvmError> {
        self.provider()?.anvil_mine(Some(blocks), None).await.map_err(|e| EvmError::transport("anvil_mine", e))
    }

    /// Replaces the last `depth` blocks with new, empty ones (`anvil_reorg`):
    /// the same heights, other hashes; their transactions are gone from the chain.
    pub async fn reorg(&self, depth: u64) -> Result<(), EvmError> {
        let options = ReorgOptions { depth, tx_block_pairs: Vec::new() };
        self.provider()?.anvil_reorg(options).await.map_err(|e| EvmError::transport("anvil_reorg", e))
    }

    /// Removes the last `depth` blocks (`anvil_rollback`): the head goes back.
    pub async fn rollback(&self, depth: u64) -> Result<(), EvmError> {
        self.provider()?.anvil_rollback(Some(depth)).await.map_err(|e| EvmError::transport("anvil_rollback", e))
    }

    /// Stops anvil if this value started it (SIGTERM, then SIGKILL after
    /// 5 s); a reused node is left running.
    pub async fn stop(mut self) -> Result<(), EvmError> {
        match self.process.take() {
            Some(process) => process.stop().await,
            None => Ok(()),
        }
    }
}
