//! What every part of `tollway bench checkout` shares: its arguments, the
//! anvil it starts (with the delaying proxy of `--rpc-delay-ms`), a fresh
//! database and the server's configuration.

use super::checkout_server::delay_proxy;
use super::measure::backend;
use std::time::Duration;
use tollway_chain::evm::{EvmDevnet, EvmDevnetConfig};
use tollway_server::evm::{EvmConfig, EvmNetworkConfig, EvmTokenConfig};
use tollway_server::Config;
use tollway_store::testing::fresh_database_url;

/// Anvil's account 1: the deposit address (account 0 holds the tokens and pays).
pub const DEPOSIT: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/// The network's id in the API.
pub const NETWORK: &str = "bsc-local";

/// Which parts of the benchmark to run.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum CheckoutPart {
    /// All three.
    All,
    /// Detection latency only.
    Detect,
    /// Catch-up only.
    Catchup,
    /// Sessions created per second only.
    Create,
}

/// What to run.
#[derive(clap::Args, Clone, Debug)]
pub struct CheckoutArgs {
    /// `sqlite` (a new temp file) or `postgres` (a new database on TOLLWAY_TEST_PG_URL).
    #[arg(long, default_value = "sqlite")]
    pub backend: String,
    /// Which parts to run.
    #[arg(long, value_enum, default_value_t = CheckoutPart::All)]
    pub only: CheckoutPart,
    /// Seconds between anvil's blocks (the devnet's 1).
    #[arg(long, default_value_t = 1)]
    pub block_time: u64,
    /// The watcher's `poll_interval_ms` (the server's default 1,000).
    #[arg(long, default_value_t = 1_000)]
    pub poll_ms: u64,
    /// Confirmations a transfer needs, its own block included (the server's default 3).
    #[arg(long, default_value_t = 3)]
    pub confirmations: u64,
    /// Milliseconds every JSON-RPC request of the server waits before it
    /// reaches anvil (a proxy in between), as with a remote node; the
    /// bench's own calls go straight to anvil.
    #[arg(long, default_value_t = 0)]
    pub rpc_delay_ms: u64,
    /// Part 1: payments made one at a time.
    #[arg(long, default_value_t = 20)]
    pub payments: usize,
    /// Part 1: restart the server, after a random pause of up to one poll
    /// interval, before each payment. The watcher's polls and anvil's
    /// blocks both come every second, so in one server's life they meet at
    /// a nearly fixed phase; a restart draws a new one.
    #[arg(long)]
    pub restart_each: bool,
    /// Part 2: transfers made while the server is stopped.
    #[arg(long, default_value_t = 2_000)]
    pub transfers: usize,
    /// Part 2: transfers per block.
    #[arg(long, default_value_t = 10)]
    pub per_block: usize,
    /// Part 2: empty blocks mined after each block of transfers.
    #[arg(long, default_value_t = 9)]
    pub gap_blocks: u64,
    /// Part 3: sessions to create per run.
    #[arg(long, default_value_t = 2_000)]
    pub requests: usize,
    /// Part 3: requests in flight at once, one run each.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 16])]
    pub concurrency: Vec<usize>,
    /// Part 3: the server's `amount_slots` (unique amounts one base amount
    /// may be given); default: the larger of 1,000 (the server's default)
    /// and `--requests`, so that every one-amount request can succeed.
    #[arg(long)]
    pub slots: Option<u32>,
}

/// The `amount_slots` part 3 runs with.
pub fn slots(args: &CheckoutArgs) -> u32 {
    args.slots.unwrap_or_else(|| u32::try_from(args.requests).unwrap_or(u32::MAX).max(1_000))
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// An anvil for one part, and the URL the server reaches it at.
pub struct Chain {
    /// The node (stopped when dropped).
    pub devnet: EvmDevnet,
    /// Its URL, or the delaying proxy's with `--rpc-delay-ms`.
    pub server_rpc: String,
}

/// A new anvil (`TOLLWAY_ANVIL_BIN`, else scripts/anvil.sh's cache) on a
/// free port with the three tokens deployed, `--block-time` seconds apart.
pub async fn anvil(args: &CheckoutArgs) -> anyhow::Result<Chain> {
    let config = EvmDevnetConfig { port: free_port()?, block_time_secs: args.block_time, ..EvmDevnetConfig::default() };
    let devnet = EvmDevnet::start_or_reuse(config).await?;
    anyhow::ensure!(!devnet.is_reused(), "another node answered on anvil's port");
    let server_rpc = match args.rpc_delay_ms {
        0 => devnet.rpc_url(),
        ms => delay_proxy(devnet.rpc_url(), Duration::from_millis(ms)).await?,
    };
    Ok(Chain { devnet, server_rpc })
}

/// A fresh database on the chosen backend.
pub async fn fresh_url(args: &CheckoutArgs) -> anyhow::Result<String> {
    Ok(fresh_database_url(backend(&args.backend)?).await?)
}

/// The server's configuration: one network on `chain` (deposit address
/// anvil's account 1, read from block 0), the watcher's poll interval and
/// confirmations from `args`, sessions valid for a day (part 2 mines blocks
/// ahead of the clock), everything else the defaults.
pub fn config(chain: &Chain, database_url: &str, args: &CheckoutArgs) -> Config {
    let devnet = &chain.devnet;
    let network = EvmNetworkConfig {
        id: NETWORK.into(),
        name: "local anvil".into(),
        chain_id: devnet.config().chain_id,
        rpc_urls: vec![chain.server_rpc.clone()],
        websocket_url: None,
        deposit_address: DEPOSIT.into(),
        confirmations: Some(args.confirmations),
        start_block: Some(0),
        tokens: devnet
            .tokens()
            .iter()
            .map(|t| EvmTokenConfig { symbol: t.symbol.to_owned(), name: t.name.to_owned(), contract_address: t.address.to_string(), decimals: t.decimals })
            .collect(),
    };
    let evm = EvmConfig {
        networks: vec![network],
        confirmations: args.confirmations,
        poll_interval_ms: args.poll_ms,
        session_ttl_secs: 24 * 3_600,
        ..EvmConfig::default()
    };
    Config { listen: "127.0.0.1:0".into(), database_url: database_url.into(), evm, ..Config::default() }
}
