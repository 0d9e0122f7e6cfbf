//! Part 2 of `tollway bench channels`: what paying every chunk of a stream
//! from a payment channel adds, on loopback.
//!
//! One process holds a real Tollway server (no embedded model) on a new
//! database, two OpenAI-compatible upstreams it forwards to (the instant
//! [fast upstream](super::fast_upstream) and a [paced](super::channels_upstream)
//! one), and the client. A user with points opens a channel over HTTP
//! (`POST /api/channels`, a fresh key). Streams are then read two ways,
//! taking turns:
//!
//! - **paid per chunk**: with the `X-Tollway-Channel` header; for every
//!   content chunk the client takes its `tollway` `PaymentDue`, reviews the
//!   proposal (`tollway_core::channel::review`), signs it, posts it to
//!   `POST /api/channels/{id}/receipts` and waits for the 200 before it
//!   reads the next chunk. That *round trip* is timed per chunk.
//! - **paid from points**: the same request without the header.
//!
//! For both, the client notes when it takes up each content chunk; the
//! *gap* is the time from one to the next, so in the paid mode it includes
//! paying for the previous chunk. `payment_required` pause events are
//! counted (and paid if they ask for more than was signed).
//!
//! Ends with a check: every stream whole; the channel's accepted nonce and
//! total are the last receipt's and the total is the sum of the paid
//! streams' costs; the wallet dropped by exactly the points streams' costs.

use super::measure::{api, backend, pct_ms, random_key, summary};
use super::{channels_upstream, fast_upstream};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tollway_core::channel::wire::{encode_header, public_key_hex, PaymentData, PaymentDue, PAYMENT_HEADER};
use tollway_core::channel::{review, ChannelId, PayerKey, PayerLimits, SubRav, SUBRAV_VERSION};
use tollway_core::sse::SseDecoder;
use tollway_core::Amount;
use tollway_server::config::UpstreamConfig;
use tollway_server::{ops, Config};
use tollway_store::testing::fresh_database_url;
use tollway_store::Store;

/// The instant upstream's model name, at Tollway and upstream.
const FAST: &str = "fast-model";
/// The paced upstream's model name.
const PACED: &str = "paced-model";
/// Streams per mode before the instant upstream's figures are taken.
const WARMUP: usize = 2;
/// Points granted to the benchmark user.
const GRANT: u128 = 1_000_000_000_000;
/// The channel's deposit, points.
const DEPOSIT: u128 = 100_000_000_000;
/// The payer's own limit per proposal, points.
const MAX_AMOUNT: u128 = 1_000_000;

/// What to run.
#[derive(clap::Args, Clone)]
pub struct StreamArgs {
    /// Content chunks in every streamed answer.
    #[arg(long, default_value_t = 200)]
    pub chunks: usize,
    /// Streams per payment mode against the instant upstream (after 2 warm-up streams each).
    #[arg(long, default_value_t = 20)]
    pub streams: usize,
    /// Milliseconds between content chunks of the paced upstream (0 skips the paced streams).
    #[arg(long, default_value_t = 5)]
    pub paced_ms: u64,
    /// Streams per payment mode against the paced upstream.
    #[arg(long, default_value_t = 3)]
    pub paced_streams: usize,
}

/// The server, the benchmark user's key, and the client.
struct Bench {
    client: reqwest::Client,
    server: String,
    user_key: String,
    chunks: usize,
}

/// The payer: its key and channel, and the latest receipt it signed.
struct Payer {
    key: PayerKey,
    channel: ChannelId,
    last: SubRav,
    limits: PayerLimits,
    header: String,
    receipts_url: String,
}

/// How a stream is paid.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Every chunk from the channel, as it arrives.
    Channel,
    /// From the wallet.
    Points,
}

/// What one stream showed the client.
struct Streamed {
    /// When the client took up each content chunk.
    ready: Vec<Instant>,
    /// Paid mode: each content chunk's review, signature, POST and 200.
    round_trips: Vec<Duration>,
    /// `payment_required` events.
    pauses: usize,
    /// It ended with `[DONE]`.
    done: bool,
    /// `tollway.cost` of the last chunk.
    cost: Option<u128>,
}

impl Streamed {
    fn gaps(&self) -> impl Iterator<Item = Duration> + '_ {
        self.ready.windows(2).map(|w| w[1] - w[0])
    }

    /// First to last content chunk over the chunks in between.
    fn per_chunk(&self) -> Option<Duration> {
        let (first, last) = (self.ready.first()?, self.ready.last()?);
        let steps = u32::try_from(self.ready.len().checked_sub(1).filter(|&n| n > 0)?).ok()?;
        Some((*last - *first) / steps)
    }
}

/// Everything measured in one mode.
#[derive(Default)]
struct Samples {
    round_trips: Vec<Duration>,
    gaps: Vec<Duration>,
    per_chunk: Vec<Duration>,
    pauses: usize,
    streams: usize,
    /// Streams without every content chunk or `[DONE]`, or without a cost.
    short: usize,
    cost: u128,
}

impl Samples {
    fn add(&mut self, s: &Streamed, chunks: usize) {
        self.round_trips.extend(&s.round_trips);
        self.gaps.extend(s.gaps());
        self.per_chunk.extend(s.per_chunk());
        self.pauses += s.pauses;
        self.streams += 1;
        self.short += usize::from(s.ready.len() != chunks || !s.done || s.cost.is_none());
        self.cost += s.cost.unwrap_or(0);
    }
}

fn amount_of(v: &Value) -> Option<u128> {
    v.as_str().and_then(|s| s.parse().ok())
}

impl Bench {
    /// Starts both upstreams and a server in front of them on a new
    /// database of `backend`, with both models priced (1 point per prompt
    /// token, 2 per output token) and a funded user.
    async fn start(backend_name: &str, args: &StreamArgs) -> anyhow::Result<Bench> {
        let fast = fast_upstream::start(args.chunks).await?;
        let paced = channels_upstream::start(args.chunks, Duration::from_millis(args.paced_ms)).await?;
        let url = fresh_database_url(backend(backend_name)?).await?;
        let store = Store::connect(&url).await?;
        store.migrate().await?;
        let (_, admin_key) = ops::create_user(&store, "admin", true).await.map_err(api)?;
        let (_, user_key) = ops::create_user(&store, "bench", false).await.map_err(api)?;
        for model in [FAST, PACED] {
            ops::set_price(&store, model, "1000", "2000", None, true, "bench", None).await.map_err(api)?;
        }
        let upstream = |name: &str, base_url: String, model: &str| UpstreamConfig {
            name: name.into(),
            base_url,
            api_key: None,
            models: BTreeMap::from([(model.to_owned(), model.to_owned())]),
            idle_timeout_secs: 30,
        };
        let config = Config {
            listen: "127.0.0.1:0".into(),
            database_url: url,
            model_path: "/nonexistent".into(),
            upstreams: vec![upstream("fast", fast, FAST), upstream("paced", paced, PACED)],
            ..Config::default()
        };
        let running = tollway_server::start(config).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let bench = Bench { client: reqwest::Client::builder().build()?, server: format!("http://{}", running.addr), user_key, chunks: args.chunks };
        let grant = json!({"user": "bench", "amount": GRANT.to_string(), "reason": "bench", "id": "bench"});
        let sent = bench.client.post(bench.url("/api/admin/points/grant")).bearer_auth(&admin_key).json(&grant).send().await?;
        anyhow::ensure!(sent.status().is_success(), "grant answered {}", sent.status());
        Ok(bench)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self.client.get(self.url(path)).bearer_auth(&self.user_key).send().await?;
        anyhow::ensure!(response.status().is_success(), "{path} answered {}", response.status());
        Ok(response.json().await?)
    }

    /// The user's wallet balance, points.
    async fn balance(&self) -> anyhow::Result<u128> {
        let view = self.get("/api/user/points/balance").await?;
        amount_of(&view["balance"]).ok_or_else(|| anyhow::anyhow!("no balance in {view}"))
    }

    /// Opens a channel over HTTP for a fresh key.
    async fn open(&self) -> anyhow::Result<Payer> {
        let key = random_key()?;
        let body = json!({"deposit": DEPOSIT.to_string(), "key": public_key_hex(&key.public())});
        let response = self.client.post(self.url("/api/channels")).bearer_auth(&self.user_key).json(&body).send().await?;
        let status = response.status();
        let v: Value = response.json().await?;
        anyhow::ensure!(status.as_u16() == 201, "opening a channel answered {status}: {v}");
        let channel: ChannelId = v["id"].as_str().ok_or_else(|| anyhow::anyhow!("no id in {v}"))?.parse().map_err(|e| anyhow::anyhow!("channel id: {e}"))?;
        let chain_id = v["chain_id"].as_u64().ok_or_else(|| anyhow::anyhow!("no chain id in {v}"))?;
        let epoch = v["epoch"].as_u64().ok_or_else(|| anyhow::anyhow!("no epoch in {v}"))?;
        let last = SubRav { version: SUBRAV_VERSION, chain_id, channel_id: channel, epoch, sub_channel: key.id(), nonce: 0, accumulated: Amount::ZERO };
        let header = encode_header(&PaymentData { channel, sub_channel: key.id(), max_amount: None, receipt: None });
        // The benchmark measures the payee: its payer does not count what it receives.
        let limits = PayerLimits { max_amount: Amount::new(MAX_AMOUNT), entitled: Amount::new(MAX_AMOUNT), budget: Amount::new(DEPOSIT) };
        Ok(Payer { key, channel, last, limits, header, receipts_url: self.url(&format!("/api/channels/{channel}/receipts")) })
    }

    /// Reviews `proposal`, signs it and posts it; an error unless the
    /// payee answers 200 with the proposal's nonce and total.
    async fn pay(&self, payer: &mut Payer, proposal: &SubRav) -> anyhow::Result<()> {
        if *proposal == payer.last {
            return Ok(());
        }
        review(&payer.last, &payer.limits, proposal).map_err(|e| anyhow::anyhow!("the payer refused to sign: {e}"))?;
        let signed = proposal.sign(&payer.key);
        let response = self.client.post(&payer.receipts_url).json(&json!({"receipt": signed})).send().await?;
        let status = response.status();
        let v: Value = response.json().await?;
        anyhow::ensure!(status.as_u16() == 200, "a receipt answered {status}: {v}");
        anyhow::ensure!(
            v["nonce"].as_u64() == Some(proposal.nonce) && amount_of(&v["accepted"]) == Some(proposal.accumulated.units()),
            "a receipt for nonce {} total {} answered {v}",
            proposal.nonce,
            proposal.accumulated,
        );
        payer.last = *proposal;
        Ok(())
    }

    /// One stream of `model`, paid from `payer`'s channel chunk by chunk
    /// or (without a payer) from points.
    async fn stream(&self, model: &str, mut payer: Option<&mut Payer>) -> anyhow::Result<Streamed> {
        let body = json!({"model": model, "messages": [{"role": "user", "content": "Tell me a story."}],
            "stream": true, "stream_options": {"include_usage": true}});
        let mut request = self.client.post(self.url("/v1/chat/completions")).bearer_auth(&self.user_key).json(&body);
        if let Some(p) = &payer {
            request = request.header(PAYMENT_HEADER, &p.header);
        }
        let mut response = request.send().await?;
        anyhow::ensure!(response.status().is_success(), "a stream answered {}", response.status());
        let mut decoder = SseDecoder::new();
        let mut s = Streamed { ready: Vec::with_capacity(self.chunks), round_trips: Vec::new(), pauses: 0, done: false, cost: None };
        while let Some(bytes) = response.chunk().await? {
            for event in decoder.push_events(&bytes)? {
                let now = Instant::now();
                if event.data == "[DONE]" {
                    s.done = true;
                    continue;
                }
                let v: Value = serde_json::from_str(&event.data)?;
                if event.event.as_deref() == Some("payment_required") {
                    s.pauses += 1;
                    let due: PaymentDue = serde_json::from_value(v)?;
                    if let Some(payer) = payer.as_deref_mut().filter(|p| due.proposal.nonce > p.last.nonce) {
                        self.pay(payer, &due.proposal).await?;
                    }
                    continue;
                }
                if let Some(error) = v.get("error") {
                    anyhow::bail!("error chunk: {error}");
                }
                if let Some(cost) = v.pointer("/tollway/cost").and_then(amount_of) {
                    s.cost = Some(cost);
                }
                if v.pointer("/choices/0/delta/content").and_then(Value::as_str).is_none_or(str::is_empty) {
                    continue;
                }
                s.ready.push(now);
                if let Some(payer) = payer.as_deref_mut() {
                    let due: PaymentDue = serde_json::from_value(v["tollway"].clone()).map_err(|e| anyhow::anyhow!("a paid chunk without a PaymentDue: {e}"))?;
                    self.pay(payer, &due.proposal).await?;
                    s.round_trips.push(now.elapsed());
                }
            }
        }
        Ok(s)
    }
}

/// `streams` streams per mode of `model` (after `warmup` each), the modes
/// taking turns to go first.
async fn phase(bench: &Bench, payer: &mut Payer, model: &str, warmup: usize, streams: usize) -> anyhow::Result<(Samples, Samples)> {
    let (mut paid, mut points) = (Samples::default(), Samples::default());
    for i in 0..warmup + streams {
        let order = if i % 2 == 0 { [Mode::Channel, Mode::Points] } else { [Mode::Points, Mode::Channel] };
        for mode in order {
            let s = match mode {
                Mode::Channel => bench.stream(model, Some(&mut *payer)).await?,
                Mode::Points => bench.stream(model, None).await?,
            };
            let samples = if mode == Mode::Channel { &mut paid } else { &mut points };
            if i >= warmup {
                samples.add(&s, bench.chunks);
            } else {
                // Warm-up streams are not timed but are paid and checked.
                samples.short += usize::from(s.ready.len() != bench.chunks || !s.done || s.cost.is_none());
                samples.cost += s.cost.unwrap_or(0);
            }
        }
    }
    Ok((paid, points))
}

fn pcts(sample: &[Duration]) -> (f64, f64) {
    (pct_ms(sample, 0.50), pct_ms(sample, 0.99))
}

fn report(what: &str, mut paid: Samples, mut points: Samples) {
    println!("{what}: {} paid streams, {} points streams", paid.streams, points.streams);
    println!("  receipt round trip per paid chunk ({} chunks): {}", paid.round_trips.len(), summary(&mut paid.round_trips));
    let (gp, gq) = (summary(&mut paid.gaps), summary(&mut points.gaps));
    println!("  gap between chunks, paid per chunk: {gp}");
    println!("  gap between chunks, paid from points: {gq}");
    let ((p50, p99), (q50, q99)) = (pcts(&paid.gaps), pcts(&points.gaps));
    println!("  added by paying (channel - points): gap p50 {:+.3} ms, p99 {:+.3} ms", p50 - q50, p99 - q99);
    let (mp, mq) = (summary(&mut paid.per_chunk), summary(&mut points.per_chunk));
    println!("  per chunk (mean of a stream), paid per chunk: {mp}; from points: {mq}");
    println!("  pause events (payment_required): {} in {} paid streams", paid.pauses, paid.streams);
}

/// Runs the paid-stream part.
pub async fn run(backend_name: &str, args: &StreamArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.chunks > 1, "chunks must be at least 2");
    let bench = Bench::start(backend_name, args).await?;
    let mut payer = bench.open().await?;
    let before = bench.balance().await?;
    println!(
        "stream {backend_name}: {} content chunks per answer, window {} tokens, prices 1 / 2 points per prompt / output token",
        args.chunks,
        Config::default().channels.window_tokens,
    );
    let (mut paid_cost, mut points_cost, mut short, mut streams) = (0u128, 0u128, 0usize, 0usize);
    let mut tally = |paid: &Samples, points: &Samples, warm: usize| {
        paid_cost += paid.cost;
        points_cost += points.cost;
        short += paid.short + points.short;
        streams += paid.streams + points.streams + 2 * warm;
    };
    let (paid, points) = phase(&bench, &mut payer, FAST, WARMUP, args.streams).await?;
    tally(&paid, &points, WARMUP);
    report(&format!("instant upstream, {} + {WARMUP} warm-up streams per mode", args.streams), paid, points);
    if args.paced_ms > 0 && args.paced_streams > 0 {
        let (paid, points) = phase(&bench, &mut payer, PACED, 0, args.paced_streams).await?;
        tally(&paid, &points, 0);
        report(&format!("paced upstream ({} ms per chunk)", args.paced_ms), paid, points);
    }
    let after = bench.balance().await?;
    let channel = bench.get(&format!("/api/channels/{}", payer.channel)).await?;
    let sub = &channel["subs"][0];
    let (nonce, accepted) = (sub["nonce"].as_u64(), amount_of(&sub["accumulated"]));
    let dropped = before.saturating_sub(after);
    let ok = short == 0
        && nonce == Some(payer.last.nonce)
        && accepted == Some(payer.last.accumulated.units())
        && accepted == Some(paid_cost)
        && dropped == points_cost
        && after <= before;
    println!(
        "check: {streams} streams, {short} short; channel nonce {nonce:?} total {accepted:?}, last signed nonce {} total {}, paid streams' costs {paid_cost}; wallet dropped {dropped}, points streams' costs {points_cost}: {}",
        payer.last.nonce,
        payer.last.accumulated,
        if ok { "ok" } else { "MISMATCH" },
    );
    anyhow::ensure!(ok, "the streams, the channel and the wallet do not agree");
    Ok(())
}
