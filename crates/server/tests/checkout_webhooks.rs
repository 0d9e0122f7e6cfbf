//! Merchant webhooks of the stablecoin checkout (issue 15) against a real
//! anvil, on SQLite and PostgreSQL: a session created by the merchant with
//! a `webhook_url` and paid by a real ERC-20 transfer announces
//! `payment.confirming` and `payment.paid` to a receiver run by the test;
//! every delivery carries `Tollway-Signature: sha256=<hex HMAC-SHA256 of
//! the raw body>` (checked here with the hmac crate, not with the
//! server's function); the receiver refuses the first attempt with 500,
//! the attempt is recorded (`GET /api/v1/admin/webhooks`) and retried
//! after the 5 s backoff; an admin's redelivery sends the same body again;
//! a body changed by one byte does not verify.
//!
//! The first retry comes 5 s after the failure (the server's backoff), so
//! each run takes about 9 s. Needs anvil (`scripts/anvil.sh`; found
//! through `TOLLWAY_ANVIL_BIN` or its cache) and, for PostgreSQL,
//! `TOLLWAY_TEST_PG_URL`.

mod common;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use common::{assert_refusals, Backend, Server};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tollway_chain::evm::{EvmDevnet, EvmDevnetConfig};
use tollway_server::evm::{EvmNetworkConfig, EvmTokenConfig};

/// Anvil's account 1, the deposit address.
const DEPOSIT: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const SECRET: &str = "merchant-webhook-secret-7f3a";
/// The server's first retry comes this long after a failed attempt.
const FIRST_BACKOFF_MS: i64 = 5_000;

fn now_ms() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis()).expect("ms fit i64")
}

/// Shows the in-process server's log lines in a failing test's output
/// (libtest captures them; the runtime's threads inherit the capture).
fn show_server_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,sqlx=warn,hyper=warn,reqwest=warn,alloy=warn"))
        .with_test_writer()
        .try_init();
}

// ---------------------------------------------------------------------------
// The merchant's side: a receiver and the signature check.
// ---------------------------------------------------------------------------

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
    /// What the receiver answered.
    answered: u16,
    /// When it arrived (Unix ms).
    at_ms: i64,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header: {:?}", self.headers))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("webhook body is not JSON ({e}): {:?}", self.body))
    }

    fn delivery_id(&self) -> i64 {
        self.header("tollway-delivery").parse().expect("a numeric delivery id")
    }
}

/// A merchant's webhook endpoint: answers 500 to the first request it
/// gets, 200 to every other, and keeps them all.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> (String, Receiver) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
        let url = format!("http://{}/hooks/tollway", listener.local_addr().expect("addr"));
        let receiver = Receiver::default();
        let got = receiver.got.clone();
        let app = axum::Router::new().route(
            "/hooks/tollway",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let got = got.clone();
                async move {
                    let mut got = got.lock().expect("lock");
                    let answered = if got.is_empty() { 500 } else { 200 };
                    got.push(Received { headers, body, answered, at_ms: now_ms() });
                    StatusCode::from_u16(answered).expect("status")
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver serves") });
        (url, receiver)
    }

    fn all(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// Waits (at most 30 s) until `n` requests arrived; returns them all.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let all = self.all();
            if all.len() >= n {
                return all;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "the receiver got {} request(s), expected {n}: {all:#?}", all.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The merchant's check: `header` is `sha256=` and the hex HMAC-SHA256 of
/// exactly `body` under `secret` (compared in constant time).
fn verifies(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_mac) = header.strip_prefix("sha256=") else { return false };
    let Ok(mac_bytes) = hex::decode(hex_mac) else { return false };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    mac.verify_slice(&mac_bytes).is_ok()
}

/// The expected header value for `body`, computed here.
fn expected_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

// ---------------------------------------------------------------------------
// The chain and the server.
// ---------------------------------------------------------------------------

async fn devnet() -> EvmDevnet {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    EvmDevnet::start_or_reuse(EvmDevnetConfig { port, ..EvmDevnetConfig::default() }).await.expect("anvil starts")
}

fn network(devnet: &EvmDevnet, confirmations: u64) -> EvmNetworkConfig {
    EvmNetworkConfig {
        id: "bsc-local".into(),
        name: "local anvil".into(),
        chain_id: 56,
        rpc_urls: vec![devnet.rpc_url()],
        websocket_url: None,
        deposit_address: DEPOSIT.into(),
        confirmations: Some(confirmations),
        start_block: Some(0),
        tokens: devnet
            .tokens()
            .iter()
            .map(|t| EvmTokenConfig { symbol: t.symbol.to_owned(), name: t.name.to_owned(), contract_address: t.address.to_string(), decimals: t.decimals })
            .collect(),
    }
}

/// The deliveries the admin API lists for `payment` (newest first).
async fn deliveries(server: &Server, payment: &str) -> Vec<Value> {
    let list = server.get(&format!("/api/v1/admin/webhooks?payment_id={payment}"), Some(&server.admin)).await.ok();
    list.as_array().unwrap_or_else(|| panic!("not an array: {list}")).clone()
}

/// Polls the admin list until `done` holds for it (at most 30 s).
async fn wait_deliveries(server: &Server, payment: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let list = deliveries(server, payment).await;
        if done(&list) {
            return list;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "deliveries never reached: {what}: {list:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn by_event<'a>(list: &'a [Value], event: &str) -> Vec<&'a Value> {
    list.iter().filter(|d| d["event"] == event).collect()
}

/// What every delivery says about the session.
fn assert_body_describes(body: &Value, view: &Value, status: &str, received_units: &str) {
    assert_eq!(body["type"], format!("payment.{status}"), "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["payment_id"], view["id"], "{body}");
    assert_eq!(body["network"], "bsc-local", "{body}");
    assert_eq!(body["chain_id"], 56, "{body}");
    assert_eq!(body["token"], "USDC", "{body}");
    assert_eq!(body["token_address"], view["token_address"], "{body}");
    assert_eq!(body["amount_units"], view["amount_units"], "{body}");
    assert_eq!(body["amount_received_units"], received_units, "{body}");
    assert_eq!(body["exception"], Value::Null, "{body}");
    assert_eq!(body["metadata"], json!({"order": "A-17", "sku": ["tea", "cup"]}), "{body}");
    assert!(body["timestamp"].as_i64().is_some_and(|t| t > 1_600_000_000_000), "{body}");
}

async fn webhooks_are_signed_retried_and_redeliverable(backend: Backend) {
    show_server_logs();
    let devnet = devnet().await;
    let network = network(&devnet, 3);
    let server = common::spawn_configured(backend, move |c| {
        c.evm.networks = vec![network];
        c.evm.poll_interval_ms = 100;
        c.evm.webhook_secret = Some(SECRET.into());
    })
    .await;
    let (url, receiver) = Receiver::start().await;
    let buyer = server.create_user("buyer").await;

    // The merchant (admin key) creates the session with its webhook.
    let body = json!({"amount": "4", "token": "USDC", "network": "bsc-local", "user": "buyer", "webhook_url": url,
        "metadata": {"order": "A-17", "sku": ["tea", "cup"]}});
    let created = server.post("/api/v1/payments", Some(&server.admin), &body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let view = created.json();
    let id = view["id"].as_str().expect("id").to_owned();
    assert_eq!((view["status"].as_str(), view["points"].as_str()), (Some("waiting"), Some("40000")), "{view}");
    assert!(deliveries(&server, &id).await.is_empty(), "nothing is announced before the payment");

    let usdc = devnet.tokens().iter().find(|t| t.symbol == "USDC").expect("USDC").address;
    let units: u128 = view["amount_units"].as_str().expect("units").parse().expect("number");
    let payer = EvmDevnet::accounts()[0].secret_key;
    let tx = devnet.transfer(usdc, &payer, DEPOSIT.parse().expect("address"), units).await.expect("transfer");

    // The first attempt (payment.confirming) is refused with 500 and
    // recorded as such, the retry due after the 5 s backoff.
    let first = receiver.wait_for(1).await.remove(0);
    assert_eq!((first.answered, first.header("tollway-event")), (500, "payment.confirming"));
    let confirming_id = first.delivery_id();
    let listed = wait_deliveries(&server, &id, "the failed attempt recorded", |l| {
        l.iter().any(|d| d["id"] == confirming_id && d["attempts"] == 1)
    })
    .await;
    let failed = listed.iter().find(|d| d["id"] == confirming_id).expect("the confirming delivery");
    assert_eq!(failed["event"], "payment.confirming", "{failed}");
    assert_eq!(failed["payment_id"], id.as_str(), "{failed}");
    assert_eq!(failed["url"], url.as_str(), "{failed}");
    assert_eq!(failed["state"], "pending", "retried, not given up: {failed}");
    assert_eq!(failed["last_status"], 500, "{failed}");
    assert_eq!(failed["last_error"], "HTTP 500", "{failed}");
    assert_eq!(failed["delivered_at"], Value::Null, "{failed}");
    let next = failed["next_attempt_at"].as_i64().expect("next_attempt_at");
    assert!(
        (first.at_ms + FIRST_BACKOFF_MS - 100..=first.at_ms + FIRST_BACKOFF_MS + 3_000).contains(&next),
        "the retry is due 5 s after the failure ({}): {next}",
        first.at_ms
    );

    // Paid: payment.paid is delivered (its first attempt), and the
    // confirming delivery's retry succeeds.
    let paid = common_wait_paid(&server, &id).await;
    assert_eq!(paid["transaction"]["hash"], tx.to_string(), "{paid}");
    assert_eq!(server.balance(&buyer).await["balance"], "40000");
    let all = receiver.wait_for(3).await;
    let list = wait_deliveries(&server, &id, "both delivered", |l| l.len() == 2 && l.iter().all(|d| d["state"] == "delivered")).await;
    let confirming = by_event(&list, "payment.confirming");
    let paid_deliveries = by_event(&list, "payment.paid");
    assert_eq!((confirming.len(), paid_deliveries.len()), (1, 1), "one delivery per change: {list:#?}");
    let (confirming, paid_delivery) = (confirming[0], paid_deliveries[0]);
    assert_eq!((confirming["id"].as_i64(), confirming["attempts"].as_i64(), confirming["last_status"].as_i64()), (Some(confirming_id), Some(2), Some(200)));
    assert_eq!(confirming["last_error"], Value::Null, "{confirming}");
    assert_eq!((paid_delivery["attempts"].as_i64(), paid_delivery["last_status"].as_i64()), (Some(1), Some(200)), "{paid_delivery}");
    assert!(confirming["delivered_at"].as_i64().is_some() && paid_delivery["delivered_at"].as_i64().is_some(), "{list:#?}");

    // Every request the receiver got: signed over its exact bytes, the
    // body the admin API lists, describing the session.
    assert_eq!(all.len(), 3, "the failed attempt, its retry, and payment.paid: {all:#?}");
    for r in &all {
        let signature = r.header("tollway-signature");
        assert_eq!(signature, expected_signature(SECRET, &r.body), "{r:?}");
        assert!(verifies(SECRET, &r.body, signature), "{r:?}");
        assert!(!verifies("another-secret", &r.body, signature), "a signature is bound to the secret");
        assert_eq!(r.header("content-type"), "application/json");
        let listed = list.iter().find(|d| d["id"] == r.delivery_id()).unwrap_or_else(|| panic!("delivery {} not listed", r.delivery_id()));
        assert_eq!(listed["body"].as_str().map(str::as_bytes), Some(&r.body[..]), "the listed body is the one sent");
        assert_eq!(r.header("tollway-event"), listed["event"].as_str().expect("event"));
    }
    let retry = all.iter().filter(|r| r.delivery_id() == confirming_id).nth(1).expect("the retry");
    assert_eq!((retry.answered, &retry.body), (200, &first.body), "a retry sends the same body");
    assert_eq!(retry.header("tollway-signature"), first.header("tollway-signature"));
    assert!(retry.at_ms - first.at_ms >= FIRST_BACKOFF_MS - 100, "retried after the backoff: {} ms", retry.at_ms - first.at_ms);
    assert_body_describes(&first.json(), &view, "confirming", "0");
    let paid_request = all.iter().find(|r| r.header("tollway-event") == "payment.paid").expect("payment.paid");
    assert_eq!(paid_request.answered, 200);
    assert_body_describes(&paid_request.json(), &view, "paid", view["amount_units"].as_str().expect("units"));

    // A body altered in transit does not verify: each single changed
    // byte, a byte added, a byte removed.
    let original = paid_request.body.to_vec();
    let signature = paid_request.header("tollway-signature").to_owned();
    let mut altered = original.clone();
    let digit = altered.iter().position(u8::is_ascii_digit).expect("a digit in the body");
    altered[digit] = if altered[digit] == b'9' { b'8' } else { altered[digit] + 1 };
    assert!(!verifies(SECRET, &altered, &signature), "one digit changed");
    for i in 0..original.len() {
        let mut flipped = original.clone();
        flipped[i] ^= 0x01;
        assert!(!verifies(SECRET, &flipped, &signature), "byte {i} changed");
    }
    let mut longer = original.clone();
    longer.push(b' ');
    assert!(!verifies(SECRET, &longer, &signature), "a byte added");
    assert!(!verifies(SECRET, &original[..original.len() - 1], &signature), "a byte removed");
    let mut bad_signature = signature.clone().into_bytes();
    let last = bad_signature.len() - 1;
    bad_signature[last] = if bad_signature[last] == b'0' { b'1' } else { b'0' };
    assert!(!verifies(SECRET, &original, std::str::from_utf8(&bad_signature).expect("ascii")), "a changed signature");
    assert!(verifies(SECRET, &original, &signature), "the untouched body still verifies");

    // Redelivery: a new delivery with the same body, sent at once.
    let paid_id = paid_delivery["id"].as_i64().expect("id");
    let again = server.post(&format!("/api/v1/admin/webhooks/{paid_id}/redeliver"), Some(&server.admin), &json!({})).await.ok();
    let again_id = again["id"].as_i64().expect("id");
    assert_ne!(again_id, paid_id, "{again}");
    assert_eq!((again["event"].as_str(), again["body"].as_str()), (Some("payment.paid"), paid_delivery["body"].as_str()), "{again}");
    assert_eq!((again["state"].as_str(), again["attempts"].as_i64(), again["payment_id"].as_str()), (Some("pending"), Some(0), Some(id.as_str())));
    let resent = receiver.wait_for(4).await.remove(3);
    assert_eq!(resent.delivery_id(), again_id);
    assert_eq!(resent.body, paid_request.body, "the same body again");
    assert_eq!(resent.header("tollway-signature"), signature, "the same body, the same signature");
    assert!(verifies(SECRET, &resent.body, resent.header("tollway-signature")));
    wait_deliveries(&server, &id, "the redelivery delivered", |l| {
        l.iter().any(|d| d["id"] == again_id && d["state"] == "delivered" && d["attempts"] == 1 && d["last_status"] == 200)
    })
    .await;
    let original_after = deliveries(&server, &id).await.into_iter().find(|d| d["id"] == paid_id).expect("the original");
    assert_eq!((original_after["attempts"].as_i64(), original_after["state"].as_str()), (Some(1), Some("delivered")), "the original is left alone");

    // Refusals: only the merchant lists and redelivers.
    let cases = [
        ("unknown delivery", 404, "unknown_delivery", server.post("/api/v1/admin/webhooks/987654321/redeliver", Some(&server.admin), &json!({})).await),
        ("redeliver as a buyer", 403, "admin_required", server.post(&format!("/api/v1/admin/webhooks/{paid_id}/redeliver"), Some(&buyer.key), &json!({})).await),
        ("redeliver without a key", 401, "api_key_missing", server.post(&format!("/api/v1/admin/webhooks/{paid_id}/redeliver"), None, &json!({})).await),
        ("list as a buyer", 403, "admin_required", server.get("/api/v1/admin/webhooks", Some(&buyer.key)).await),
    ];
    assert_refusals(&cases);

    // Nothing more is sent: four requests in all, the points credited once.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(receiver.all().len(), 4, "{:#?}", receiver.all());
    assert_eq!(server.balance(&buyer).await["balance"], "40000");
    assert_eq!(deliveries(&server, &id).await.len(), 3, "confirming, paid, and the redelivery");
}

async fn common_wait_paid(server: &Server, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let view = server.get(&format!("/api/v1/payments/{id}"), None).await.ok();
        if view["status"] == "paid" {
            return view;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "payment {id} never turned paid: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

on_both_backends!(by_backend: webhooks_are_signed_retried_and_redeliverable);
