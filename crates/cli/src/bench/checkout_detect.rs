//! Part 1 of `tollway bench checkout`: detection latency. Payments are
//! made one at a time: a session for 1 USDT is created, its WebSocket
//! opened (`connection_ack` shows `waiting`), then anvil's account 0 pays
//! it with a real ERC-20 transfer while the socket is read. For the first
//! `payment_status_update` showing `confirming`, and the first showing
//! `paid`, the bench notes the time and the head it has seen; the
//! transfer's block comes from the update (`blockNumber`), its timestamp
//! from the node, and the moment it appeared from the bench's own head
//! poller (every 20 ms), because anvil's timestamps are whole seconds.

use super::checkout_setup::{anvil, config, fresh_url, CheckoutArgs, DEPOSIT, NETWORK};
use super::checkout_server::Server;
use futures::StreamExt;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tollway_chain::evm::EvmDevnet;
use tollway_core::evm::Address;

/// How long one message may take.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(120);

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// When one status was first shown, over all payments.
#[derive(Debug, Default)]
pub struct Shown {
    /// Payments whose socket showed it.
    pub count: usize,
    /// Blocks the bench had seen after the transfer's block when it arrived.
    pub blocks: Vec<u64>,
    /// Milliseconds after the transfer block's timestamp.
    pub ms_from_timestamp: Vec<f64>,
    /// Milliseconds after the bench first saw the transfer's block.
    pub ms_from_seen: Vec<f64>,
}

/// The figures of part 1.
#[derive(Debug, Default)]
pub struct Detection {
    /// Payments made.
    pub payments: usize,
    /// First `confirming`.
    pub confirming: Shown,
    /// First `paid`.
    pub paid: Shown,
    /// Payments that never showed `confirming`.
    pub straight_to_paid: usize,
    /// From sending the transfer to its block appearing, ms.
    pub send_to_block: Vec<f64>,
}

/// One `payment_status_update` as received.
struct Update {
    status: String,
    at: Instant,
    unix_ms: i64,
    head: u64,
    block: Option<u64>,
}

/// Makes `args.payments` payments one at a time and measures each.
pub async fn run(args: &CheckoutArgs) -> anyhow::Result<Detection> {
    let chain = anvil(args).await?;
    let devnet = &chain.devnet;
    let url = fresh_url(args).await?;
    let mut server = Server::start(config(&chain, &url, args)).await?;
    let (heads, poller) = Heads::spawn(devnet.client());
    let http = reqwest::Client::new();
    let usdt = devnet.tokens().iter().find(|t| t.symbol == "USDT").map(|t| t.address).ok_or_else(|| anyhow::anyhow!("no USDT"))?;
    let payer = EvmDevnet::accounts().first().map(|a| a.secret_key).ok_or_else(|| anyhow::anyhow!("no account 0"))?;
    let deposit: Address = DEPOSIT.parse()?;
    let mut d = Detection { payments: args.payments, ..Detection::default() };
    for i in 0..args.payments {
        if args.restart_each && i > 0 {
            server.stop().await?;
            tokio::time::sleep(Duration::from_millis(rand::random::<u64>() % args.poll_ms.max(1))).await;
            server = Server::start(config(&chain, &url, args)).await?;
        }
        let view: Value = http
            .post(format!("{}/api/v1/payments", server.base))
            .json(&json!({"amount": "1", "token": "USDT", "network": NETWORK}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = view["id"].as_str().ok_or_else(|| anyhow::anyhow!("no id: {view}"))?.to_owned();
        let units: u128 = view["amount_units"].as_str().ok_or_else(|| anyhow::anyhow!("no amount_units: {view}"))?.parse()?;
        let (mut socket, _) = tokio_tungstenite::connect_async(format!("{}/ws/payments/{id}", server.base.replacen("http", "ws", 1))).await?;
        let ack = next_json(&mut socket).await?;
        anyhow::ensure!(ack["type"] == "connection_ack" && ack["data"]["status"] == "waiting", "unexpected first message {ack}");
        let sent = Instant::now();
        let (tx, updates) = tokio::join!(devnet.transfer(usdt, &payer, deposit, units), until_paid(&mut socket, &heads));
        let (tx, updates) = (tx?, updates?);
        socket.close(None).await.ok();
        let block = updates.last().and_then(|u| u.block).ok_or_else(|| anyhow::anyhow!("payment {id}: paid without a block number"))?;
        let timestamp_ms = i64::try_from(devnet.client().block(block).await?.ok_or_else(|| anyhow::anyhow!("no block {block}"))?.timestamp_secs)? * 1_000;
        let (seen, _) = heads.seen(block).ok_or_else(|| anyhow::anyhow!("block {block} never seen by the poller"))?;
        d.send_to_block.push(signed_ms(seen, sent));
        let mut line = format!("detect {}/{}: tx {tx} in block {block}", i + 1, args.payments);
        for (shown, status) in [(&mut d.confirming, "confirming"), (&mut d.paid, "paid")] {
            if let Some(u) = updates.iter().find(|u| u.status == status) {
                shown.count += 1;
                shown.blocks.push(u.head.saturating_sub(block));
                shown.ms_from_timestamp.push((u.unix_ms - timestamp_ms) as f64);
                shown.ms_from_seen.push(signed_ms(u.at, seen));
                line.push_str(&format!(", {status} +{} blocks {:.0} ms", u.head.saturating_sub(block), signed_ms(u.at, seen)));
            }
        }
        if !updates.iter().any(|u| u.status == "confirming") {
            d.straight_to_paid += 1;
        }
        println!("{line}");
    }
    poller.abort();
    server.stop().await?;
    chain.devnet.stop().await?;
    Ok(d)
}

/// `a - b` in milliseconds, negative when `a` is earlier.
fn signed_ms(a: Instant, b: Instant) -> f64 {
    if a >= b {
        (a - b).as_secs_f64() * 1000.0
    } else {
        -((b - a).as_secs_f64() * 1000.0)
    }
}

/// Reads the socket until an update shows `paid`; every update, in order.
async fn until_paid(socket: &mut Socket, heads: &Heads) -> anyhow::Result<Vec<Update>> {
    let mut updates = Vec::new();
    loop {
        let message = next_json(socket).await?;
        if message["type"] != "payment_status_update" {
            continue;
        }
        let (at, unix_ms, head) = (Instant::now(), tollway_store::now_ms(), heads.latest());
        let status = message["data"]["status"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(status == "confirming" || status == "paid" || status == "waiting", "unexpected status in {message}");
        let done = status == "paid";
        updates.push(Update { status, at, unix_ms, head, block: message["data"]["blockNumber"].as_u64() });
        if done {
            return Ok(updates);
        }
    }
}

/// The next text message as JSON.
async fn next_json(socket: &mut Socket) -> anyhow::Result<Value> {
    loop {
        let message = tokio::time::timeout(MESSAGE_TIMEOUT, socket.next())
            .await
            .map_err(|_| anyhow::anyhow!("no message in {} s", MESSAGE_TIMEOUT.as_secs()))?
            .ok_or_else(|| anyhow::anyhow!("the socket closed"))??;
        if let Message::Text(text) = message {
            return Ok(serde_json::from_str(text.as_str())?);
        }
    }
}

/// What the bench's own head poller saw: the latest block and when each
/// block was first seen.
#[derive(Default)]
pub struct Heads {
    seen: Mutex<std::collections::BTreeMap<u64, (Instant, i64)>>,
    latest: std::sync::atomic::AtomicU64,
}

impl Heads {
    /// Polls `client`'s head every 20 ms until the returned task is aborted.
    pub fn spawn(client: tollway_chain::evm::EvmClient) -> (Arc<Heads>, tokio::task::JoinHandle<()>) {
        let heads = Arc::new(Heads::default());
        let h = heads.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Ok(head) = client.head().await {
                    let (now, unix) = (Instant::now(), tollway_store::now_ms());
                    let mut seen = h.seen.lock().unwrap_or_else(|e| e.into_inner());
                    let last = seen.keys().next_back().copied();
                    let from = last.map_or(head.number, |l| l + 1);
                    for n in from..=head.number {
                        seen.insert(n, (now, unix));
                    }
                    h.latest.fetch_max(head.number, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        (heads, task)
    }

    /// The latest head seen.
    pub fn latest(&self) -> u64 {
        self.latest.load(Ordering::Relaxed)
    }

    /// When block `n` was first seen (monotonic, and Unix ms).
    pub fn seen(&self, n: u64) -> Option<(Instant, i64)> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).get(&n).copied()
    }
}
