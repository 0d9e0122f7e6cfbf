//! The OpenAI-compatible gateway against the real embedded model
//! (`TOLLWAY_TEST_MODEL`, set by scripts/test.sh), billed per token.
//! Prices here are 1 point per input token and 2 per output token, so every
//! charge can be checked exactly against the token counts.

use serde_json::{json, Value};
use std::time::Duration;
use tollway_server::Config;
use tollway_store::testing::{fresh_database_url, Backend};
use tollway_store::Store;

struct Gw {
    base: String,
    http: reqwest::Client,
    admin: String,
    user: String,
}

const MODEL: &str = "smollm2-135m-instruct";

async fn spawn(window: u64, balance: u64) -> Gw {
    let url = fresh_database_url(Backend::Sqlite).await.expect("database");
    let config = Config {
        listen: "127.0.0.1:0".into(),
        database_url: url.clone(),
        model_path: std::env::var("TOLLWAY_TEST_MODEL").expect("TOLLWAY_TEST_MODEL (run scripts/test.sh)"),
        billing_window_tokens: window,
        engine_queue: 64,
        ..Config::default()
    };
    let running = tollway_server::start(config).await.expect("server starts");
    let store = Store::connect(&url).await.expect("connect");
    let (_, admin) = tollway_server::ops::create_user(&store, "admin", true).await.expect("admin");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("client");
    let base = format!("http://{}", running.addr);
    let mut gw = Gw { base, http, admin, user: String::new() };
    let price = json!({"input_per_1k": "1000", "output_per_1k": "2000", "note": "1 and 2 points per token"});
    assert!(gw.http.put(gw.url(&format!("/api/admin/models/{MODEL}"))).bearer_auth(&gw.admin).json(&price).send().await.expect("price").status().is_success());
    let created: Value = gw.admin_post("/api/admin/users", json!({"handle": "ann"})).await;
    gw.user = created["api_key"].as_str().expect("key").to_owned();
    if balance > 0 {
        gw.admin_post("/api/admin/points/grant", json!({"user": "ann", "amount": balance.to_string(), "reason": "test", "id": "g1"})).await;
    }
    gw
}

impl Gw {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn admin_post(&self, path: &str, body: Value) -> Value {
        let r = self.http.post(self.url(path)).bearer_auth(&self.admin).json(&body).send().await.expect("send");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.expect("json")
    }

    async fn balance(&self) -> (u64, u64) {
        let v: Value = self.http.get(self.url("/api/user/points/balance")).bearer_auth(&self.user).send().await.expect("send").json().await.expect("json");
        let n = |k: &str| v[k].as_str().and_then(|s| s.parse().ok()).expect("amount");
        (n("balance"), n("available"))
    }

    async fn chat(&self, body: Value) -> (u16, Value) {
        let r = self.http.post(self.url("/v1/chat/completions")).bearer_auth(&self.user).json(&body).send().await.expect("send");
        (r.status().as_u16(), r.json().await.expect("json"))
    }

    /// A streamed chat: every `data:` payload, in order.
    async fn stream(&self, body: Value, billing: bool) -> Vec<String> {
        let mut req = self.http.post(self.url("/v1/chat/completions")).bearer_auth(&self.user).json(&body);
        if billing {
            req = req.header("x-tollway-billing", "chunk");
        }
        let text = req.send().await.expect("send").text().await.expect("body");
        text.lines().filter_map(|l| l.strip_prefix("data: ")).map(str::to_owned).collect()
    }
}

fn ask(text: &str, max_tokens: u64) -> Value {
    json!({"model": MODEL, "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_answer_is_charged_per_token_exactly() {
    let gw = spawn(16, 10_000).await;
    let models: Value = gw.http.get(gw.url("/v1/models")).bearer_auth(&gw.user).send().await.expect("send").json().await.expect("json");
    assert_eq!(models["data"][0]["id"], MODEL);
    let (status, v) = gw.chat(ask("What is the capital of France?", 30)).await;
    assert_eq!(status, 200, "{v}");
    let (p, c) = (v["usage"]["prompt_tokens"].as_u64().expect("p"), v["usage"]["completion_tokens"].as_u64().expect("c"));
    assert!(v["choices"][0]["message"]["content"].as_str().expect("content").contains("Paris"), "{v}");
    assert!(c > 0 && c <= 30);
    let cost = p + 2 * c;
    assert_eq!(v["tollway"]["cost"], cost.to_string());
    assert_eq!(gw.balance().await, (10_000 - cost, 10_000 - cost), "charged exactly, no hold left");
    let (status, v) = gw.chat(json!({"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]})).await;
    assert_eq!((status, v["error"]["code"].as_str()), (404, Some("model_not_found")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_answer_bills_each_chunk() {
    let gw = spawn(4, 10_000).await;
    let mut body = ask("Name three colors.", 24);
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let events = gw.stream(body, true).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).expect("json")).collect();
    let usage = chunks.last().expect("usage chunk")["usage"].clone();
    let (p, c) = (usage["prompt_tokens"].as_u64().expect("p"), usage["completion_tokens"].as_u64().expect("c"));
    let tokens: Vec<&Value> = chunks.iter().filter(|v| v["tollway"]["chunk"].is_u64()).collect();
    assert_eq!(tokens.len() as u64, c, "one billed chunk per token");
    for (i, t) in tokens.iter().enumerate() {
        let n = i as u64 + 1;
        assert_eq!(t["tollway"]["tokens"], n);
        assert_eq!(t["tollway"]["cost"], (p + 2 * n).to_string(), "cumulative cost of chunk {n}");
    }
    let last = &chunks[chunks.len() - 2];
    assert!(last["choices"][0]["finish_reason"].is_string(), "{last}");
    assert_eq!(last["tollway"]["cost"], (p + 2 * c).to_string());
    assert_eq!(gw.balance().await, (10_000 - p - 2 * c, 10_000 - p - 2 * c));
    let text: String = tokens.iter().filter_map(|t| t["choices"][0]["delta"]["content"].as_str()).collect();
    assert!(!text.trim().is_empty(), "the chunks carry the answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_stops_when_the_money_does() {
    let probe = spawn(4, 10_000).await;
    let question = "Write a long story about a dragon who loves tea.";
    let (_, v) = probe.chat(ask(question, 1)).await;
    let p = v["usage"]["prompt_tokens"].as_u64().expect("prompt tokens");
    // Enough for the prompt and 9 output tokens, and one point to spare.
    let gw = spawn(4, p + 2 * 9 + 1).await;
    let mut body = ask(question, 80);
    body["stream"] = json!(true);
    let events = gw.stream(body, true).await;
    let chunks: Vec<Value> = events.iter().filter(|e| *e != "[DONE]").map(|e| serde_json::from_str(e).expect("json")).collect();
    let billed = chunks.iter().filter(|v| v["tollway"]["chunk"].is_u64()).count();
    assert_eq!(billed, 9, "exactly the affordable tokens are served");
    let last = chunks.last().expect("final chunk");
    assert_eq!(last["choices"][0]["finish_reason"], "length");
    assert_eq!(last["tollway"]["stopped"], "insufficient_points");
    assert_eq!(gw.balance().await, (1, 1), "the balance ends at the point to spare, never below 0");
    let (status, v) = gw.chat(ask(question, 5)).await;
    assert_eq!((status, v["error"]["code"].as_str()), (402, Some("insufficient_points")), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_mid_stream_charges_only_what_was_delivered() {
    let gw = spawn(4, 100_000).await;
    let question = "Write a long story about a lighthouse keeper.";
    let before = gw.balance().await.0;
    let (_, v) = gw.chat(ask(question, 1)).await;
    let p = v["usage"]["prompt_tokens"].as_u64().expect("prompt tokens");
    let start = gw.balance().await.0;
    assert_eq!(before - start, p + 2, "probe charged prompt + one token");
    let mut body = ask(question, 200);
    body["stream"] = json!(true);
    let mut resp = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&gw.user)
        .header("x-tollway-billing", "chunk")
        .json(&body)
        .send()
        .await
        .expect("send");
    let mut seen = String::new();
    while seen.matches("\"chunk\":").count() < 5 {
        let bytes = resp.chunk().await.expect("read").expect("stream ended early");
        seen.push_str(&String::from_utf8_lossy(&bytes));
    }
    drop(resp);
    // Wait for the server to notice, settle and release the hold.
    let mut settled = None;
    for _ in 0..100 {
        let (balance, available) = gw.balance().await;
        if balance == available && balance < start {
            settled = Some(balance);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let end = settled.expect("the disconnected stream was settled");
    let charged = start - end;
    assert!(charged > p && (charged - p) % 2 == 0, "prompt plus whole tokens: {charged}");
    let delivered = (charged - p) / 2;
    assert!((5..60).contains(&delivered), "charged for {delivered} tokens after reading 5 of up to 200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_streams_never_overspend() {
    let probe = spawn(4, 10_000).await;
    let (_, v) = probe.chat(ask("Count to ten.", 1)).await;
    let p = v["usage"]["prompt_tokens"].as_u64().expect("prompt tokens");
    // Room for about five full answers of 8 tokens among fifty asking.
    let budget = 5 * (p + 16) + 7;
    let gw = std::sync::Arc::new(spawn(4, budget).await);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let gw = gw.clone();
            tokio::spawn(async move {
                let mut body = ask("Count to ten.", 8);
                body["stream"] = json!(true);
                let r = gw.http.post(gw.url("/v1/chat/completions")).bearer_auth(&gw.user).json(&body).send().await.expect("send");
                let status = r.status().as_u16();
                let text = r.text().await.expect("body");
                if status != 200 {
                    return (status, 0u64);
                }
                let cost = text
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .filter_map(|d| serde_json::from_str::<Value>(d).ok())
                    .filter(|v| v["choices"][0]["finish_reason"].is_string())
                    .find_map(|v| v["tollway"]["cost"].as_str().and_then(|c| c.parse().ok()))
                    .expect("final chunk with the cost");
                (status, cost)
            })
        })
        .collect();
    let mut served = 0;
    let mut spent = 0u64;
    for t in tasks {
        let (status, cost) = t.await.expect("task");
        assert!(status == 200 || status == 402, "unexpected status {status}");
        if status == 200 {
            served += 1;
            spent += cost;
        }
    }
    let (balance, available) = gw.balance().await;
    assert_eq!(balance, available, "no hold left behind");
    assert_eq!(budget - balance, spent, "the balance moved by exactly what the answers cost");
    assert!(spent <= budget && served >= 5, "served {served}, spent {spent} of {budget}");
    let audit: Value = gw.http.get(gw.url("/api/admin/ledger/audit")).bearer_auth(&gw.admin).send().await.expect("send").json().await.expect("json");
    assert_eq!(audit["ok"], true, "{audit}");
}

/// The official `openai` Python client (installed from PyPI by
/// scripts/test.sh) talks to Tollway unchanged; the points charged equal its
/// reported token counts times the prices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_openai_python_client_works_and_is_charged_exactly() {
    let gw = spawn(16, 10_000).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/clients/openai_chat.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .arg(MODEL)
        .env("OPENAI_BASE_URL", gw.url("/v1"))
        .env("OPENAI_API_KEY", &gw.user)
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "client failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let calls: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(calls.len(), 2);
    let mut expected = 0;
    for call in &calls {
        let (p, c) = (call["prompt_tokens"].as_u64().expect("p"), call["completion_tokens"].as_u64().expect("c"));
        assert!(call["text"].as_str().expect("text").contains("Paris"), "{call}");
        assert!(c > 0, "{call}");
        expected += p + 2 * c;
    }
    assert_eq!(calls[1]["chunks"], calls[1]["completion_tokens"], "one content chunk per token");
    assert_eq!(gw.balance().await, (10_000 - expected, 10_000 - expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_whole_request_releases_its_hold_and_charges_nothing() {
    let gw = spawn(4, 10_000).await;
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(700)).build().expect("client");
    let sent = impatient
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&gw.user)
        .json(&ask("Write a very long story about the sea.", 400))
        .send()
        .await;
    assert!(sent.is_err(), "the client should have given up before 400 tokens");
    let mut released = false;
    for _ in 0..100 {
        if gw.balance().await == (10_000, 10_000) {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(released, "the hold of an abandoned request was not released: {:?}", gw.balance().await);
    let history: Value = gw
        .http
        .get(gw.url("/api/user/points/history?type=reservation"))
        .bearer_auth(&gw.user)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let holds: Vec<&Value> = history["items"].as_array().expect("items").iter().filter(|i| i["transfer_kind"] == "pending").collect();
    assert!(!holds.is_empty(), "the request held points while it ran: {history}");
    assert!(holds.iter().all(|h| h["status"] == "voided"), "every hold was released, none posted: {history}");
}

impl Gw {
    /// A new key for the user, and its id.
    async fn new_key(&self) -> (String, i64) {
        let users: Value = self.http.get(self.url("/api/admin/users")).bearer_auth(&self.admin).send().await.expect("send").json().await.expect("json");
        let ann = users.as_array().expect("users").iter().find(|u| u["handle"] == "ann").expect("ann")["id"].as_i64().expect("id");
        let k = self.admin_post(&format!("/api/admin/users/{ann}/keys"), json!({"label": "limited"})).await;
        (k["api_key"].as_str().expect("key").to_owned(), k["key_id"].as_i64().expect("key id"))
    }

    async fn set_limits(&self, key_id: i64, limits: Value) -> (u16, Value) {
        let r = self.http.put(self.url(&format!("/api/admin/keys/{key_id}/limits"))).bearer_auth(&self.admin).json(&limits).send().await.expect("send");
        (r.status().as_u16(), r.json().await.expect("json"))
    }

    async fn chat_with(&self, key: &str, body: &Value) -> reqwest::Response {
        self.http.post(self.url("/v1/chat/completions")).bearer_auth(key).json(body).send().await.expect("send")
    }

    /// Prompt tokens of `question` (one probe token is charged).
    async fn prompt_tokens(&self, question: &str) -> u64 {
        let (_, v) = self.chat(ask(question, 1)).await;
        v["usage"]["prompt_tokens"].as_u64().expect("prompt tokens")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_rate_limits_answer_429_with_retry_after() {
    let gw = spawn(16, 100_000).await;
    let (key, id) = gw.new_key().await;
    let (status, view) = gw.set_limits(id, json!({"rpm_limit": 2})).await;
    assert_eq!((status, view["rpm_limit"].as_u64()), (200, Some(2)), "{view}");
    for _ in 0..2 {
        assert_eq!(gw.chat_with(&key, &ask("Hi", 1)).await.status(), 200);
    }
    let refused = gw.chat_with(&key, &ask("Hi", 1)).await;
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=30).contains(&retry), "two a minute: the next in at most 30 s, got {retry}");
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limit_requests");
    assert_eq!(gw.chat(ask("Hi", 1)).await.0, 200, "other keys of the same user are not limited");

    let p = gw.prompt_tokens("Hi").await;
    let (key, id) = gw.new_key().await;
    assert_eq!(gw.set_limits(id, json!({"tpm_limit": p + 5})).await.0, 200);
    assert_eq!(gw.chat_with(&key, &ask("Hi", 1)).await.status(), 200);
    let refused = gw.chat_with(&key, &ask("Hi", 1)).await;
    assert_eq!(refused.status(), 429, "prompt and output used the minute's tokens");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.json::<Value>().await.expect("json")["error"]["code"], "rate_limit_tokens");
    for bad in [json!({"rpm_limit": 0}), json!({"spend_cap": "-5"}), json!({"spend_cap": "1.5"}), json!({"rpm": 3})] {
        let (status, v) = gw.set_limits(id, bad.clone()).await;
        assert!((400..500).contains(&status) && v["error"]["code"].is_string(), "{bad} -> {status} {v}");
    }
    assert_eq!(gw.set_limits(999_999, json!({})).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_cap_stops_a_stream_exactly_and_is_enforced_by_the_ledger() {
    let gw = spawn(4, 100_000).await;
    let question = "Write a long story about a dragon who loves tea.";
    let p = gw.prompt_tokens(question).await;
    let start = gw.balance().await.0;
    let (key, id) = gw.new_key().await;
    let cap = p + 2 * 9 + 1;
    let (status, view) = gw.set_limits(id, json!({"spend_cap": cap.to_string()})).await;
    assert_eq!((status, view["remaining"].as_str()), (200, Some(cap.to_string().as_str())), "{view}");
    let mut body = ask(question, 80);
    body["stream"] = json!(true);
    let text = gw.http.post(gw.url("/v1/chat/completions")).bearer_auth(&key).header("x-tollway-billing", "chunk").json(&body).send().await.expect("send").text().await.expect("body");
    let chunks: Vec<Value> = text.lines().filter_map(|l| l.strip_prefix("data: ")).filter(|d| *d != "[DONE]").map(|d| serde_json::from_str(d).expect("json")).collect();
    assert_eq!(chunks.iter().filter(|v| v["tollway"]["chunk"].is_u64()).count(), 9, "exactly what the cap affords");
    let last = chunks.last().expect("final chunk");
    assert_eq!((last["choices"][0]["finish_reason"].as_str(), last["tollway"]["stopped"].as_str()), (Some("length"), Some("spend_cap_reached")));
    let view: Value = gw.http.get(gw.url(&format!("/api/admin/keys/{id}"))).bearer_auth(&gw.admin).send().await.expect("send").json().await.expect("json");
    assert_eq!((view["spent"].as_str(), view["held"].as_str(), view["remaining"].as_str()), (Some(&*(p + 18).to_string()), Some("0"), Some("1")), "{view}");
    assert_eq!(gw.balance().await.0, start - (p + 18), "the wallet paid what the key spent");
    let refused = gw.chat_with(&key, &ask(question, 5)).await;
    assert_eq!(refused.status(), 402);
    assert_eq!(refused.json::<Value>().await.expect("json")["error"]["code"], "spend_cap_reached");
    let (status, v) = gw.set_limits(id, json!({"spend_cap": "5"})).await;
    assert_eq!((status, v["error"]["code"].as_str()), (409, Some("spend_cap_below_spent")), "{v}");
    let (status, view) = gw.set_limits(id, json!({"spend_cap": (cap + 1_000).to_string()})).await;
    assert_eq!((status, view["remaining"].as_str()), (200, Some("1001")), "{view}");
    assert_eq!(gw.chat_with(&key, &ask(question, 5)).await.status(), 200);
    let (status, view) = gw.set_limits(id, json!({})).await;
    assert_eq!((status, view["spend_cap"].clone()), (200, Value::Null), "{view}");
    assert_eq!(gw.chat_with(&key, &ask(question, 5)).await.status(), 200, "an uncapped key spends the balance");
    let audit: Value = gw.http.get(gw.url("/api/admin/ledger/audit")).bearer_auth(&gw.admin).send().await.expect("send").json().await.expect("json");
    assert_eq!(audit["ok"], true, "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_recorded_with_its_usage_and_cost() {
    let gw = spawn(16, 10_000).await;
    let (key, id) = gw.new_key().await;
    let whole: Value = gw.chat_with(&key, &ask("What is the capital of France?", 12)).await.json().await.expect("json");
    let mut body = ask("Name a color.", 6);
    body["stream"] = json!(true);
    let streamed = gw.http.post(gw.url("/v1/chat/completions")).bearer_auth(&key).json(&body).send().await.expect("send").text().await.expect("body");
    assert!(!streamed.contains("\"usage\""), "no usage chunk unless asked for");
    let records: Value = gw.http.get(gw.url("/api/user/requests")).bearer_auth(&key).send().await.expect("send").json().await.expect("json");
    let records = records.as_array().expect("list");
    assert_eq!(records.len(), 2, "{records:?}");
    let (s, w) = (&records[0], &records[1]);
    assert_eq!((w["id"].as_str(), w["stream"].as_bool(), s["stream"].as_bool()), (whole["id"].as_str(), Some(false), Some(true)));
    for r in [s, w] {
        assert_eq!((r["key_id"].as_i64(), r["model"].as_str(), r["upstream"].as_str(), r["usage_source"].as_str()), (Some(id), Some(MODEL), Some("local"), Some("tokenizer")), "{r}");
        let cost = r["input_tokens"].as_u64().expect("in") + 2 * r["output_tokens"].as_u64().expect("out");
        assert_eq!(r["cost"].as_str(), Some(&*cost.to_string()), "{r}");
        assert!(r["duration_ms"].as_i64().expect("duration") >= 0 && r["status"].is_string());
    }
    assert_eq!(w["input_tokens"], whole["usage"]["prompt_tokens"]);
    assert_eq!(w["output_tokens"], whole["usage"]["completion_tokens"]);
    assert_eq!(w["cost"], whole["tollway"]["cost"]);
    let spent: u64 = records.iter().map(|r| r["cost"].as_str().and_then(|c| c.parse::<u64>().ok()).expect("cost")).sum();
    assert_eq!(gw.balance().await.0, 10_000 - spent);
    let page: Value = gw.http.get(gw.url(&format!("/api/admin/requests?key={id}&limit=1"))).bearer_auth(&gw.admin).send().await.expect("send").json().await.expect("json");
    assert_eq!(page[0]["id"], s["id"], "admin sees the newest first");
    let next: Value = gw.http.get(gw.url(&format!("/api/admin/requests?key={id}&limit=1&cursor={}", page[0]["seq"]))).bearer_auth(&gw.admin).send().await.expect("send").json().await.expect("json");
    assert_eq!(next[0]["id"], w["id"], "and pages back with the cursor");
    let hourly: Value = gw.http.get(gw.url("/api/admin/consumption/hourly?hours=1")).bearer_auth(&gw.admin).send().await.expect("send").json().await.expect("json");
    // Summed over the rows of the model: the two requests may straddle an hour.
    let rows: Vec<&Value> = hourly.as_array().expect("rows").iter().filter(|r| r["model"] == MODEL).collect();
    let total = |k: &str| rows.iter().map(|r| r[k].as_u64().or_else(|| r[k].as_str().and_then(|s| s.parse().ok())).expect("number")).sum::<u64>();
    assert_eq!((total("requests"), total("events"), total("charged")), (2, 0, spent), "{hourly}");
}
