//! Part 2 of `tollway bench checkout`: catch-up after downtime. With the
//! server up, `--transfers` sessions are created, each for its own amount
//! (1.000, 1.001, … USDT); then the server is stopped (its runtime shut
//! down, watcher included) and anvil's interval mining paused. Anvil's
//! account 0 (unlocked on anvil) pays every session with
//! `eth_sendTransaction`, `--per-block` transfers per block, each block
//! mined with `anvil_mine` and followed by `--gap-blocks` empty ones; then
//! the confirmations are mined and interval mining resumes. The server is
//! started again on the same database and timed, from the start call,
//! until its cursor has passed the last transfer's block (every log
//! recorded) and until every session is paid.
//!
//! For comparison the bench then does, alone, what the scan and the
//! confirmations ask of the node: one `eth_getLogs` over the whole range,
//! and one `eth_getBlockByNumber` per transfer, one after another.

use super::checkout_setup::{anvil, config, fresh_url, CheckoutArgs, DEPOSIT, NETWORK};
use super::checkout_server::{clients, create_sessions, Server};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tollway_chain::evm::EvmDevnet;
use tollway_core::evm::Address;
use tollway_store::{now_ms, Store};

/// Longest wait for the server to catch up.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Creations in flight while setting up.
const SETUP_CONCURRENCY: usize = 16;

/// The figures of part 2.
#[derive(Debug, Default)]
pub struct CatchUp {
    /// Transfers made (one per session).
    pub transfers: usize,
    /// The first block holding a transfer.
    pub first_block: u64,
    /// The last block holding a transfer.
    pub last_block: u64,
    /// The head at the restart less the stopped server's cursor.
    pub blocks_behind: u64,
    /// Blocks holding at least one transfer.
    pub blocks_with_logs: usize,
    /// How long `tollway_server::start` took.
    pub started_in: Duration,
    /// From the start call to the cursor passing the last transfer's block.
    pub scanned: Duration,
    /// From the start call to the first session paid.
    pub first_paid: Duration,
    /// From the start call to every session paid.
    pub all_paid: Duration,
    /// The bench's own `eth_getLogs` over the range.
    pub get_logs: Duration,
    /// `eth_getBlockByNumber` calls the bench made, one per transfer.
    pub block_reads: usize,
    /// How long they took, one after another.
    pub block_reads_took: Duration,
    /// How long sending and mining took.
    pub sending: Duration,
}

/// Runs part 2.
pub async fn run(args: &CheckoutArgs) -> anyhow::Result<CatchUp> {
    let count = args.transfers;
    let chain = anvil(args).await?;
    let devnet = &chain.devnet;
    let url = fresh_url(args).await?;
    let server = Server::start(config(&chain, &url, args)).await?;
    let store = Store::connect(&url).await?;
    let clients = clients(count)?;
    let amount = |i: usize| format!("{}.{:03}", 1 + i / 1_000, i % 1_000);
    let created = create_sessions(&server.base, &clients, count, SETUP_CONCURRENCY, |i| {
        json!({"amount": amount(i), "token": "USDT", "network": NETWORK})
    })
    .await;
    anyhow::ensure!(created.sessions.len() == count, "created {} of {count} sessions: {:?}", created.sessions.len(), created.refused);
    let waited = Instant::now();
    while store.evm_cursor(NETWORK).await?.is_none() {
        anyhow::ensure!(waited.elapsed() < Duration::from_secs(60), "the watcher never saved a cursor");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await?;
    let cursor = store.evm_cursor(NETWORK).await?.ok_or_else(|| anyhow::anyhow!("no cursor"))?;
    println!("catch-up: {count} sessions created in {:.1} s; server stopped, cursor at block {}", created.elapsed.as_secs_f64(), cursor.0);

    let rpc = Rpc { http: reqwest::Client::new(), url: devnet.rpc_url() };
    let usdt = devnet.tokens().iter().find(|t| t.symbol == "USDT").map(|t| t.address).ok_or_else(|| anyhow::anyhow!("no USDT"))?;
    let payer = EvmDevnet::accounts().first().map(|a| a.address).ok_or_else(|| anyhow::anyhow!("no account 0"))?;
    let deposit: Address = DEPOSIT.parse()?;
    rpc.call("evm_setIntervalMining", json!([0])).await?;
    let start_head = devnet.client().head().await?.number;
    let sending = Instant::now();
    let batches = created.sessions.chunks(args.per_block.max(1)).count();
    for (k, batch) in created.sessions.chunks(args.per_block.max(1)).enumerate() {
        for (_, _, units) in batch {
            let data = format!("0xa9059cbb{}{units:064x}", hex::encode(deposit.as_topic()));
            let tx = json!({"from": payer.to_string(), "to": usdt.to_string(), "gas": "0x186a0", "data": data});
            rpc.call("eth_sendTransaction", json!([tx])).await?;
        }
        devnet.mine(1).await?;
        if args.gap_blocks > 0 {
            devnet.mine(args.gap_blocks).await?;
        }
        if (k + 1) % 50 == 0 || k + 1 == batches {
            println!("catch-up: sent {} of {count} transfers ({:.1} s)", ((k + 1) * args.per_block).min(count), sending.elapsed().as_secs_f64());
        }
    }
    devnet.mine(args.confirmations).await?;
    let sending = sending.elapsed();
    rpc.call("evm_setIntervalMining", json!([args.block_time])).await?;
    let client = devnet.client();
    let head = client.head().await?.number;
    let t = Instant::now();
    let logs = client.transfer_logs(start_head + 1, head, &[usdt], &[deposit]).await?;
    let get_logs = t.elapsed();
    anyhow::ensure!(logs.len() == count, "{} of {count} transfers are on the chain", logs.len());
    let blocks: BTreeSet<u64> = logs.iter().map(|l| l.block_number).collect();
    let (first_block, last_block) = (blocks.first().copied().unwrap_or(0), blocks.last().copied().unwrap_or(0));
    let t = Instant::now();
    for log in &logs {
        client.block(log.block_number).await?;
    }
    let block_reads_took = t.elapsed();
    anyhow::ensure!(store.evm_cursor(NETWORK).await? == Some(cursor), "the cursor moved while the server was stopped");

    let t0 = Instant::now();
    let server = Server::start(config(&chain, &url, args)).await?;
    let blocks_behind = client.head().await?.number.saturating_sub(cursor.0);
    let (mut scanned, mut first_paid) = (None, None);
    // The cursor is read every 25 ms, the paid count every 100 ms.
    let mut counted: Option<Instant> = None;
    let all_paid = loop {
        let elapsed = t0.elapsed();
        if scanned.is_none() && store.evm_cursor(NETWORK).await?.is_some_and(|c| c.0 >= last_block) {
            scanned = Some(elapsed);
        }
        if counted.is_none_or(|c| c.elapsed() >= Duration::from_millis(100)) {
            counted = Some(Instant::now());
            let paid = usize::try_from(store.payment_stats(now_ms()).await?.paid)?;
            if paid > 0 && first_paid.is_none() {
                first_paid = Some(elapsed);
            }
            if paid >= count {
                break elapsed;
            }
        }
        anyhow::ensure!(elapsed < CATCH_UP_TIMEOUT, "not every session paid in {} s", CATCH_UP_TIMEOUT.as_secs());
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let stats = store.payment_stats(now_ms()).await?;
    println!(
        "catch-up check: {} paid, {} late, {} partial, {} over, {} unmatched transfers",
        stats.paid, stats.paid_late, stats.paid_partial, stats.paid_over, stats.unmatched_transfers
    );
    let started_in = server.started_in;
    server.stop().await?;
    chain.devnet.stop().await?;
    Ok(CatchUp {
        transfers: count,
        first_block,
        last_block,
        blocks_behind,
        blocks_with_logs: blocks.len(),
        started_in,
        scanned: scanned.unwrap_or(all_paid),
        first_paid: first_paid.unwrap_or(all_paid),
        all_paid,
        get_logs,
        block_reads: logs.len(),
        block_reads_took,
        sending,
    })
}

/// Plain JSON-RPC to anvil, for the methods the devnet helpers lack.
struct Rpc {
    http: reqwest::Client,
    url: String,
}

impl Rpc {
    /// Calls `method` with `params`; its `result`.
    async fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let answer: Value = self.http.post(&self.url).json(&body).send().await?.error_for_status()?.json().await?;
        if let Some(error) = answer.get("error") {
            anyhow::bail!("{method}: {error}");
        }
        Ok(answer["result"].clone())
    }
}
