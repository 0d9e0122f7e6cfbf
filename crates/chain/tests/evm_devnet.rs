//! The EVM devnet against a real anvil (found, or installed through
//! scripts/anvil.sh, by `find_anvil`): the three tokens at their addresses
//! with the committed code, names, decimals and supply; a second start on a
//! running node reuses it and deploys nothing twice; a node on another
//! chain, or something else on the port, is refused clearly.

mod support;

use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use std::time::Duration;
use tollway_chain::evm::{EvmDevnet, EvmDevnetConfig, EvmError, DEV_TOKEN_SUPPLY};
use tollway_core::evm::Address;

alloy::sol! {
    #[sol(rpc)]
    interface IErc20 {
        function name() external view returns (string);
        function symbol() external view returns (string);
        function decimals() external view returns (uint8);
        function totalSupply() external view returns (uint256);
        function balanceOf(address owner) external view returns (uint256);
    }
}

fn alloy_address(address: &Address) -> alloy::primitives::Address {
    alloy::primitives::Address::from(address.0)
}

/// The committed runtime code of contracts/TollwayToken.json.
fn committed_runtime() -> alloy::primitives::Bytes {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts/TollwayToken.json")).expect("artifact");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    json["deployedBytecode"].as_str().expect("deployedBytecode").parse().expect("hex")
}

#[tokio::test]
async fn the_devnet_deploys_the_three_tokens_with_their_supply_to_account_0() {
    let devnet = support::devnet().await;
    assert_eq!(devnet.deployed_now(), ["USDT", "USDC", "BUSD"]);
    let accounts = EvmDevnet::accounts();
    assert_eq!(accounts[0].address.to_string(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    assert_eq!(accounts[1].address.to_string(), "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");

    let provider = ProviderBuilder::new().connect_http(devnet.rpc_url().parse().expect("url"));
    assert_eq!(provider.get_chain_id().await.expect("chain id"), 56);
    // anvil's unlocked accounts are the ones whose keys accounts() gives.
    let unlocked = provider.get_accounts().await.expect("eth_accounts");
    for account in &accounts {
        assert_eq!(unlocked[account.index as usize], alloy_address(&account.address), "account {}", account.index);
    }
    let deployer = alloy_address(&accounts[0].address);
    assert_eq!(provider.get_transaction_count(deployer).await.expect("nonce"), 3, "one transaction per token");

    let runtime = committed_runtime();
    let expected = [
        ("USDT", "Tether USD", "0x5FbDB2315678afecb367f032d93F642f64180aa3"),
        ("USDC", "USD Coin", "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"),
        ("BUSD", "BUSD Token", "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"),
    ];
    let tokens = devnet.tokens();
    assert_eq!(tokens.len(), 3);
    for (token, (symbol, name, address)) in tokens.iter().zip(expected) {
        assert_eq!((token.symbol, token.name, token.address.to_string(), token.decimals), (symbol, name, address.to_owned(), 18));
        let at = alloy_address(&token.address);
        assert_eq!(provider.get_code_at(at).await.expect("code"), runtime, "{symbol}: the committed deployedBytecode");
        let erc20 = IErc20::new(at, &provider);
        assert_eq!(erc20.name().call().await.expect("name"), name);
        assert_eq!(erc20.symbol().call().await.expect("symbol"), symbol);
        assert_eq!(erc20.decimals().call().await.expect("decimals"), 18);
        assert_eq!(erc20.totalSupply().call().await.expect("supply"), U256::from(DEV_TOKEN_SUPPLY));
        assert_eq!(DEV_TOKEN_SUPPLY, support::tokens(1_000_000));
        assert_eq!(devnet.balance_of(token.address, accounts[0].address).await.expect("balance"), DEV_TOKEN_SUPPLY, "{symbol}");
        assert_eq!(devnet.balance_of(token.address, accounts[1].address).await.expect("balance"), 0, "{symbol}");
    }
    devnet.client().check_chain_id().await.expect("chain 56");
    devnet.stop().await.expect("stop");
}

#[tokio::test]
async fn start_or_reuse_on_a_running_node_reuses_it_and_deploys_nothing_twice() {
    let config = support::devnet_config();
    let first = support::start(config.clone()).await;
    let account0 = EvmDevnet::accounts()[0].address;
    let usdt = first.tokens()[0].address;
    let hash = first.transfer(usdt, &EvmDevnet::accounts()[0].secret_key, EvmDevnet::accounts()[1].address, 5).await.expect("transfer");
    let nonce_before = 4;

    // A binary that does not exist proves nothing is spawned.
    let reuse = EvmDevnetConfig { anvil_bin: Some("/nonexistent/anvil".into()), ..config.clone() };
    let second = EvmDevnet::start_or_reuse(reuse).await.expect("reuses the running node");
    assert!(second.is_reused());
    assert!(second.deployed_now().is_empty(), "deployed {:?} twice", second.deployed_now());
    assert_eq!(second.rpc_url(), first.rpc_url());
    assert_eq!(second.balance_of(usdt, account0).await.expect("balance"), support::tokens(1_000_000) - 5, "the same chain");
    let receipt = second.client().transaction(hash).await.expect("receipt").expect("mined");
    assert!(receipt.succeeded);
    let provider = ProviderBuilder::new().connect_http(first.rpc_url().parse().expect("url"));
    assert_eq!(provider.get_transaction_count(alloy_address(&account0)).await.expect("nonce"), nonce_before);

    // Stopping the reusing value leaves the node running.
    second.stop().await.expect("stop the reuser");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let head = first.client().head().await.expect("the node still answers");
    assert!(head.number >= receipt.block_number, "head {} is before the transfer's block {}", head.number, receipt.block_number);

    // The same port with another chain id: refused, nothing started.
    let other_chain = EvmDevnetConfig { chain_id: 97, ..config.clone() };
    match EvmDevnet::start_or_reuse(other_chain).await {
        Err(e @ EvmError::WrongChain { expected: 97, got: 56, .. }) => assert_eq!(e.code(), "wrong_chain"),
        other => panic!("expected wrong_chain, got {other:?}"),
    }
    first.stop().await.expect("stop");

    // A port held by something that is not a node: port_taken.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in holder.incoming() {
            drop(stream);
        }
    });
    match EvmDevnet::start_or_reuse(EvmDevnetConfig { port, ..config }).await {
        Err(e @ EvmError::PortTaken { .. }) => assert_eq!(e.code(), "port_taken"),
        other => panic!("expected port_taken, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_anvil_binary_is_a_clear_error() {
    let config = EvmDevnetConfig { anvil_bin: Some("/nonexistent/anvil".into()), ..support::devnet_config() };
    match EvmDevnet::start_or_reuse(config).await {
        Err(e @ EvmError::AnvilMissing(_)) => {
            assert_eq!(e.code(), "anvil_missing");
            assert!(e.to_string().contains("/nonexistent/anvil"), "{e}");
        }
        other => panic!("expected anvil_missing, got {other:?}"),
    }
}
