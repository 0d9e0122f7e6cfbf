//! The gateway under attack and under failure, on SQLite and PostgreSQL,
//! against the real embedded model (`TOLLWAY_TEST_MODEL`). Each test is
//! one move (the client's, or the database's) and what Tollway must answer:
//! the refusal, or the exact charge, with the ledger audit clean after it.
//!
//! Prices are 1 point per prompt token and 2 per output token, so every
//! charge is checked exactly against the token counts.
//!
//! The database fails on command: a trigger on `transfers` raises while a
//! row exists in the test-only table `fault`, which the test fills and
//! empties over its own connection. Nothing in Tollway knows about it.

use serde_json::{json, Value};
use std::time::Duration;
use tollway_server::config::UpstreamConfig;
use tollway_store::{Dialect, Store};

mod common;
use common::{spawn_configured, Backend, Server, User};

const MODEL: &str = "smollm2-135m-instruct";
const STORY: &str = "Write a long story about a dragon who loves tea.";

/// A server with the embedded model, and a connection to its database.
struct Gw {
    s: Server,
    store: Store,
}

/// Knobs a test may turn.
#[derive(Clone, Copy)]
struct Knobs {
    window: u64,
    hold_secs: u32,
}

const DEFAULT: Knobs = Knobs { window: 4, hold_secs: 300 };

async fn spawn_with(backend: Backend, knobs: Knobs, upstreams: Vec<UpstreamConfig>) -> Gw {
    let s = spawn_configured(backend, |config| {
        config.model_path = std::env::var("TOLLWAY_TEST_MODEL").expect("TOLLWAY_TEST_MODEL");
        config.billing_window_tokens = knobs.window;
        config.gateway_hold_secs = knobs.hold_secs;
        config.upstreams = upstreams;
    })
    .await;
    let store = Store::connect(&s.database_url).await.expect("connect");
    s.set_price(MODEL, "1000", "2000", "1 and 2 points per token").await;
    Gw { s, store }
}

async fn spawn(backend: Backend, knobs: Knobs) -> Gw {
    spawn_with(backend, knobs, Vec::new()).await
}

fn ask(text: &str, max_tokens: u64) -> Value {
    json!({"model": MODEL, "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens})
}

fn streamed(mut body: Value) -> Value {
    body["stream"] = json!(true);
    body
}

fn amount(v: &Value) -> u64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not an amount: {v}"))
}

/// The `data:` payloads of an SSE body, in order (`[DONE]` included).
fn data(text: &str) -> Vec<String> {
    text.lines().filter_map(|l| l.strip_prefix("data: ")).map(str::to_owned).collect()
}

/// The JSON events of a stream, `[DONE]` left out.
fn events(data: &[String]) -> Vec<Value> {
    data.iter().filter(|d| *d != "[DONE]").map(|d| serde_json::from_str(d).expect("json event")).collect()
}

/// Content chunks (the ones carrying output text).
fn content(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["choices"][0]["delta"]["content"].as_str().is_some_and(|c| !c.is_empty())).collect()
}

impl Gw {
    /// A new user holding `points`.
    async fn user(&self, handle: &str, points: u64) -> User {
        let user = self.s.create_user(handle).await;
        if points > 0 {
            self.s.grant(handle, &points.to_string(), &format!("g-{handle}")).await;
        }
        user
    }

    async fn chat(&self, user: &User, body: &Value) -> common::Resp {
        self.s.post("/v1/chat/completions", Some(&user.key), body).await
    }

    /// (balance, available, arrears) of `user`.
    async fn position(&self, user: &User) -> (u64, u64, u64) {
        let b = self.s.balance(user).await;
        (amount(&b["balance"]), amount(&b["available"]), amount(&b["arrears"]))
    }

    /// Waits until `user` has no hold left; returns the position then.
    async fn settled(&self, user: &User) -> (u64, u64, u64) {
        self.settled_below(user, u64::MAX).await
    }

    /// Waits until `user` has no hold left and a balance below `start`.
    async fn settled_below(&self, user: &User, start: u64) -> (u64, u64, u64) {
        for _ in 0..300 {
            let p = self.position(user).await;
            if p.0 == p.1 && p.0 < start {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("a hold was never resolved: {:?}", self.position(user).await);
    }

    /// Prompt tokens of `question` (a 1-token probe by `user` is charged).
    async fn prompt_tokens(&self, user: &User, question: &str) -> u64 {
        let v = self.chat(user, &ask(question, 1)).await.ok();
        v["usage"]["prompt_tokens"].as_u64().expect("prompt tokens")
    }

    async fn audit_is_clean(&self) {
        let audit = self.s.audit().await;
        assert_eq!(audit["ok"], true, "{audit}");
    }

    async fn requests(&self) -> Vec<Value> {
        self.s.admin_get("/api/admin/requests?limit=100").await.as_array().expect("list").clone()
    }

    /// Makes every write to `transfers` fail while `fault` has a row.
    async fn install_fault(&self) {
        let statements: &[&str] = match self.store.dialect() {
            Dialect::Sqlite => &[
                "CREATE TABLE fault (armed INTEGER NOT NULL)",
                "CREATE TRIGGER fault_transfers BEFORE INSERT ON transfers WHEN EXISTS (SELECT 1 FROM fault) \
                 BEGIN SELECT RAISE(ABORT, 'injected fault: the ledger is down'); END",
            ],
            Dialect::Postgres => &[
                "CREATE TABLE fault (armed INTEGER NOT NULL)",
                "CREATE FUNCTION fault_raise() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF EXISTS (SELECT 1 FROM fault) THEN RAISE EXCEPTION 'injected fault: the ledger is down'; END IF; \
                 RETURN NEW; END $$",
                "CREATE TRIGGER fault_transfers BEFORE INSERT ON transfers FOR EACH ROW EXECUTE FUNCTION fault_raise()",
            ],
        };
        for sql in statements {
            sqlx::query(sql).execute(self.store.pool()).await.expect("install the fault trigger");
        }
    }

    async fn arm(&self, armed: bool) {
        let sql = if armed { "INSERT INTO fault (armed) VALUES (1)" } else { "DELETE FROM fault" };
        sqlx::query(sql).execute(self.store.pool()).await.expect("arm or disarm the fault");
    }

    /// Streams `body` as `user`; after `after` content chunks, runs `act`;
    /// reads to the end. Returns every `data:` payload.
    async fn stream_and<F: std::future::Future<Output = ()>>(&self, user: &User, body: &Value, after: usize, act: impl FnOnce() -> F) -> Vec<String> {
        let url = self.s.url("/v1/chat/completions");
        let mut resp = self.s.http.post(url).bearer_auth(&user.key).header("x-tollway-billing", "chunk").json(body).send().await.expect("send");
        assert_eq!(resp.status(), 200);
        let mut seen = String::new();
        while seen.matches("\"chunk\":").count() < after {
            let bytes = resp.chunk().await.expect("read").expect("the stream ended before the move");
            seen.push_str(&String::from_utf8_lossy(&bytes));
        }
        act().await;
        let rest = tokio::time::timeout(Duration::from_secs(90), async {
            while let Some(bytes) = resp.chunk().await.expect("read") {
                seen.push_str(&String::from_utf8_lossy(&bytes));
            }
        });
        rest.await.expect("the stream must end, never hang");
        data(&seen)
    }
}

/// The final chunk of a stream: the one with a finish reason.
fn final_chunk(events: &[Value]) -> &Value {
    events.iter().rev().find(|e| e["choices"][0]["finish_reason"].is_string()).expect("a final chunk with a finish reason")
}

// ---------------------------------------------------------------------------
// 4. The database fails mid-stream: delivered tokens are still charged.
// ---------------------------------------------------------------------------

/// The ledger starts refusing writes after 3 tokens were streamed. The
/// stream stops at what is held and ends cleanly; the charge, owed, is
/// written once the database is back: exactly the delivered tokens.
async fn store_fails_mid_stream_and_delivered_tokens_are_charged_later(b: Backend) {
    let gw = spawn(b, DEFAULT).await;
    let ann = gw.user("ann", 100_000).await;
    let p = gw.prompt_tokens(&ann, STORY).await;
    let (start, _, _) = gw.settled(&ann).await;
    gw.install_fault().await;
    let data = gw.stream_and(&ann, &streamed(ask(STORY, 200)), 3, || gw.arm(true)).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "the stream ends with [DONE]");
    let events = events(&data);
    let delivered = content(&events).len() as u64;
    assert!(delivered >= 3, "{delivered}");
    let last = final_chunk(&events);
    assert_eq!(last["choices"][0]["finish_reason"], "length", "{last}");
    assert_eq!((last["tollway"]["stopped"].as_str(), last["tollway"]["settlement"].as_str()), (Some("billing_unavailable"), Some("pending")), "{last}");
    assert_eq!(amount(&last["tollway"]["cost"]), p + 2 * delivered, "what is owed: the delivered tokens, not the error");
    assert!(last["tollway"]["balance"].is_null(), "no balance is claimed while the charge is pending: {last}");
    assert!(events.iter().all(|e| e["tollway"]["balance"].is_null() || e == last), "per-chunk figures carry no balance");
    let (balance, available, _) = gw.position(&ann).await;
    assert_eq!(balance, start, "nothing could be written yet");
    assert!(available < start, "the hold still reserves the delivered tokens");

    gw.arm(false).await;
    let (end, _, arrears) = gw.settled_below(&ann, start).await;
    assert_eq!((start - end, arrears), (p + 2 * delivered, 0), "charged exactly the delivered tokens, once");
    let record = &gw.requests().await[0];
    assert_eq!((record["status"].as_str(), amount(&record["cost"])), (Some("billing_unavailable"), p + 2 * delivered), "{record}");
    assert_eq!(record["output_tokens"].as_u64(), Some(delivered));
    gw.audit_is_clean().await;
}

/// The database stays down until the request's hold has expired: the
/// delivered tokens are charged from the wallet under an id derived from
/// the request, once, whoever releases the hold first (Tollway or the
/// expiry sweep).
async fn store_down_until_the_hold_expired_charges_the_wallet_once(b: Backend) {
    let gw = spawn(b, Knobs { window: 4, hold_secs: 3 }).await;
    let ann = gw.user("ann", 100_000).await;
    let p = gw.prompt_tokens(&ann, STORY).await;
    let (start, _, _) = gw.settled(&ann).await;
    gw.install_fault().await;
    let data = gw.stream_and(&ann, &streamed(ask(STORY, 200)), 2, || gw.arm(true)).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let events = events(&data);
    let delivered = content(&events).len() as u64;
    let last = final_chunk(&events);
    assert_eq!(last["tollway"]["settlement"], "pending", "{last}");
    let id = last["id"].as_str().expect("request id").to_owned();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(gw.position(&ann).await.0, start, "still nothing written");
    gw.arm(false).await;
    // The sweep may release the hold before the retry charges the wallet.
    let (end, _, arrears) = gw.settled_below(&ann, start).await;
    assert_eq!((start - end, arrears), (p + 2 * delivered, 0), "charged exactly the delivered tokens");
    // Let the background retries and the sweep run on: nothing more moves.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(gw.position(&ann).await, (end, end, 0), "charged once");
    let history = gw.s.get("/api/user/points/history?type=charge", Some(&ann.key)).await.ok();
    let late: Vec<&Value> = history["items"].as_array().expect("items").iter().filter(|i| i["request_id"] == id.as_str()).collect();
    assert_eq!(late.len(), 1, "one charge for the request: {history}");
    assert_eq!((late[0]["id"].as_str(), amount(&late[0]["amount"])), (Some(&*format!("{id}:late")), p + 2 * delivered), "{history}");
    gw.audit_is_clean().await;
}

// ---------------------------------------------------------------------------
// 5. Arrears and holds: one guarded step.
// ---------------------------------------------------------------------------

/// A user who owes arrears is refused before the model runs, and a user
/// who falls into arrears mid-stream (another app's usage report, booked
/// concurrently) is stopped at the end of what is held, charged exactly.
async fn arrears_refuse_admission_and_stop_a_running_stream(b: Backend) {
    let gw = spawn(b, DEFAULT).await;
    let app = gw.s.create_app("relay").await;
    let ann = gw.user("ann", 2_000).await;
    let p = gw.prompt_tokens(&ann, STORY).await;
    let (start, _, _) = gw.settled(&ann).await;
    let report = |id: &str| common::relay(id, "ann", MODEL, 5_000, 0);
    let data = gw
        .stream_and(&ann, &streamed(ask(STORY, 200)), 2, || async {
            let r = gw.s.webhook_json(&app, &report("m1")).await.ok();
            assert_eq!(r["data"]["status"], "arrears", "{r}");
        })
        .await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let events = events(&data);
    let delivered = content(&events).len() as u64;
    let last = final_chunk(&events);
    assert_eq!((last["choices"][0]["finish_reason"].as_str(), last["tollway"]["stopped"].as_str()), (Some("length"), Some("arrears_outstanding")), "{last}");
    let cost = p + 2 * delivered;
    assert_eq!(amount(&last["tollway"]["cost"]), cost);
    let (balance, available, arrears) = gw.settled(&ann).await;
    // The report took what the wallet had beyond the stream's hold; the
    // stream's delivered tokens came out of that hold.
    assert_eq!(balance, available);
    assert_eq!(start - balance + arrears, cost + 5_000, "every point accounted for: {balance} {arrears}");

    let refused = gw.chat(&ann, &ask("Hi", 1)).await;
    assert_eq!((refused.status, refused.code()), (402, "arrears_outstanding".to_owned()), "{}", refused.text);
    assert_eq!(gw.position(&ann).await, (balance, balance, arrears), "a refused request holds nothing");
    gw.s.grant("ann", &(arrears + 1_000).to_string(), "repay").await;
    assert_eq!(gw.chat(&ann, &ask("Hi", 1)).await.status, 200, "repaid arrears unblock the user");
    gw.audit_is_clean().await;
}

// ---------------------------------------------------------------------------
// 8. Stream edges.
// ---------------------------------------------------------------------------

/// A balance that covers the prompt and a few tokens, but not a window, is
/// served those tokens (streamed or whole), and every client can tell the
/// money ran out; a balance that cannot cover the prompt and one token is
/// 402 before the model runs.
async fn a_balance_below_one_window_gets_what_it_affords(b: Backend) {
    let gw = spawn(b, Knobs { window: 16, hold_secs: 300 }).await;
    let probe = gw.user("probe", 10_000).await;
    let p = gw.prompt_tokens(&probe, STORY).await;

    let ann = gw.user("ann", p + 2 * 3 + 1).await;
    let r = gw.chat(&ann, &streamed(ask(STORY, 80))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let data = data(&r.text);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let events = events(&data);
    assert_eq!(content(&events).len(), 3, "the three affordable tokens are streamed");
    let last = final_chunk(&events);
    assert_eq!((last["choices"][0]["finish_reason"].as_str(), last["tollway"]["stopped"].as_str()), (Some("length"), Some("insufficient_points")), "no billing header, still told: {last}");
    assert_eq!(amount(&last["tollway"]["balance"]), 1, "the true balance after the charge");
    assert_eq!(gw.position(&ann).await, (1, 1, 0));

    let bob = gw.user("bob", p + 2 * 2).await;
    let whole = gw.chat(&bob, &ask(STORY, 80)).await.ok();
    assert_eq!((whole["usage"]["completion_tokens"].as_u64(), whole["choices"][0]["finish_reason"].as_str()), (Some(2), Some("length")), "{whole}");
    assert_eq!(whole["tollway"]["stopped"], "insufficient_points", "{whole}");
    assert_eq!(gw.position(&bob).await, (0, 0, 0));

    let records = gw.requests().await.len();
    for (handle, points) in [("cat", p + 1), ("dan", p - 1)] {
        let user = gw.user(handle, points).await;
        for body in [ask(STORY, 80), streamed(ask(STORY, 80))] {
            let refused = gw.chat(&user, &body).await;
            assert_eq!((refused.status, refused.code()), (402, "insufficient_points".to_owned()), "{}", refused.text);
        }
        assert_eq!(gw.position(&user).await, (points, points, 0), "nothing held or charged");
    }
    assert_eq!(gw.requests().await.len(), records, "refused before the model ran: no request recorded");
    gw.audit_is_clean().await;
}

/// Upstream stand-in that only counts the requests it receives.
async fn counting_upstream() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "not expected") }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), hits)
}

/// `n` other than 1 is refused for every model (the body would otherwise
/// be passed to an upstream that bills several choices as one), streamed
/// or not; nothing is held or recorded.
async fn n_other_than_one_is_refused_for_every_model(b: Backend) {
    let (base_url, hits) = counting_upstream().await;
    let upstream = UpstreamConfig {
        name: "far".into(),
        base_url,
        api_key: None,
        models: [("far-model".to_owned(), "gpt-x".to_owned())].into(),
        idle_timeout_secs: 5,
    };
    let gw = spawn_with(b, DEFAULT, vec![upstream]).await;
    gw.s.set_price("far-model", "1000", "2000", "upstream").await;
    let ann = gw.user("ann", 10_000).await;
    for model in [MODEL, "far-model"] {
        for stream in [false, true] {
            for (n, code) in [(json!(2), "n_unsupported"), (json!(128), "n_unsupported"), (json!(0), "invalid_request"), (json!(-1), "invalid_request"), (json!(1.5), "invalid_request"), (json!("2"), "invalid_request")] {
                let body = json!({"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2, "stream": stream, "n": n});
                let r = gw.chat(&ann, &body).await;
                assert_eq!((r.status, r.code()), (400, code.to_owned()), "{model} n={n}: {}", r.text);
            }
        }
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "the upstream was never asked");
    let one = gw.chat(&ann, &json!({"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2, "n": 1})).await.ok();
    assert_eq!(one["choices"].as_array().map(Vec::len), Some(1));
    let cost = amount(&one["tollway"]["cost"]);
    assert_eq!(gw.position(&ann).await, (10_000 - cost, 10_000 - cost, 0), "only the n = 1 request was charged");
    assert_eq!(gw.requests().await.len(), 1);
    gw.audit_is_clean().await;
}

// ---------------------------------------------------------------------------
// 6. Extreme numbers in the request: 400, never a panic or a wrap.
// ---------------------------------------------------------------------------

async fn extreme_numbers_are_refused_and_never_panic(b: Backend) {
    let gw = spawn(b, DEFAULT).await;
    let probe = gw.user("probe", 10_000).await;
    let p = gw.prompt_tokens(&probe, STORY).await;
    let ann = gw.user("ann", p + 2 * 3).await;
    let records = gw.requests().await.len();
    let fields = [
        ("max_tokens", &["-1", "0", "1.5", "1e30", "18446744073709551616", "\"5\"", "-9223372036854775808"][..]),
        ("max_completion_tokens", &["-5", "0", "340282366920938463463374607431768211456"][..]),
        ("temperature", &["-1", "2.5", "1e308", "-1e308", "\"hot\""][..]),
        ("top_p", &["-0.1", "1.5", "1e308"][..]),
        ("seed", &["-1", "1e20", "18446744073709551616"][..]),
        ("n", &["1e30", "18446744073709551616", "-1"][..]),
        ("stream", &["1"][..]),
        ("messages", &["5"][..]),
    ];
    for (field, values) in fields {
        for value in values {
            for stream in ["false", "true"] {
                let body = format!(r#"{{"model":"{MODEL}","messages":[{{"role":"user","content":"Hi"}}],"stream":{stream},"{field}":{value}}}"#);
                let r = gw.s.post_raw("/v1/chat/completions", Some(&ann.key), &body).await;
                assert!(r.status == 400 || r.status == 422, "{field}={value}: {} {}", r.status, r.text);
                assert!(!r.code().is_empty(), "{field}={value}: an error code: {}", r.text);
            }
        }
    }
    assert_eq!(gw.position(&ann).await, (p + 6, p + 6, 0), "nothing held or charged");
    assert_eq!(gw.requests().await.len(), records, "nothing recorded");
    // The largest values that are valid are served, and billed exactly.
    let edge = json!({"model": MODEL, "messages": [{"role": "user", "content": STORY}], "max_tokens": u64::MAX, "temperature": 2, "top_p": 0, "seed": u64::MAX});
    let whole = gw.chat(&ann, &edge).await.ok();
    assert_eq!((whole["usage"]["completion_tokens"].as_u64(), whole["tollway"]["stopped"].as_str()), (Some(3), Some("insufficient_points")), "{whole}");
    assert_eq!(gw.position(&ann).await, (0, 0, 0));
    let tiny = gw.user("tiny", 10_000).await;
    let r = gw.chat(&tiny, &json!({"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3, "temperature": 1e-300})).await;
    assert_eq!(r.status, 200, "a vanishing temperature samples greedily: {}", r.text);
    gw.audit_is_clean().await;
}

on_both_backends!(by_backend:
    store_fails_mid_stream_and_delivered_tokens_are_charged_later,
    store_down_until_the_hold_expired_charges_the_wallet_once,
    arrears_refuse_admission_and_stop_a_running_stream,
    a_balance_below_one_window_gets_what_it_affords,
    n_other_than_one_is_refused_for_every_model,
    extreme_numbers_are_refused_and_never_panic,
);
