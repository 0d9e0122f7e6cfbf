//! The HTTP test harness shared by the server's integration tests: a real
//! server (`tollway_server::start`) on a fresh database (SQLite or
//! PostgreSQL), an admin, and helpers for the API and the signed webhook.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tollway_server::signature::sign;
use tollway_server::Config;
pub use tollway_store::testing::{fresh_database_url, Backend};
use tollway_store::Store;

// ---------------------------------------------------------------------------
// Harness: spawn a server, bootstrap an admin, send requests.
// ---------------------------------------------------------------------------

/// A response, read in full.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text))
    }

    /// `error.code` of an error answer ("" if there is none).
    pub fn code(&self) -> String {
        serde_json::from_str::<Value>(&self.text)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The JSON body of a 200 answer.
    #[track_caller]
    pub fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "expected 200, got {}: {}", self.status, self.text);
        self.json()
    }
}

/// A reporting app's credentials.
#[derive(Debug, Clone)]
pub struct App {
    pub key: String,
    pub secret: String,
}

/// A user created through the admin API.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub handle: String,
    pub key: String,
}

/// A running server and an admin key for it.
#[derive(Clone)]
pub struct Server {
    pub base: String,
    /// The server's database, for tests that look at (or break) it directly.
    pub database_url: String,
    pub http: reqwest::Client,
    pub admin: String,
}

/// The `metrics_token` every test server is configured with.
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789";

/// Starts a server on a new, empty database and creates an admin directly
/// in that database.
pub async fn spawn(backend: Backend) -> Server {
    spawn_configured(backend, |_| {}).await
}

/// [`spawn`] with the configuration changed by `edit` first (model path,
/// billing window, upstreams…).
pub async fn spawn_configured(backend: Backend, edit: impl FnOnce(&mut Config)) -> Server {
    let url = fresh_database_url(backend).await.expect("fresh database (is TOLLWAY_TEST_PG_URL set?)");
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        database_url: url.clone(),
        expiry_sweep_secs: 1,
        metrics_token: Some(METRICS_TOKEN.into()),
        ..Config::default()
    };
    edit(&mut config);
    let running = tollway_server::start(config).await.expect("server starts");
    let store = Store::connect(&url).await.expect("connect for bootstrap");
    let (_, admin) = tollway_server::ops::create_user(&store, "admin", true).await.expect("bootstrap admin");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("http client");
    Server { base: format!("http://{}", running.addr), database_url: url, http, admin }
}

/// Asserts that every `(name, status, code, answer)` case got its
/// expected status and error code, listing every case that did not.
#[track_caller]
pub fn assert_refusals<N: std::fmt::Display>(cases: &[(N, u16, &str, Resp)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter(|(_, status, code, r)| r.status != *status || r.code() != *code)
        .map(|(name, status, code, r)| format!("{name}: expected {status} {code}, got {} {}", r.status, r.text))
        .collect();
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

pub fn now_secs() -> i64 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs();
    i64::try_from(secs).expect("seconds fit i64")
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.expect("response body");
        Resp { status, content_type, text }
    }

    pub fn with_key(request: reqwest::RequestBuilder, key: Option<&str>) -> reqwest::RequestBuilder {
        match key {
            Some(k) => request.bearer_auth(k),
            None => request,
        }
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Resp {
        self.send(Self::with_key(self.http.get(self.url(path)), key)).await
    }

    pub async fn post(&self, path: &str, key: Option<&str>, body: &Value) -> Resp {
        self.send(Self::with_key(self.http.post(self.url(path)), key).json(body)).await
    }

    /// POSTs raw text labelled as JSON (for malformed bodies).
    pub async fn post_raw(&self, path: &str, key: Option<&str>, body: &str) -> Resp {
        let request = self.http.post(self.url(path)).header("content-type", "application/json").body(body.to_owned());
        self.send(Self::with_key(request, key)).await
    }

    pub async fn put(&self, path: &str, key: Option<&str>, body: &Value) -> Resp {
        self.send(Self::with_key(self.http.put(self.url(path)), key).json(body)).await
    }

    pub async fn delete(&self, path: &str, key: Option<&str>) -> Resp {
        self.send(Self::with_key(self.http.delete(self.url(path)), key)).await
    }

    // --- admin shortcuts -------------------------------------------------

    pub async fn admin_get(&self, path: &str) -> Value {
        self.get(path, Some(&self.admin)).await.ok()
    }

    pub async fn set_price(&self, model: &str, input: &str, output: &str, note: &str) -> Value {
        let body = json!({"input_per_1k": input, "output_per_1k": output, "note": note});
        self.put(&format!("/api/admin/models/{model}"), Some(&self.admin), &body).await.ok()
    }

    pub async fn create_user(&self, handle: &str) -> User {
        let v = self.post("/api/admin/users", Some(&self.admin), &json!({"handle": handle})).await.ok();
        assert_eq!(v["user"]["handle"], handle);
        User {
            id: v["user"]["id"].as_i64().expect("user.id"),
            handle: handle.to_owned(),
            key: v["api_key"].as_str().expect("api_key").to_owned(),
        }
    }

    pub async fn grant(&self, handle: &str, amount: &str, id: &str) -> Value {
        let body = json!({"user": handle, "amount": amount, "reason": "test grant", "id": id});
        self.post("/api/admin/points/grant", Some(&self.admin), &body).await.ok()
    }

    pub async fn create_app(&self, name: &str) -> App {
        let v = self.post("/api/admin/apps", Some(&self.admin), &json!({"name": name})).await.ok();
        assert!(v["app_id"].is_i64(), "{v}");
        App {
            key: v["api_key"].as_str().expect("api_key").to_owned(),
            secret: v["signing_secret"].as_str().expect("signing_secret").to_owned(),
        }
    }

    /// `GET /api/user/points/balance` as the user.
    pub async fn balance(&self, user: &User) -> Value {
        self.get("/api/user/points/balance", Some(&user.key)).await.ok()
    }

    pub async fn audit(&self) -> Value {
        self.admin_get("/api/admin/ledger/audit").await
    }

    pub async fn recent(&self) -> Vec<Value> {
        self.admin_get("/api/admin/consumption/recent?limit=500").await.as_array().expect("array").clone()
    }

    pub async fn check_balance(&self, user: &User, body: &Value) -> Value {
        self.post("/api/user/points/check-balance", Some(&user.key), body).await.ok()
    }

    // --- webhook -----------------------------------------------------------

    /// POSTs to the webhook with exactly these headers (each optional).
    pub async fn webhook_raw(&self, key: Option<&str>, ts: Option<i64>, sig: Option<&str>, body: &[u8]) -> Resp {
        let mut request =
            self.http.post(self.url("/api/dify/webhook")).header("content-type", "application/json").body(body.to_vec());
        if let Some(k) = key {
            request = request.header("X-Tollway-Key", k);
        }
        if let Some(t) = ts {
            request = request.header("X-Tollway-Timestamp", t.to_string());
        }
        if let Some(s) = sig {
            request = request.header("X-Tollway-Signature", s);
        }
        self.send(request).await
    }

    /// POSTs `body` signed now with the app's secret.
    pub async fn webhook(&self, app: &App, body: &[u8]) -> Resp {
        let ts = now_secs();
        self.webhook_raw(Some(&app.key), Some(ts), Some(&sign(&app.secret, ts, body)), body).await
    }

    pub async fn webhook_json(&self, app: &App, body: &Value) -> Resp {
        self.webhook(app, &to_bytes(body)).await
    }
}

// ---------------------------------------------------------------------------
// Webhook bodies.
// ---------------------------------------------------------------------------

pub fn to_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("serialise")
}

/// The relay shape.
pub fn relay(message: &str, user: &str, model: &str, input: u64, output: u64) -> Value {
    json!({
        "event": "message_end",
        "data": {
            "conversation_id": format!("conv-{message}"),
            "message_id": message,
            "user_id": user,
            "model_name": model,
            "input_tokens": input,
            "output_tokens": output,
            "total_tokens": input + output,
            "timestamp": "2024-01-15T10:30:00Z"
        },
        "request_id": format!("req-{message}")
    })
}

/// The relay shape with the token counts spliced in as raw JSON text, for
/// values `json!` cannot express (1.5, 1e30, 30-digit integers…).
pub fn relay_raw_tokens(message: &str, user: &str, model: &str, input: &str, output: &str) -> Vec<u8> {
    format!(
        r#"{{"event":"message_end","data":{{"conversation_id":"c","message_id":"{message}","user_id":"{user}","model_name":"{model}","input_tokens":{input},"output_tokens":{output},"timestamp":"2024-01-15T10:30:00Z"}},"request_id":"r"}}"#
    )
    .into_bytes()
}

/// Dify's own `message_end` shape, with `user` and `model` added by the relay.
pub fn dify(message: &str, user: &str, model: &str, prompt: u64, completion: u64) -> Value {
    json!({
        "event": "message_end",
        "task_id": "task-1",
        "id": message,
        "message_id": message,
        "conversation_id": format!("conv-{message}"),
        "created_at": 1705395332,
        "user": user,
        "model": model,
        "metadata": {"usage": {
            "prompt_tokens": prompt,
            "prompt_unit_price": "0.001",
            "prompt_price_unit": "0.001",
            "prompt_price": "0.0010330",
            "completion_tokens": completion,
            "completion_unit_price": "0.002",
            "completion_price_unit": "0.001",
            "completion_price": "0.0002560",
            "total_tokens": prompt + completion,
            "total_price": "0.0012890",
            "currency": "USD",
            "latency": 0.768
        }}
    })
}

pub fn events_for<'a>(events: &'a [Value], message: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["message_id"] == message).collect()
}


/// Runs each named `async fn(Server)` test on SQLite and on PostgreSQL;
/// `on_both_backends!(by_backend: …)` passes the `Backend` instead, for
/// tests that start their server their own way.
#[macro_export]
macro_rules! on_both_backends {
    (by_backend: $($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::common::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::common::Backend::Postgres).await })*
        }
    };
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::common::spawn($crate::common::Backend::Sqlite).await).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::common::spawn($crate::common::Backend::Postgres).await).await })*
        }
    };
}
