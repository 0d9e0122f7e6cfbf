//! A migrated database with an admin, a Dify app and a gpt-4 price, and
//! the HTTP calls the process-level money tests make against real
//! `tollway serve` processes (see `common::Server`).
#![allow(dead_code)]

use crate::common::Server;
use serde_json::{json, Value};
use std::time::Duration;
use tollway_server::ops;
use tollway_store::testing::{fresh_database_url, Backend};
use tollway_store::Store;

/// Upper bound for any single HTTP request.
pub const REQUEST: Duration = Duration::from_secs(120);
/// Upper bound for a whole burst of requests.
pub const BURST: Duration = Duration::from_secs(600);

// ---------------------------------------------------------------------------
// Bootstrap and HTTP helpers
// ---------------------------------------------------------------------------

/// A migrated database with an admin, a Dify app and a gpt-4 price.
pub struct Env {
    pub database_url: String,
    pub store: Store,
    pub admin_key: String,
    pub app_key: String,
    pub secret: String,
    pub http: reqwest::Client,
}

pub async fn bootstrap(backend: Backend) -> Env {
    let database_url = fresh_database_url(backend)
        .await
        .expect("fresh database (for PostgreSQL run `export TOLLWAY_TEST_PG_URL=$(scripts/pg.sh start)` first)");
    let store = Store::connect(&database_url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let (_, admin_key) = ops::create_user(&store, "admin", true).await.expect("create admin");
    let (_, app_key, secret) = ops::create_app(&store, "dify").await.expect("create app");
    ops::set_price(&store, "gpt-4", "30", "60", None, true, "test", None).await.expect("set price");
    let http = reqwest::Client::builder().timeout(REQUEST).build().expect("http client");
    Env { database_url, store, admin_key, app_key, secret, http }
}

/// ceil((input × 30 + output × 60) / 1000): the gpt-4 price in points.
pub fn expected_cost(input: u64, output: u64) -> u128 {
    (u128::from(input) * 30 + u128::from(output) * 60).div_ceil(1000)
}

/// A points amount from JSON, whether a decimal string or a number.
pub fn amount(v: &Value) -> u128 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("amount {s:?} is not whole digits")),
        Value::Number(n) => n.as_u64().map(u128::from).unwrap_or_else(|| panic!("amount {n} is not a whole number")),
        other => panic!("amount {other} is neither a string nor a number"),
    }
}

pub fn now_secs() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970");
    i64::try_from(since.as_secs()).expect("seconds fit i64")
}

/// A relay-shape `message_end` event.
pub fn usage_event(message_id: &str, user: &str, input: u64, output: u64, reservation_id: Option<&str>) -> Value {
    let mut data = json!({
        "message_id": message_id,
        "user_id": user,
        "model_name": "gpt-4",
        "input_tokens": input,
        "output_tokens": output,
    });
    if let Some(r) = reservation_id {
        data["reservation_id"] = json!(r);
    }
    json!({ "event": "message_end", "data": data })
}

impl Env {
    pub async fn get(&self, server: &Server, path: &str, key: &str) -> Value {
        let resp =
            self.http.get(server.url(path)).bearer_auth(key).send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_else(|e| panic!("GET {path} body: {e}"));
        assert_eq!(status.as_u16(), 200, "GET {path} answered {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
    }

    pub async fn post(&self, server: &Server, path: &str, key: &str, body: &Value) -> (u16, Value) {
        let resp = self
            .http
            .post(server.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_else(|e| panic!("POST {path} body: {e}"));
        let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {path} ({status}): {e}: {text}"));
        (status, value)
    }

    /// Sends a signed webhook; returns the status and the raw body text.
    pub async fn try_webhook(&self, base: &str, event: &Value) -> Result<(u16, String), reqwest::Error> {
        let body = serde_json::to_vec(event).expect("serialise event");
        let ts = now_secs();
        let signature = tollway_server::signature::sign(&self.secret, ts, &body);
        let resp = self
            .http
            .post(format!("{base}/api/dify/webhook"))
            .header("content-type", "application/json")
            .header("X-Tollway-Key", &self.app_key)
            .header("X-Tollway-Timestamp", ts.to_string())
            .header("X-Tollway-Signature", signature)
            .body(body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await?))
    }

    /// A webhook that must be answered 200; returns the parsed body and its text.
    pub async fn webhook(&self, server: &Server, event: &Value) -> (Value, String) {
        let (status, text) =
            self.try_webhook(&server.base, event).await.unwrap_or_else(|e| panic!("webhook {event}: {e}"));
        assert_eq!(status, 200, "webhook {event} answered {status}: {text}");
        let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("webhook answer: {e}: {text}"));
        (value, text)
    }

    pub async fn new_user(&self, handle: &str) -> String {
        let (_, key) = ops::create_user(&self.store, handle, false).await.expect("create user");
        key
    }

    pub async fn grant(&self, server: &Server, handle: &str, points: u128) {
        let body = json!({ "user": handle, "amount": points.to_string(), "reason": "e2e seed", "id": format!("seed-{handle}") });
        let (status, answer) = self.post(server, "/api/admin/points/grant", &self.admin_key, &body).await;
        assert_eq!(status, 200, "grant: {answer}");
        assert_eq!(answer["balance"], json!(points.to_string()), "grant: {answer}");
    }

    /// (balance, available, arrears) of the user holding `key`.
    pub async fn balance(&self, server: &Server, key: &str) -> (u128, u128, u128) {
        let b = self.get(server, "/api/user/points/balance", key).await;
        (amount(&b["balance"]), amount(&b["available"]), amount(&b["arrears"]))
    }

    pub async fn assert_audit_ok(&self, server: &Server) -> Value {
        let audit = self.get(server, "/api/admin/ledger/audit", &self.admin_key).await;
        assert_eq!(audit["ok"], json!(true), "ledger audit failed: {audit}");
        audit
    }

    /// Every stored usage event (at most 500), newest first.
    pub async fn usage_events(&self, server: &Server) -> Vec<Value> {
        let events = self.get(server, "/api/admin/consumption/recent?limit=500", &self.admin_key).await;
        events.as_array().unwrap_or_else(|| panic!("recent is not an array: {events}")).clone()
    }
}

pub async fn with_deadline<T>(what: &str, limit: Duration, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}"))
}
