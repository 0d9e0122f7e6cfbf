//! The payer's CLI against a real `tollway serve` with the embedded model
//! (`TOLLWAY_TEST_MODEL`, set by scripts/test.sh): a channel opened with
//! `tollway channel open`, answers streamed with `tollway chat` and paid
//! per chunk with signed receipts, a payer killed with SIGKILL mid-stream
//! and recovered, and a channel closed back into the wallet.
//!
//! Prices: 3 points per prompt token, 5 per output token, so every cost
//! can be checked exactly against the token counts.

use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tollway_server::ops;
use tollway_store::testing::{fresh_database_url, Backend};
use tollway_store::Store;

mod common;
use common::Server;

const MODEL: &str = "smollm2-135m-instruct";
const INPUT_PRICE: u128 = 3;
const OUTPUT_PRICE: u128 = 5;
const GRANT: u128 = 1_000_000;
const DEPOSIT: u128 = 200_000;
const LONG_PROMPT: &str = "Write a long story about a dragon who learns to bake bread, in many paragraphs.";

static HOMES: AtomicUsize = AtomicUsize::new(0);

/// A payer home folder, removed on drop unless the test failed.
struct Home(PathBuf);

impl Home {
    fn new() -> Home {
        let dir = std::env::temp_dir().join(format!("tollway-payer-e2e-{}-{}", std::process::id(), HOMES.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&dir);
        Home(dir)
    }

    /// payer.json as JSON.
    fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.0.join("payer.json")).expect("payer.json");
        serde_json::from_str(&text).expect("payer.json is JSON")
    }

    /// The local record of `channel`.
    fn channel(&self, channel: &str) -> Value {
        let state = self.state();
        state["channels"].as_array().expect("channels").iter().find(|c| c["channel"] == channel).cloned().expect("local channel")
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A server with the embedded model, an admin and a user holding points.
struct Env {
    server: Server,
    http: reqwest::Client,
    user: String,
    home: Home,
}

/// A points amount from JSON (a decimal string or a number).
fn amount(v: &Value) -> u128 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("amount {s:?} is not whole digits")),
        Value::Number(n) => n.as_u64().map(u128::from).unwrap_or_else(|| panic!("amount {n} is not whole")),
        other => panic!("amount {other} is neither a string nor a number"),
    }
}

impl Env {
    async fn start() -> Env {
        let model = std::env::var("TOLLWAY_TEST_MODEL").expect("TOLLWAY_TEST_MODEL (run scripts/test.sh)");
        let url = fresh_database_url(Backend::Sqlite).await.expect("database");
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let (_, admin) = ops::create_user(&store, "admin", true).await.expect("admin");
        ops::set_price(&store, MODEL, "3000", "5000", None, true, "test", None).await.expect("price");
        store.close().await;
        let server = Server::start_with(&url, &[("TOLLWAY_MODEL_PATH", &model)]).await;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("client");
        let mut env = Env { server, http, user: String::new(), home: Home::new() };
        let created = env.post(&admin, "/api/admin/users", json!({"handle": "payer"})).await;
        env.user = created["api_key"].as_str().expect("api key").to_owned();
        env.post(&admin, "/api/admin/points/grant", json!({"user": "payer", "amount": GRANT.to_string(), "reason": "test", "id": "g1"})).await;
        env
    }

    async fn post(&self, key: &str, path: &str, body: Value) -> Value {
        let r = self.http.post(self.server.url(path)).bearer_auth(key).json(&body).send().await.expect("send");
        let status = r.status();
        let text = r.text().await.expect("body");
        assert!(status.is_success(), "{path}: {status} {text}\n{}", self.server.diagnostics());
        serde_json::from_str(&text).expect("json")
    }

    async fn get(&self, path: &str) -> Value {
        let r = self.http.get(self.server.url(path)).bearer_auth(&self.user).send().await.expect("send");
        let status = r.status();
        let text = r.text().await.expect("body");
        assert!(status.is_success(), "GET {path}: {status} {text}");
        serde_json::from_str(&text).expect("json")
    }

    /// The payee's view of the channel.
    async fn remote(&self, channel: &str) -> Value {
        self.get(&format!("/api/channels/{channel}")).await
    }

    /// The user's wallet balance once no hold is left.
    async fn balance(&self) -> u128 {
        let v = self.get("/api/user/points/balance").await;
        assert_eq!(v["balance"], v["available"], "no hold left: {v}");
        amount(&v["balance"])
    }

    /// The user's gateway requests, newest first.
    async fn requests(&self) -> Vec<Value> {
        self.get("/api/user/requests").await.as_array().cloned().expect("requests")
    }

    /// `tollway ARGS` with this env's payer home and no server config.
    fn command(&self, args: &[&str]) -> std::process::Command {
        command(&self.home.0, args)
    }

    /// Runs `tollway ARGS`; its stdout and stderr, after checking it succeeded.
    async fn run(&self, args: &[&str]) -> (String, String) {
        let mut cmd = self.command(args);
        let out = tokio::task::spawn_blocking(move || cmd.output()).await.expect("task").expect("run tollway");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        assert!(out.status.success(), "tollway {args:?} failed ({}):\n{stdout}\n{stderr}\n{}", out.status, self.server.diagnostics());
        (stdout, stderr)
    }

    /// `tollway channel open`; the channel id.
    async fn open(&self, budget: u128) -> String {
        let (stdout, _) = self
            .run(&[
                "channel", "open", "--server", &self.server.base, "--api-key", &self.user, "--deposit", &DEPOSIT.to_string(), "--budget",
                &budget.to_string(), "--json",
            ])
            .await;
        let opened: Value = serde_json::from_str(&stdout).expect("open prints JSON");
        assert_eq!(opened["default"], true, "the first channel is the default");
        opened["channel"].as_str().expect("channel id").to_owned()
    }

    /// `tollway chat`; the streamed text and the payment summary.
    async fn chat(&self, channel: &str, max_amount: u128, max_tokens: u64, prompt: &str) -> (String, Value) {
        let (text, stderr) = self
            .run(&[
                "chat", "--channel", channel, "--model", MODEL, "--max-amount", &max_amount.to_string(), "--max-tokens",
                &max_tokens.to_string(), "--json", prompt,
            ])
            .await;
        let summary = stderr.lines().rev().find_map(|l| serde_json::from_str::<Value>(l).ok()).unwrap_or_else(|| panic!("no summary in {stderr}"));
        (text, summary)
    }

    /// Both sides hold the same latest receipt, and the payee accepted it.
    async fn assert_in_sync(&self, channel: &str) -> u128 {
        let local = self.home.channel(channel);
        let remote = self.remote(channel).await;
        let sub = &remote["subs"][0];
        assert_eq!(local["sub_channel"], sub["sub_channel"]);
        assert!(!local["latest_signed"].is_null(), "something was signed");
        assert_eq!(local["latest_signed"], sub["latest"], "the payer's latest signed receipt is the payee's latest accepted");
        assert_eq!(local["latest_accepted"], sub["latest"], "and the payer knows it was accepted");
        amount(&sub["accumulated"])
    }
}

fn command(home: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tollway"));
    cmd.args(args)
        .env_remove("TOLLWAY_CONFIG")
        .env_remove("TOLLWAY_API_KEY")
        .env("TOLLWAY_PAYER_HOME", home)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

/// The cost of one request record at the test prices, checked against
/// what the payee recorded.
fn record_cost(r: &Value) -> u128 {
    let cost = amount(&r["input_tokens"]) * INPUT_PRICE + amount(&r["output_tokens"]) * OUTPUT_PRICE;
    assert_eq!(amount(&r["cost"]), cost, "the request's recorded cost is its tokens at the prices: {r}");
    cost
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_stream_is_paid_chunk_by_chunk_exactly() {
    let env = Env::start().await;
    let channel = env.open(DEPOSIT).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.home.0.join("payer.json")).expect("state file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the state file holds secret keys");
    }
    let (text, summary) = env.chat(&channel, 50_000, 500, LONG_PROMPT).await;
    let prompt = u128::from(summary["prompt_tokens"].as_u64().expect("prompt tokens"));
    let output = u128::from(summary["completion_tokens"].as_u64().expect("output tokens"));
    assert!(output >= 100, "a long answer: {output} tokens\n{text}");
    assert!(text.trim().len() > 200, "the answer was printed: {text:?}");
    let receipts = summary["receipts"].as_u64().expect("receipts");
    assert!(receipts > 1, "paid chunk by chunk, not once: {summary}");
    let expected = prompt * INPUT_PRICE + output * OUTPUT_PRICE;
    let accepted = env.assert_in_sync(&channel).await;
    assert_eq!(accepted, expected, "accepted = prompt × input price + output × output price: {summary}");
    assert_eq!(amount(&summary["accepted"]), expected, "{summary}");
    assert_eq!(amount(&summary["paid"]), expected);
    assert_eq!(amount(&summary["cost"]), expected);
    let requests = env.requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(record_cost(&requests[0]), expected);
    let remote = env.remote(&channel).await;
    assert_eq!(amount(&remote["owed"]), expected);
    assert!(remote["subs"][0]["pending"].is_null(), "nothing left unsigned: {remote}");
    // The local and remote views agree in `channel show` too.
    let (shown, _) = env.run(&["channel", "show", "--json"]).await;
    let shown: Value = serde_json::from_str(&shown).expect("show JSON");
    assert_eq!(amount(&shown["local"]["signed"]), expected);
    assert_eq!(amount(&shown["remote"]["subs"][0]["accumulated"]), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_killed_mid_stream_recovers_without_losing_a_receipt() {
    let env = Env::start().await;
    let channel = env.open(DEPOSIT).await;
    // A streaming payer, killed with SIGKILL once it printed some of the answer.
    let mut cmd = env.command(&["chat", "--model", MODEL, "--max-amount", "50000", "--max-tokens", "500", LONG_PROMPT]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let printed = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("spawn tollway chat");
        let mut stdout = child.stdout.take().expect("stdout");
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        while seen.len() < 300 {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("reap");
        (String::from_utf8_lossy(&seen).into_owned(), status)
    })
    .await
    .expect("task");
    assert!(printed.0.len() >= 300, "killed mid-stream, after some output: {:?}", printed.0);
    assert!(!printed.1.success(), "it was killed, not finished");
    // The payee notices the disconnection and records the request.
    let mut first = None;
    for _ in 0..300 {
        if let Some(r) = env.requests().await.into_iter().next() {
            first = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = first.expect("the killed request is recorded");
    assert!(!env.home.channel(&channel)["latest_signed"].is_null(), "receipts were signed before the kill");
    let (recovered, _) = env.run(&["channel", "recover", "--json"]).await;
    let recovered: Value = serde_json::from_str(&recovered).expect("recover JSON");
    assert!(["in_sync", "reposted"].contains(&recovered["action"].as_str().unwrap_or("")), "{recovered}");
    let accepted = env.assert_in_sync(&channel).await;
    assert_eq!(recovered["latest"]["nonce"], env.remote(&channel).await["subs"][0]["nonce"]);
    // What the payee charged the killed request (the chunk it was sending
    // when the payer died included): the rest is its pending proposal.
    let first_cost = amount(&first["cost"]);
    assert!(accepted > 0 && accepted <= first_cost, "paid at most what was charged: {accepted} of {first}");
    // The same channel goes on working: the second answer also pays what
    // the killed one left unsigned.
    let (text, summary) = env.chat(&channel, 50_000, 40, "Say hello.").await;
    assert!(!text.trim().is_empty());
    let accepted = env.assert_in_sync(&channel).await;
    assert_eq!(amount(&summary["accepted"]), accepted);
    let requests = env.requests().await;
    assert_eq!(requests.len(), 2);
    let total = record_cost(&requests[0]) + first_cost;
    assert_eq!(accepted, total, "both answers are paid in full, nothing twice: {requests:?}");
    assert!(env.remote(&channel).await["subs"][0]["pending"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_returns_the_unspent_deposit_to_the_wallet() {
    let env = Env::start().await;
    assert_eq!(env.balance().await, GRANT);
    let channel = env.open(DEPOSIT).await;
    assert_eq!(env.balance().await, GRANT - DEPOSIT, "the deposit left the wallet");
    let (_, summary) = env.chat(&channel, 50_000, 60, "Name three colours.").await;
    let accepted = env.assert_in_sync(&channel).await;
    assert!(accepted > 0);
    assert_eq!(amount(&summary["accepted"]), accepted);
    let (closed, _) = env.run(&["channel", "close", "--json"]).await;
    let closed: Value = serde_json::from_str(&closed).expect("close JSON");
    let remote = &closed["channel"];
    assert_eq!(remote["open"], false);
    assert_eq!(amount(&remote["claimed"]), accepted, "the payee claimed exactly what it accepted");
    assert_eq!(amount(&remote["refunded"]), DEPOSIT - accepted, "the rest went back");
    assert_eq!(env.balance().await, GRANT - accepted, "the wallet holds everything not spent");
    assert_eq!(env.home.channel(&channel)["open"], false);
    // A closed channel pays for nothing more.
    let out = tokio::task::spawn_blocking({
        let mut cmd = env.command(&["chat", "--channel", &channel, "--model", MODEL, "--max-amount", "100", "hi"]);
        move || cmd.output()
    })
    .await
    .expect("task")
    .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("channel_closed"), "{}", String::from_utf8_lossy(&out.stderr));
    // Closing again is harmless.
    env.run(&["channel", "close", &channel]).await;
    assert_eq!(env.balance().await, GRANT - accepted);
}

/// Whole answers through the SDK: each is paid (one 402, one receipt)
/// before it is handed over, the receipt bounded by the prompt and
/// `max_tokens` at the price pinned when the channel opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_answers_are_paid_before_they_are_handed_over() {
    use tollway_payer::{Payer, StateFile};
    let env = Env::start().await;
    let channel = env.open(DEPOSIT).await;
    let payer = Payer::new(StateFile::in_home(&env.home.0)).expect("payer");
    let ask = |text: &str| json!({"model": MODEL, "messages": [{"role": "user", "content": text}], "max_tokens": 30});
    let first = payer.complete(None, ask("Name a fruit."), None).await.expect("first answer");
    let first_cost = first.paid.units();
    assert!(first_cost > 0 && !first.text.is_empty());
    assert_eq!(first.paid_for.len(), 1, "one proposal, for the answer");
    assert_eq!(record_cost(&env.requests().await[0]), first_cost);
    assert_eq!(amount(&env.remote(&channel).await["subs"][0]["accumulated"]), first_cost, "paid before it was handed over");
    let second = payer.complete(None, ask("Name a colour."), None).await.expect("second answer");
    let second_cost = second.paid.units();
    assert_eq!(amount(&env.remote(&channel).await["subs"][0]["accumulated"]), first_cost + second_cost);
    // A payer whose state lost the second receipt (an old copy of the
    // file) is asked for the next answer's proposal, which already
    // includes nothing of the second (it was accepted): its review is
    // against the older receipt, so the increase looks like two answers
    // and passes only because both fit the request's cap.
    let lost = env.home.0.join("payer.json");
    let current = std::fs::read(&lost).expect("state");
    let mut old: Value = serde_json::from_slice(&current).expect("json");
    old["channels"][0]["latest_signed"] = json!(null);
    old["channels"][0]["latest_accepted"] = json!(null);
    std::fs::write(&lost, serde_json::to_vec(&old).expect("json")).expect("write");
    // A cap that covers one answer (the payee stops the answer at it) but
    // not the three the proposal now asks for since the payer's base.
    let cap = first_cost.max(second_cost) + 10;
    assert!(first_cost.min(second_cost) > 10);
    let refused = payer.complete(None, ask("Name an animal."), Some(tollway_payer::Amount::new(cap))).await.expect_err("over the cap");
    assert_eq!(refused.code(), "over_max_amount", "the proposal counts everything since the payer's latest receipt");
    // A model the payee never priced is refused before anything is sent.
    let unpriced = payer.complete(None, json!({"model": "nope", "messages": []}), None).await.expect_err("no price");
    assert!(matches!(unpriced.code(), "unpriced_model"), "{unpriced}");
    assert_eq!(env.balance().await, GRANT - DEPOSIT);
}
