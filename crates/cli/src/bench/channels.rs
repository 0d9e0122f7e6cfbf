//! `tollway bench channels`: payment channels' two figures.
//!
//! 1. **Durable receipts per second** ([`receipts`]): signed receipts
//!    verified and durably accepted (committed before the answer) per
//!    second, through the payee's own code path,
//!    [`Channels::accept`](tollway_server::channels::Channels::accept) over
//!    the store's group-commit
//!    [`ReceiptWriter`](tollway_store::ReceiptWriter). The receipts are
//!    signed before the clock starts: signing is the payer's work. Ends
//!    with a check that every sub-channel's stored nonce, total and latest
//!    receipt are its last receipt's.
//! 2. **The round trip a paid chunk adds** ([`channels_stream`](super::channels_stream)):
//!    streams through a real in-process server, each chunk's proposal
//!    reviewed, signed and posted before the next chunk is read.

use super::channels_stream::{self, StreamArgs};
use super::measure::{api, backend, random_key, summary};
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollway_core::channel::{ChannelId, PayerKey, SignedSubRav, SubRav, SUBRAV_VERSION};
use tollway_core::ledger::Reason;
use tollway_core::{Amount, Asset};
use tollway_server::channels::Channels;
use tollway_server::config::ChannelConfig;
use tollway_server::ops;
use tollway_store::channels::NewChannel;
use tollway_store::testing::fresh_database_url;
use tollway_store::{LedgerWriter, ReceiptWriter, Store, WriterConfig};

/// What every receipt adds to its sub-channel's total, points.
const STEP: u128 = 3;
/// Setup work (users, grants, channels) in flight at once.
const SETUP_CONCURRENCY: usize = 16;

/// Which parts of the benchmark to run.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Part {
    /// Durable receipts per second, then paid streams.
    All,
    /// Durable receipts per second only.
    Receipts,
    /// Paid streams only.
    Stream,
}

/// What to run.
#[derive(clap::Args, Clone)]
pub struct ChannelsArgs {
    /// `sqlite` (a new temp file) or `postgres` (a new database on TOLLWAY_TEST_PG_URL).
    #[arg(long, default_value = "sqlite")]
    pub backend: String,
    /// Which parts to run.
    #[arg(long, value_enum, default_value_t = Part::All)]
    pub only: Part,
    /// Channels, each with its own user and payer key (one sub-channel).
    #[arg(long, default_value_t = 200)]
    pub channels: usize,
    /// Receipts per channel, nonces 1, 2, … and totals rising by 3 points.
    #[arg(long, default_value_t = 200)]
    pub receipts: usize,
    /// Concurrent submitters; each owns every `concurrency`-th channel and
    /// submits its channels' receipts in order, one at a time.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Signatures verified on one core for the verification-speed figure.
    #[arg(long, default_value_t = 20_000)]
    pub verifies: usize,
    /// The paid-stream part.
    #[command(flatten)]
    pub stream: StreamArgs,
}

/// Runs the benchmark.
pub async fn run(args: ChannelsArgs) -> anyhow::Result<()> {
    if args.only != Part::Stream {
        receipts(&args).await?;
    }
    if args.only != Part::Receipts {
        channels_stream::run(&args.backend, &args.stream).await?;
    }
    Ok(())
}

/// One payer: its key and channel, and the receipts it signed ahead.
struct Payer {
    key: PayerKey,
    channel: ChannelId,
    receipts: Vec<SignedSubRav>,
}

/// `count` users, each granted points and with one channel (deposit
/// `deposit`) opened through the store for a new key.
async fn open_channels(store: &Store, count: usize, deposit: Amount) -> anyhow::Result<Vec<Payer>> {
    let writer = LedgerWriter::spawn(store.clone(), WriterConfig::default());
    let chain_id = ChannelConfig::default().chain_id;
    let grant = deposit.to_string();
    let opened: Vec<anyhow::Result<Payer>> = futures::stream::iter(0..count)
        .map(|i| {
            let (store, writer, grant) = (store.clone(), writer.clone(), grant.clone());
            async move {
                let (user, _) = ops::create_user(&store, &format!("payer{i}"), false).await.map_err(api)?;
                ops::adjust_points(&store, &writer, &user, &grant, "bench", &format!("p{i}"), Reason::Grant).await.map_err(api)?;
                let key = random_key()?;
                let channel = ChannelId(rand::random());
                let new = NewChannel { id: channel, user_id: user.id, asset: Asset::POINTS, chain_id, epoch: 1, collateral: deposit, key: key.public() };
                store.open_channel(&new).await?;
                Ok::<_, anyhow::Error>(Payer { key, channel, receipts: Vec::new() })
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect()
        .await;
    opened.into_iter().collect()
}

/// Signs every payer's `count` receipts (nonce n, total n × [`STEP`]) on
/// all cores; returns the time it took.
fn sign_all(payers: &mut [Payer], count: usize) -> Duration {
    let chain_id = ChannelConfig::default().chain_id;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let per_thread = payers.len().div_ceil(threads).max(1);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for part in payers.chunks_mut(per_thread) {
            scope.spawn(move || {
                for payer in part {
                    payer.receipts = (1..=count as u64)
                        .map(|nonce| {
                            let rav = SubRav {
                                version: SUBRAV_VERSION,
                                chain_id,
                                channel_id: payer.channel,
                                epoch: 1,
                                sub_channel: payer.key.id(),
                                nonce,
                                accumulated: Amount::new(u128::from(nonce) * STEP),
                            };
                            rav.sign(&payer.key)
                        })
                        .collect();
                }
            });
        }
    });
    start.elapsed()
}

/// Times `count` signature verifications on one thread (the receipts
/// taken in turn from the payers); an error if any fails.
fn verify_speed(payers: &[Payer], count: usize) -> anyhow::Result<Duration> {
    let keys: Vec<_> = payers.iter().map(|p| p.key.public()).collect();
    let pairs: Vec<_> = payers.iter().zip(&keys).flat_map(|(p, k)| p.receipts.iter().map(move |r| (k, r))).cycle().take(count).collect();
    let start = Instant::now();
    for (key, receipt) in &pairs {
        receipt.verify(key).map_err(|e| anyhow::anyhow!("a pre-signed receipt did not verify: {e}"))?;
    }
    Ok(start.elapsed())
}

/// What one submitter saw.
#[derive(Default)]
struct Submitted {
    latencies: Vec<Duration>,
    failures: Vec<String>,
}

/// `concurrency` tasks, task t submitting the receipts of channels t,
/// t + concurrency, … in rounds (every channel's next receipt, then the
/// next round), each accept awaited before the next.
async fn submit(channels: &Arc<Channels>, payers: &Arc<Vec<Payer>>, concurrency: usize, receipts: usize) -> (Duration, Submitted) {
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency.min(payers.len()))
        .map(|t| {
            let (channels, payers) = (channels.clone(), payers.clone());
            tokio::spawn(async move {
                let mut seen = Submitted { latencies: Vec::with_capacity(receipts * payers.len() / concurrency + receipts), failures: Vec::new() };
                let owned: Vec<&Payer> = payers.iter().skip(t).step_by(concurrency).collect();
                for round in 0..receipts {
                    for payer in &owned {
                        let Some(receipt) = payer.receipts.get(round) else { continue };
                        let sent = Instant::now();
                        match channels.accept(receipt).await {
                            Ok(a) if !a.replay && a.nonce == receipt.rav.nonce && a.accepted == receipt.rav.accumulated => {
                                seen.latencies.push(sent.elapsed());
                            }
                            Ok(a) => seen.failures.push(format!("{}: nonce {} answered {a:?}", payer.channel, receipt.rav.nonce)),
                            Err(e) => seen.failures.push(format!("{}: nonce {} refused: {e}", payer.channel, receipt.rav.nonce)),
                        }
                    }
                }
                seen
            })
        })
        .collect();
    let mut all = Submitted::default();
    for task in tasks {
        match task.await {
            Ok(seen) => {
                all.latencies.extend(seen.latencies);
                all.failures.extend(seen.failures);
            }
            Err(e) => all.failures.push(format!("a submitter failed: {e}")),
        }
    }
    (start.elapsed(), all)
}

/// Reads every channel back from the store: its one sub-channel's nonce,
/// total and latest receipt must be its last receipt's. Returns the
/// mismatches.
async fn check(store: &Store, payers: &[Payer]) -> anyhow::Result<Vec<String>> {
    let mut wrong = Vec::new();
    for payer in payers {
        let Some(last) = payer.receipts.last() else { continue };
        let stored = store.channel(&payer.channel).await?.ok_or_else(|| anyhow::anyhow!("channel {} is gone", payer.channel))?;
        match stored.subs.iter().find(|s| s.id == payer.key.id()) {
            Some(sub) if sub.nonce == last.rav.nonce && sub.accumulated == last.rav.accumulated && sub.latest.as_ref() == Some(last) => {}
            Some(sub) => wrong.push(format!(
                "{}: stored nonce {} total {}, last receipt nonce {} total {}{}",
                payer.channel,
                sub.nonce,
                sub.accumulated,
                last.rav.nonce,
                last.rav.accumulated,
                if sub.latest.as_ref() == Some(last) { "" } else { " (stored latest receipt differs)" },
            )),
            None => wrong.push(format!("{}: sub-channel {} missing", payer.channel, payer.key.id())),
        }
    }
    Ok(wrong)
}

/// Part 1: durable receipts per second.
async fn receipts(args: &ChannelsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.channels > 0 && args.receipts > 0 && args.concurrency > 0, "channels, receipts and concurrency must be above 0");
    let backend = backend(&args.backend)?;
    let url = fresh_database_url(backend).await?;
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    let deposit = Amount::new(u128::try_from(args.receipts)? * STEP);
    let t = Instant::now();
    let mut payers = open_channels(&store, args.channels, deposit).await?;
    let setup = t.elapsed();
    let count = args.receipts;
    let (signing, payers) = tokio::task::spawn_blocking(move || (sign_all(&mut payers, count), payers)).await?;
    let total = args.channels * args.receipts;
    let verifies = args.verifies;
    let (verifying, payers) = tokio::task::spawn_blocking(move || verify_speed(&payers, verifies).map(|d| (d, payers))).await??;
    println!(
        "receipts {}: {} channels opened through the store in {:.2} s; {total} receipts pre-signed on {} threads in {:.2} s ({:.0}/s)",
        args.backend,
        args.channels,
        setup.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, usize::from),
        signing.as_secs_f64(),
        total as f64 / signing.as_secs_f64(),
    );
    println!(
        "verify (one core): {verifies} SignedSubRav::verify in {:.3} s: {:.0} verifications/s, {:.1} us each",
        verifying.as_secs_f64(),
        verifies as f64 / verifying.as_secs_f64(),
        verifying.as_secs_f64() * 1e6 / verifies.max(1) as f64,
    );
    let writer = ReceiptWriter::spawn(store.clone(), WriterConfig::default());
    let channels = Arc::new(Channels::new(store.clone(), writer.clone()));
    // A running payee has its live channels cached: load them before the clock.
    for payer in &payers {
        channels.owner(&payer.channel).await?;
    }
    let payers = Arc::new(payers);
    let (elapsed, mut seen) = submit(&channels, &payers, args.concurrency, args.receipts).await;
    let stats = writer.stats();
    let accepted = seen.latencies.len();
    println!(
        "receipts {}: {accepted} of {total} accepted durably, concurrency {}, {:.2} s, {:.0} receipts/s, latency {}; writer: {} commits, {:.1} receipts per commit",
        args.backend,
        args.concurrency,
        elapsed.as_secs_f64(),
        accepted as f64 / elapsed.as_secs_f64(),
        summary(&mut seen.latencies),
        stats.batches,
        stats.commands as f64 / stats.batches.max(1) as f64,
    );
    for failure in seen.failures.iter().take(5) {
        println!("  FAILED {failure}");
    }
    let wrong = check(&store, &payers).await?;
    println!(
        "check: {} sub-channels read back, {} with nonce, total and latest receipt equal to the last receipt's, {} mismatched: {}",
        payers.len(),
        payers.len() - wrong.len(),
        wrong.len(),
        if wrong.is_empty() && seen.failures.is_empty() { "ok" } else { "MISMATCH" },
    );
    for w in wrong.iter().take(5) {
        println!("  MISMATCH {w}");
    }
    anyhow::ensure!(seen.failures.is_empty(), "{} receipts were not accepted", seen.failures.len());
    anyhow::ensure!(wrong.is_empty(), "{} sub-channels do not hold their last receipt", wrong.len());
    Ok(())
}
