//! The CKB hub end to end (issue 16), against the real `ckb` node (devnet),
//! real `tollway serve` processes and the `tollway hub pay` command, on
//! SQLite and PostgreSQL: the pool made on first start; 5 CKB paid (below
//! the 61 CKB cell minimum) and paid again at once on the pending change;
//! both committed, split exactly, the ledger audit clean; a receiver above
//! 65 CKB paid out on chain exactly once; a payment to the gateway buying
//! points; and the attacker's moves, each refused with its code and
//! nothing lost: amounts of 0, below the fee and above the sender's cells,
//! bad addresses, a signed transaction changed in one byte or signed by
//! another key, a payment id transferred twice. Also: two servers on one
//! PostgreSQL racing 100 prepares for a pool of 10, and a payout that
//! survives a SIGKILL between sending and recording; a sender that
//! double-spends its sent payment's input (RBF) leaves it failed, counted
//! nowhere, its pool cell free; a sender with 20 payments open prepares
//! a 21st on its next free cell.

use ckb_types::packed::{OutPoint, Transaction};
use ckb_types::prelude::*;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;
use tollway_chain::ckb::hub::{merge, sign_sender, split, LiveCell};
use tollway_chain::ckb::spilman::out_point_text;
use tollway_chain::ckb::TestAccount;
use tollway_core::ckb::{CKB, MIN_FEE_RATE};
use tollway_store::testing::Backend;
use tollway_store::Store;

// Shared with the channel tests; this file uses the devnet and the shop only.
#[allow(dead_code)]
mod ckb_env;
#[allow(dead_code)]
mod common;
use ckb_env::*;

fn hub_pay(server: &str, rpc: &str, to: &str, amount: &str, account: u32, api_key: Option<&str>) -> (bool, Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollway"));
    cmd.args(["hub", "pay", "--server", server, "--ckb-rpc", rpc, "--to", to, "--amount", amount, "--json"])
        .args(["--wallet-secret", &TestAccount::nth(account).secret_hex()])
        .env_remove("TOLLWAY_API_KEY");
    if let Some(key) = api_key {
        cmd.args(["--api-key", key]);
    }
    let out = cmd.output().expect("run tollway hub pay");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    (out.status.success(), serde_json::from_str(&stdout).unwrap_or(Value::Null), String::from_utf8_lossy(&out.stderr).to_string())
}

async fn get(http: &reqwest::Client, url: &str, key: Option<&str>) -> (u16, Value) {
    let mut req = http.get(url);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let r = req.send().await.expect("get");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let r = http.post(url).json(&body).send().await.expect("post");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn wait_complete(http: &reqwest::Client, base: &str, id: i64) -> Value {
    for _ in 0..300 {
        let (_, p) = get(http, &format!("{base}/api/payment/{id}"), None).await;
        if p["is_complete"] == json!(true) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("payment {id} did not complete");
}

fn args(account: u32) -> String {
    format!("0x{}", hex::encode(TestAccount::nth(account).lock_args().0))
}

async fn the_hub_moves_small_amounts_and_refuses_the_attacker(backend: Backend) {
    let chain = Chain::start(&format!("hub-{backend:?}")).await;
    let mut shop = Shop::new(backend, &chain, 30, "").await;
    let hub_config = format!("{{secret = \"{}\", init_pool = true, pool_cells = 4, job_interval_ms = 200}}", TestAccount::nth(3).secret_hex());
    shop.env.push(("TOLLWAY_HUB".into(), hub_config));
    let server = shop.serve().await;
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let rpc = chain.rpc.url().to_owned();

    // The pool is made on the first start: 4 free cells once the split commits.
    let mut info = Value::Null;
    for _ in 0..300 {
        info = get(&http, &format!("{base}/api/hub"), None).await.1;
        if info["pool"]["free_cells"].as_u64() == Some(4) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(info["pool"]["free_cells"], json!(4), "{info}");
    assert_eq!(info["hub_lock_args"], json!(args(3)));

    // 5 CKB to account 0, then 0.5 CKB at once (on the first's pending change).
    let (ok, first, err) = hub_pay(&base, &rpc, &args(0), "5", 1, None);
    assert!(ok, "{err}");
    let (ok, second, err) = hub_pay(&base, &rpc, &args(0), "0.5", 1, None);
    assert!(ok, "{err}");
    let first_id = first["payment_id"].as_i64().expect("an id");
    let second_id = second["payment_id"].as_i64().expect("an id");
    assert!(first["tx_hash"].as_str().is_some_and(|h| h.len() == 66), "{first}");
    assert_eq!((first["state"].as_str(), second["state"].as_str()), (Some("sent"), Some("sent")));
    let second_tx = chain.transaction(second["tx_hash"].as_str().expect("hash")).await;
    assert_eq!(
        second_tx.inputs().get(0).expect("input").previous_output().tx_hash(),
        chain.transaction(first["tx_hash"].as_str().expect("hash")).await.hash(),
        "the second spends the first's pending change"
    );
    let done = wait_complete(&http, &base, first_id).await;
    wait_complete(&http, &base, second_id).await;
    // 1 % platform fee, the rest to the receiver: exact shannons.
    let splits = done["splits"].as_array().expect("splits");
    let share = |role: &str| splits.iter().find(|s| s["role"] == json!(role)).map(|s| s["amount"].as_str().unwrap_or_default().to_owned());
    assert_eq!((share("receiver").as_deref(), share("fee").as_deref()), (Some("495000000"), Some("5000000")), "{done}");

    // Above 65 CKB: the receiver is paid out on chain, once, exactly.
    let receiver_before = chain.balance(0).await;
    let (ok, big, err) = hub_pay(&base, &rpc, &args(0), "70", 1, None);
    assert!(ok, "{err}");
    wait_complete(&http, &base, big["payment_id"].as_i64().expect("id")).await;
    let owed = 495_000_000u64 + 49_500_000 + 6_930_000_000;
    let mut balance = Value::Null;
    for _ in 0..300 {
        balance = get(&http, &format!("{base}/api/hub/balance/{}", args(0)), None).await.1;
        if balance["paid"] == json!(owed.to_string()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!((balance["paid"].as_str(), balance["unpaid"].as_str()), (Some(owed.to_string().as_str()), Some("0")), "{balance}");
    // Account 0 also mines (its rewards grow): its balance rose by at least the payout.
    assert!(chain.balance(0).await >= receiver_before + owed);
    let (_, payouts) = get(&http, &format!("{base}/api/admin/hub/payouts"), Some(&shop.admin)).await;
    let paid_outs: Vec<&Value> = payouts["payouts"].as_array().expect("payouts").iter().filter(|p| p["kind"] == json!("payout")).collect();
    assert_eq!(paid_outs.len(), 1, "{payouts}");
    assert_eq!(paid_outs[0]["total"], json!(owed.to_string()));

    // The gateway (the hub's own key by default) sells points: 10 CKB less
    // the 1 % fee at 100,000 shannons a point = 9,900 points.
    let (ok, _, err) = hub_pay(&base, &rpc, &args(3), "10", 1, None);
    assert!(!ok && err.contains("api_key_missing"), "{err}");
    let (ok, top_up, err) = hub_pay(&base, &rpc, &args(3), "10", 1, Some(&shop.user));
    assert!(ok, "{err}");
    assert_eq!(top_up["points"], json!("9900"));
    wait_complete(&http, &base, top_up["payment_id"].as_i64().expect("id")).await;
    let (_, points) = get(&http, &format!("{base}/api/user/points/balance"), Some(&shop.user)).await;
    assert_eq!(points["balance"], json!("9900"), "{points}");

    // The attacker's moves.
    let prepare_url = format!("{base}/api/payment/prepare");
    let transfer_url = format!("{base}/api/payment/transfer");
    let prepare = |body: Value| post(&http, &prepare_url, body);
    let cases = [
        (json!({"sender": args(1), "receiver": args(0), "amount": 0}), 400, "amount_zero"),
        (json!({"sender": args(1), "receiver": args(0), "amount": 100}), 400, "amount_below_fee"),
        (json!({"sender": args(1), "receiver": args(0), "amount": -5}), 400, "invalid_amount"),
        (json!({"sender": args(1), "receiver": args(0), "amount": 1.5}), 400, "invalid_amount"),
        (json!({"sender": args(1), "receiver": args(0), "amount": "99999999999999999999999"}), 400, "invalid_amount"),
        (json!({"sender": args(1), "receiver": args(0), "amount": (2_000_000 * CKB).to_string()}), 400, "insufficient_funds"),
        (json!({"sender": args(1), "receiver": "ckb1nothing", "amount": "500000000"}), 400, "invalid_address"),
        (json!({"sender": "0x1234", "receiver": args(0), "amount": "500000000"}), 400, "invalid_address"),
        (json!({"sender": args(3), "receiver": args(0), "amount": "500000000"}), 400, "sender_is_hub"),
        (json!({"sender": args(1), "receiver": args(0), "amount": "500000000", "id": 1}), 400, "malformed_json"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = prepare(body.clone()).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{body} → {answer}");
    }
    // A signed transaction changed in one byte, or signed by another key.
    let (status, prepared) = prepare(json!({"sender": args(1), "receiver": args(0), "amount": "300000000"})).await;
    assert_eq!(status, 201, "{prepared}");
    let id = prepared["payment_id"].as_i64().expect("id");
    let raw = hex::decode(prepared["raw_tx"].as_str().expect("raw").trim_start_matches("0x")).expect("hex");
    let tx = Transaction::from_slice(&raw).expect("tx").into_view();
    let honest = sign_sender(&tx, 1, &TestAccount::nth(1).key);
    let thief = sign_sender(&tx, 1, &TestAccount::nth(0).key);
    let mut flipped = honest.data().as_slice().to_vec();
    let at = flipped.len() / 3;
    flipped[at] ^= 1;
    let transfer = |tx: Vec<u8>, id: i64| post(&http, &transfer_url, json!({"payment_id": id, "tx": format!("0x{}", hex::encode(tx))}));
    let (s1, a1) = transfer(thief.data().as_slice().to_vec(), id).await;
    assert_eq!((s1, a1["error"]["code"].as_str()), (403, Some("bad_signature")), "{a1}");
    let (s2, a2) = transfer(flipped, id).await;
    assert!(matches!((s2, a2["error"]["code"].as_str()), (422, Some("tx_mismatch")) | (400, Some("malformed_transaction"))), "{a2}");
    let (s3, a3) = transfer(honest.data().as_slice().to_vec(), 999_999).await;
    assert_eq!((s3, a3["error"]["code"].as_str()), (404, Some("unknown_payment")), "{a3}");
    // The honest one passes; the same id again with other bytes is refused.
    let (s4, a4) = transfer(honest.data().as_slice().to_vec(), id).await;
    assert_eq!((s4, a4["state"].as_str()), (200, Some("sent")), "{a4}");
    let (s5, a5) = transfer(thief.data().as_slice().to_vec(), id).await;
    assert_eq!((s5, a5["error"]["code"].as_str()), (409, Some("payment_not_prepared")), "{a5}");
    wait_complete(&http, &base, id).await;

    // The sender double-spends a sent payment: before it commits, it
    // replaces the payment's input with a higher-fee spend to itself (RBF).
    // The payment must end failed, counted nowhere, its pool cell free.
    let before = get(&http, &format!("{base}/api/hub/balance/{}", args(0)), None).await.1;
    chain.mine(false);
    let (status, prepared) = prepare(json!({"sender": args(1), "receiver": args(0), "amount": "200000000"})).await;
    assert_eq!(status, 201, "{prepared}");
    let id = prepared["payment_id"].as_i64().expect("id");
    let raw = hex::decode(prepared["raw_tx"].as_str().expect("raw").trim_start_matches("0x")).expect("hex");
    let tx = Transaction::from_slice(&raw).expect("tx").into_view();
    let (sent, answer) = transfer(sign_sender(&tx, 1, &TestAccount::nth(1).key).data().as_slice().to_vec(), id).await;
    assert_eq!((sent, answer["state"].as_str()), (200, Some("sent")), "{answer}");
    let spent = tx.inputs().get(0).expect("the sender's input").previous_output();
    let index = usize::try_from(Unpack::<u32>::unpack(&spent.index())).expect("index");
    let source = chain.rpc.transaction(&spent.tx_hash()).await.expect("get_transaction").expect("the sender's cell's transaction");
    let capacity: u64 = source.outputs().get(index).expect("the sender's cell").capacity().unpack();
    let own = [LiveCell { out_point: spent, capacity }];
    let replacement = merge(&chain.scripts, &TestAccount::nth(1).key, &own, 10 * MIN_FEE_RATE).expect("the sender's own spend");
    chain.rpc.send(&replacement.tx).await.expect("the pool takes the higher-fee replacement");
    chain.rpc.mine_until_committed(&replacement.tx.hash(), 60).await.expect("the replacement commits");
    chain.mine(true);
    let mut payment = Value::Null;
    for _ in 0..300 {
        payment = get(&http, &format!("{base}/api/payment/{id}"), None).await.1;
        if payment["state"] != json!("sent") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("double spend: payment {id} ended {} ({})", payment["state"], payment["failure"]);
    assert_eq!((payment["state"].as_str(), payment["is_complete"].as_bool()), (Some("failed"), Some(false)), "{payment}");
    assert!(payment["splits"].as_array().is_none_or(|s| s.is_empty()), "nothing split: {payment}");
    let after = get(&http, &format!("{base}/api/hub/balance/{}", args(0)), None).await.1;
    assert_eq!((&after["paid"], &after["unpaid"]), (&before["paid"], &before["unpaid"]), "the receiver got nothing: {before} → {after}");
    let hub_input = tx.inputs().get(1).expect("the hub's input").previous_output();
    let hub_cell = chain.rpc.live_cell(&hub_input).await.expect("get_live_cell");
    assert!(hub_cell.is_some(), "the hub's pool cell is still live on chain");

    // No pool cell stuck: every cell is free again once nothing is open.
    let mut pool = Value::Null;
    for _ in 0..100 {
        pool = get(&http, &format!("{base}/api/hub"), None).await.1["pool"].clone();
        if pool["leased_cells"] == json!(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pool["leased_cells"], json!(0), "{pool}");

    // The ledger agrees.
    let store = Store::connect(&shop.url).await.expect("store");
    let audit = store.audit().await.expect("audit");
    assert!(audit.violation.is_none(), "{:?}", audit.violation);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_on_sqlite() {
    the_hub_moves_small_amounts_and_refuses_the_attacker(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_on_postgres() {
    the_hub_moves_small_amounts_and_refuses_the_attacker(Backend::Postgres).await;
}

/// A sender with many payments open: its 20 oldest cells held by 20
/// prepared payments, a 21st payment is prepared on its next free cell
/// (the hub reads past the held ones), not refused `insufficient_funds`
/// (as it was when the hub gave up after 16 cells: `tollway bench hub`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_with_many_payments_open_is_not_short_of_cells() {
    let chain = Chain::start("hub-many-open").await;
    let mut shop = Shop::new(Backend::Sqlite, &chain, 30, "").await;
    let hub_config = format!(
        "{{secret = \"{}\", init_pool = true, pool_cells = 24, job_interval_ms = 200, max_open_per_sender = 100, max_open_per_client = 100, prepare_ttl_secs = 600}}",
        TestAccount::nth(3).secret_hex()
    );
    shop.env.push(("TOLLWAY_HUB".into(), hub_config));
    // Account 1's genesis cell split into 30 cells of 200 CKB (the oldest
    // of its cells, in output order) and the rest.
    let sender = TestAccount::nth(1);
    let genesis = chain.rpc.live_cells(&chain.scripts.sighash.script(&sender.lock_args().0), u64::MAX).await.expect("cells");
    let spread = split(&chain.scripts, &sender.key, &genesis[..1], 30, 200 * CKB, MIN_FEE_RATE).expect("split");
    chain.rpc.send(&spread.tx).await.expect("send the split");
    chain.rpc.mine_until_committed(&spread.tx.hash(), 60).await.expect("the split commits");
    chain.rpc.indexer_synced().await.expect("indexer");
    let server = shop.serve().await;
    let http = reqwest::Client::new();
    let base = server.base.clone();
    for _ in 0..300 {
        if get(&http, &format!("{base}/api/hub"), None).await.1["pool"]["free_cells"].as_u64() >= Some(24) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (url, body) = (format!("{base}/api/payment/prepare"), json!({"sender": args(1), "receiver": args(2), "amount": CKB.to_string()}));
    let mut held = Vec::new();
    for n in 0..20 {
        let (status, p) = post(&http, &url, body.clone()).await;
        assert_eq!(status, 201, "prepare {n}: {p}");
        held.extend(p["sender_inputs"].as_array().expect("inputs").iter().cloned());
    }
    let point = |i: u32| json!(out_point_text(&OutPoint::new(spread.tx.hash(), i)));
    let oldest: Vec<Value> = (0..20).map(point).collect();
    assert_eq!(held, oldest, "each payment holds the oldest free cell");
    let (status, next) = post(&http, &url, body).await;
    assert_eq!(status, 201, "{next}");
    assert_eq!(next["sender_inputs"], json!([point(20)]), "the next free cell");
}

/// Two `tollway serve` processes on one PostgreSQL database, a pool of 10
/// cells, 100 prepares at once (half to each server): exactly 10 are
/// prepared, each on its own pool cell; every other one is refused with
/// 503 (`hub_busy`, or `sender_cell_taken` when all the sender's tries
/// lost), and nothing is leased twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepares_racing_across_two_servers_never_share_a_pool_cell() {
    let chain = Chain::start("hub-race").await;
    let mut shop = Shop::new(Backend::Postgres, &chain, 30, "").await;
    let hub_config = format!(
        "{{secret = \"{}\", pool_cells = 0, job_interval_ms = 200, max_open_per_sender = 1000, max_open_per_client = 1000, prepare_ttl_secs = 600}}",
        TestAccount::nth(3).secret_hex()
    );
    shop.env.push(("TOLLWAY_HUB".into(), hub_config));
    let a = shop.serve().await;
    let http = reqwest::Client::new();
    // The operator makes a pool of exactly 10 (no automatic upkeep: pool_cells = 0).
    let made = http.post(format!("{}/api/admin/hub/pool", a.base)).bearer_auth(&shop.admin).json(&json!({"cells": 10})).send().await.expect("pool");
    assert_eq!(made.status().as_u16(), 200);
    for _ in 0..300 {
        if get(&http, &format!("{}/api/hub", a.base), None).await.1["pool"]["free_cells"] == json!(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The second server on the same database (and port: the shop's), started
    // once the pool is made, so neither splits more while they race.
    let mut second = Shop { url: shop.url.clone(), admin: shop.admin.clone(), user: shop.user.clone(), env: shop.env.clone() };
    second.env.retain(|(k, _)| k != "TOLLWAY_LISTEN");
    second.env.push(("TOLLWAY_LISTEN".into(), format!("127.0.0.1:{}", free_port())));
    let b = second.serve().await;
    assert_eq!(get(&http, &format!("{}/api/hub", b.base), None).await.1["pool"]["free_cells"], json!(10));
    // Account 0 mines: it has many cells, so the senders' cells are not the limit.
    let mut tasks = Vec::new();
    for i in 0..100 {
        let url = format!("{}/api/payment/prepare", if i % 2 == 0 { &a.base } else { &b.base });
        let http = http.clone();
        tasks.push(tokio::spawn(
            async move { post(&http, &url, json!({"sender": args(0), "receiver": args(1), "amount": (CKB + i).to_string()})).await },
        ));
    }
    let mut prepared = Vec::new();
    for t in tasks {
        let (status, answer) = t.await.expect("join");
        match status {
            201 => prepared.push(answer),
            503 => assert!(matches!(answer["error"]["code"].as_str(), Some("hub_busy" | "sender_cell_taken")), "{answer}"),
            other => panic!("unexpected {other}: {answer}"),
        }
    }
    let mut cells: Vec<&str> = prepared.iter().map(|p| p["hub_input"].as_str().expect("hub input")).collect();
    cells.sort_unstable();
    cells.dedup();
    assert_eq!((prepared.len(), cells.len()), (10, 10), "exactly the 10 pool cells, each once");
    let mut senders: Vec<&Value> = prepared.iter().flat_map(|p| p["sender_inputs"].as_array().expect("inputs").iter()).collect();
    let all = senders.len();
    senders.sort_by_key(|v| v.to_string());
    senders.dedup();
    assert_eq!(senders.len(), all, "no sender cell in two open payments");
    let (_, info) = get(&http, &format!("{}/api/hub", b.base), None).await;
    assert_eq!((info["pool"]["free_cells"].clone(), info["pool"]["leased_cells"].clone()), (json!(0), json!(10)), "{info}");
}

/// A payout stored and sent, then the server killed (SIGKILL) before the
/// payout commits, the chain mining again only once the server is gone:
/// after the restart the payout is recorded paid, exactly once, and the
/// receiver's cell on chain holds exactly what it was owed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_survives_a_kill_between_send_and_record() {
    let chain = Chain::start("hub-kill").await;
    let mut shop = Shop::new(Backend::Postgres, &chain, 30, "").await;
    let hub_config = format!("{{secret = \"{}\", init_pool = true, pool_cells = 4, job_interval_ms = 200}}", TestAccount::nth(3).secret_hex());
    shop.env.push(("TOLLWAY_HUB".into(), hub_config));
    let server = shop.serve().await;
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let rpc = chain.rpc.url().to_owned();
    let receiver = format!("0x{}", "42".repeat(20));
    let receiver_lock = chain.scripts.sighash.script(&[0x42; 20]);
    for _ in 0..300 {
        if get(&http, &format!("{base}/api/hub"), None).await.1["pool"]["free_cells"] == json!(4) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // 70 CKB: the receiver is owed 69.3 CKB (1 % fee), above 65.
    let (ok, paid, err) = hub_pay(&base, &rpc, &receiver, "70", 1, None);
    assert!(ok, "{err}");
    // From here blocks are made one at a time, only until the payment
    // commits: the payout that follows stays in the node's pool.
    chain.mine(false);
    let id = paid["payment_id"].as_i64().expect("id");
    for _ in 0..100 {
        if get(&http, &format!("{base}/api/payment/{id}"), None).await.1["is_complete"] == json!(true) {
            break;
        }
        chain.rpc.generate_blocks(1).await.expect("a block");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    wait_complete(&http, &base, id).await;
    let mut payout = Value::Null;
    for _ in 0..300 {
        let (_, list) = get(&http, &format!("{base}/api/admin/hub/payouts"), Some(&shop.admin)).await;
        if let Some(p) = list["payouts"].as_array().and_then(|l| l.iter().find(|p| p["kind"] == json!("payout")).cloned()) {
            payout = p;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(payout["state"], json!("sent"), "{payout}");
    let hash = payout["tx_hash"].as_str().expect("hash").to_owned();
    drop(server); // SIGKILL: the payout is in the node's pool, its commit not recorded.
    chain.mine(true);
    let server = shop.serve().await;
    let base = server.base.clone();
    let mut after = Value::Null;
    for _ in 0..300 {
        let (_, list) = get(&http, &format!("{base}/api/admin/hub/payouts"), Some(&shop.admin)).await;
        after = list;
        let payouts: Vec<&Value> = after["payouts"].as_array().expect("payouts").iter().filter(|p| p["kind"] == json!("payout")).collect();
        if payouts.len() == 1 && payouts[0]["state"] == json!("paid") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let payouts: Vec<&Value> = after["payouts"].as_array().expect("payouts").iter().filter(|p| p["kind"] == json!("payout")).collect();
    assert_eq!(payouts.len(), 1, "one payout, never a second: {after}");
    assert_eq!((payouts[0]["state"].as_str(), payouts[0]["tx_hash"].as_str()), (Some("paid"), Some(hash.as_str())));
    chain.rpc.indexer_synced().await.expect("indexer");
    assert_eq!(chain.rpc.capacity_of(&receiver_lock).await.expect("capacity"), 6_930_000_000, "exactly what it was owed, once");
    let (_, balance) = get(&http, &format!("{base}/api/hub/balance/{receiver}"), None).await;
    assert_eq!((balance["paid"].as_str(), balance["unpaid"].as_str()), (Some("6930000000"), Some("0")));
    let audit = Store::connect(&shop.url).await.expect("store").audit().await.expect("audit");
    assert!(audit.violation.is_none(), "{:?}", audit.violation);
}
