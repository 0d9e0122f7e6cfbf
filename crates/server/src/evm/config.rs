//! Configuration of the stablecoin checkout (`[evm]`; docs/stablecoin.md).

use serde::{Deserialize, Serialize};

/// The stablecoin checkout: off unless a network is configured or
/// `TOLLWAY_EVM_DEVNET=1` starts a local anvil.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvmConfig {
    /// Networks payments are accepted on.
    pub networks: Vec<EvmNetworkConfig>,
    /// Blocks a transfer needs, its own included, unless its network says
    /// otherwise (the chain's `finalized` tag is also awaited where it has
    /// one).
    pub confirmations: u64,
    /// How long a buyer has to pay, seconds.
    pub session_ttl_secs: u64,
    /// How long after the expiry a session keeps its unique amount, so a
    /// late payment still finds it (recorded as `paid_late`), seconds.
    pub late_grace_secs: u64,
    /// How often the watcher reads the chain, milliseconds.
    pub poll_interval_ms: u64,
    /// Most blocks one `eth_getLogs` asks for.
    pub max_blocks_per_scan: u64,
    /// Points credited per whole token paid (stablecoins: per US dollar).
    pub points_per_token: u64,
    /// Unique amounts step in units of `10^-amount_step_digits` of a token.
    pub amount_step_digits: u8,
    /// How many unique amounts one base amount may be given.
    pub amount_slots: u32,
    /// The largest amount a session may ask for, whole tokens.
    pub max_amount: String,
    /// Sessions one client (key or IP) may have waiting at once.
    pub max_open_per_client: u32,
    /// WebSocket connections in total.
    pub ws_max_total: usize,
    /// WebSocket connections per client IP.
    pub ws_max_per_ip: usize,
    /// Seconds between the server's WebSocket pings.
    pub ws_ping_secs: u64,
    /// The key merchant webhooks are signed with (HMAC-SHA256 of the raw
    /// body); unset: sessions with a webhook URL are refused.
    pub webhook_secret: Option<String>,
    /// Webhook attempts before giving up.
    pub webhook_max_attempts: u32,
    /// What the checkout sells (points packs).
    pub products: Vec<ProductConfig>,
    /// The port a devnet's anvil listens on (`TOLLWAY_EVM_DEVNET=1`).
    pub devnet_port: u16,
    /// A file the devnet's chain is kept in across restarts (`make run`
    /// uses `data/evm-devnet.json`); unset: a new chain every start.
    pub devnet_state: Option<String>,
}

impl Default for EvmConfig {
    fn default() -> Self {
        let product = |id: &str, name: &str, price: &str, description: &str| ProductConfig {
            id: id.into(),
            name: name.into(),
            description: description.into(),
            price: price.into(),
        };
        EvmConfig {
            networks: Vec::new(),
            confirmations: 3,
            session_ttl_secs: 15 * 60,
            late_grace_secs: 24 * 3_600,
            poll_interval_ms: 1_000,
            max_blocks_per_scan: 2_000,
            points_per_token: 10_000,
            amount_step_digits: 6,
            amount_slots: 1_000,
            max_amount: "1000000".into(),
            max_open_per_client: 20,
            ws_max_total: 1_000,
            ws_max_per_ip: 20,
            ws_ping_secs: 20,
            webhook_secret: None,
            webhook_max_attempts: 8,
            products: vec![
                product("points-10k", "10,000 points", "1.00", "About 60 answers of the small model."),
                product("points-50k", "50,000 points", "5.00", "About 300 answers of the small model."),
                product("points-200k", "200,000 points", "20.00", "About 1,200 answers of the small model."),
            ],
            devnet_port: 8545,
            devnet_state: None,
        }
    }
}

/// A network payments are accepted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvmNetworkConfig {
    /// Its id in the API (`bsc`, `bsc-testnet`, `bsc-local`).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// EIP-155 chain id (56 for BNB Smart Chain, 97 for its testnet).
    pub chain_id: u64,
    /// JSON-RPC endpoints; when one dies or lags, the next serves.
    pub rpc_urls: Vec<String>,
    /// A WebSocket endpoint shown to clients, if any.
    #[serde(default)]
    pub websocket_url: Option<String>,
    /// Where buyers pay (the merchant's address; no key is held).
    pub deposit_address: String,
    /// Confirmations on this network (default: `evm.confirmations`).
    #[serde(default)]
    pub confirmations: Option<u64>,
    /// The block the watcher starts from on a new database (default: the
    /// head at first start).
    #[serde(default)]
    pub start_block: Option<u64>,
    /// Tokens accepted.
    pub tokens: Vec<EvmTokenConfig>,
}

/// A token accepted on a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvmTokenConfig {
    /// `USDT`, `USDC`, `BUSD`.
    pub symbol: String,
    /// Its name.
    pub name: String,
    /// Its contract.
    pub contract_address: String,
    /// Its decimals (18 for BSC's pegged stablecoins).
    pub decimals: u8,
}

/// Something the checkout sells: a pack of points at a price in US dollars
/// (paid 1:1 in a stablecoin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductConfig {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// A line about it.
    pub description: String,
    /// Its price, a decimal in whole tokens.
    pub price: String,
}
