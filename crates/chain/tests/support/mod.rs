//! Shared by the `evm_*` tests: a devnet on a free port (anvil found, or
//! installed, by `find_anvil`), TCP proxies to put in front of a node, and
//! a fake JSON-RPC node that answers what a test tells it to.
#![allow(dead_code)]

pub mod fake_node;
pub mod proxy;

use tollway_chain::evm::{EvmDevnet, EvmDevnetConfig};

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A devnet config on a free port of 127.0.0.1 (anvil from `find_anvil`).
pub fn devnet_config() -> EvmDevnetConfig {
    EvmDevnetConfig { port: free_port(), ..EvmDevnetConfig::default() }
}

/// Starts a fresh devnet (its own anvil) with `config`.
pub async fn start(config: EvmDevnetConfig) -> EvmDevnet {
    let devnet = EvmDevnet::start_or_reuse(config).await.expect("the devnet starts");
    assert!(!devnet.is_reused(), "a fresh devnet, not someone else's node");
    devnet
}

/// Starts a fresh devnet on a free port, chain id 56.
pub async fn devnet() -> EvmDevnet {
    start(devnet_config()).await
}

/// `units` × 10^18 minus nothing: whole tokens of 18 decimals in units.
pub fn tokens(whole: u128) -> u128 {
    whole * 10u128.pow(18)
}
