//! CKB channels end to end, against the real `ckb` node (devnet), real
//! `tollway serve` processes, the real embedded model and the payer SDK:
//! a channel opened from the buyer's cells (the funding fee exact),
//! chat answers streamed and paid per chunk with commitments, Tollway
//! killed (SIGKILL) in the middle of a paid stream with a receipt in
//! flight and the node restarted, forged commitments refused over HTTP,
//! settlement with exact balances; the auto-settle job settling a channel near its expiry with
//! no request; the refund refused before the expiry and taken after it;
//! and the attacks of issue 13: the seller-signed funding of an abandoned
//! offer broadcast late, receipts racing a settlement, receipts after the
//! local deadline with the node down, a funding short of its depth.

use ckb_types::prelude::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tollway_chain::ckb::spilman::{input_indices, parse_out_point, reclaim, sign_inputs, FundingPlan, LiveCell};
use tollway_chain::ckb::{LockScripts, Rejection, TestAccount, TxStatus};
use tollway_core::channel::wire::{public_key_hex, Commitment};
use tollway_core::channel::SignedSubRav;
use tollway_core::ckb::{fee_for_size, ChannelFunds, CKB, MIN_FEE_RATE};
use tollway_payer::{commitment_for, CkbOpenRequest};
use tollway_store::testing::Backend;
use tollway_store::Store;

mod common;
mod ckb_env;
use ckb_env::*;
use common::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ckb_channel_streams_paid_chunks_across_restarts_and_settles_exactly() {
    let mut chain = Chain::start("life").await;
    let shop = Shop::new(Backend::Sqlite, &chain, 60, "").await;
    let mut server = shop.serve().await;
    let (buyer_before, seller_before) = (chain.balance(1).await, chain.balance(2).await);
    let payer = payer("life");
    let deposit = 1_061 * CKB;
    let record = payer.open_ckb(open_request(&server, &shop, &chain, deposit, 3_600)).await.expect("open");
    let id = record.channel.to_string();
    wait_for_state(&payer, &id, "active").await;
    let (buyer_funded, seller_funded) = (chain.balance(1).await, chain.balance(2).await);
    assert_eq!(seller_before - seller_funded, 61 * CKB, "the seller co-funds 61 CKB");
    // The funding fee is exactly the rate's fee for the signed funding's
    // size, and exactly what the buyer lost beyond its deposit.
    let http = reqwest::Client::new();
    let hash = channel_json(&http, &server, &shop, &id).await["funding_tx_hash"].as_str().expect("funding hash").to_owned();
    let funding = chain.transaction(&hash).await;
    let funding_fee = fee_for_size(funding.data().as_slice().len() as u64, MIN_FEE_RATE).expect("fee");
    assert_eq!(buyer_before - deposit - buyer_funded, funding_fee, "the buyer pays exactly the funding's fee");

    // 100 chunks paid one by one in CKB.
    let first = payer.chat(Some(&id), story(100), None, |_| {}).await.expect("paid stream");
    assert_eq!(first.completion_tokens, Some(100), "{first:?}");
    let price = |prompt: u64, output: u64| (prompt + 2 * output) * SHANNONS_PER_POINT;
    assert_eq!(first.paid.units(), u128::from(price(first.prompt_tokens.expect("usage"), 100)), "paid = price in shannons");
    assert_eq!(first.accepted, first.paid);
    assert!(first.chunks >= 100 && first.receipts > 0, "{first:?}");

    // Forged commitments over HTTP: refused, nothing changes.
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

    // Tollway killed (SIGKILL) in the middle of a paid stream at the moment
    // a receipt is in flight (signed and saved by the payer, not yet
    // acknowledged), then the node restarted: the stream fails, the
    // channel goes on.
    let tokens = AtomicU64::new(0);
    let interrupted = payer.chat(Some(&id), story(200), None, |_| {
        tokens.fetch_add(1, Ordering::Relaxed);
    });
    let killer = async {
        loop {
            let local = payer.local(Some(&id)).await.expect("local");
            let nonce = |r: Option<SignedSubRav>| r.map_or(0, |r| r.rav.nonce);
            let in_flight = nonce(local.latest_signed) > nonce(local.latest_accepted);
            let seen = tokens.load(Ordering::Relaxed);
            if (in_flight && seen >= 20) || seen >= 150 {
                server.kill();
                return in_flight;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    let (interrupted, in_flight) = tokio::join!(interrupted, killer);
    assert!(in_flight, "killed with a receipt in flight");
    assert!(interrupted.is_err(), "the stream cannot finish once the server is killed: {interrupted:?}");
    chain.restart_node().await;
    let server = shop.serve().await;
    let third = payer.chat(Some(&id), story(40), None, |_| {}).await.expect("paid after the restarts");
    assert!(third.accepted.units() > first.accepted.units() + third.paid.units(), "the interrupted stream was paid for in part: {third:?}");
    let paid = third.accepted.units() as u64;
    // Everything the buyer signed was accepted: the settlement pays it.
    let signed = payer.local(Some(&id)).await.expect("local").latest_signed.expect("signed");
    assert_eq!(signed.rav.accumulated.units(), u128::from(paid), "every signed receipt reached the seller");

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
    let shop = Shop::new(Backend::Sqlite, &chain, 40, "").await;
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

/// The attacker's offer as the buyer (test account 1): its id and the
/// funding plan from its live cells and the offered ones.
async fn attacker_offer(http: &reqwest::Client, server: &Server, shop: &Shop, chain: &Chain) -> (String, FundingPlan) {
    let (buyer, deposit) = (TestAccount::nth(1).key, 100 * CKB);
    let body = json!({"key": public_key_hex(&buyer.public()), "deposit": deposit.to_string(), "duration_secs": 3_600});
    let offer: Value = http.post(server.url("/api/ckb/channels")).bearer_auth(&shop.user).json(&body).send().await.expect("offer").json().await.expect("json");
    let number = |v: &Value| v.as_str().and_then(|t| t.parse::<u64>().ok()).expect("a number");
    let cell = |c: &Value| LiveCell { out_point: parse_out_point(c["out_point"].as_str().expect("out point")).expect("out point"), capacity: number(&c["capacity"]) };
    let seller_cells = offer["seller_cells"].as_array().expect("cells").iter().map(cell).collect();
    let funds = ChannelFunds { buyer_deposit: deposit, seller_cofund: number(&offer["cofund"]), fee: number(&offer["fee"]) };
    let buyer_cells = chain.rpc.live_cells(&chain.scripts.sighash.script(&buyer.id().0), deposit + 200 * CKB).await.expect("cells");
    let seller = TestAccount::nth(2).key.public();
    (offer["id"].as_str().expect("id").to_owned(), FundingPlan { buyer: buyer.public(), seller, funds, buyer_cells, seller_cells, fee_rate: MIN_FEE_RATE })
}

/// Waits (at most 60 s) until the payee shows channel `id` in one of
/// `states`; the channel.
async fn reaching(http: &reqwest::Client, server: &Server, shop: &Shop, id: &str, states: &[&str]) -> Value {
    for _ in 0..600 {
        let channel = channel_json(http, server, shop, id).await;
        if states.iter().any(|s| channel["state"] == *s) {
            return channel;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("channel {id} never reached {states:?}: {}", channel_json(http, server, shop, id).await);
}

async fn post_funding(http: &reqwest::Client, server: &Server, shop: &Shop, id: &str, tx: &ckb_types::core::TransactionView) -> (u16, Value) {
    let tx = format!("0x{}", hex::encode(tx.data().as_slice()));
    let r = http.post(server.url(&format!("/api/ckb/channels/{id}/funding"))).bearer_auth(&shop.user).json(&json!({"tx": tx})).send().await.expect("funding");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The funding of `plan` signed by the seller (through the API) and by
/// the buyer: what the attacker holds without ever confirming it.
async fn seller_signed(http: &reqwest::Client, server: &Server, shop: &Shop, id: &str, plan: &FundingPlan, scripts: &LockScripts) -> ckb_types::core::TransactionView {
    let (status, answer) = post_funding(http, server, shop, id, &plan.build(scripts).expect("funding")).await;
    assert_eq!(status, 200, "{answer}");
    let bytes = hex::decode(&answer["funding"].as_str().expect("funding")[2..]).expect("hex");
    let from_seller = ckb_types::packed::Transaction::from_slice(&bytes).expect("tx").into_view();
    sign_inputs(&from_seller, &input_indices(&from_seller, &plan.buyer_cells), &TestAccount::nth(1).key)
}

/// Issue 13, items 10, 4, 3 and 6. An honest channel is active only once its
/// funding has `ckb.funding_confirmations` blocks. The attacker takes the
/// seller's signatures on a funding, never confirms it, waits until the
/// offer is abandoned, then broadcasts the funding: the seller spent its
/// offered cells back to itself first (the reclaim), so the node refuses
/// it and the co-funding is never locked in a cell nothing follows (a
/// funding whose capacities overflow is refused first). A buyer refuses offers with an expiry too far or fees too high.
async fn a_funding_needs_its_depth_and_an_abandoned_offer_s_signed_funding_never_commits(backend: Backend) {
    let chain = Chain::start(&format!("reclaim-{backend:?}")).await;
    let shop = Shop::new(backend, &chain, 60, ", offer_ttl_secs = 2, funding_confirmations = 4").await;
    let server = shop.serve().await;
    let http = reqwest::Client::new();
    chain.mine(false);

    // The depth: committed in block b, active only at block b + 3.
    let payer = payer(&format!("depth-{backend:?}"));
    let record = payer.open_ckb(open_request(&server, &shop, &chain, 200 * CKB, 3_600)).await.expect("open");
    let id = record.channel.to_string();
    let hash = channel_json(&http, &server, &shop, &id).await["funding_tx_hash"].as_str().expect("funding hash").to_owned();
    let bytes: [u8; 32] = tollway_core::channel::wire::parse_hex(&hash).expect("hash");
    chain.rpc.mine_until_committed(&bytes.pack(), 20).await.expect("the funding commits");
    for more in [0, 2] {
        chain.rpc.generate_blocks(more).await.expect("mine");
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        assert_eq!(channel_json(&http, &server, &shop, &id).await["state"], "funding", "{} confirmations are not 4", 1 + more);
    }
    chain.rpc.generate_blocks(1).await.expect("mine");
    wait_for_state(&payer, &id, "active").await;

    // The attacker: an offer, the seller's signatures on the funding, and
    // no confirm.
    let seller_before = chain.balance(2).await;
    let seller = TestAccount::nth(2).key;
    let (attack, plan) = attacker_offer(&http, &server, &shop, &chain).await;
    let unsigned = plan.build(&chain.scripts).expect("funding");
    // Item 4 first: outputs to the seller whose capacities overflow a sum
    // are a clear 422, not a crashed handler.
    let to_seller = |capacity: u64| ckb_types::packed::CellOutput::new_builder().capacity(capacity).lock(chain.scripts.sighash.script(&seller.id().0)).build();
    let empty = ckb_types::bytes::Bytes::new().pack();
    let overflowing = unsigned.as_advanced_builder().output(to_seller(u64::MAX)).output_data(empty.clone()).output(to_seller(1)).output_data(empty).build();
    let (status, body) = post_funding(&http, &server, &shop, &attack, &overflowing).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("funding_mismatch")), "{body}");
    let signed = seller_signed(&http, &server, &shop, &attack, &plan, &chain.scripts).await;
    assert_eq!(channel_json(&http, &server, &shop, &attack).await["state"], "refund_signed");

    // It waits until the offer is given up.
    chain.mine(true);
    let abandoned = reaching(&http, &server, &shop, &attack, &["abandoned"]).await;
    let refused = chain.rpc.send(&signed).await.expect_err("the seller-signed funding of an abandoned offer must not commit");
    assert!(matches!(refused.rejection(), Some(Rejection::InputSpent | Rejection::InputUnknown)), "{refused}");

    // The seller's cells came back through exactly the reclaim it signs,
    // less its fee.
    let seller_cells = plan.seller_cells.clone();
    let expected = reclaim(&chain.scripts, &seller, &seller_cells, MIN_FEE_RATE).expect("reclaim");
    assert_eq!(abandoned["closing_tx_hash"].as_str(), Some(format!("0x{}", hex::encode(expected.hash().raw_data())).as_str()));
    let held: u64 = seller_cells.iter().map(|c| c.capacity).sum();
    let returned: u64 = expected.outputs().into_iter().map(|o| Unpack::<u64>::unpack(&o.capacity())).sum();
    assert_eq!(seller_before - chain.balance(2).await, held - returned, "the seller lost only the reclaim's fee");
    assert_eq!(channel_json(&http, &server, &shop, &id).await["state"], "active", "the honest channel is untouched");

    // The same move racing the reclaim: the funding broadcast while the
    // reclaim waits in the pool. Whichever commits, the channel is
    // followed: active on its live cell, or abandoned and its funding never
    // committed.
    chain.mine(false);
    let (racing, plan) = attacker_offer(&http, &server, &shop, &chain).await;
    let signed = seller_signed(&http, &server, &shop, &racing, &plan, &chain.scripts).await;
    for _ in 0..100 {
        if channel_json(&http, &server, &shop, &racing).await["closing_tx_hash"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(channel_json(&http, &server, &shop, &racing).await["closing_tx_hash"].is_string(), "the reclaim is stored first");
    let _ = chain.rpc.send(&signed).await;
    chain.mine(true);
    let outcome = reaching(&http, &server, &shop, &racing, &["active", "abandoned"]).await;
    if outcome["state"] == "active" {
        let cell = parse_out_point(outcome["cell"].as_str().expect("cell")).expect("cell");
        assert!(chain.rpc.is_live(&cell).await.expect("live"), "{outcome}");
    } else {
        assert!(!matches!(chain.rpc.tx_status(&signed.hash()).await.expect("status"), TxStatus::Committed(_)), "{outcome}");
    }

    // Item 6: offers the buyer refuses before it signs anything: an expiry
    // 8 times the duration (1 s blocks against the buyer's 8 s), a fee rate
    // above its limit, fees above its cap.
    let buyer_before = chain.balance(1).await;
    let cautious = ckb_env::payer(&format!("cautious-{backend:?}"));
    let request = || open_request(&server, &shop, &chain, 100 * CKB, 3_600);
    let hostile = [
        ("offer_expiry_too_far", CkbOpenRequest { block_interval_secs: 8, ..request() }),
        ("offer_fee_rate_too_high", CkbOpenRequest { max_fee_rate: MIN_FEE_RATE - 1, ..request() }),
        ("offer_fee_too_high", CkbOpenRequest { max_fee: 100, ..request() }),
    ];
    for (code, request) in hostile {
        let refused = cautious.open_ckb(request).await.expect_err(code);
        assert_eq!(refused.code(), code, "{refused}");
        // The server gives the unfunded offer up, freeing its cells.
        for _ in 0..100 {
            let list: Value = http.get(server.url("/api/ckb/channels")).bearer_auth(&shop.user).send().await.expect("list").json().await.expect("json");
            if list["channels"].as_array().is_some_and(|c| c.iter().all(|c| c["state"] != "proposed")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(chain.balance(1).await, buyer_before, "the buyer signed nothing");
}

/// Issue 13, items 8 and 9. Receipts posted as fast as the payee takes
/// them while the channel is settled: every acknowledged receipt is in
/// the settlement. Then, on a second channel, the node goes down before
/// the channel's local deadline: past it, a receipt is refused
/// (`channel_expiring`) and the job marks the channel expired without the
/// node.
async fn receipts_racing_a_settlement_are_all_settled_and_none_is_taken_past_the_deadline_with_the_node_down(backend: Backend) {
    let mut chain = Chain::start(&format!("race-{backend:?}")).await;
    let shop = Shop::new(backend, &chain, 45, ", funding_confirmations = 1").await;
    let server = shop.serve().await;
    let http = reqwest::Client::new();
    let seller_before = chain.balance(2).await;
    let racer = payer(&format!("race-{backend:?}"));
    let raced = racer.open_ckb(open_request(&server, &shop, &chain, 300 * CKB, 3_600)).await.expect("open");
    let raced_id = raced.channel.to_string();
    wait_for_state(&racer, &raced_id, "active").await;

    // A channel of 60 s whose margin is 45 s: receipts until 15 s after
    // the offer. Blocks are mined by hand so only the clock gets there.
    chain.mine(false);
    let late = payer(&format!("late-{backend:?}"));
    let record = late.open_ckb(open_request(&server, &shop, &chain, 100 * CKB, 60)).await.expect("open");
    let late_id = record.channel.to_string();
    let hash = channel_json(&http, &server, &shop, &late_id).await["funding_tx_hash"].as_str().expect("hash").to_owned();
    let bytes: [u8; 32] = tollway_core::channel::wire::parse_hex(&hash).expect("hash");
    chain.rpc.mine_until_committed(&bytes.pack(), 20).await.expect("the funding commits");
    wait_for_state(&late, &late_id, "active").await;
    let record = late.local(Some(&late_id)).await.expect("local");
    let first = next_receipt(&record, None, 1_000);
    assert_eq!(post_receipt(&http, &server, &late_id, first.clone()).await.0, 200);
    let pay_until = channel_json(&http, &server, &shop, &late_id).await["pay_until"].as_i64().expect("pay_until");
    chain.stop_node().await;
    while tollway_store::now_ms() < pay_until + 1_500 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after: SignedSubRav = serde_json::from_value(first["receipt"].clone()).expect("receipt");
    let (status, v) = post_receipt(&http, &server, &late_id, next_receipt(&record, Some(&after), 1_000)).await;
    assert_eq!((status, v["error"]["code"].as_str()), (409, Some("channel_expiring")), "{v}");
    assert_eq!(channel_json(&http, &server, &shop, &late_id).await["state"], "expired", "marked without the node");
    chain.restart_node().await;

    // Receipts as fast as they are taken, and a settlement in the middle.
    let record = racer.local(Some(&raced_id)).await.expect("local");
    let acked = AtomicU64::new(0);
    let poster = async {
        let mut latest: Option<SignedSubRav> = None;
        loop {
            let body = next_receipt(&record, latest.as_ref(), 1_000);
            if post_receipt(&http, &server, &raced_id, body.clone()).await.0 != 200 {
                break;
            }
            let receipt: SignedSubRav = serde_json::from_value(body["receipt"].clone()).expect("receipt");
            acked.store(receipt.rav.accumulated.units() as u64, Ordering::Relaxed);
            latest = Some(receipt);
        }
    };
    let settler = async {
        while acked.load(Ordering::Relaxed) < 20_000 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        http.post(server.url(&format!("/api/ckb/channels/{raced_id}/settle"))).bearer_auth(&shop.user).send().await.expect("settle").status().as_u16()
    };
    let ((), status) = tokio::join!(poster, settler);
    assert_eq!(status, 200);
    let paid = acked.load(Ordering::Relaxed);
    let settling = channel_json(&http, &server, &shop, &raced_id).await;
    assert_eq!(settling["paid"], paid.to_string(), "the settlement pays the last acknowledged receipt: {settling}");
    wait_for_state(&racer, &raced_id, "settled").await;
    wait_for_state(&late, &late_id, "settled").await;
    assert_eq!(chain.balance(2).await - seller_before, paid + 1_000, "the seller gains exactly what both channels acknowledged");
}

/// Issue 13, item 10: one channel the tracking cannot follow (here its
/// stored settlement is not a transaction) is logged, and the channels
/// after it are still followed: the later channel's settlement commits
/// and it is settled.
async fn a_channel_the_job_cannot_follow_does_not_block_the_others(backend: Backend) {
    let chain = Chain::start(&format!("isolated-{backend:?}")).await;
    let shop = Shop::new(backend, &chain, 45, ", funding_confirmations = 1").await;
    let server = shop.serve().await;
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for name in ["broken", "healthy"] {
        let payer = payer(&format!("{name}-{backend:?}"));
        let id = payer.open_ckb(open_request(&server, &shop, &chain, 100 * CKB, 3_600)).await.expect("open").channel.to_string();
        wait_for_state(&payer, &id, "active").await;
        let record = payer.local(Some(&id)).await.expect("local");
        assert_eq!(post_receipt(&http, &server, &id, next_receipt(&record, None, 5_000)).await.0, 200);
        ids.push((payer, id));
    }
    chain.mine(false);
    for (_, id) in &ids {
        let settled = http.post(server.url(&format!("/api/ckb/channels/{id}/settle"))).bearer_auth(&shop.user).send().await.expect("settle");
        assert_eq!(settled.status().as_u16(), 200);
    }
    // The first channel's stored settlement is made unreadable.
    let store = Store::connect(&shop.url).await.expect("connect");
    let broken: tollway_core::channel::ChannelId = ids[0].1.parse().expect("id");
    let settling = tollway_core::ckb::SpilmanState::Settling { after_expiry: false };
    assert!(store.set_ckb_state(&broken, settling, settling, Some((&[0xff], [0xff; 32]))).await.expect("corrupt"));
    chain.mine(true);
    wait_for_state(&ids[1].0, &ids[1].1, "settled").await;
    assert_eq!(channel_json(&http, &server, &shop, &ids[0].1).await["state"], "settling");
    let runs: Value = http.get(server.url("/api/admin/ckb/tasks?task=ckb_track&limit=1000")).bearer_auth(&shop.admin).send().await.expect("tasks").json().await.expect("json");
    let runs = runs["runs"].as_array().cloned().unwrap_or_default();
    assert!(runs.iter().any(|r| r["ok"] == false && r["detail"].as_str().is_some_and(|d| d.contains(&ids[0].1))), "the failure is logged with its channel: {runs:?}");
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Postgres).await })*
        }
    };
}

on_both_backends!(
    a_funding_needs_its_depth_and_an_abandoned_offer_s_signed_funding_never_commits,
    receipts_racing_a_settlement_are_all_settled_and_none_is_taken_past_the_deadline_with_the_node_down,
    a_channel_the_job_cannot_follow_does_not_block_the_others,
);
