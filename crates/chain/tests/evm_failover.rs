//! `EvmClient` failover against real anvils: two TCP proxies in front of
//! one node, the first killed mid-run (requests keep succeeding, the status
//! shows the failure and the switch); a stalled endpoint (timeout); an
//! endpoint on another chain (`wrong_chain`); a lagging endpoint listed
//! first (passed over); bad URLs refused without I/O.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::proxy::{socket_of, Proxy};
use tollway_chain::evm::{EvmClient, EvmDevnet, EvmDevnetConfig, EvmError};

#[test]
fn an_empty_list_or_a_bad_url_is_refused_without_io() {
    match EvmClient::new(&[], 56) {
        Err(e @ EvmError::NoEndpoints) => assert_eq!(e.code(), "no_rpc_urls"),
        other => panic!("expected no_rpc_urls, got {other:?}"),
    }
    for bad in ["", "localhost:8545", "ftp://127.0.0.1:8545", "http://", "not a url"] {
        match EvmClient::new(&["http://127.0.0.1:8545".into(), bad.into()], 56) {
            Err(e @ EvmError::InvalidUrl { .. }) => assert_eq!(e.code(), "invalid_rpc_url", "{bad:?}"),
            other => panic!("{bad:?}: expected invalid_rpc_url, got {other:?}"),
        }
    }
    let client = EvmClient::new(&["http://127.0.0.1:1".into(), "https://bsc-dataseed.bnbchain.org".into()], 56).expect("valid");
    assert_eq!(client.url(), "http://127.0.0.1:1");
    let status = client.endpoints();
    assert_eq!(status.len(), 2);
    assert!(status[0].is_current && !status[1].is_current);
    assert!(status.iter().all(|s| s.healthy && s.requests == 0 && s.last_ok_ms.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_first_proxy_mid_run_fails_over_and_every_request_succeeds() {
    let devnet = support::devnet().await;
    let node = socket_of(&devnet.rpc_url());
    let (first, second) = (Proxy::start(node).await, Proxy::start(node).await);
    let client = EvmClient::new(&[first.url.clone(), second.url.clone()], 56).expect("client");
    client.check_chain_id().await.expect("chain 56 through the first proxy");
    let usdt = devnet.tokens()[0].address;
    let account0 = EvmDevnet::accounts()[0].address;

    // A reader hammering the client while the first proxy dies.
    let done = Arc::new(AtomicU64::new(0));
    let reader = {
        let (client, done) = (client.clone(), done.clone());
        tokio::spawn(async move {
            let mut last = 0;
            for i in 0..40u64 {
                let head = client.head().await.unwrap_or_else(|e| panic!("request {i} failed: {e}"));
                assert!(head.number >= last, "the head went back: {last} -> {}", head.number);
                last = head.number;
                let block = client.block(head.number).await.unwrap_or_else(|e| panic!("request {i} failed: {e}"));
                assert_eq!(block.map(|b| b.hash), Some(head.hash));
                let mints =
                    client.transfer_logs(0, head.number, &[usdt], &[account0]).await.unwrap_or_else(|e| panic!("request {i} failed: {e}"));
                assert_eq!(mints.len(), 1, "the USDT mint");
                done.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
    };
    while done.load(Ordering::SeqCst) < 10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(client.url(), first.url, "the first proxy served until now");
    first.kill();
    reader.await.expect("every request succeeded");
    assert_eq!(done.load(Ordering::SeqCst), 40);

    assert_eq!(client.url(), second.url);
    let status = client.endpoints();
    let (dead, alive) = (&status[0], &status[1]);
    assert_eq!(dead.url, first.url);
    assert!(!dead.is_current && !dead.healthy, "{dead:?}");
    assert_eq!((dead.failures, dead.switches_away), (1, 1), "{dead:?}");
    assert!(dead.last_error.as_deref().is_some_and(|e| e.contains(&first.url)), "{dead:?}");
    assert!(dead.last_failure_ms >= dead.last_ok_ms && dead.last_ok_ms.is_some(), "{dead:?}");
    assert!(alive.is_current && alive.healthy && alive.failures == 0 && alive.switches_away == 0, "{alive:?}");
    assert!(alive.requests >= 90, "the second proxy served the rest: {alive:?}");
    assert_eq!(dead.requests + alive.requests, 1 + 2 + 120 + 1, "chain id, the survey, 3 × 40 calls, the one retry");
    devnet.stop().await.expect("stop");
}

#[tokio::test]
async fn a_stalled_endpoint_times_out_and_the_next_one_answers() {
    let devnet = support::devnet().await;
    let node = socket_of(&devnet.rpc_url());
    let (stalled, good) = (Proxy::start(node).await, Proxy::start(node).await);
    stalled.stall(true);
    let client =
        EvmClient::new(&[stalled.url.clone(), good.url.clone()], 56).expect("client").with_request_timeout(Duration::from_millis(400));
    let started = std::time::Instant::now();
    let block = client.block(1).await.expect("answered by the second endpoint").expect("block 1");
    assert!(started.elapsed() >= Duration::from_millis(400), "waited for the timeout");
    assert_eq!(Some(block), devnet.client().block(1).await.expect("direct"));
    assert_eq!(client.url(), good.url);
    let status = client.endpoints();
    assert_eq!(status[0].last_error.as_deref(), Some("no answer within 400 ms"));
    assert_eq!((status[0].failures, status[0].switches_away, status[0].healthy), (1, 1, false));

    // The second one dead too, the first still stalled: rpc_unavailable, naming both.
    good.kill();
    match client.block(1).await {
        Err(e @ EvmError::Unavailable { .. }) => {
            assert_eq!(e.code(), "rpc_unavailable");
            assert!(e.is_retryable());
            let EvmError::Unavailable { attempts, .. } = &e else { unreachable!() };
            assert_eq!(attempts.len(), 2, "{attempts:?}");
            assert!(attempts[0].starts_with(&good.url) && attempts[1].starts_with(&stalled.url), "{attempts:?}");
        }
        other => panic!("expected rpc_unavailable, got {other:?}"),
    }
    devnet.stop().await.expect("stop");
}

#[tokio::test]
async fn an_endpoint_on_another_chain_is_wrong_chain() {
    let devnet = support::start(EvmDevnetConfig { chain_id: 97, ..support::devnet_config() }).await;
    let client = EvmClient::new(&[devnet.rpc_url()], 56).expect("client");
    match client.check_chain_id().await {
        Err(e @ EvmError::WrongChain { expected: 56, got: 97, .. }) => {
            assert_eq!(e.code(), "wrong_chain");
            assert!(!e.is_retryable());
        }
        other => panic!("expected wrong_chain, got {other:?}"),
    }
    let status = &client.endpoints()[0];
    assert!(!status.healthy && status.last_error.as_deref().is_some_and(|e| e.contains("chain 97")), "{status:?}");
    // Right chain id, the same node: fine.
    EvmClient::new(&[devnet.rpc_url()], 97).expect("client").check_chain_id().await.expect("chain 97");
    devnet.stop().await.expect("stop");
}

#[tokio::test]
async fn a_lagging_endpoint_listed_first_is_passed_over() {
    let good = support::devnet().await;
    let behind = support::devnet().await;
    good.mine(100).await.expect("mine");
    let good_head = good.client().head().await.expect("head").number;
    let behind_head = behind.client().head().await.expect("head").number;
    assert!(behind_head + 50 < good_head, "{behind_head} vs {good_head}");

    let client = EvmClient::new(&[behind.rpc_url(), good.rpc_url()], 56).expect("client");
    let head = client.head().await.expect("head");
    assert!(head.number >= good_head, "the good node's head, not the lagging one's: {} < {good_head}", head.number);
    assert_eq!(client.url(), good.rpc_url());
    let status = client.endpoints();
    assert!(!status[0].is_current && !status[0].healthy && status[0].switches_away == 1, "{:?}", status[0]);
    assert!(status[0].last_error.as_deref().is_some_and(|e| e.starts_with("lagging")), "{:?}", status[0]);
    assert!(status[1].is_current && status[1].healthy, "{:?}", status[1]);
    // Later calls go to the good node: a block only it has.
    assert_eq!(client.block(good_head).await.expect("block").map(|b| b.number), Some(good_head));

    // Only the lagging node left: the client takes what there is.
    good.stop().await.expect("stop");
    let only = client.head().await.expect("the lagging head, the only one");
    assert!(only.number < good_head && only.number >= behind_head, "{}", only.number);
    behind.stop().await.expect("stop");
}
