//! Issue 15's stablecoin checkout across `tollway serve` processes on one
//! PostgreSQL database and a real anvil, and through failures:
//!
//! - payments made while no server ran are all found when two processes
//!   start at once, each session paid and credited exactly once although
//!   both watch the chain, and the cursor ends past the last payment;
//! - the first RPC endpoint (a TCP proxy in front of anvil) dies mid-run:
//!   the watcher fails over to the second, every payment is still found,
//!   and the stats show the failure and the switch;
//! - a process SIGKILLed while a transfer is confirming (and its
//!   successor killed too): the session still ends paid, credited once.
//!
//! Needs `TOLLWAY_TEST_PG_URL` (`scripts/pg.sh start`) and anvil
//! (`TOLLWAY_ANVIL_BIN`, else `scripts/anvil.sh`).

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use tollway_store::evm::TransferState;
use tollway_store::testing::Backend;

mod checkout_env;
mod common;
mod ledger_env;
use checkout_env::*;
use ledger_env::*;

/// How long a payment may take to be found and confirmed.
const PAID_WITHIN: Duration = Duration::from_secs(60);

/// A session to create: who names the user (and whose key creates it),
/// and the request.
struct Order {
    user: Option<&'static str>,
    body: Value,
}

fn order(user: Option<&'static str>, what: Value, token: &str) -> Order {
    let mut body = what;
    body["token"] = json!(token);
    body["network"] = json!(NETWORK);
    if let Some(u) = user {
        body["user"] = json!(u);
    }
    Order { user, body }
}

/// The purchases in `user`'s ledger history: transfer id → amount.
async fn purchases(env: &Env, server: &common::Server, key: &str) -> BTreeMap<String, u128> {
    let page = env.get(server, "/api/user/points/history?type=purchase&limit=500", key).await;
    let items = page["items"].as_array().unwrap_or_else(|| panic!("no items: {page}"));
    let mut out = BTreeMap::new();
    for item in items {
        assert_eq!(item["type"], "purchase", "{item}");
        assert_eq!(item["balance_effect"], format!("+{}", item["amount"].as_str().expect("amount")), "{item}");
        let previous = out.insert(item["id"].as_str().expect("id").to_owned(), amount(&item["amount"]));
        assert!(previous.is_none(), "a transfer id listed twice: {page}");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_made_while_no_server_ran_are_found_by_two_processes_and_credited_once() {
    let env = bootstrap(Backend::Postgres).await;
    let chain = Chain::start().await;
    // Small scans, so catching up takes many steps that the two processes race for.
    let evm = chain.evm_env(&[chain.rpc_url()], 3, 4);
    let mut fleet = Fleet::default();
    fleet.start(&["A"], &env.database_url, &server_env(&evm)).await;
    let keys = BTreeMap::from([("alice", env.new_user("alice").await), ("bob", env.new_user("bob").await)]);

    // Six sessions on A over the three tokens; four name a user (by the
    // user's own key, or the admin's), two are anonymous.
    let orders = [
        order(Some("alice"), json!({"product_id": "points-10k"}), "USDT"),
        order(Some("alice"), json!({"amount": "2.5"}), "USDC"),
        order(Some("bob"), json!({"product_id": "points-50k"}), "BUSD"),
        order(Some("bob"), json!({"amount": "1"}), "USDT"),
        order(None, json!({"amount": "3"}), "USDC"),
        order(None, json!({"product_id": "points-10k"}), "BUSD"),
    ];
    let mut views = Vec::new();
    for (i, o) in orders.iter().enumerate() {
        // The fourth is created by the merchant (admin key) for bob.
        let key = match (o.user, i) {
            (Some(_), 3) => Some(env.admin_key.as_str()),
            (Some(u), _) => Some(keys[u].as_str()),
            (None, _) => None,
        };
        let view = create(&env, fleet.get("A"), key, &o.body).await;
        assert_eq!((view["status"].as_str(), view["user"].as_str()), (Some("waiting"), o.user), "{view}");
        views.push(view);
    }
    let points: Vec<Option<u128>> = views.iter().map(|v| v["points"].as_str().map(|p| p.parse().expect("points"))).collect();
    assert_eq!(points, [Some(10_000), Some(25_000), Some(50_000), Some(10_000), None, None]);
    assert_ne!(views[0]["amount_units"], views[3]["amount_units"], "two open USDT sessions of 1 never share an amount");

    // A has read the chain (its cursor is saved), then dies.
    let watched = async {
        loop {
            if let Some(cursor) = env.store.evm_cursor(NETWORK).await.expect("cursor") {
                return cursor;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    with_deadline("A saving a cursor", Duration::from_secs(30), watched).await;
    fleet.kill("A");
    let cursor_at_kill = env.store.evm_cursor(NETWORK).await.expect("cursor").expect("saved");

    // Every session is paid while no server runs, and more blocks are made.
    let mut hashes = Vec::new();
    for view in &views {
        hashes.push(chain.pay(view).await);
    }
    chain.mine(12).await;
    assert_eq!(env.store.evm_cursor(NETWORK).await.expect("cursor"), Some(cursor_at_kill), "nobody read the chain meanwhile");
    for view in &views {
        let stored = env.store.payment_session(&id_of(view)).await.expect("read").expect("session");
        assert_eq!(stored.state.status.as_str(), "waiting", "nothing seen while no server ran");
    }

    // B and C start at once on the same database: each session is found
    // and paid, whichever process reads it.
    fleet.start(&["B", "C"], &env.database_url, &server_env(&evm)).await;
    let (b, c) = (fleet.get("B"), fleet.get("C"));
    let mut paid = Vec::new();
    for (view, hash) in views.iter().zip(&hashes) {
        let id = id_of(view);
        let done = wait_payment(&env, &[b, c], &id, PAID_WITHIN, "paid", |v| v["status"] == "paid").await;
        assert_eq!(done["exception"], Value::Null, "{done}");
        assert_eq!(done["transaction"]["hash"], hash.to_string(), "{done}");
        assert_eq!(done["amount_received_units"], view["amount_units"], "{done}");
        assert!(done["transaction"]["confirmations"].as_u64() >= Some(3), "{done}");
        // Both processes tell the same.
        let other = payment(&env, c, &id).await;
        assert_eq!((other["status"].as_str(), &other["transaction"]["hash"]), (Some("paid"), &done["transaction"]["hash"]), "{other}");
        // One transfer for it, recorded once, by a watcher, confirmed.
        let transfers = env.store.session_transfers(&id).await.expect("transfers");
        assert_eq!(transfers.len(), 1, "{transfers:?}");
        assert_eq!((transfers[0].tx_hash, transfers[0].state, transfers[0].found_by.as_str()), (*hash, TransferState::Confirmed, "watcher"));
        paid.push(done);
    }

    // The cursor is past the last payment.
    let last_payment = paid.iter().map(|v| v["transaction"]["block_number"].as_u64().expect("block")).max().expect("payments");
    let (cursor, _) = env.store.evm_cursor(NETWORK).await.expect("cursor").expect("saved");
    assert!(cursor > cursor_at_kill.0 && cursor >= last_payment, "cursor {cursor}, last payment in block {last_payment}");
    for server in [b, c] {
        let monitoring = env.get(server, "/api/v1/stats/monitoring", &env.admin_key).await;
        assert!(monitoring["blockchain_monitoring"]["last_block_processed"].as_u64() >= Some(last_payment), "{monitoring}");
    }

    // Each block range was saved by one process only: the scans B and C
    // saved (each logs only the scans it saved) never overlap, and
    // together they tile the blocks from A's cursor on, finding the six
    // transfers once.
    let (saved_up_to, _) = env.store.evm_cursor(NETWORK).await.expect("cursor").expect("saved");
    let mut scans = Vec::new();
    for server in [b, c] {
        let log = env.get(server, "/api/v1/stats/websocket/messages?limit=2000", &env.admin_key).await;
        for m in log["messages"].as_array().expect("messages").iter().filter(|m| m["type"] == "logs_scan") {
            let field = |k: &str| m["data"][k].as_u64().unwrap_or_else(|| panic!("{k} in {m}"));
            scans.push((field("from"), field("to"), field("transfers"), server.base.clone()));
        }
    }
    scans.sort();
    for pair in scans.windows(2) {
        assert!(pair[0].1 < pair[1].0, "two saved scans overlap: {scans:?}");
    }
    let mut next = cursor_at_kill.0 + 1;
    let mut found = 0;
    for (from, to, transfers, _) in scans.iter().filter(|s| s.1 <= saved_up_to) {
        assert_eq!(*from, next, "a gap in the saved scans: {scans:?}");
        next = to + 1;
        found += transfers;
    }
    assert_eq!((next, found), (saved_up_to + 1, 6), "the saved scans tile blocks {}..={saved_up_to}: {scans:?}", cursor_at_kill.0 + 1);

    // Each user's points rose by exactly their sessions' points, through
    // one `evmpay/{id}` ledger transfer per session, however long both
    // processes keep watching.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (user, key) in &keys {
        let expected: BTreeMap<String, u128> = views
            .iter()
            .zip(&points)
            .filter(|(v, _)| v["user"] == *user)
            .map(|(v, p)| (format!("evmpay/{}", id_of(v)), p.expect("points")))
            .collect();
        let total: u128 = expected.values().sum();
        assert_eq!(purchases(&env, b, key).await, expected, "{user}'s purchases");
        for server in [b, c] {
            assert_eq!(env.balance(server, key).await, (total, total, 0), "{user}'s balance");
        }
    }
    assert_eq!(env.balance(b, &keys["alice"]).await.0, 35_000);
    assert_eq!(env.balance(b, &keys["bob"]).await.0, 60_000);
    let stats = env.get(c, "/api/v1/stats/payments", &env.admin_key).await;
    assert_eq!((stats["total_payments"].as_i64(), stats["successful_payments"].as_i64(), stats["open_payments"].as_i64()), (Some(6), Some(6), Some(0)), "{stats}");
    assert_eq!(stats["payments_by_token"], json!({"BUSD": 2, "USDC": 2, "USDT": 2}), "{stats}");
    for server in [b, c] {
        env.assert_audit_ok(server).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_first_rpc_endpoint_dies_mid_run_and_every_payment_is_still_found() {
    let env = bootstrap(Backend::Postgres).await;
    let chain = Chain::start().await;
    let proxy = Proxy::start(&chain.rpc_url()).await;
    let evm = chain.evm_env(&[proxy.url.clone(), chain.rpc_url()], 2, 2_000);
    let mut fleet = Fleet::default();
    fleet.start(&["A"], &env.database_url, &server_env(&evm)).await;
    let a = fleet.get("A");
    let key = env.new_user("carol").await;

    let tokens = ["USDT", "USDC", "BUSD", "USDT", "USDC", "BUSD"];
    let mut views = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let body = json!({"amount": format!("{}", i + 1), "token": token, "network": NETWORK, "user": "carol"});
        views.push(create(&env, a, Some(&key), &body).await);
    }

    // The first three are paid and found through the proxy.
    let endpoints = |stats: &Value| stats["blockchain"]["networks"][0]["endpoints"].as_array().expect("endpoints").clone();
    let mut hashes = Vec::new();
    for view in &views[..3] {
        hashes.push(chain.pay(view).await);
    }
    for (view, hash) in views[..3].iter().zip(&hashes) {
        let done = wait_payment(&env, &[a], &id_of(view), PAID_WITHIN, "paid", |v| v["status"] == "paid").await;
        assert_eq!(done["transaction"]["hash"], hash.to_string());
    }
    let before = env.get(a, "/api/v1/stats/websocket", &env.admin_key).await;
    assert_eq!(before["blockchain"]["currentEndpoint"], proxy.url.as_str(), "{before}");
    let e = endpoints(&before);
    assert_eq!((e[0]["url"].as_str(), e[1]["url"].as_str()), (Some(proxy.url.as_str()), Some(chain.rpc_url().as_str())), "{before}");
    assert_eq!((e[0]["isCurrent"].as_bool(), e[0]["healthy"].as_bool(), e[0]["failures"].as_u64()), (Some(true), Some(true), Some(0)), "{before}");
    let served_before = e[0]["requests"].as_u64().expect("requests");
    assert!(served_before > 10, "the proxy served the watcher: {before}");

    // The proxy dies; the rest are paid and found through the second URL.
    proxy.kill();
    for view in &views[3..] {
        hashes.push(chain.pay(view).await);
    }
    for (view, hash) in views[3..].iter().zip(&hashes[3..]) {
        let done = wait_payment(&env, &[a], &id_of(view), PAID_WITHIN, "paid", |v| v["status"] == "paid").await;
        assert_eq!(done["transaction"]["hash"], hash.to_string());
        assert_eq!(done["amount_received_units"], view["amount_units"]);
    }
    let after = env.get(a, "/api/v1/stats/websocket", &env.admin_key).await;
    let e = endpoints(&after);
    let (dead, alive) = (&e[0], &e[1]);
    assert_eq!(after["blockchain"]["currentEndpoint"], chain.rpc_url().as_str(), "{after}");
    assert_eq!(after["blockchain"]["isConnected"], true, "{after}");
    assert_eq!(dead["url"], proxy.url.as_str(), "{after}");
    assert_eq!((dead["isCurrent"].as_bool(), dead["healthy"].as_bool()), (Some(false), Some(false)), "{after}");
    assert!(dead["failures"].as_u64() >= Some(1), "{after}");
    assert_eq!(dead["switchesAway"], 1, "one switch: {after}");
    assert!(dead["lastError"].as_str().is_some_and(|m| !m.is_empty()), "{after}");
    assert!(dead["lastFailure"].as_str() >= dead["lastOk"].as_str() && dead["lastOk"].is_string(), "{after}");
    assert!(dead["requests"].as_u64() >= Some(served_before), "{after}");
    assert_eq!((alive["isCurrent"].as_bool(), alive["healthy"].as_bool(), alive["failures"].as_u64()), (Some(true), Some(true), Some(0)), "{after}");
    assert_eq!(alive["switchesAway"], 0, "{after}");
    assert!(alive["requests"].as_u64() > Some(10), "the second URL served the rest: {after}");
    assert_eq!(after["blockchain"]["reconnectAttempts"], 1, "{after}");
    let log = env.get(a, "/api/v1/stats/websocket/messages?limit=2000", &env.admin_key).await;
    let errors = log["messages"].as_array().expect("messages").iter().filter(|m| m["type"] == "error").count();
    assert_eq!(errors, 0, "no watcher step failed: the failover happened inside the request: {log}");

    // Every payment found, credited once: 1+2+…+6 tokens at 10,000 points.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(env.balance(a, &key).await, (210_000, 210_000, 0));
    let expected: BTreeMap<String, u128> =
        views.iter().enumerate().map(|(i, v)| (format!("evmpay/{}", id_of(v)), (i as u128 + 1) * 10_000)).collect();
    assert_eq!(purchases(&env, a, &key).await, expected);
    env.assert_audit_ok(a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_process_killed_while_a_payment_is_confirming_leaves_it_to_be_paid_once() {
    const CONFIRMATIONS: u64 = 100;
    let env = bootstrap(Backend::Postgres).await;
    let chain = Chain::start().await;
    let evm = chain.evm_env(&[chain.rpc_url()], CONFIRMATIONS, 2_000);
    let mut fleet = Fleet::default();
    fleet.start(&["A"], &env.database_url, &server_env(&evm)).await;
    let key = env.new_user("dave").await;
    let view = create(&env, fleet.get("A"), Some(&key), &json!({"product_id": "points-50k", "token": "USDC", "network": NETWORK, "user": "dave"})).await;
    let id = id_of(&view);
    assert_eq!((view["points"].as_str(), view["confirmations_required"].as_u64()), (Some("50000"), Some(CONFIRMATIONS)));

    // Seen by A, confirming; A is killed before the confirmations arrive.
    let hash = chain.pay(&view).await;
    let confirming = wait_payment(&env, &[fleet.get("A")], &id, PAID_WITHIN, "confirming", |v| v["status"] == "confirming").await;
    assert_eq!(confirming["transaction"]["hash"], hash.to_string(), "{confirming}");
    assert!(confirming["transaction"]["confirmations"].as_u64() < Some(CONFIRMATIONS), "{confirming}");
    fleet.kill("A");
    let stored = env.store.session_transfers(&id).await.expect("transfers");
    assert_eq!((stored.len(), stored[0].state), (1, TransferState::Seen), "{stored:?}");
    let block = stored[0].block_number;

    // B starts while it still lacks confirmations: it is still confirming
    // there (the same transfer, more confirmations), and B dies too.
    fleet.start(&["B"], &env.database_url, &server_env(&evm)).await;
    let head = chain.head().await;
    assert!(head + 1 < block + CONFIRMATIONS, "still short of {CONFIRMATIONS} confirmations at block {head} (transfer in {block})");
    let on_b = wait_payment(&env, &[fleet.get("B")], &id, PAID_WITHIN, "confirming on B with a head", |v| {
        v["status"] == "confirming" && v["transaction"]["confirmations"].as_u64() > Some(0)
    })
    .await;
    assert_eq!(on_b["transaction"]["hash"], hash.to_string(), "{on_b}");
    assert!(on_b["transaction"]["confirmations"].as_u64() < Some(CONFIRMATIONS), "{on_b}");
    assert_eq!(env.balance(fleet.get("B"), &key).await.0, 0, "nothing credited before it is paid");
    fleet.kill("B");

    // The confirmations arrive while no server runs; C confirms it.
    chain.mine(CONFIRMATIONS + 5).await;
    let still = env.store.payment_session(&id).await.expect("read").expect("session");
    assert_eq!(still.state.status.as_str(), "confirming", "nobody confirmed it while no server ran");
    fleet.start(&["C"], &env.database_url, &server_env(&evm)).await;
    let c = fleet.get("C");
    let paid = wait_payment(&env, &[c], &id, PAID_WITHIN, "paid", |v| v["status"] == "paid").await;
    assert_eq!(paid["exception"], Value::Null, "{paid}");
    assert_eq!(paid["transaction"]["hash"], hash.to_string(), "{paid}");
    assert_eq!(paid["transaction"]["block_number"], block, "{paid}");
    assert!(paid["transaction"]["confirmations"].as_u64() >= Some(CONFIRMATIONS), "{paid}");
    assert_eq!(paid["amount_received_units"], view["amount_units"], "{paid}");
    let transfers = env.store.session_transfers(&id).await.expect("transfers");
    assert_eq!(transfers.len(), 1, "{transfers:?}");
    assert_eq!((transfers[0].state, transfers[0].tx_hash), (TransferState::Confirmed, hash));

    // Credited once, and only once, while C keeps watching.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(env.balance(c, &key).await, (50_000, 50_000, 0));
    assert_eq!(purchases(&env, c, &key).await, BTreeMap::from([(format!("evmpay/{id}"), 50_000)]));
    env.assert_audit_ok(c).await;
}
