//! Tollway in front of another Tollway: process A forwards a model name to
//! process B, a real OpenAI-compatible upstream over HTTP that serves the
//! embedded model (`TOLLWAY_TEST_MODEL`, set by scripts/test.sh) and bills A
//! as its own customer.
//!
//! A runs without a local model, so it could only estimate tokens; the
//! charges below match B's own metering exactly, which shows A took the
//! counts from B's usage chunk.

use serde_json::{json, Value};
use std::time::Duration;
use tollway_server::ops;
use tollway_store::testing::{fresh_database_url, Backend};
use tollway_store::Store;

mod common;
use common::Server;

const MODEL: &str = "smollm2-135m-instruct";

/// One Tollway process with an admin and a funded user.
struct Node {
    server: Server,
    http: reqwest::Client,
    admin: String,
    user: String,
}

impl Node {
    /// Starts a process with `env`, a user `handle` holding `points`, and
    /// `prices` as (model, input per 1k, output per 1k).
    async fn start(env: &[(&str, &str)], handle: &str, points: u64, prices: &[(&str, &str, &str)]) -> Node {
        let url = fresh_database_url(Backend::Sqlite).await.expect("database");
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let (_, admin) = ops::create_user(&store, "admin", true).await.expect("admin");
        for (model, input, output) in prices {
            ops::set_price(&store, model, input, output, None, true, "test", None).await.expect("price");
        }
        store.close().await;
        let server = Server::start_with(&url, env).await;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("client");
        let mut node = Node { server, http, admin, user: String::new() };
        let created = node.post_admin("/api/admin/users", json!({"handle": handle})).await;
        node.user = created["api_key"].as_str().expect("key").to_owned();
        node.post_admin("/api/admin/points/grant", json!({"user": handle, "amount": points.to_string(), "reason": "test", "id": "g1"})).await;
        node
    }

    async fn post_admin(&self, path: &str, body: Value) -> Value {
        let r = self.http.post(self.server.url(path)).bearer_auth(&self.admin).json(&body).send().await.expect("send");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.expect("json")
    }

    async fn get(&self, path: &str, key: &str) -> Value {
        self.http.get(self.server.url(path)).bearer_auth(key).send().await.expect("send").json().await.expect("json")
    }

    /// Balance and available points of this node's user, once no hold is left.
    async fn settled_balance(&self) -> u64 {
        for _ in 0..100 {
            let v = self.get("/api/user/points/balance", &self.user).await;
            let n = |k: &str| v[k].as_str().and_then(|s| s.parse::<u64>().ok()).expect("amount");
            if n("balance") == n("available") {
                return n("balance");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("a hold was never released");
    }

    async fn chat(&self, body: &Value, billing: bool) -> reqwest::Response {
        let mut req = self.http.post(self.server.url("/v1/chat/completions")).bearer_auth(&self.user).json(body);
        if billing {
            req = req.header("x-tollway-billing", "chunk");
        }
        req.send().await.expect("send")
    }

    /// The newest gateway request this node recorded.
    async fn last_request(&self) -> Value {
        self.get("/api/admin/requests?limit=1", &self.admin).await[0].clone()
    }
}

/// Process B: the embedded model at 3 points per prompt token and 5 per
/// output token, billing its customer `gateway-a`.
async fn upstream_b() -> Node {
    let model = std::env::var("TOLLWAY_TEST_MODEL").expect("TOLLWAY_TEST_MODEL (run scripts/test.sh)");
    Node::start(&[("TOLLWAY_MODEL_PATH", &model)], "gateway-a", 1_000_000, &[(MODEL, "3000", "5000")]).await
}

/// Process A: no local model; `upstreams` is the TOML of its upstreams.
/// Prices: 1 point per prompt token, 2 per output token.
async fn gateway_a(upstreams: &str, models: &[&str]) -> (Node, tempfile_path::Path) {
    let config = tempfile_path::Path::new(upstreams);
    let prices: Vec<(&str, &str, &str)> = models.iter().map(|m| (*m, "1000", "2000")).collect();
    let env = [("TOLLWAY_MODEL_PATH", "/nonexistent/model.gguf"), ("TOLLWAY_CONFIG", config.as_str())];
    (Node::start(&env, "ann", 100_000, &prices).await, config)
}

/// A config file removed on drop.
mod tempfile_path {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);

    /// A file path, written once.
    pub struct Path(std::path::PathBuf);

    impl Path {
        /// Writes `content` to a fresh file.
        pub fn new(content: &str) -> Path {
            let path = std::env::temp_dir().join(format!("tollway-proxy-{}-{}.toml", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
            std::fs::write(&path, content).expect("write config");
            Path(path)
        }

        /// As text.
        pub fn as_str(&self) -> &str {
            self.0.to_str().expect("utf-8 path")
        }
    }

    impl Drop for Path {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn upstream_toml(name: &str, base: &str, key: &str, models: &[(&str, &str)]) -> String {
    let map: Vec<String> = models.iter().map(|(public, up)| format!("\"{public}\" = \"{up}\"")).collect();
    format!("[[upstreams]]\nname = \"{name}\"\nbase_url = \"{base}/v1\"\napi_key = \"{key}\"\nmodels = {{ {} }}\n", map.join(", "))
}

/// The `data:` payloads of an SSE body, `[DONE]` left out.
fn events(body: &str) -> Vec<Value> {
    body.lines().filter_map(|l| l.strip_prefix("data: ")).filter(|d| *d != "[DONE]").map(|d| serde_json::from_str(d).expect("json event")).collect()
}

fn ask(text: &str, max_tokens: u64, stream: bool) -> Value {
    json!({"model": "smol-b", "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens, "stream": stream})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxied_answers_are_charged_from_the_upstreams_usage_chunk() {
    let b = upstream_b().await;
    let (a, _config) = gateway_a(&upstream_toml("tollway-b", &b.server.base, &b.user, &[("smol-b", MODEL)]), &["smol-b"]).await;
    let models = a.get("/v1/models", &a.user).await;
    assert_eq!((models["data"][0]["id"].as_str(), models["data"][0]["owned_by"].as_str()), (Some("smol-b"), Some("tollway-b")), "{models}");
    let (a0, b0) = (a.settled_balance().await, b.settled_balance().await);

    // A whole answer.
    let v: Value = a.chat(&ask("What is the capital of France?", 20, false), false).await.json().await.expect("json");
    let (p, c) = (v["usage"]["prompt_tokens"].as_u64().expect("p"), v["usage"]["completion_tokens"].as_u64().expect("c"));
    assert!(v["choices"][0]["message"]["content"].as_str().expect("content").contains("Paris"), "{v}");
    assert_eq!((v["tollway"]["usage_source"].as_str(), v["tollway"]["cost"].as_str()), (Some("upstream"), Some(&*(p + 2 * c).to_string())), "{v}");
    let (a1, b1) = (a.settled_balance().await, b.settled_balance().await);
    assert_eq!(a0 - a1, p + 2 * c, "A charged its price for the tokens B reported");
    assert_eq!(b0 - b1, 3 * p + 5 * c, "B metered the same tokens for A");

    // A stream whose client did not ask for usage: A asked B for it, used it, and stripped it.
    let body = a.chat(&ask("Name three colors.", 24, true), true).await.text().await.expect("body");
    let chunks = events(&body);
    assert!(chunks.iter().all(|e| e.get("usage").is_none()), "the usage chunk is stripped: {body}");
    let content: Vec<&Value> = chunks.iter().filter(|e| e["tollway"]["chunk"].is_u64()).collect();
    assert!(!content.is_empty(), "{body}");
    let last = chunks.last().expect("final chunk");
    assert_eq!(last["tollway"]["usage_source"], "upstream", "{last}");
    let record = a.last_request().await;
    let (p, c) = (record["input_tokens"].as_u64().expect("in"), record["output_tokens"].as_u64().expect("out"));
    assert_eq!((record["upstream"].as_str(), record["usage_source"].as_str(), record["stream"].as_bool()), (Some("tollway-b"), Some("upstream"), Some(true)), "{record}");
    assert_eq!(last["tollway"]["cost"].as_str(), Some(&*(p + 2 * c).to_string()));
    let (a2, b2) = (a.settled_balance().await, b.settled_balance().await);
    assert_eq!((a1 - a2, b1 - b2), (p + 2 * c, 3 * p + 5 * c), "both sides charged for the same counts");

    // A stream that asks for usage gets exactly one usage chunk, the one charged.
    let mut req = ask("Say hello.", 8, true);
    req["stream_options"] = json!({"include_usage": true});
    let chunks = events(&a.chat(&req, false).await.text().await.expect("body"));
    let usage: Vec<&Value> = chunks.iter().filter_map(|e| e.get("usage")).collect();
    assert_eq!(usage.len(), 1, "{chunks:?}");
    let record = a.last_request().await;
    assert_eq!((usage[0]["prompt_tokens"].clone(), usage[0]["completion_tokens"].clone()), (record["input_tokens"].clone(), record["output_tokens"].clone()));
    let audit = a.get("/api/admin/ledger/audit", &a.admin).await;
    assert_eq!(audit["ok"], true, "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_failures_charge_nothing() {
    let mut b = upstream_b().await;
    let config = [
        upstream_toml("tollway-b", &b.server.base, &b.user, &[("smol-b", MODEL), ("unknown-at-b", "gpt-9")]),
        upstream_toml("dead", "http://127.0.0.1:1", "none", &[("dead-model", "x")]),
    ]
    .join("\n");
    let (a, _config) = gateway_a(&config, &["smol-b", "unknown-at-b", "dead-model"]).await;
    let start = a.settled_balance().await;

    let r = a.chat(&json!({"model": "dead-model", "messages": [{"role": "user", "content": "hi"}]}), false).await;
    assert_eq!(r.status(), 502);
    assert_eq!(r.json::<Value>().await.expect("json")["error"]["code"], "upstream_error");
    let record = a.last_request().await;
    assert_eq!((record["status"].as_str(), record["cost"].as_str(), record["upstream"].as_str()), (Some("upstream_error"), Some("0"), Some("dead")), "{record}");

    let r = a.chat(&json!({"model": "unknown-at-b", "messages": [{"role": "user", "content": "hi"}], "stream": true}), false).await;
    assert_eq!(r.status(), 400, "B refused the request: A says so before streaming");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "upstream_rejected", "{body}");
    assert!(body["error"]["message"].as_str().expect("message").contains("gpt-9"), "B's reason is passed on: {body}");
    assert_eq!(a.settled_balance().await, start);

    // B dies mid-stream.
    let mut resp = a.chat(&ask("Write a very long story about the sea.", 400, true), true).await;
    assert_eq!(resp.status(), 200);
    let mut seen = String::new();
    while seen.matches("\"chunk\":").count() < 5 {
        let bytes = resp.chunk().await.expect("read").expect("stream ended early");
        seen.push_str(&String::from_utf8_lossy(&bytes));
    }
    b.server.kill();
    while let Some(bytes) = resp.chunk().await.expect("read") {
        seen.push_str(&String::from_utf8_lossy(&bytes));
    }
    let chunks = events(&seen);
    let last = chunks.last().expect("events");
    assert_eq!(last["error"]["code"], "upstream_error", "the stream ends with an error event: {last}");
    assert!(chunks.iter().all(|e| e["choices"][0]["finish_reason"].is_null()), "no normal ending");
    assert_eq!(a.settled_balance().await, start, "nothing charged for a failed answer");
    let record = a.last_request().await;
    assert_eq!((record["status"].as_str(), record["cost"].as_str()), (Some("upstream_error"), Some("0")), "{record}");
    let audit = a.get("/api/admin/ledger/audit", &a.admin).await;
    assert_eq!(audit["ok"], true, "{audit}");
}
