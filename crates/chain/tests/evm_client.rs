//! `EvmClient` against a real anvil with the devnet's tokens: heads, blocks
//! and the finalized tag; Transfer logs filtered by token and recipient; a
//! receipt with its Transfer logs, a reverted transaction, an unknown hash;
//! what a reorg and a rollback do to block hashes; and, against a fake
//! node, a JSON-RPC error (returned, not failed over) and malformed logs
//! (skipped and counted).

mod support;

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use support::fake_node::FakeNode;
use tollway_chain::evm::{EvmClient, EvmDevnet, EvmError};
use tollway_core::evm::{Hash32, TRANSFER_TOPIC};

/// 12.345678 tokens of 18 decimals.
const AMOUNT: u128 = 12_345_678_000_000_000_000;

#[tokio::test]
async fn heads_blocks_and_the_finalized_tag() {
    let devnet = support::devnet().await;
    let client = devnet.client();
    devnet.mine(10).await.expect("mine");
    let head = client.head().await.expect("head");
    assert!(head.number >= 10, "head {}", head.number);
    let same = client.block(head.number).await.expect("block").expect("the head exists");
    assert_eq!(same, head, "block(n) is the head it named");
    let parent = client.block(head.number - 1).await.expect("block").expect("parent");
    assert_eq!(parent.number, head.number - 1);
    assert_ne!(parent.hash, head.hash);
    assert!(parent.timestamp_secs <= head.timestamp_secs);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    assert!(head.timestamp_secs.abs_diff(now) < 3600, "a timestamp in seconds: {}", head.timestamp_secs);
    assert_eq!(client.block(head.number + 1000).await.expect("block"), None, "no such block yet");
    let genesis = client.block(0).await.expect("block").expect("genesis");
    assert_eq!(genesis.number, 0);
    // --slots-in-an-epoch 1: the finalized block is a couple of blocks back.
    let finalized = client.finalized().await.expect("finalized").expect("anvil has one");
    assert!(
        finalized.number < head.number + 2 && finalized.number + 4 >= head.number,
        "finalized {} head {}",
        finalized.number,
        head.number
    );
    assert_eq!(client.block(finalized.number).await.expect("block"), Some(finalized));
    let status = &client.endpoints()[0];
    assert!(status.is_current && status.healthy && status.failures == 0 && status.requests >= 6, "{status:?}");
    assert_eq!(client.url(), devnet.rpc_url());
    devnet.stop().await.expect("stop");
}

#[tokio::test]
async fn transfer_logs_find_a_transfer_by_token_and_recipient_and_nothing_else() {
    let devnet = support::devnet().await;
    let client = devnet.client();
    let accounts = EvmDevnet::accounts();
    let (usdt, usdc, busd) = (devnet.tokens()[0].address, devnet.tokens()[1].address, devnet.tokens()[2].address);
    let from = accounts[0].address;
    let (alice, bob) = (accounts[1].address, accounts[2].address);
    let start = client.head().await.expect("head").number;
    let to_alice = devnet.transfer(usdt, &accounts[0].secret_key, alice, AMOUNT).await.expect("USDT to alice");
    let to_bob = devnet.transfer(usdc, &accounts[0].secret_key, bob, 5).await.expect("USDC to bob");
    let end = client.head().await.expect("head").number;
    let alice_receipt = client.transaction(to_alice).await.expect("receipt").expect("mined");

    let found = client.transfer_logs(start, end, &[usdt], &[alice]).await.expect("logs");
    assert_eq!(found.len(), 1, "{found:?}");
    let log = &found[0];
    assert_eq!((log.token, log.from, log.to), (usdt, from, alice));
    assert_eq!((log.value, log.value_text.as_str()), (Some(AMOUNT), "12345678000000000000"));
    assert_eq!(log.tx_hash, to_alice);
    assert_eq!((log.block_number, log.block_hash), (alice_receipt.block_number, alice_receipt.block_hash));
    let block = client.block(log.block_number).await.expect("block").expect("exists");
    assert_eq!(block.hash, log.block_hash, "the canonical block's hash");
    assert_eq!(alice_receipt.transfers, found, "the receipt has the same log");

    // Another recipient, another token, another range: nothing.
    assert_eq!(client.transfer_logs(start, end, &[usdt], &[bob]).await.expect("logs"), vec![]);
    assert_eq!(client.transfer_logs(start, end, &[usdc, busd], &[alice]).await.expect("logs"), vec![]);
    assert_eq!(client.transfer_logs(start, log.block_number - 1, &[usdt], &[alice]).await.expect("logs"), vec![]);
    assert_eq!(client.transfer_logs(start, end, &[], &[alice]).await.expect("logs"), vec![]);
    // Both tokens, both recipients: both transfers, in chain order.
    let both = client.transfer_logs(start, end, &[usdt, usdc], &[alice, bob]).await.expect("logs");
    let seen: Vec<_> = both.iter().map(|l| (l.token, l.to, l.value, l.tx_hash)).collect();
    assert_eq!(seen, vec![(usdt, alice, Some(AMOUNT), to_alice), (usdc, bob, Some(5), to_bob)]);
    // The constructors' mints (from 0x0 to account 0) are there from block 0.
    let mints = client.transfer_logs(0, end, &[usdt, usdc, busd], &[from]).await.expect("logs");
    assert_eq!(mints.len(), 3);
    assert!(mints.iter().all(|m| m.from.0 == [0; 20] && m.value == Some(support::tokens(1_000_000))), "{mints:?}");
    match client.transfer_logs(end, start, &[usdt], &[alice]).await {
        Err(e @ EvmError::InvalidRequest(_)) => assert_eq!(e.code(), "invalid_request"),
        other => panic!("expected invalid_request, got {other:?}"),
    }
    assert_eq!(client.malformed_logs(), 0);
    devnet.stop().await.expect("stop");
}

#[tokio::test]
async fn a_receipt_has_its_transfers_a_revert_did_not_succeed_and_an_unknown_hash_is_none() {
    let devnet = support::devnet().await;
    let client = devnet.client();
    let accounts = EvmDevnet::accounts();
    let usdt = devnet.tokens()[0].address;

    let hash = devnet.transfer(usdt, &accounts[0].secret_key, accounts[3].address, 777).await.expect("transfer");
    let receipt = client.transaction(hash).await.expect("receipt").expect("mined");
    assert!(receipt.succeeded);
    assert_eq!(receipt.hash, hash);
    assert_eq!(client.block(receipt.block_number).await.expect("block").expect("exists").hash, receipt.block_hash);
    assert_eq!(receipt.transfers.len(), 1);
    let t = &receipt.transfers[0];
    assert_eq!((t.token, t.from, t.to, t.value), (usdt, accounts[0].address, accounts[3].address, Some(777)));
    assert_eq!((t.tx_hash, t.block_number, t.block_hash), (hash, receipt.block_number, receipt.block_hash));

    // Account 4 holds no USDT: its transfer is mined and reverts.
    let reverted = devnet.transfer(usdt, &accounts[4].secret_key, accounts[1].address, 1).await.expect("mined anyway");
    let failed = client.transaction(reverted).await.expect("receipt").expect("mined");
    assert!(!failed.succeeded, "{failed:?}");
    assert!(failed.transfers.is_empty());
    assert!(failed.block_number >= receipt.block_number);
    assert_eq!(devnet.balance_of(usdt, accounts[1].address).await.expect("balance"), 0);

    assert_eq!(client.transaction(Hash32([0x42; 32])).await.expect("asked"), None);
    devnet.stop().await.expect("stop");
}

#[tokio::test]
async fn a_reorg_changes_block_hashes_and_a_rollback_takes_the_head_back() {
    let devnet = support::devnet().await;
    let client = devnet.client();
    let accounts = EvmDevnet::accounts();
    let usdt = devnet.tokens()[0].address;
    let hash = devnet.transfer(usdt, &accounts[0].secret_key, accounts[1].address, 99).await.expect("transfer");
    let receipt = client.transaction(hash).await.expect("receipt").expect("mined");
    let before = client.block(receipt.block_number).await.expect("block").expect("exists");
    let head = client.head().await.expect("head");
    let depth = head.number - receipt.block_number + 1;
    devnet.reorg(depth).await.expect("reorg");
    let after = client.block(receipt.block_number).await.expect("block").expect("same height still there");
    assert_eq!(after.number, before.number);
    assert_ne!(after.hash, before.hash, "a watcher sees the hash change");
    // The replacement blocks are empty: the transfer is gone from the chain.
    assert_eq!(client.transaction(hash).await.expect("asked"), None);
    assert_eq!(client.transfer_logs(0, head.number + 5, &[usdt], &[accounts[1].address]).await.expect("logs"), vec![]);
    assert_eq!(devnet.balance_of(usdt, accounts[1].address).await.expect("balance"), 0);

    devnet.mine(10).await.expect("mine");
    let head = client.head().await.expect("head");
    devnet.rollback(3).await.expect("rollback");
    let back = client.head().await.expect("head");
    assert!(back.number + 2 <= head.number, "head {} went back to {} (3 blocks, one may be mined since)", head.number, back.number);
    assert_eq!(client.block(head.number).await.expect("block"), None, "the old head is gone");
    devnet.stop().await.expect("stop");
}

/// A fake node's `eth_getLogs` answer: one good Transfer log among malformed ones.
fn fake_logs(token: &str, to_topic: &str) -> Value {
    let from_topic = format!("0x{:0>64}", "f39fd6e51aad88f6f4ce6ab8827279cfffb92266");
    let word = format!("0x{:064x}", 1_000_000u64);
    let place = |i: u64| {
        json!({
            "blockNumber": "0x5", "blockHash": format!("0x{:064x}", 0xb10c), "transactionHash": format!("0x{:064x}", 0x7700 + i),
            "transactionIndex": "0x0", "logIndex": format!("0x{i:x}"), "removed": false,
        })
    };
    let log = |i: u64, address: &str, topics: Vec<&str>, data: &str| {
        let mut log = place(i);
        log["address"] = json!(address);
        log["topics"] = json!(topics);
        log["data"] = json!(data);
        log
    };
    let other_token = "0x0000000000000000000000000000000000000bad";
    json!([
        log(0, token, vec![TRANSFER_TOPIC, &from_topic, to_topic], &word),
        log(1, token, vec![TRANSFER_TOPIC, &from_topic], &word),
        log(2, token, vec![TRANSFER_TOPIC, &from_topic, to_topic], "0x00"),
        log(3, token, vec![TRANSFER_TOPIC, &from_topic, to_topic, &from_topic], "0x"),
        log(4, other_token, vec![TRANSFER_TOPIC, &from_topic, to_topic], &word),
    ])
}

#[tokio::test]
async fn malformed_logs_are_skipped_and_counted_and_a_json_rpc_error_is_not_failed_over() {
    let accounts = EvmDevnet::accounts();
    let token = accounts[4].address; // any address will do for a fake node
    let to = accounts[1].address;
    let (token_text, to_topic) = (token.to_string().to_lowercase(), format!("0x{}", hex::encode(to.as_topic())));
    let logs = fake_logs(&token_text, &to_topic);
    let node = FakeNode::start(Arc::new(move |method: &str, params: &Value| match (method, params[0].as_str()) {
        ("eth_getLogs", _) => Ok(logs.clone()),
        ("eth_getBlockByNumber", Some("finalized")) => Err((-32000, "finalized block not found".into())),
        _ => Err((-32601, format!("the method {method} does not exist"))),
    }))
    .await;
    // The second URL is never asked: nothing listens there.
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let client = EvmClient::new(&[node.url.clone(), dead], 56).expect("client").with_request_timeout(Duration::from_secs(2));

    let found = client.transfer_logs(0, 10, &[token], &[to]).await.expect("logs");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].token, found[0].to, found[0].value, found[0].log_index), (token, to, Some(1_000_000), 0));
    assert_eq!(found[0].block_number, 5);
    assert_eq!(client.malformed_logs(), 4, "two and four topics, short data, a token not asked for");

    // A JSON-RPC error is the request's: returned as is, the next endpoint untouched.
    match client.block(3).await {
        Err(e @ EvmError::Rpc { code: -32601, .. }) => assert_eq!(e.code(), "rpc_error"),
        other => panic!("expected rpc_error, got {other:?}"),
    }
    // A node that refuses the finalized tag has no finalized block.
    assert_eq!(client.finalized().await.expect("not an error"), None);
    let status = client.endpoints();
    assert!(status[0].is_current && status[0].healthy && status[0].failures == 0, "{:?}", status[0]);
    assert_eq!((status[1].requests, status[1].failures), (0, 0), "never failed over to");
    assert_eq!(node.calls(), 3);
}
