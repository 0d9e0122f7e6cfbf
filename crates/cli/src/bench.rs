//! `tollway bench …`: durable charges per second and latency, through the
//! ledger writer directly and through the HTTP webhook (every charge is
//! acknowledged only after its batch committed); the embedded model; the
//! AI gateway's overhead over a fast upstream; payment channels (durable
//! receipts per second, the round trip of a paid chunk); CKB Spilman
//! channels (commitments checked per second, on-chain cost); and the
//! stablecoin checkout against a real anvil (detection latency, catch-up,
//! sessions created per second).
#![allow(clippy::float_arithmetic)]

mod channels;
mod checkout;
mod checkout_catchup;
mod checkout_create;
mod checkout_detect;
mod checkout_server;
mod checkout_setup;
mod hub;
mod ckb;
mod ckb_accept;
mod ckb_fixture;
mod channels_stream;
mod channels_upstream;
mod fast_upstream;
mod gateway;
mod measure;
mod reads;
mod sse_client;

use clap::Subcommand;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollway_core::ledger::{Charge, Command, Links, Reason, TransferId};
use tollway_core::{Amount, Asset};
use tollway_server::{ops, Config};
use tollway_store::testing::{fresh_database_url, Backend};
use tollway_store::{LedgerWriter, Store, Submission, WriterConfig};

/// Benchmarks.
#[derive(Subcommand)]
pub enum BenchCmd {
    /// Charges submitted straight to the group-commit ledger writer.
    Ledger(Args),
    /// Signed Dify webhooks through the HTTP API of an in-process server.
    Http(Args),
    /// Load time, prefill and decode speed, and memory of the embedded model.
    Model(ModelArgs),
    /// Per-chunk and per-request overhead of the AI gateway over calling a
    /// fast upstream directly, and metered chunks per second through it.
    Gateway(gateway::GatewayArgs),
    /// Payment channels: signed receipts verified and durably accepted per
    /// second, and the round trip that paying each streamed chunk adds.
    Channels(channels::ChannelsArgs),
    /// CKB Spilman channels: commitments signed and checked per second, and
    /// a channel's whole on-chain cost beside paying each chunk on chain.
    Ckb(ckb::CkbArgs),
    /// Memory and time of the whole-history reads (CSV export, hourly
    /// monitor, ledger audit) over `--charges` rows.
    Reads(Args),
    /// The stablecoin checkout against a real anvil: detection latency,
    /// catch-up after downtime, and sessions created per second.
    Checkout(checkout_setup::CheckoutArgs),
    /// The CKB hub on a real devnet: payments per second against the pool
    /// size.
    Hub(hub::HubArgs),
}

/// What to run the model on.
#[derive(clap::Args, Clone)]
pub struct ModelArgs {
    /// The GGUF file (scripts/fetch-model.sh prints its path).
    #[arg(long, env = "TOLLWAY_MODEL_PATH")]
    model: std::path::PathBuf,
    /// Tokens to generate per run.
    #[arg(long, default_value_t = 128)]
    tokens: usize,
    /// Runs (the first is reported apart as warm-up).
    #[arg(long, default_value_t = 4)]
    runs: usize,
}

/// What to run.
#[derive(clap::Args, Clone)]
pub struct Args {
    /// `sqlite` (a new temp file) or `postgres` (a new database on TOLLWAY_TEST_PG_URL).
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// Charges to make.
    #[arg(long, default_value_t = 20_000)]
    charges: usize,
    /// Concurrent submitters.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Distinct users charged.
    #[arg(long, default_value_t = 100)]
    users: usize,
}

struct Setup {
    store: Store,
    url: String,
    users: Vec<(i64, String)>,
    label: &'static str,
}

async fn setup(args: &Args) -> anyhow::Result<Setup> {
    let (backend, label) = match args.backend.as_str() {
        "sqlite" => (Backend::Sqlite, "sqlite"),
        "postgres" => (Backend::Postgres, "postgres"),
        other => anyhow::bail!("unknown backend {other:?}: sqlite or postgres"),
    };
    let url = fresh_database_url(backend).await?;
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    let writer = LedgerWriter::spawn(store.clone(), WriterConfig::default());
    let mut users = Vec::new();
    for i in 0..args.users {
        let (u, _) = ops::create_user(&store, &format!("bench{i}"), false).await.map_err(|e| anyhow::anyhow!(e.message))?;
        ops::adjust_points(&store, &writer, &u, "1000000000", "bench", &format!("b{i}"), Reason::Grant)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
        users.push((u.id, u.handle));
    }
    Ok(Setup { store, url, users, label })
}

fn report(what: &str, label: &str, args: &Args, elapsed: Duration, mut lat: Vec<Duration>, failures: usize) {
    lat.sort();
    let pct = |p: f64| lat.get(((lat.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what} {label}: {} charges, concurrency {}, {:.2} s, {:.0} charges/s, p50 {:.2} ms, p99 {:.2} ms, failures {failures}",
        lat.len(),
        args.concurrency,
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        ms(pct(0.50)),
        ms(pct(0.99)),
    );
}

/// Runs one benchmark.
pub async fn run(cmd: BenchCmd, _config: &Config) -> anyhow::Result<()> {
    match cmd {
        BenchCmd::Ledger(args) => ledger(args).await,
        BenchCmd::Http(args) => http(args).await,
        BenchCmd::Model(args) => tokio::task::spawn_blocking(move || model(args)).await?,
        BenchCmd::Gateway(args) => gateway::run(args).await,
        BenchCmd::Channels(args) => channels::run(args).await,
        BenchCmd::Reads(args) => reads::run(args).await,
        BenchCmd::Checkout(args) => checkout::run(args).await,
        BenchCmd::Hub(args) => hub::run(args).await,
        BenchCmd::Ckb(args) => {
            let accept = args.accept.clone();
            let price = args.price;
            tokio::task::spawn_blocking(move || ckb::run(&args)).await??;
            ckb_accept::run(&accept, price).await
        }
    }
}

/// Resident and peak memory of this process, from /proc (kB).
fn memory_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn model(args: ModelArgs) -> anyhow::Result<()> {
    use std::ops::ControlFlow;
    use tollway_llm::{ChatMessage, GenerateParams, LocalModel, Role};
    let start = Instant::now();
    let mut m = LocalModel::load(&args.model)?;
    let load = start.elapsed();
    let question = "Explain in detail how a payment channel lets two parties exchange many small payments.";
    let prompt = m.tokenizer().encode_chat(&[ChatMessage { role: Role::User, content: question.into() }])?;
    // A fixed budget with no early stop: every run generates exactly `tokens`.
    let params = GenerateParams { max_tokens: args.tokens, repeat_penalty: 1.1, ..GenerateParams::default() };
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into());
    println!("model: load {:.2} s, prompt {} tokens, threads {threads}", load.as_secs_f64(), prompt.len());
    for run in 0..args.runs {
        let t0 = Instant::now();
        let mut first: Option<Duration> = None;
        let g = m.generate(&prompt, &params, |_, _| {
            first.get_or_insert_with(|| t0.elapsed());
            ControlFlow::Continue(())
        })?;
        let total = t0.elapsed();
        let first = first.unwrap_or(total);
        let decode = total.saturating_sub(first);
        let decoded = g.completion_tokens.saturating_sub(1).max(1);
        println!(
            "run {run}{}: first token {:.0} ms (prefill {:.0} tokens/s), decode {} tokens at {:.1} tokens/s, finish {:?}",
            if run == 0 { " (warm-up)" } else { "" },
            first.as_secs_f64() * 1000.0,
            prompt.len() as f64 / first.as_secs_f64(),
            g.completion_tokens,
            decoded as f64 / decode.as_secs_f64().max(1e-9),
            g.finish,
        );
    }
    let (rss, peak) = memory_kb();
    println!("memory: RSS {} MB, peak {} MB", rss / 1024, peak / 1024);
    Ok(())
}

async fn drive<F, Fut>(args: &Args, one: F) -> (Duration, Vec<Duration>, usize)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let one = Arc::new(one);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (next, one, total) = (next.clone(), one.clone(), args.charges);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failures = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                if one(i).await {
                    lat.push(t.elapsed());
                } else {
                    failures += 1;
                }
            }
            (lat, failures)
        }));
    }
    let mut all = Vec::with_capacity(args.charges);
    let mut failures = 0;
    for t in tasks {
        if let Ok((lat, f)) = t.await {
            all.extend(lat);
            failures += f;
        }
    }
    (start.elapsed(), all, failures)
}

async fn ledger(args: Args) -> anyhow::Result<()> {
    let s = setup(&args).await?;
    let writer = LedgerWriter::spawn(s.store.clone(), WriterConfig::default());
    let stats_writer = writer.clone();
    let users = Arc::new(s.users);
    let (elapsed, lat, failures) = drive(&args, move |i| {
        let (writer, users) = (writer.clone(), users.clone());
        async move {
            let user = users[i % users.len()].0;
            let command = Command::Charge(Charge {
                id: TransferId(format!("bench:{i}")),
                user_id: user,
                asset: Asset::POINTS,
                amount: Amount::new(3),
                reservation: None,
                links: Links { user_id: Some(user), model: Some("bench".into()), ..Links::default() },
            });
            matches!(writer.submit(Submission { command, record: None }).await, Ok(o) if o.result.is_ok())
        }
    })
    .await;
    report("ledger", s.label, &args, elapsed, lat, failures);
    let st = stats_writer.stats();
    println!("writer: {} batches, {:.1} commands per batch", st.batches, st.commands as f64 / st.batches.max(1) as f64);
    let audit = s.store.audit().await?;
    println!("audit: {} transfers, invariants {}", audit.transfers, if audit.violation.is_none() { "hold" } else { "BROKEN" });
    Ok(())
}

async fn http(args: Args) -> anyhow::Result<()> {
    let s = setup(&args).await?;
    let config = Config { listen: "127.0.0.1:0".into(), database_url: s.url.clone(), ..Config::default() };
    let running = tollway_server::start(config).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    ops::set_price(&s.store, "bench", "1", "2", None, true, "bench", None).await.map_err(|e| anyhow::anyhow!(e.message))?;
    let (_, key, secret) = ops::create_app(&s.store, "bench").await.map_err(|e| anyhow::anyhow!(e.message))?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    let url = format!("http://{}/api/dify/webhook", running.addr);
    let users = Arc::new(s.users);
    let (elapsed, lat, failures) = drive(&args, move |i| {
        let (client, url, key, secret, users) = (client.clone(), url.clone(), key.clone(), secret.clone(), users.clone());
        async move {
            let body = serde_json::json!({"event": "message_end", "data": {"message_id": format!("m{i}"),
                "user_id": users[i % users.len()].1, "model_name": "bench", "input_tokens": 500, "output_tokens": 700}})
            .to_string();
            let ts = chrono::Utc::now().timestamp();
            let sig = tollway_server::signature::sign(&secret, ts, body.as_bytes());
            let sent = client
                .post(&url)
                .header("x-tollway-key", &key)
                .header("x-tollway-timestamp", ts.to_string())
                .header("x-tollway-signature", sig)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            matches!(sent, Ok(r) if r.status().is_success())
        }
    })
    .await;
    report("http", s.label, &args, elapsed, lat, failures);
    Ok(())
}
