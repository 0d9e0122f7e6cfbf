//! The stablecoin checkout against a real anvil (issue 15), on SQLite and
//! PostgreSQL: a session paid by a real ERC-20 transfer turns paid by
//! itself, over HTTP and the WebSocket, and credits its points exactly
//! once; hostile input is refused with stable codes and credits nothing;
//! a submitted hash cannot claim another buyer's transfer; a reorg sends a
//! confirming payment back to waiting.
//!
//! Needs anvil (`scripts/anvil.sh`; found through `TOLLWAY_ANVIL_BIN` or
//! its cache) and, for PostgreSQL, `TOLLWAY_TEST_PG_URL`.

mod common;

use common::{assert_refusals, Backend, Server};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tollway_chain::evm::{EvmDevnet, EvmDevnetConfig};
use tollway_core::evm::Address;
use tollway_server::evm::{EvmNetworkConfig, EvmTokenConfig};
use tokio_tungstenite::tungstenite::Message;

/// Anvil's account 1, the deposit address of these tests.
const DEPOSIT: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/// Anvil's account 2, somebody else.
const STRANGER: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const WEBHOOK_SECRET: &str = "test-webhook-secret";

struct Chain {
    devnet: EvmDevnet,
    payer: [u8; 32],
}

async fn chain() -> Chain {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let devnet = EvmDevnet::start_or_reuse(EvmDevnetConfig { port, ..EvmDevnetConfig::default() }).await.expect("anvil starts");
    let payer = EvmDevnet::accounts()[0].secret_key;
    Chain { devnet, payer }
}

fn network(chain: &Chain, confirmations: u64) -> EvmNetworkConfig {
    EvmNetworkConfig {
        id: "bsc-local".into(),
        name: "local anvil".into(),
        chain_id: 56,
        rpc_urls: vec![chain.devnet.rpc_url()],
        websocket_url: None,
        deposit_address: DEPOSIT.into(),
        confirmations: Some(confirmations),
        start_block: Some(0),
        tokens: chain
            .devnet
            .tokens()
            .iter()
                .map(|t| EvmTokenConfig { symbol: t.symbol.to_owned(), name: t.name.to_owned(), contract_address: t.address.to_string(), decimals: t.decimals })
            .collect(),
    }
}

async fn server(backend: Backend, chain: &Chain, confirmations: u64) -> Server {
    let network = network(chain, confirmations);
    common::spawn_configured(backend, move |c| {
        c.evm.networks = vec![network];
        c.evm.poll_interval_ms = 100;
        c.evm.webhook_secret = Some(WEBHOOK_SECRET.into());
    })
    .await
}

fn token(chain: &Chain, symbol: &str) -> Address {
    chain.devnet.tokens().iter().find(|t| t.symbol == symbol).expect("token").address
}

fn units(view: &Value) -> u128 {
    view["amount_units"].as_str().expect("amount_units").parse().expect("units")
}

/// Polls the payment until `done` holds (at most 30 s).
async fn wait_for(server: &Server, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..300 {
        let view = server.get(&format!("/api/v1/payments/{id}"), None).await.ok();
        if done(&view) {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("payment {id} never reached the state: {}", server.get(&format!("/api/v1/payments/{id}"), None).await.text);
}

async fn create(server: &Server, key: Option<&str>, body: Value) -> Value {
    let r = server.post("/api/v1/payments", key, &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

async fn a_payment_turns_paid_by_itself_and_credits_once(backend: Backend) {
    let chain = chain().await;
    let server = server(backend, &chain, 2).await;
    let networks = server.get("/api/v1/networks", None).await.ok();
    assert_eq!(networks[0]["chain_id"], 56);
    assert_eq!(networks[0]["rpc_url"], chain.devnet.rpc_url());
    let tokens = server.get("/api/v1/tokens", None).await.ok();
    let symbols: Vec<&str> = tokens.as_array().expect("array").iter().map(|t| t["symbol"].as_str().expect("symbol")).collect();
    assert_eq!(symbols, ["BUSD", "USDC", "USDT"]);
    assert!(tokens.as_array().expect("array").iter().all(|t| t["decimals"] == 18));
    let buyer = server.create_user("buyer").await;
    let product = &server.get("/api/v1/products", None).await.ok()[0];
    let view = create(&server, Some(&buyer.key), json!({"product_id": product["id"], "token": "USDT", "network": "bsc-local", "user": "buyer"})).await;
    assert_eq!(view["status"], "waiting");
    assert_eq!(view["points"], product["points"]);
    assert_eq!(view["deposit_address"], DEPOSIT);
    let id = view["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("pay_") && id.len() == 36, "{id}");
    assert_eq!(
        view["payment_uri"],
        format!("ethereum:{}@56/transfer?address={DEPOSIT}&uint256={}", token(&chain, "USDT"), view["amount_units"].as_str().expect("units"))
    );

    // The WebSocket: the ack carries the state, then updates arrive by themselves.
    let ws_url = format!("{}/ws/payments/{id}", server.base.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(&ws_url).await.expect("websocket");
    let ack = next_json(&mut socket).await;
    assert_eq!((ack["type"].as_str(), ack["paymentId"].as_str()), (Some("connection_ack"), Some(id.as_str())));
    assert_eq!(ack["data"]["status"], "waiting");
    socket.send(Message::Text(r#"{"type":"ping"}"#.into())).await.expect("ping");

    let tx = chain.devnet.transfer(token(&chain, "USDT"), &chain.payer, DEPOSIT.parse().expect("address"), units(&view)).await.expect("transfer");
    let mut statuses = Vec::new();
    let mut pong = false;
    while statuses.last().map(String::as_str) != Some("paid") {
        let message = next_json(&mut socket).await;
        match message["type"].as_str() {
            Some("pong") => pong = true,
            Some("payment_status_update") => {
                assert_eq!(message["data"]["token"], "USDT");
                statuses.push(message["data"]["status"].as_str().expect("status").to_owned());
                if message["data"]["status"] == "paid" {
                    assert_eq!(message["data"]["transactionHash"], tx.to_string());
                    assert!(message["data"]["confirmations"].as_u64().expect("confirmations") >= 2);
                }
            }
            _ => {}
        }
    }
    assert!(pong, "a ping is answered with pong");
    assert!(statuses.contains(&"confirming".to_owned()) || statuses == ["paid"], "{statuses:?}");
    let paid = wait_for(&server, &id, |v| v["status"] == "paid").await;
    assert_eq!(paid["transaction"]["hash"], tx.to_string());
    assert_eq!(paid["amount_received_units"], view["amount_units"]);
    let points: u64 = product["points"].as_str().expect("points").parse().expect("number");
    assert_eq!(server.balance(&buyer).await["balance"], points.to_string());
    // Processing the same hash again changes nothing and credits nothing.
    let again = server.post(&format!("/api/v1/payments/{id}/process"), None, &json!({"transaction_hash": tx.to_string()})).await.ok();
    assert_eq!(again["status"], "paid");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.balance(&buyer).await["balance"], points.to_string());
    let history = server.get("/api/user/points/history?type=purchase", Some(&buyer.key)).await.ok();
    assert_eq!(history["items"].as_array().map(Vec::len), Some(1), "{history}");

    // The message log and the stats saw it.
    let log = server.get("/api/v1/stats/websocket/messages?limit=500", Some(&server.admin)).await.ok();
    let kinds: Vec<&str> = log["messages"].as_array().expect("messages").iter().filter_map(|m| m["type"].as_str()).collect();
    assert!(kinds.contains(&"transfer_event") && kinds.contains(&"payment_status_update") && kinds.contains(&"pong"), "{kinds:?}");
    let stats = server.get("/api/v1/stats/payments", Some(&server.admin)).await.ok();
    assert_eq!((stats["total_payments"].as_i64(), stats["successful_payments"].as_i64()), (Some(1), Some(1)));
    assert_eq!(stats["payments_by_token"]["USDT"], 1);
    let monitoring = server.get("/api/v1/stats/monitoring", Some(&server.admin)).await.ok();
    assert!(monitoring["blockchain_monitoring"]["events_detected"].as_u64() >= Some(1), "{monitoring}");
    assert_eq!(server.get("/api/v1/stats/payments", Some(&buyer.key)).await.status, 403);
}

async fn next_json(socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next()).await.expect("a message within 30 s").expect("open").expect("frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).expect("json message");
        }
    }
}

async fn hostile_input_is_refused_and_credits_nothing(backend: Backend) {
    let chain = chain().await;
    let server = server(backend, &chain, 1).await;
    let buyer = server.create_user("buyer").await;
    let other = server.create_user("other").await;
    let post = |body: Value, key: Option<String>| {
        let server = server.clone();
        async move { server.post("/api/v1/payments", key.as_deref(), &body).await }
    };
    let usdt = |extra: Value| {
        let mut body = json!({"amount": "10", "token": "USDT", "network": "bsc-local"});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        ("unknown token", 422, "unknown_token", post(json!({"amount": "1", "token": "DOGE", "network": "bsc-local"}), None).await),
        ("unknown network", 422, "unknown_network", post(json!({"amount": "1", "token": "USDT", "network": "eth"}), None).await),
        ("zero", 422, "amount_not_positive", post(usdt(json!({"amount": "0"})), None).await),
        ("negative", 422, "invalid_amount", post(usdt(json!({"amount": "-5"})), None).await),
        ("too precise", 422, "invalid_amount", post(usdt(json!({"amount": "0.0000000000000000001"})), None).await),
        ("absurd", 422, "amount_too_large", post(usdt(json!({"amount": "1000000000"})), None).await),
        ("huge digits", 422, "invalid_amount", post(usdt(json!({"amount": "9".repeat(80)})), None).await),
        ("amount as number", 400, "malformed_json", post(usdt(json!({"amount": 10})), None).await),
        ("both", 422, "invalid_field", post(usdt(json!({"product_id": "points-10k"})), None).await),
        ("neither", 422, "amount_required", post(json!({"token": "USDT", "network": "bsc-local"}), None).await),
        ("unknown product", 422, "unknown_product", post(json!({"product_id": "free", "token": "USDT", "network": "bsc-local"}), None).await),
        ("metadata not object", 422, "invalid_metadata", post(usdt(json!({"metadata": [1, 2]})), None).await),
        ("metadata too large", 422, "invalid_metadata", post(usdt(json!({"metadata": {"x": "y".repeat(5_000)}})), None).await),
        ("user without a key", 401, "api_key_missing", post(usdt(json!({"user": "buyer"})), None).await),
        ("another user's points", 403, "not_your_user", post(usdt(json!({"user": "buyer"})), Some(other.key.clone())).await),
        ("webhook without admin", 403, "admin_required", post(usdt(json!({"webhook_url": "http://127.0.0.1:1/"})), Some(buyer.key.clone())).await),
        ("webhook not http", 422, "invalid_webhook_url", post(usdt(json!({"webhook_url": "file:///etc/passwd"})), Some(server.admin.clone())).await),
        ("unknown field", 400, "malformed_json", post(usdt(json!({"id": "pay_mine"})), None).await),
        ("bad key", 401, "api_key_invalid", post(usdt(json!({})), Some("nope".into())).await),
    ];
    assert_refusals(&cases);
    assert_eq!(server.get("/api/v1/payments/pay_00000000000000000000000000000000", None).await.code(), "unknown_payment");

    // Two sessions for one amount never share it; a hash is judged by the chain, not by who submits it.
    let mine = create(&server, Some(&buyer.key), usdt(json!({"user": "buyer"}))).await;
    let theirs = create(&server, None, usdt(json!({}))).await;
    assert_ne!(mine["amount_units"], theirs["amount_units"]);
    let mine_id = mine["id"].as_str().expect("id").to_owned();
    let process = |hash: String| {
        let (server, id) = (server.clone(), mine_id.clone());
        async move { server.post(&format!("/api/v1/payments/{id}/process"), None, &json!({"transaction_hash": hash})).await }
    };
    let deposit: Address = DEPOSIT.parse().expect("address");
    let stranger: Address = STRANGER.parse().expect("address");
    let their_tx = chain.devnet.transfer(token(&chain, "USDT"), &chain.payer, deposit, units(&theirs)).await.expect("transfer");
    let elsewhere = chain.devnet.transfer(token(&chain, "USDT"), &chain.payer, stranger, units(&mine)).await.expect("transfer");
    let wrong_token = chain.devnet.transfer(token(&chain, "USDC"), &chain.payer, deposit, units(&mine)).await.expect("transfer");
    let short = chain.devnet.transfer(token(&chain, "USDT"), &chain.payer, deposit, units(&mine) - 1).await.expect("transfer");
    let cases = [
        ("malformed hash", 400, "invalid_tx_hash", process("0x1234".into()).await),
        ("not hex", 400, "invalid_tx_hash", process(format!("0x{}", "zz".repeat(32))).await),
        ("unknown hash", 404, "transaction_not_found", process(format!("0x{}", "ab".repeat(32))).await),
        ("another buyer's payment", 409, "transfer_for_another_payment", process(their_tx.to_string()).await),
        ("to another address", 422, "wrong_recipient", process(elsewhere.to_string()).await),
        ("the wrong token", 422, "wrong_token", process(wrong_token.to_string()).await),
        ("one unit short", 422, "amount_mismatch", process(short.to_string()).await),
    ];
    assert_refusals(&cases);
    let mine_now = server.get(&format!("/api/v1/payments/{mine_id}"), None).await.ok();
    assert_eq!((mine_now["status"].as_str(), mine_now["amount_received_units"].as_str()), (Some("waiting"), Some("0")));
    wait_for(&server, theirs["id"].as_str().expect("id"), |v| v["status"] == "paid").await;
    assert_eq!(server.balance(&buyer).await["balance"], "0", "nothing credited to the claimant");
    let unmatched = server.get("/api/v1/admin/payments/unmatched", Some(&server.admin)).await.ok();
    let values: Vec<&str> = unmatched.as_array().expect("array").iter().filter_map(|t| t["value_units"].as_str()).collect();
    assert!(values.contains(&(units(&mine) - 1).to_string().as_str()), "the short transfer is kept for an admin: {unmatched}");
}

async fn a_reorg_sends_a_confirming_payment_back_to_waiting(backend: Backend) {
    let chain = chain().await;
    let server = server(backend, &chain, 6).await;
    let buyer = server.create_user("buyer").await;
    let view = create(&server, Some(&buyer.key), json!({"amount": "3", "token": "BUSD", "network": "bsc-local", "user": "buyer"})).await;
    let id = view["id"].as_str().expect("id").to_owned();
    // Blocks on top of the token deployments, so the reorg leaves them alone.
    chain.devnet.mine(8).await.expect("mine");
    let tx = chain.devnet.transfer(token(&chain, "BUSD"), &chain.payer, DEPOSIT.parse().expect("address"), units(&view)).await.expect("transfer");
    let confirming = wait_for(&server, &id, |v| v["status"] == "confirming").await;
    assert_eq!(confirming["transaction"]["hash"], tx.to_string());
    // Replace the blocks from the transfer's up with empty ones.
    let block = confirming["transaction"]["block_number"].as_u64().expect("block");
    let head = chain.devnet.client().head().await.expect("head").number;
    chain.devnet.reorg(head - block + 1).await.expect("reorg");
    let back = wait_for(&server, &id, |v| v["status"] == "waiting").await;
    assert_eq!(back["amount_received_units"], "0");
    assert!(back["transaction"].is_null(), "{back}");
    // Paid again for real, it is paid and credited once.
    chain.devnet.transfer(token(&chain, "BUSD"), &chain.payer, DEPOSIT.parse().expect("address"), units(&view)).await.expect("transfer");
    wait_for(&server, &id, |v| v["status"] == "paid").await;
    assert_eq!(server.balance(&buyer).await["balance"], "30000");
}

/// A transfer after the expiry pays late (and is credited); a second
/// exact transfer to a paid session is an over-payment, never a second
/// credit; an expired unpaid session says so.
async fn late_and_double_payments_are_recorded_as_such(backend: Backend) {
    let chain = chain().await;
    let network = network(&chain, 1);
    let server = common::spawn_configured(backend, move |c| {
        c.evm.networks = vec![network];
        c.evm.poll_interval_ms = 100;
        c.evm.session_ttl_secs = 2;
    })
    .await;
    let buyer = server.create_user("buyer").await;
    let late = create(&server, Some(&buyer.key), json!({"amount": "2", "token": "USDT", "network": "bsc-local", "user": "buyer"})).await;
    let never = create(&server, None, json!({"amount": "2", "token": "USDT", "network": "bsc-local"})).await;
    let late_id = late["id"].as_str().expect("id").to_owned();
    wait_for(&server, &late_id, |v| v["status"] == "expired").await;
    wait_for(&server, never["id"].as_str().expect("id"), |v| v["status"] == "expired").await;
    let usdt = token(&chain, "USDT");
    let deposit: Address = DEPOSIT.parse().expect("address");
    // Block timestamps are whole seconds: a block mined within the second
    // of the expiry may carry a time before it (and is then in time). Pay
    // once the chain's clock is surely past the expiry.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    chain.devnet.transfer(usdt, &chain.payer, deposit, units(&late)).await.expect("transfer");
    let paid = wait_for(&server, &late_id, |v| v["status"] == "paid").await;
    assert_eq!(paid["exception"], "paid_late");
    assert_eq!(server.balance(&buyer).await["balance"], "20000", "a late payment is still credited");
    chain.devnet.transfer(usdt, &chain.payer, deposit, units(&late)).await.expect("second transfer");
    let over = wait_for(&server, &late_id, |v| v["exception"] == "paid_over" || v["amount_received_units"] != paid["amount_received_units"]).await;
    assert_eq!(over["status"], "paid");
    assert_eq!(over["amount_received_units"], (2 * units(&late)).to_string());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(server.balance(&buyer).await["balance"], "20000", "an over-payment credits nothing more");
    let never_now = server.get(&format!("/api/v1/payments/{}", never["id"].as_str().expect("id")), None).await.ok();
    assert_eq!((never_now["status"].as_str(), never_now["exception"].as_str()), (Some("expired"), None));
    let stats = server.get("/api/v1/stats/payments", Some(&server.admin)).await.ok();
    assert_eq!(stats["failure_reasons"]["expired"], 1, "{stats}");
    assert_eq!(stats["successful_payments"], 1, "{stats}");
}

/// The WebSocket refuses what it must, before the upgrade, with codes;
/// the per-IP limit holds and a closed connection gives its place back.
async fn websocket_refusals_and_limits(backend: Backend) {
    let chain = chain().await;
    let network = network(&chain, 1);
    let server = common::spawn_configured(backend, move |c| {
        c.evm.networks = vec![network];
        c.evm.ws_max_per_ip = 2;
    })
    .await;
    let view = create(&server, None, json!({"amount": "1", "token": "USDC", "network": "bsc-local"})).await;
    let id = view["id"].as_str().expect("id");
    let ws = |path: String| format!("{}{path}", server.base.replacen("http", "ws", 1));
    let refused = |e: tokio_tungstenite::tungstenite::Error| match e {
        tokio_tungstenite::tungstenite::Error::Http(r) => {
            let body: Value = serde_json::from_slice(r.body().as_deref().unwrap_or_default()).unwrap_or(Value::Null);
            (r.status().as_u16(), body["error"]["code"].as_str().unwrap_or_default().to_owned())
        }
        other => panic!("expected an HTTP refusal, got {other}"),
    };
    let unknown = tokio_tungstenite::connect_async(ws("/ws/payments/pay_nope".into())).await.map(drop).map_err(refused);
    assert_eq!(unknown, Err((404, "unknown_payment".to_owned())));
    let plain = server.get(&format!("/ws/payments/{id}"), None).await;
    assert_eq!((plain.status, plain.code().as_str()), (400, "websocket_required"));
    let (first, _) = tokio_tungstenite::connect_async(ws(format!("/ws/payments/{id}"))).await.expect("first");
    let (_second, _) = tokio_tungstenite::connect_async(ws(format!("/ws/payments/{id}"))).await.expect("second");
    let third = tokio_tungstenite::connect_async(ws(format!("/ws/payments/{id}"))).await.map(drop).map_err(refused);
    assert_eq!(third, Err((429, "too_many_connections".to_owned())));
    drop(first);
    let mut admitted = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok((mut socket, _)) = tokio_tungstenite::connect_async(ws(format!("/ws/payments/{id}"))).await {
            assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
            admitted = true;
            break;
        }
    }
    assert!(admitted, "a closed connection gives its place back");
    let stats = server.get("/api/v1/stats/websocket", Some(&server.admin)).await.ok();
    assert!(stats["frontend"]["connectionErrors"].as_u64() >= Some(3), "{stats}");
    assert_eq!(stats["frontend"]["totalConnections"].as_u64(), Some(3), "{stats}");
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::Backend::Postgres).await })*
        }
    };
}

on_both_backends!(
    a_payment_turns_paid_by_itself_and_credits_once,
    hostile_input_is_refused_and_credits_nothing,
    a_reorg_sends_a_confirming_payment_back_to_waiting,
    websocket_refusals_and_limits,
    late_and_double_payments_are_recorded_as_such,
);
