//! `tollway bench checkout`: the stablecoin checkout (issue 15,
//! docs/stablecoin.md) against a real anvil, each part on a fresh database
//! with an in-process server (`tollway_server::start`) run in a runtime of
//! its own, so that it can be stopped, watcher and all, like a process.
//!
//! 1. **Detection latency** ([`checkout_detect`](super::checkout_detect)):
//!    payments made one at a time; from the block holding the transfer to
//!    the `payment_status_update` on the payment's WebSocket that first
//!    shows it `confirming`, and then `paid`, in blocks and milliseconds.
//! 2. **Catch-up** ([`checkout_catchup`](super::checkout_catchup)):
//!    sessions created, the server stopped, many transfers made over many
//!    blocks; then the server is started and timed until the scan has
//!    recorded every log and until every session is paid.
//! 3. **Sessions created per second** ([`checkout_create`](super::checkout_create))
//!    through `POST /api/v1/payments`, all for one amount or each for its
//!    own, at several concurrencies.
//!
//! Requests come from distinct loopback addresses (127.0.0.2, …), at most
//! `max_open_per_client` (20) open sessions each, so the server's per-client
//! limit is the default one. `--restart-each` and `--rpc-delay-ms` are
//! described with their flags; the figures and the commands that gave them
//! are in docs/benchmarks.md, "Stablecoin checkout".

use super::checkout_catchup::{self, CatchUp};
use super::checkout_create::{self, CreateRow};
use super::checkout_detect::{self, Detection};
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

/// Runs the benchmark and prints its tables.
pub async fn run(args: CheckoutArgs) -> anyhow::Result<()> {
    backend(&args.backend)?;
    println!("checkout {}", settings(&args));
    let detection = match args.only {
        CheckoutPart::All | CheckoutPart::Detect => Some(checkout_detect::run(&args).await?),
        _ => None,
    };
    let catch_up = match args.only {
        CheckoutPart::All | CheckoutPart::Catchup => Some(checkout_catchup::run(&args).await?),
        _ => None,
    };
    let created = match args.only {
        CheckoutPart::All | CheckoutPart::Create => Some(checkout_create::run(&args).await?),
        _ => None,
    };
    println!();
    println!("== checkout {} ==", settings(&args));
    if let Some(d) = &detection {
        print_detection(d, &args);
    }
    if let Some(c) = &catch_up {
        print_catch_up(c, &args);
    }
    if let Some(rows) = &created {
        print_created(rows, &args);
    }
    Ok(())
}

/// The settings every part shares, in words.
fn settings(args: &CheckoutArgs) -> String {
    let delay = if args.rpc_delay_ms > 0 { format!(", server's RPC delayed {} ms", args.rpc_delay_ms) } else { String::new() };
    format!(
        "{}: anvil block time {} s, watcher poll_interval_ms {}, confirmations {}{delay}",
        args.backend, args.block_time, args.poll_ms, args.confirmations
    )
}

fn print_detection(d: &Detection, args: &CheckoutArgs) {
    let restarts = if args.restart_each { ", the server restarted before each" } else { "" };
    println!("1. detection latency, {} payments one at a time{restarts} (p50 / p95 / max)", d.payments);
    println!("| shown as | blocks after the transfer's | ms after its block's timestamp | ms after its block appeared (bench polls every 20 ms) |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, s) in [("confirming", &d.confirming), ("paid", &d.paid)] {
        println!("| {name} ({} seen) | {} | {} | {} |", s.count, triple_u64(&s.blocks), triple_ms(&s.ms_from_timestamp), triple_ms(&s.ms_from_seen));
    }
    if d.straight_to_paid > 0 {
        println!("({} payments went from waiting straight to paid)", d.straight_to_paid);
    }
    println!("send to mined (the transfer waiting for a block): {}", triple_ms(&d.send_to_block));
}

fn print_catch_up(c: &CatchUp, args: &CheckoutArgs) {
    println!(
        "2. catch-up: {} transfers, {} per block with {} empty blocks after each, over blocks {}..={} ({} blocks behind the cursor, {} with logs)",
        c.transfers, args.per_block, args.gap_blocks, c.first_block, c.last_block, c.blocks_behind, c.blocks_with_logs
    );
    println!("| step | time | logs/s |");
    println!("| --- | ---: | ---: |");
    println!("| server start (connect, migrate, networks) | {:.2} s | |", c.started_in.as_secs_f64());
    println!("| every log recorded (cursor past the last transfer) | {:.2} s | {:.0} |", c.scanned.as_secs_f64(), rate(c.transfers, c.scanned));
    println!("| first session paid | {:.2} s | |", c.first_paid.as_secs_f64());
    println!("| every session paid | {:.2} s | {:.0} |", c.all_paid.as_secs_f64(), rate(c.transfers, c.all_paid));
    println!("(times from the start call; confirmations alone: {:.0} sessions/s)", rate(c.transfers, c.all_paid.saturating_sub(c.scanned)));
    println!(
        "bench alone, same node: one eth_getLogs over the range {:.1} ms; {} eth_getBlockByNumber one after another {:.0} ms ({:.2} ms each)",
        ms(c.get_logs),
        c.block_reads,
        ms(c.block_reads_took),
        ms(c.block_reads_took) / c.block_reads.max(1) as f64
    );
    println!("(sending took {:.1} s; {} sessions created beforehand)", c.sending.as_secs_f64(), c.transfers);
}

fn print_created(rows: &[CreateRow], args: &CheckoutArgs) {
    println!("3. sessions created per second, POST /api/v1/payments, {} requests per run, amount_slots {}", args.requests, slots(args));
    println!("| amounts | concurrency | created | sessions/s | p50 | p99 | refused |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
    for r in rows {
        let mut lat = r.latencies.clone();
        lat.sort();
        let refused = if r.refused.is_empty() {
            "none".to_owned()
        } else {
            r.refused.iter().map(|(code, n)| format!("{n} {code}")).collect::<Vec<_>>().join(", ")
        };
        println!(
            "| {} | {} | {} | {:.0} | {:.2} ms | {:.2} ms | {refused} |",
            r.amounts,
            r.concurrency,
            lat.len(),
            rate(lat.len(), r.elapsed),
            super::measure::pct_ms(&lat, 0.50),
            super::measure::pct_ms(&lat, 0.99),
        );
    }
}

/// The `amount_slots` part 3 runs with.
pub fn slots(args: &CheckoutArgs) -> u32 {
    args.slots.unwrap_or_else(|| u32::try_from(args.requests).unwrap_or(u32::MAX).max(1_000))
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The value at fraction `p` of a sorted sample.
pub fn pct<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied()
}

fn triple_u64(v: &[u64]) -> String {
    let mut s = v.to_vec();
    s.sort_unstable();
    let f = |p| pct(&s, p).map_or_else(|| "-".to_owned(), |x| x.to_string());
    format!("{} / {} / {}", f(0.5), f(0.95), f(1.0))
}

fn triple_ms(v: &[f64]) -> String {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let f = |p| pct(&s, p).map_or_else(|| "-".to_owned(), |x| format!("{x:.0}"));
    format!("{} / {} / {}", f(0.5), f(0.95), f(1.0))
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
