//! `tollway bench hub`: payments per second through the CKB hub (issue 16,
//! docs/hub.md) against the pool's size, on a real devnet node with an
//! in-process server. For each pool size: a new devnet (blocks every
//! `--block-ms`), the sender (test account 1) splits its genesis cell into
//! `--sender-cells` cells so that many of its payments can be open at
//! once, a server on a fresh database makes its pool of exactly that many
//! cells, then `--payments` payments of 1 CKB are made through the payer
//! SDK (`hub_pay`: prepare, review, sign, transfer), `--concurrency` at a
//! time, each retried while the pool is busy (503 `hub_busy`), and timed
//! until every one is complete (committed and split).

use super::measure::{backend, pct_ms};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollway_chain::ckb::hub::{split, LiveCell};
use tollway_chain::ckb::{Devnet, DevnetConfig, TestAccount};
use tollway_core::ckb::{CKB, MIN_FEE_RATE};
use tollway_payer::{hub_pay, HubPayRequest};
use tollway_server::Config;
use tollway_store::testing::fresh_database_url;

/// What to run.
#[derive(clap::Args, Clone, Debug)]
pub struct HubArgs {
    /// `sqlite` or `postgres` (`TOLLWAY_TEST_PG_URL`).
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// The `ckb` binary (scripts/ckb.sh prints its path).
    #[arg(long, env = "TOLLWAY_CKB_BIN")]
    ckb_bin: PathBuf,
    /// Pool sizes, one run each.
    #[arg(long, num_args = 1.., default_values_t = [1u32, 10, 100])]
    pools: Vec<u32>,
    /// Payments per run.
    #[arg(long, default_value_t = 200)]
    payments: usize,
    /// Payments in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// The sender's cells (each can be in one open payment).
    #[arg(long, default_value_t = 200)]
    sender_cells: usize,
    /// Milliseconds between blocks.
    #[arg(long, default_value_t = 1_000)]
    block_ms: u64,
    /// Seconds a payment may take from its first prepare (retries while
    /// the pool is busy included) to complete before the run fails.
    #[arg(long, default_value_t = 1_800)]
    deadline_secs: u64,
}

/// One run's figures.
struct Run {
    pool: u32,
    done: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    busy: usize,
    /// Payments the payer gave up on, by error code.
    refused: BTreeMap<String, usize>,
    /// Every payment the hub recorded, by state.
    states: BTreeMap<String, usize>,
    /// Why the failed ones failed (the node's refusal, shortened).
    failures: BTreeMap<String, usize>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs the benchmark and prints its table.
pub async fn run(args: HubArgs) -> anyhow::Result<()> {
    backend(&args.backend)?;
    if std::env::var_os("RUST_LOG").is_some() {
        tollway_server::init_tracing(false);
    }
    let mut runs = Vec::new();
    for &pool in &args.pools {
        runs.push(one(&args, pool).await?);
    }
    println!("\n== hub {}: {} payments of 1 CKB, {} at a time, a block every {} ms ==", args.backend, args.payments, args.concurrency, args.block_ms);
    println!("| pool cells | complete | seconds | payments/s | p50 prepare→complete | p95 | busy retries | given up |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &runs {
        let mut l = r.latencies.clone();
        l.sort();
        println!(
            "| {} | {} | {:.1} | {:.2} | {:.0} ms | {:.0} ms | {} | {} |",
            r.pool,
            r.done,
            r.elapsed.as_secs_f64(),
            r.done as f64 / r.elapsed.as_secs_f64().max(1e-9),
            pct_ms(&l, 0.5),
            pct_ms(&l, 0.95),
            r.busy,
            r.refused.values().sum::<usize>()
        );
    }
    for r in &runs {
        println!("pool {}: payments by state {:?}; given up by code {:?}; failed because {:?}", r.pool, r.states, r.refused, r.failures);
    }
    Ok(())
}

async fn one(args: &HubArgs, pool: u32) -> anyhow::Result<Run> {
    let dir = std::env::temp_dir().join(format!("tollway-bench-hub-{}-{pool}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let devnet =
        Devnet::start(DevnetConfig { binary: args.ckb_bin.clone(), dir: dir.clone(), rpc_port: free_port()?, p2p_port: free_port()? }).await?;
    let rpc = devnet.rpc().clone();
    let miner = rpc.clone();
    let block = Duration::from_millis(args.block_ms.max(50));
    let mining = tokio::spawn(async move {
        loop {
            let _ = miner.generate_blocks(1).await;
            tokio::time::sleep(block).await;
        }
    });
    // The sender's cells: its genesis cell split into many of 1,000 CKB.
    let scripts = rpc.lock_scripts().await?;
    let sender = TestAccount::nth(1);
    let genesis = rpc.live_cells(&scripts.sighash.script(&sender.lock_args().0), u64::MAX).await?;
    let cells: Vec<LiveCell> = genesis.into_iter().take(1).collect();
    let spread = split(&scripts, &sender.key, &cells, args.sender_cells, 1_000 * CKB, MIN_FEE_RATE)?;
    rpc.send(&spread.tx).await?;
    wait_committed(&rpc, &spread.tx.hash()).await?;
    rpc.indexer_synced().await?;

    let url = fresh_database_url(backend(&args.backend)?).await?;
    let mut config = Config { listen: "127.0.0.1:0".into(), database_url: url, model_path: "/nonexistent".into(), ..Config::default() };
    config.ckb.rpc_url = Some(rpc.url().to_owned());
    config.ckb.seller_secret = Some(TestAccount::nth(2).secret_hex());
    config.hub.secret = Some(TestAccount::nth(3).secret_hex());
    config.hub.init_pool = true;
    config.hub.pool_cells = pool;
    config.hub.job_interval_ms = 100;
    config.hub.max_open_per_sender = 10_000;
    config.hub.max_open_per_client = 10_000;
    let running = tollway_server::start(config).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let info: serde_json::Value = http.get(format!("{base}/api/hub")).send().await?.json().await?;
        if info["pool"]["free_cells"].as_u64() == Some(u64::from(pool)) {
            break;
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(120), "the pool of {pool} was not made: {info}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("pool of {pool} ready in {:.1} s", started.elapsed().as_secs_f64());

    let request = HubPayRequest {
        server: base.clone(),
        api_key: None,
        rpc_url: rpc.url().to_owned(),
        wallet_secret: sender.secret_hex(),
        to: format!("0x{}", "42".repeat(20)),
        amount: CKB,
        max_fee: 100_000,
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.payments {
        let (request, slots, http, base) = (request.clone(), slots.clone(), http.clone(), base.clone());
        let deadline = Duration::from_secs(args.deadline_secs);
        tasks.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await?;
            let begun = Instant::now();
            let mut busy = 0usize;
            let payment = loop {
                match hub_pay(&request).await {
                    Ok(p) => break p,
                    Err(e) if e.is_transient() && begun.elapsed() < deadline => {
                        busy += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => {
                        eprintln!("payment given up: [{}] {e}", e.code());
                        return Ok::<_, anyhow::Error>(Err(e.code().to_owned()));
                    }
                }
            };
            let id = payment["payment_id"].as_i64().unwrap_or_default();
            loop {
                let p: serde_json::Value = http.get(format!("{base}/api/payment/{id}")).send().await?.json().await?;
                if p["is_complete"] == serde_json::json!(true) {
                    return Ok(Ok((begun.elapsed(), busy)));
                }
                if p["state"] != serde_json::json!("sent") {
                    eprintln!("payment {id} ended {}: {}", p["state"], p["failure"]);
                    return Ok(Err(format!("ended_{}", p["state"].as_str().unwrap_or("unknown"))));
                }
                anyhow::ensure!(begun.elapsed() < deadline, "payment {id} did not complete: {p}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    let mut latencies = Vec::new();
    let mut busy = 0;
    let mut refused = BTreeMap::new();
    for t in tasks {
        match t.await?? {
            Ok((latency, retries)) => {
                latencies.push(latency);
                busy += retries;
            }
            Err(code) => *refused.entry(code).or_insert(0) += 1,
        }
    }
    let elapsed = started.elapsed();
    let (states, failures) = recorded(&http, &base).await?;
    running.task.abort();
    mining.abort();
    drop(devnet);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Run { pool, done: latencies.len(), elapsed, latencies, busy, refused, states, failures })
}

/// Every payment the hub recorded (`GET /api/payment/all`, page by page):
/// how many in each state, and the failed ones by reason (its first 60
/// characters).
async fn recorded(http: &reqwest::Client, base: &str) -> anyhow::Result<(BTreeMap<String, usize>, BTreeMap<String, usize>)> {
    let (mut states, mut failures) = (BTreeMap::new(), BTreeMap::new());
    let mut before: Option<i64> = None;
    loop {
        let url = match before {
            Some(b) => format!("{base}/api/payment/all?limit=200&before={b}"),
            None => format!("{base}/api/payment/all?limit=200"),
        };
        let page: serde_json::Value = http.get(url).send().await?.json().await?;
        for p in page["payments"].as_array().into_iter().flatten() {
            *states.entry(p["state"].as_str().unwrap_or("?").to_owned()).or_insert(0) += 1;
            if let Some(why) = p["failure"].as_str() {
                *failures.entry(why.chars().take(60).collect::<String>()).or_insert(0) += 1;
            }
        }
        match page["next_before"].as_i64() {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    Ok((states, failures))
}

async fn wait_committed(rpc: &tollway_chain::ckb::Rpc, hash: &ckb_types::packed::Byte32) -> anyhow::Result<()> {
    for _ in 0..600 {
        if matches!(rpc.tx_status(hash).await?, tollway_chain::ckb::TxStatus::Committed(_)) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the sender's split did not commit")
}
