//! The stablecoin checkout rail (issue 15, docs/stablecoin.md): payment
//! sessions on EVM networks, a watcher per network reading Transfer logs
//! from a cursor, live status over WebSocket, stats and webhooks.

mod config;
pub mod host;
pub mod hub;
pub mod stats;
pub mod view;
pub mod watcher;
pub mod webhooks;

pub use config::{EvmConfig, EvmNetworkConfig, EvmTokenConfig, ProductConfig};

use crate::StartError;
use std::collections::HashMap;
use std::sync::Arc;
use tollway_chain::evm::{EvmClient, EvmDevnet, EvmDevnetConfig};
use tollway_core::evm::Address;
use tollway_store::evm::{NetworkRow, TokenRow};
use tollway_store::Store;

/// Anvil's account 1: the devnet's deposit address (account 0 holds the
/// tokens and pays).
const DEVNET_DEPOSIT: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

/// One network with its tokens and its RPC client.
pub struct Network {
    /// As stored and listed.
    pub row: NetworkRow,
    /// Its tokens.
    pub tokens: Vec<TokenRow>,
    /// Its endpoints, with failover.
    pub client: EvmClient,
    /// Where a new database starts reading.
    pub start_block: Option<u64>,
}

/// The running rail.
pub struct Evm {
    /// Its configuration.
    pub config: EvmConfig,
    /// Networks by id.
    pub networks: HashMap<String, Arc<Network>>,
    /// Wakes WebSocket connections when a session changes.
    pub hub: hub::Hub,
    /// Figures for `/api/v1/stats/*`.
    pub stats: stats::Stats,
    /// The local anvil, when this process started it (stopped with it).
    _devnet: Option<EvmDevnet>,
}

impl Evm {
    /// The rail from the configuration, or `None` when no network is
    /// configured and no devnet asked for. With `devnet`, starts (or
    /// reuses) a local anvil with the three tokens and adds it as
    /// `bsc-local`. Writes `networks` and `tokens`.
    pub async fn start(config: &EvmConfig, devnet: bool, store: &Store) -> Result<Option<Evm>, StartError> {
        let mut networks = config.networks.clone();
        let mut anvil = None;
        if devnet {
            let node = EvmDevnet::start_or_reuse(EvmDevnetConfig {
                port: config.devnet_port,
                state_file: config.devnet_state.as_ref().map(std::path::PathBuf::from),
                ..EvmDevnetConfig::default()
            })
            .await?;
            networks.push(EvmNetworkConfig {
                id: "bsc-local".into(),
                name: "BNB Smart Chain (local anvil)".into(),
                chain_id: node.config().chain_id,
                rpc_urls: vec![node.rpc_url()],
                websocket_url: None,
                deposit_address: DEVNET_DEPOSIT.into(),
                confirmations: None,
                start_block: Some(0),
                tokens: node
                    .tokens()
                    .iter()
                    .map(|t| EvmTokenConfig {
                        symbol: t.symbol.to_owned(),
                        name: t.name.to_owned(),
                        contract_address: t.address.to_string(),
                        decimals: t.decimals,
                    })
                    .collect(),
            });
            tracing::info!(rpc = %node.rpc_url(), "local EVM devnet (anvil, chain 56) with USDT, USDC and BUSD");
            anvil = Some(node);
        }
        if networks.is_empty() {
            return Ok(None);
        }
        let mut built = HashMap::new();
        let mut rows = Vec::new();
        for n in &networks {
            let network = build_network(config, n)?;
            network.client.check_chain_id().await.map_err(|e| format!("network {}: {e}", n.id))?;
            rows.push((network.row.clone(), network.tokens.clone()));
            built.insert(n.id.clone(), Arc::new(network));
        }
        store.sync_networks(&rows).await?;
        Ok(Some(Evm { config: config.clone(), networks: built, hub: hub::Hub::default(), stats: stats::Stats::default(), _devnet: anvil }))
    }

    /// The network `id`.
    pub fn network(&self, id: &str) -> Option<&Arc<Network>> {
        self.networks.get(id)
    }
}

fn build_network(config: &EvmConfig, n: &EvmNetworkConfig) -> Result<Network, StartError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| format!("evm network {}: {what}: {e}", n.id);
    let deposit: Address = n.deposit_address.parse().map_err(|e| bad("deposit_address", &e))?;
    let tokens = n
        .tokens
        .iter()
        .map(|t| {
            Ok(TokenRow {
                network_id: n.id.clone(),
                symbol: t.symbol.clone(),
                name: t.name.clone(),
                contract_address: t.contract_address.parse().map_err(|e| bad(&t.symbol, &e))?,
                decimals: t.decimals,
                is_active: true,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let client = EvmClient::new(&n.rpc_urls, n.chain_id).map_err(|e| bad("rpc_urls", &e))?;
    Ok(Network {
        row: NetworkRow {
            id: n.id.clone(),
            name: n.name.clone(),
            chain_id: n.chain_id,
            rpc_urls: n.rpc_urls.clone(),
            websocket_url: n.websocket_url.clone(),
            deposit_address: deposit,
            confirmations: n.confirmations.unwrap_or(config.confirmations).max(1),
            is_active: true,
        },
        tokens,
        client,
        start_block: n.start_block,
    })
}
