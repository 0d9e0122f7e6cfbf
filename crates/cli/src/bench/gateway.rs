//! `tollway bench gateway`: what the AI gateway adds per chunk and per
//! request over calling the same upstream directly, measured side by side
//! in one run against a [fast upstream](super::fast_upstream), then metered
//! chunks per second through the proxy at a given concurrency. Ends with a
//! check that every proxied stream was whole and billed, and that the
//! user's balance dropped by exactly what the streams said they cost.

use super::fast_upstream;
use super::sse_client::{stream, Streamed};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollway_server::config::UpstreamConfig;
use tollway_server::{ops, ApiError, Config};
use tollway_store::testing::{fresh_database_url, Backend};
use tollway_store::Store;

/// The model name, both at Tollway and upstream.
const MODEL: &str = "fast-model";
/// Streams per path before the latency figures are taken.
const WARMUP: usize = 10;
/// Points granted to the benchmark user: more than any run spends.
const GRANT: &str = "1000000000000";

/// What to run.
#[derive(clap::Args, Clone)]
pub struct GatewayArgs {
    /// Content chunks in every answer of the fast upstream.
    #[arg(long, default_value_t = 200)]
    chunks: usize,
    /// Sequential streams per path in the latency phase.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Concurrent streams in the throughput phase.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Length of each throughput run (direct, then through Tollway), seconds.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Streams per throughput run instead of a duration.
    #[arg(long)]
    stream_requests: Option<usize>,
    /// The server's `billing_window_tokens`: output tokens each hold pays ahead.
    #[arg(long, default_value_t = Config::default().billing_window_tokens)]
    billing_window: u64,
}

/// Where a stream goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    /// Straight to the fast upstream.
    Direct,
    /// Through Tollway, with the benchmark user's key.
    Proxy,
}

impl Route {
    fn label(self) -> &'static str {
        match self {
            Route::Direct => "direct",
            Route::Proxy => "proxy",
        }
    }
}

/// Both routes, the request body they get, and the keys that check billing.
struct Bench {
    client: reqwest::Client,
    direct_url: String,
    proxy_url: String,
    server: String,
    user_key: String,
    admin_key: String,
    body: String,
    chunks: usize,
}

fn api(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", e.code, e.message)
}

impl Bench {
    /// Starts the fast upstream and a Tollway server on a new SQLite
    /// database in front of it, with a priced model and a funded user.
    async fn start(args: &GatewayArgs) -> anyhow::Result<Bench> {
        let upstream = fast_upstream::start(args.chunks).await?;
        let url = fresh_database_url(Backend::Sqlite).await?;
        let store = Store::connect(&url).await?;
        store.migrate().await?;
        let (_, admin_key) = ops::create_user(&store, "admin", true).await.map_err(api)?;
        let (_, user_key) = ops::create_user(&store, "bench", false).await.map_err(api)?;
        ops::set_price(&store, MODEL, "1000", "2000", None, true, "bench", None).await.map_err(api)?;
        let fast = UpstreamConfig {
            name: "fast".into(),
            base_url: upstream.clone(),
            api_key: None,
            models: BTreeMap::from([(MODEL.to_owned(), MODEL.to_owned())]),
            idle_timeout_secs: 30,
        };
        let config = Config {
            listen: "127.0.0.1:0".into(),
            database_url: url,
            model_path: "/nonexistent".into(),
            billing_window_tokens: args.billing_window,
            upstreams: vec![fast],
            ..Config::default()
        };
        let running = tollway_server::start(config).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let server = format!("http://{}", running.addr);
        let body = json!({"model": MODEL, "messages": [{"role": "user", "content": "Tell me a story."}],
            "stream": true, "stream_options": {"include_usage": true}});
        let bench = Bench {
            client: reqwest::Client::builder().pool_max_idle_per_host(args.concurrency.max(1)).build()?,
            direct_url: format!("{upstream}/chat/completions"),
            proxy_url: format!("{server}/v1/chat/completions"),
            server,
            user_key,
            admin_key,
            body: body.to_string(),
            chunks: args.chunks,
        };
        bench.grant().await?;
        Ok(bench)
    }

    async fn grant(&self) -> anyhow::Result<()> {
        let body = json!({"user": "bench", "amount": GRANT, "reason": "bench", "id": "bench"});
        let sent = self.client.post(format!("{}/api/admin/points/grant", self.server)).bearer_auth(&self.admin_key).json(&body).send().await?;
        anyhow::ensure!(sent.status().is_success(), "grant answered {}", sent.status());
        Ok(())
    }

    /// One whole stream on `route`.
    async fn stream(&self, route: Route) -> anyhow::Result<Streamed> {
        match route {
            Route::Direct => stream(&self.client, &self.direct_url, None, &self.body).await,
            Route::Proxy => stream(&self.client, &self.proxy_url, Some(&self.user_key), &self.body).await,
        }
    }

    async fn get(&self, path: &str, key: &str) -> anyhow::Result<Value> {
        let response = self.client.get(format!("{}{path}", self.server)).bearer_auth(key).send().await?;
        anyhow::ensure!(response.status().is_success(), "{path} answered {}", response.status());
        Ok(response.json().await?)
    }

    /// The user's balance, points.
    async fn balance(&self) -> anyhow::Result<u128> {
        let view = self.get("/api/user/points/balance", &self.user_key).await?;
        Ok(view["balance"].as_str().ok_or_else(|| anyhow::anyhow!("no balance in {view}"))?.parse()?)
    }
}

/// Every proxied (or direct) stream, counted for the final check.
#[derive(Default)]
struct Tally {
    streams: usize,
    failed: usize,
    content: usize,
    /// Streams without all content chunks or without `[DONE]`.
    short: usize,
    /// Streams without `tollway.cost` on their final chunk.
    unbilled: usize,
    cost: u128,
}

impl Tally {
    fn add(&mut self, s: &Streamed, chunks: usize) {
        self.streams += 1;
        self.content += s.chunks();
        self.short += usize::from(s.chunks() != chunks || !s.done);
        self.unbilled += usize::from(s.cost.is_none());
        self.cost += s.cost.unwrap_or(0);
    }

    fn merge(&mut self, other: Tally) {
        self.streams += other.streams;
        self.failed += other.failed;
        self.content += other.content;
        self.short += other.short;
        self.unbilled += other.unbilled;
        self.cost += other.cost;
    }
}

/// Latency samples of one route.
#[derive(Default)]
struct Samples {
    first: Vec<Duration>,
    total: Vec<Duration>,
    per_chunk: Vec<Duration>,
    gaps: Vec<Duration>,
}

impl Samples {
    fn add(&mut self, s: &Streamed) {
        self.first.extend(s.first_chunk());
        self.total.push(s.total());
        self.per_chunk.extend(s.per_chunk());
        self.gaps.extend(s.gaps());
    }
}

/// p50 and p99, milliseconds.
#[derive(Clone, Copy)]
struct Pcts {
    p50: f64,
    p99: f64,
}

fn pcts(mut sample: Vec<Duration>) -> Pcts {
    sample.sort();
    let at = |p: f64| sample.get(((sample.len() as f64 - 1.0) * p).round() as usize).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    Pcts { p50: at(0.50), p99: at(0.99) }
}

/// The four latency figures of a route (or their differences).
struct Figures([(&'static str, Pcts); 4]);

impl Figures {
    fn of(s: Samples) -> Figures {
        Figures([("first chunk", pcts(s.first)), ("total", pcts(s.total)), ("per chunk", pcts(s.per_chunk)), ("gap", pcts(s.gaps))])
    }

    fn minus(&self, base: &Figures) -> Figures {
        let mut out = Figures(self.0);
        for ((_, o), (_, b)) in out.0.iter_mut().zip(&base.0) {
            (o.p50, o.p99) = (o.p50 - b.p50, o.p99 - b.p99);
        }
        out
    }

    fn print(&self, what: &str, signed: bool) {
        let ms = |v: f64| if signed { format!("{v:+.3}") } else { format!("{v:.3}") };
        let parts: Vec<String> = self.0.iter().map(|(name, p)| format!("{name} p50 {} ms p99 {} ms", ms(p.p50), ms(p.p99))).collect();
        println!("{what}: {}", parts.join("; "));
    }
}

/// Sequential streams, the routes taking turns to go first; the proxied
/// ones (warm-up included) are counted in `tally`.
async fn latency(bench: &Bench, requests: usize, tally: &mut Tally) -> anyhow::Result<(Samples, Samples)> {
    let (mut direct, mut proxy) = (Samples::default(), Samples::default());
    for i in 0..WARMUP + requests {
        let order = if i % 2 == 0 { [Route::Direct, Route::Proxy] } else { [Route::Proxy, Route::Direct] };
        for route in order {
            let s = bench.stream(route).await?;
            if route == Route::Proxy {
                tally.add(&s, bench.chunks);
            }
            if i >= WARMUP {
                match route {
                    Route::Direct => direct.add(&s),
                    Route::Proxy => proxy.add(&s),
                }
            }
        }
    }
    Ok((direct, proxy))
}

/// `concurrency` streams at a time on `route` until the duration is over
/// (streams under way finish) or `stream_requests` have started.
async fn throughput(bench: &Arc<Bench>, route: Route, args: &GatewayArgs) -> (Duration, Tally) {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.duration_secs);
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (bench, next, limit) = (bench.clone(), next.clone(), args.stream_requests);
            tokio::spawn(async move {
                let mut tally = Tally::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if limit.map_or(Instant::now() >= deadline, |n| i >= n) {
                        break tally;
                    }
                    match bench.stream(route).await {
                        Ok(s) => tally.add(&s, bench.chunks),
                        Err(_) => tally.failed += 1,
                    }
                }
            })
        })
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        match task.await {
            Ok(t) => all.merge(t),
            Err(_) => all.failed += 1,
        }
    }
    (start.elapsed(), all)
}

fn report_throughput(route: Route, concurrency: usize, elapsed: Duration, t: &Tally) {
    println!(
        "throughput {}: concurrency {concurrency}, {:.2} s, {} streams, {} content chunks, {:.0} {}chunks/s, failures {}",
        route.label(),
        elapsed.as_secs_f64(),
        t.streams,
        t.content,
        t.content as f64 / elapsed.as_secs_f64(),
        if route == Route::Proxy { "metered " } else { "" },
        t.failed,
    );
}

/// Every proxied stream whole and billed, the balance down by exactly the
/// billed sum, and the ledger audit clean; an error otherwise.
async fn check(bench: &Bench, tally: &Tally, before: u128) -> anyhow::Result<()> {
    let after = bench.balance().await?;
    let dropped = before.checked_sub(after).ok_or_else(|| anyhow::anyhow!("the balance grew from {before} to {after}"))?;
    let whole = tally.failed == 0 && tally.short == 0 && tally.unbilled == 0;
    let ok = whole && dropped == tally.cost;
    println!(
        "check: {} proxied streams, {} failed, {} without {} content chunks and [DONE], {} without tollway.cost; balance dropped by {dropped}, sum of tollway.cost {}: {}",
        tally.streams,
        tally.failed,
        tally.short,
        bench.chunks,
        tally.unbilled,
        tally.cost,
        if ok { "ok" } else { "MISMATCH" },
    );
    let audit = bench.get("/api/admin/ledger/audit", &bench.admin_key).await?;
    println!("audit: {} accounts, {} transfers, ok {}", audit["accounts"], audit["transfers"], audit["ok"]);
    anyhow::ensure!(ok, "the proxied streams and the balance do not agree");
    anyhow::ensure!(audit["ok"] == Value::Bool(true), "ledger audit failed: {}", audit["violation"]);
    Ok(())
}

/// Runs the benchmark.
pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let bench = Arc::new(Bench::start(&args).await?);
    let until = args.stream_requests.map_or(format!("{} s", args.duration_secs), |n| format!("{n} streams"));
    println!(
        "gateway: fast upstream, {} content chunks per answer, billing window {} tokens; latency: {} sequential streams per route (taking turns, after {WARMUP} warm-up); throughput: concurrency {} for {until} per route",
        args.chunks, args.billing_window, args.requests, args.concurrency,
    );
    let before = bench.balance().await?;
    let mut tally = Tally::default();
    let (direct, proxy) = latency(&bench, args.requests, &mut tally).await?;
    let (direct, proxy) = (Figures::of(direct), Figures::of(proxy));
    direct.print("latency direct", false);
    proxy.print("latency proxy", false);
    proxy.minus(&direct).print("overhead (proxy - direct)", true);
    for route in [Route::Direct, Route::Proxy] {
        let (elapsed, t) = throughput(&bench, route, &args).await;
        report_throughput(route, args.concurrency, elapsed, &t);
        if route == Route::Proxy {
            tally.merge(t);
        }
    }
    check(&bench, &tally, before).await
}
