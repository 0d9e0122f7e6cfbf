//! CKB channels end to end, against the real `ckb` node (devnet), real
//! `tollway serve` processes, the real embedded model and the payer SDK:
//! a channel opened from the buyer's cells, chat answers streamed and paid
//! per chunk with commitments, Tollway killed and the node restarted in
//! the middle, forged commitments refused over HTTP, settlement with exact
//! balances; the auto-settle job settling a channel near its expiry with
//! no request; the refund refused before the expiry and taken after it.

use ckb_types::prelude::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tollway_chain::ckb::{Devnet, DevnetConfig, LockScripts, Rpc, TestAccount};
use tollway_core::channel::wire::Commitment;
use tollway_core::ckb::CKB;
use tollway_payer::{commitment_for, CkbOpenRequest, Payer, StateFile};
use tollway_server::ops;
use tollway_store::testing::{fresh_database_url, Backend};
use tollway_store::Store;

mod common;
use common::Server;

const MODEL: &str = "smollm2-135m-instruct";
const STORY: &str = "Write a very long story about a dragon who loves tea, with many chapters.";
/// Prices: 1 point per input token, 2 per output token; 100,000 shannons a point.
const SHANNONS_PER_POINT: u64 = 100_000;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tollway-ckb-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A devnet, and a miner that mines a block every 100 ms while `on`.
struct Chain {
    devnet: Option<Devnet>,
    config: DevnetConfig,
    rpc: Rpc,
    scripts: LockScripts,
    mining: Arc<AtomicBool>,
}

impl Chain {
    async fn start(name: &str) -> Chain {
        let binary = PathBuf::from(std::env::var("TOLLWAY_CKB_BIN").expect("TOLLWAY_CKB_BIN (run scripts/test.sh)"));
        let config = DevnetConfig { binary, dir: temp(name), rpc_port: free_port(), p2p_port: free_port() };
        let devnet = Devnet::start(config.clone()).await.expect("devnet");
        let rpc = devnet.rpc().clone();
        let scripts = rpc.lock_scripts().await.expect("locks");
        let mining = Arc::new(AtomicBool::new(true));
        let (flag, miner) = (mining.clone(), rpc.clone());
        tokio::spawn(async move {
            loop {
                if flag.load(Ordering::Relaxed) {
                    let _ = miner.generate_blocks(1).await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Chain { devnet: Some(devnet), config, rpc, scripts, mining }
    }

    fn mine(&self, on: bool) {
        self.mining.store(on, Ordering::Relaxed);
    }

    async fn restart_node(&mut self) {
        self.mine(false);
        if let Some(d) = self.devnet.take() {
            d.stop().await.expect("stop the node");
        }
        self.devnet = Some(Devnet::start(self.config.clone()).await.expect("the node restarts"));
        self.mine(true);
    }

    async fn balance(&self, account: u32) -> u64 {
        self.rpc.indexer_synced().await.expect("indexer");
        let key = TestAccount::nth(account).key;
        self.rpc.capacity_of(&self.scripts.sighash.script(&key.id().0)).await.expect("capacity")
    }
}

/// A database with an admin, a user and the model's price.
struct Shop {
    url: String,
    admin: String,
    user: String,
    env: Vec<(String, String)>,
}

impl Shop {
    async fn new(chain: &Chain, settle_margin_secs: u64) -> Shop {
        let url = fresh_database_url(Backend::Sqlite).await.expect("database");
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let (_, admin) = ops::create_user(&store, "admin", true).await.expect("admin");
        let (_, user) = ops::create_user(&store, "ann", false).await.expect("user");
        ops::set_price(&store, MODEL, "1000", "2000", None, true, "test", None).await.expect("price");
        let ckb = format!(
            "{{rpc_url = \"{}\", seller_secret = \"{}\", block_interval_secs = 1, min_duration_secs = 1, settle_margin_secs = {settle_margin_secs}, job_interval_secs = 1, shannons_per_point = {SHANNONS_PER_POINT}}}",
            chain.rpc.url(),
            TestAccount::nth(2).secret_hex()
        );
        let model = std::env::var("TOLLWAY_TEST_MODEL").expect("TOLLWAY_TEST_MODEL (run scripts/test.sh)");
        // One port for every server of the shop: the payer keeps its URL across a restart.
        let listen = format!("127.0.0.1:{}", free_port());
        Shop { url, admin, user, env: vec![("TOLLWAY_MODEL_PATH".into(), model), ("TOLLWAY_CKB".into(), ckb), ("TOLLWAY_LISTEN".into(), listen)] }
    }

    async fn serve(&self) -> Server {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Server::start_with(&self.url, &env).await
    }
}

fn payer(name: &str) -> Payer {
    Payer::new(StateFile::in_home(temp(&format!("payer-{name}")))).expect("payer")
}

fn open_request(server: &Server, shop: &Shop, chain: &Chain, deposit: u64, duration_secs: u64) -> CkbOpenRequest {
    CkbOpenRequest {
        server: server.base.clone(),
        api_key: shop.user.clone(),
        rpc_url: chain.rpc.url().to_owned(),
        wallet_secret: TestAccount::nth(1).secret_hex(),
        deposit,
        duration_secs,
        budget: None,
        max_amount: None,
        max_fee: 100_000,
        max_fee_rate: tollway_core::ckb::DEFAULT_MAX_FEE_RATE,
        block_interval_secs: 1,
    }
}

fn story(max_tokens: u64) -> Value {
    json!({"model": MODEL, "messages": [{"role": "user", "content": STORY}], "max_tokens": max_tokens})
}

async fn wait_for_state(payer: &Payer, id: &str, state: &str) -> tollway_payer::RemoteCkbChannel {
    let record = payer.local(Some(id)).await.expect("local");
    for _ in 0..600 {
        match payer.ckb_remote(&record).await {
            Ok(remote) if remote.state == state => return remote,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("channel {id} never reached {state}: {:?}", payer.ckb_remote(&record).await);
}

async fn post_receipt(http: &reqwest::Client, server: &Server, id: &str, body: Value) -> (u16, Value) {
    let r = http.post(server.url(&format!("/api/channels/{id}/receipts"))).json(&body).send().await.expect("send");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ckb_channel_streams_paid_chunks_across_restarts_and_settles_exactly() {
    let mut chain = Chain::start("life").await;
    let shop = Shop::new(&chain, 60).await;
    let mut server = shop.serve().await;
    let (buyer_before, seller_before) = (chain.balance(1).await, chain.balance(2).await);
    let payer = payer("life");
    let deposit = 1_061 * CKB;
    let record = payer.open_ckb(open_request(&server, &shop, &chain, deposit, 3_600)).await.expect("open");
    let id = record.channel.to_string();
    wait_for_state(&payer, &id, "active").await;
    let (buyer_funded, seller_funded) = (chain.balance(1).await, chain.balance(2).await);
    assert_eq!(seller_before - seller_funded, 61 * CKB, "the seller co-funds 61 CKB");
    let funding_fee = buyer_before - deposit - buyer_funded;
    assert!(funding_fee > 0 && funding_fee < 10_000, "funding fee {funding_fee}");

    // 100 chunks paid one by one in CKB.
    let first = payer.chat(Some(&id), story(100), None, |_| {}).await.expect("paid stream");
    assert_eq!(first.completion_tokens, Some(100), "{first:?}");
    let price = |prompt: u64, output: u64| (prompt + 2 * output) * SHANNONS_PER_POINT;
    assert_eq!(first.paid.units(), u128::from(price(first.prompt_tokens.expect("usage"), 100)), "paid = price in shannons");
    assert_eq!(first.accepted, first.paid);
    assert!(first.chunks >= 100 && first.receipts > 0, "{first:?}");

    // Forged commitments over HTTP: refused, nothing changes.
    let http = reqwest::Client::new();
    let latest = payer.local(Some(&id)).await.expect("local").latest_signed.expect("a receipt");
    let local = payer.local(Some(&id)).await.expect("local");
    let honest = commitment_for(&local, &latest).expect("commitment").expect("ckb");
    assert_eq!(post_receipt(&http, &server, &id, json!({"receipt": latest})).await.1["error"]["code"], "commitment_required");
    // Paying a stranger instead of the buyer's change.
    let mut stranger = local.clone();
    stranger.secret_key = tollway_payer::Secret::new(TestAccount::nth(3).secret_hex());
    let to_stranger = commitment_for(&stranger, &latest).expect("commitment").expect("ckb");
    let (status, v) = post_receipt(&http, &server, &id, json!({"receipt": latest, "commitment": to_stranger})).await;
    assert_eq!((status, v["error"]["code"].as_str()), (422, Some("commitment_outputs_changed")), "{v}");
    // The right commitment signed by another key.
    let ckb = local.ckb.clone().expect("a CKB channel");
    let terms = ckb.terms(&local.key().expect("key")).expect("terms");
    let tx = terms.commitment(&ckb.scripts, latest.rav.accumulated.units() as u64).expect("commitment");
    let forged = terms.with_signatures(&tx, Some(&terms.sign(&tx, &TestAccount::nth(3).key)), None);
    let by_stranger = Commitment(forged.data().as_slice().to_vec());
    let (status, v) = post_receipt(&http, &server, &id, json!({"receipt": latest, "commitment": by_stranger})).await;
    assert_eq!((status, v["error"]["code"].as_str()), (403, Some("commitment_wrong_signer")), "{v}");
    let mut more = latest;
    more.rav.accumulated = tollway_core::Amount::new(latest.rav.accumulated.units() + 1);
    let other_amount = commitment_for(&local, &more).expect("commitment").expect("ckb");
    let (status, v) = post_receipt(&http, &server, &id, json!({"receipt": latest, "commitment": other_amount})).await;
    assert_eq!((status, v["error"]["code"].as_str()), (409, Some("commitment_amount_mismatch")), "{v}");
    let garbage = Commitment(vec![1, 2, 3]);
    let (status, v) = post_receipt(&http, &server, &id, json!({"receipt": latest, "commitment": garbage})).await;
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("malformed_transaction")), "{v}");
    let (status, v) = post_receipt(&http, &server, &id, json!({"receipt": latest, "commitment": honest})).await;
    assert_eq!((status, v["replay"].as_bool()), (200, Some(true)), "the honest one is a replay: {v}");

    // Tollway killed, the node restarted: the channel goes on.
    server.kill();
    chain.restart_node().await;
    let server = shop.serve().await;
    let second = payer.chat(Some(&id), story(40), None, |_| {}).await.expect("paid after the restarts");
    assert_eq!(second.accepted.units(), first.accepted.units() + second.paid.units(), "the channel's total goes on: {second:?}");
    let paid = second.accepted.units() as u64;
    assert_eq!(paid, price(first.prompt_tokens.expect("usage"), 100) + price(second.prompt_tokens.expect("usage"), second.completion_tokens.expect("usage")));

    // Settle: exactly what was paid moves, less nothing for the seller.
    payer.ckb_settle(Some(&id)).await.expect("settle");
    let settled = wait_for_state(&payer, &id, "settled").await;
    assert_eq!(settled.paid, paid.to_string());
    let (buyer_after, seller_after) = (chain.balance(1).await, chain.balance(2).await);
    assert_eq!(seller_after - seller_before, paid, "the seller gains exactly the last cumulative amount");
    let fee = deposit - 61 * CKB - record.budget.units() as u64;
    assert_eq!(buyer_after - buyer_funded, deposit - fee - paid, "the buyer gets the rest less the commitment fee");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_settles_a_channel_near_its_expiry_and_an_unpaid_one_is_refunded_after_it() {
    let chain = Chain::start("auto").await;
    let shop = Shop::new(&chain, 40).await;
    let server = shop.serve().await;
    let seller_before = chain.balance(2).await;
    let payer = payer("auto");
    let paid_channel = payer.open_ckb(open_request(&server, &shop, &chain, 200 * CKB, 120)).await.expect("open");
    let paid_id = paid_channel.channel.to_string();
    wait_for_state(&payer, &paid_id, "active").await;
    let unpaid_channel = payer.open_ckb(open_request(&server, &shop, &chain, 100 * CKB, 60)).await.expect("open");
    let unpaid_id = unpaid_channel.channel.to_string();
    wait_for_state(&payer, &unpaid_id, "active").await;
    chain.mine(false);
    let answer = payer.chat(Some(&paid_id), story(20), None, |_| {}).await.expect("paid stream");
    let paid = answer.accepted.units() as u64;
    assert!(paid > 0);

    // The refund of the unpaid channel is refused before its expiry.
    let early = payer.ckb_refund(Some(&unpaid_id)).await.expect_err("before the expiry");
    assert_eq!(early.code(), "tx_immature", "{early}");

    // Blocks go on; no request is made: the job settles the paid channel.
    chain.mine(true);
    let settled = wait_for_state(&payer, &paid_id, "settled").await;
    assert_eq!(settled.paid, paid.to_string());
    assert_eq!(chain.balance(2).await + 61 * CKB, seller_before + paid, "the seller gains exactly what was paid (its co-funding of the unpaid channel is still locked)");
    let client = reqwest::Client::new();
    let runs: Value = client.get(server.url("/api/admin/ckb/tasks?task=ckb_auto_settle&limit=1000")).bearer_auth(&shop.admin).send().await.expect("tasks").json().await.expect("json");
    let runs = runs["runs"].as_array().cloned().unwrap_or_default();
    assert!(runs.iter().any(|r| r["ok"] == true && r["detail"].as_str().is_some_and(|d| d.contains(&paid_id))), "the task log shows the settlement: {runs:?}");

    // The unpaid channel expires; its refund commits and the job sees it.
    wait_for_state(&payer, &unpaid_id, "expired").await;
    let mut hash = None;
    for _ in 0..100 {
        match payer.ckb_refund(Some(&unpaid_id)).await {
            Ok(h) => {
                hash = Some(h);
                break;
            }
            Err(e) if e.code() == "tx_immature" => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(e) => panic!("refund: {e}"),
        }
    }
    assert!(hash.is_some(), "the refund was taken after the expiry");
    wait_for_state(&payer, &unpaid_id, "refunded").await;
    assert_eq!(chain.balance(2).await - seller_before, paid, "the seller's co-funding came back too");
}
