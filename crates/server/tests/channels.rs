//! Payment channels against a real server and the real embedded model
//! (`TOLLWAY_TEST_MODEL`): receipts over HTTP, per-chunk paid streams with
//! pause and resume, whole answers held until paid, claims and close. Prices are 1
//! point per input token and 2 per output token. The payer here is a few
//! lines over the pure rules (`tollway_core::channel`), so the server is
//! tested on its own; the SDK and CLI are tested in crates/cli.

use serde_json::{json, Value};
use std::time::Duration;
use tollway_core::channel::wire::{decode_header, encode_header, public_key_hex, PaymentData, PaymentDue};
use tollway_core::channel::{review, ChannelId, PayerKey, PayerLimits, SignedSubRav, SubRav, SUBRAV_VERSION};
use tollway_core::Amount;
use tollway_server::Config;
use tollway_store::testing::{fresh_database_url, Backend};
use tollway_store::Store;

const MODEL: &str = "smollm2-135m-instruct";
const STORY: &str = "Write a very long story about a dragon who loves tea, with many chapters.";

struct Payee {
    base: String,
    http: reqwest::Client,
    admin: String,
    user: String,
}

async fn spawn(deposit_points: u64, window: u64, pay_timeout: u64) -> Payee {
    let url = fresh_database_url(Backend::Sqlite).await.expect("database");
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        database_url: url.clone(),
        model_path: std::env::var("TOLLWAY_TEST_MODEL").expect("TOLLWAY_TEST_MODEL (run scripts/test.sh)"),
        engine_queue: 64,
        ..Config::default()
    };
    config.channels.window_tokens = window;
    config.channels.pay_timeout_secs = pay_timeout;
    let running = tollway_server::start(config).await.expect("server starts");
    let store = Store::connect(&url).await.expect("connect");
    let (_, admin) = tollway_server::ops::create_user(&store, "admin", true).await.expect("admin");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(1200)).build().expect("client");
    let mut payee = Payee { base: format!("http://{}", running.addr), http, admin, user: String::new() };
    let price = json!({"input_per_1k": "1000", "output_per_1k": "2000", "note": "1 and 2 points per token"});
    let r = payee.http.put(payee.url(&format!("/api/admin/models/{MODEL}"))).bearer_auth(&payee.admin).json(&price).send().await.expect("price");
    assert!(r.status().is_success());
    let created = payee.post(&payee.admin.clone(), "/api/admin/users", json!({"handle": "ann"})).await.1;
    payee.user = created["api_key"].as_str().expect("key").to_owned();
    let grant = json!({"user": "ann", "amount": deposit_points.to_string(), "reason": "test", "id": "g1"});
    assert_eq!(payee.post(&payee.admin.clone(), "/api/admin/points/grant", grant).await.0, 200);
    payee
}

impl Payee {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.post(self.url(path)).bearer_auth(key).json(&body).send().await.expect("send");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, key: &str, path: &str) -> Value {
        self.http.get(self.url(path)).bearer_auth(key).send().await.expect("send").json().await.expect("json")
    }

    async fn balance(&self) -> u64 {
        let v = self.get(&self.user, "/api/user/points/balance").await;
        v["balance"].as_str().and_then(|s| s.parse().ok()).expect("balance")
    }

    async fn receipt(&self, channel: &ChannelId, receipt: &SignedSubRav) -> (u16, Value) {
        let body = json!({"receipt": receipt});
        let r = self.http.post(self.url(&format!("/api/channels/{channel}/receipts"))).json(&body).send().await.expect("send");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

/// The payer: its key, channel, and the latest receipt it signed.
struct Payer {
    key: PayerKey,
    channel: ChannelId,
    last: SubRav,
    limits: PayerLimits,
}

impl Payer {
    async fn open(payee: &Payee, deposit: u64, seed: u8) -> Payer {
        let key = PayerKey::from_bytes([seed; 32]).expect("key");
        let (status, v) = payee.post(&payee.user, "/api/channels", json!({"deposit": deposit.to_string(), "key": public_key_hex(&key.public())})).await;
        assert_eq!(status, 201, "{v}");
        let channel: ChannelId = v["id"].as_str().expect("id").parse().expect("channel id");
        let chain_id = v["chain_id"].as_u64().expect("chain id");
        let last = SubRav { version: SUBRAV_VERSION, chain_id, channel_id: channel, epoch: 1, sub_channel: key.id(), nonce: 0, accumulated: Amount::ZERO };
        let deposit = Amount::new(u128::from(deposit));
        Payer { key, channel, last, limits: PayerLimits { max_amount: deposit, entitled: deposit, budget: deposit } }
    }

    fn header(&self, receipt: Option<SignedSubRav>) -> String {
        encode_header(&PaymentData { channel: self.channel, sub_channel: self.key.id(), max_amount: None, receipt })
    }

    /// Reviews and signs a proposal (panics on a refusal: the payee here
    /// is honest).
    fn sign(&mut self, proposal: &SubRav) -> SignedSubRav {
        review(&self.last, &self.limits, proposal).expect("an honest proposal");
        self.last = *proposal;
        proposal.sign(&self.key)
    }

    async fn sub(&self, payee: &Payee) -> Value {
        payee.get(&payee.user, &format!("/api/channels/{}/subs/{}", self.channel, self.key.id())).await
    }
}

fn ask(text: &str, max_tokens: u64) -> Value {
    json!({"model": MODEL, "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens, "stream": true})
}

/// What a paid stream showed the payer.
#[derive(Default)]
struct Streamed {
    chunks: u64,
    pauses: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    finish: Option<String>,
    stopped: Option<String>,
}

/// Sends `body` with `payer`'s channel header; the stream's response (200).
async fn start_paid_stream(payee: &Payee, payer: &Payer, body: &Value) -> reqwest::Response {
    let resp = payee
        .http
        .post(payee.url("/v1/chat/completions"))
        .bearer_auth(&payee.user)
        .header("x-tollway-channel", payer.header(None))
        .json(body)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    resp
}

/// Streams `body` paid from `payer`'s channel; `pay` says whether to sign
/// and post every proposal as it arrives.
async fn paid_stream(payee: &Payee, payer: &mut Payer, body: Value, pay: bool) -> Streamed {
    let mut body = body;
    body["stream_options"] = json!({"include_usage": true});
    let mut resp = start_paid_stream(payee, payer, &body).await;
    let (mut buffer, mut seen, mut event) = (String::new(), Streamed::default(), String::new());
    while let Some(bytes) = resp.chunk().await.expect("read") {
        buffer.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = buffer.find('\n') {
            let line: String = buffer.drain(..=end).collect();
            let line = line.trim_end();
            if let Some(name) = line.strip_prefix("event: ") {
                event = name.to_owned();
                continue;
            }
            let Some(data) = line.strip_prefix("data: ") else { continue };
            if data == "[DONE]" {
                continue;
            }
            let v: Value = serde_json::from_str(data).expect("json");
            if std::mem::take(&mut event) == "payment_required" {
                seen.pauses += 1;
                let due: PaymentDue = serde_json::from_value(v).expect("pause event is a PaymentDue");
                assert!(due.required.is_some());
                if pay && due.proposal.nonce > payer.last.nonce {
                    let signed = payer.sign(&due.proposal);
                    assert_eq!(payee.receipt(&payer.channel, &signed).await.0, 200);
                }
                continue;
            }
            if let Some(usage) = v.get("usage").filter(|u| u.is_object()) {
                seen.prompt_tokens = usage["prompt_tokens"].as_u64().expect("p");
                seen.completion_tokens = usage["completion_tokens"].as_u64().expect("c");
            }
            if let Some(reason) = v["choices"][0]["finish_reason"].as_str() {
                seen.finish = Some(reason.to_owned());
                seen.stopped = v["tollway"]["stopped"].as_str().map(str::to_owned);
            }
            let content = v["choices"][0]["delta"]["content"].as_str().is_some_and(|c| !c.is_empty());
            if !content {
                continue;
            }
            seen.chunks += 1;
            let due: PaymentDue = serde_json::from_value(v["tollway"].clone()).expect("every paid chunk carries a PaymentDue");
            if pay {
                let signed = payer.sign(&due.proposal);
                let (status, r) = payee.receipt(&payer.channel, &signed).await;
                assert_eq!(status, 200, "{r}");
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_paid_per_chunk_is_owed_exactly_price_times_tokens() {
    let payee = spawn(1_000_000, 16, 30).await;
    let mut payer = Payer::open(&payee, 100_000, 1).await;
    let seen = paid_stream(&payee, &mut payer, ask(STORY, 500), true).await;
    let prompt_pause = u64::from(seen.prompt_tokens + 2 > 2 * 16);
    assert_eq!(seen.pauses, prompt_pause, "a payer that pays every chunk waits only for a prompt dearer than the window");
    assert_eq!(seen.completion_tokens, seen.chunks, "one paid chunk per token");
    assert_eq!(seen.completion_tokens, 500, "the answer runs to max_tokens");
    let owed = seen.prompt_tokens + 2 * seen.completion_tokens;
    let sub = payer.sub(&payee).await;
    assert_eq!(sub["accumulated"], owed.to_string(), "accepted = price x tokens delivered");
    assert_eq!(sub["nonce"], seen.chunks + 1, "one receipt per chunk, and the prompt's own proposal");
    let latest: SignedSubRav = serde_json::from_value(sub["latest"].clone()).expect("latest receipt");
    assert_eq!(latest.rav, payer.last, "the payee holds the payer's latest signature");
    assert!(sub["pending"].is_null(), "nothing left unsigned: {sub}");
    let channel = payee.get(&payee.user, &format!("/api/channels/{}", payer.channel)).await;
    assert_eq!(channel["owed"], owed.to_string());
    assert_eq!(payee.balance().await, 1_000_000 - 100_000, "points are not touched; the deposit is in escrow");
}

/// The payee's exposure is one window, prompt included: a payer that
/// never signs gets output worth at most the window less its prompt, and
/// a prompt dearer than the window gets no output at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_that_stops_paying_gets_at_most_the_window() {
    // W = 40 tokens at 2 points = 80 points, more than the prompt.
    let payee = spawn(1_000_000, 40, 2).await;
    let mut payer = Payer::open(&payee, 100_000, 2).await;
    let seen = paid_stream(&payee, &mut payer, ask(STORY, 100), false).await;
    let window = 2 * 40;
    assert!(seen.prompt_tokens < window, "this case needs a prompt cheaper than the window: {}", seen.prompt_tokens);
    assert_eq!(seen.prompt_tokens + 2 * seen.chunks, window - (window - seen.prompt_tokens) % 2, "delivered unpaid: the window, to the token");
    assert_eq!(seen.pauses, 1, "one pause, then the timeout");
    assert_eq!((seen.finish.as_deref(), seen.stopped.as_deref()), (Some("length"), Some("payment_timeout")));
    let sub = payer.sub(&payee).await;
    assert_eq!(sub["accumulated"], "0", "nothing was paid");
    let pending: PaymentDue = serde_json::from_value(sub["pending"].clone()).expect("the unpaid proposal is kept for recovery");
    assert_eq!(pending.proposal.accumulated, Amount::new(u128::from(seen.prompt_tokens + 2 * seen.chunks)));
    // The next stream starts with the window already used: it pauses at
    // once, and paying the proposal in the pause lets it run.
    let seen = paid_stream(&payee, &mut payer, ask(STORY, 20), true).await;
    assert!(seen.pauses >= 1, "the debt is asked for first");
    assert_eq!(seen.chunks, 20);
    let sub = payer.sub(&payee).await;
    assert_eq!(sub["accumulated"], payer.last.accumulated.to_string());
}

/// The attacker's move: a prompt far dearer than the window, never paid.
/// Before any token the stream asks for the prompt; unpaid, it ends with
/// no output, and the model's answer was never delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_dearer_than_the_window_is_paid_before_any_output() {
    // W = 4 tokens at 2 points = 8 points; the prompt costs more.
    let payee = spawn(1_000_000, 4, 2).await;
    let mut payer = Payer::open(&payee, 100_000, 12).await;
    let long = format!("{STORY} {}", "Make it about tea and dragons. ".repeat(20));
    let seen = paid_stream(&payee, &mut payer, ask(&long, 50), false).await;
    assert_eq!(seen.chunks, 0, "no output before the prompt is paid");
    assert_eq!((seen.pauses, seen.stopped.as_deref()), (1, Some("payment_timeout")));
    let sub = payer.sub(&payee).await;
    let pending: PaymentDue = serde_json::from_value(sub["pending"].clone()).expect("the prompt's proposal is pending");
    assert!(pending.proposal.accumulated > Amount::new(8), "the prompt costs more than the window: {}", pending.proposal.accumulated);
    // Paid in the pause, the same kind of request streams normally.
    let seen = paid_stream(&payee, &mut payer, ask(&long, 10), true).await;
    assert_eq!(seen.chunks, 10);
    assert!(seen.pauses >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_payer_is_paused_and_resumed() {
    let payee = spawn(1_000_000, 4, 30).await;
    let mut payer = Payer::open(&payee, 100_000, 3).await;
    // Paying only in pauses: the stream stops every W tokens and goes on
    // once the proposal in the pause is accepted.
    let mut body = ask(STORY, 40);
    body["stream_options"] = json!({"include_usage": true});
    let seen = paid_stream_pausing_only(&payee, &mut payer, body).await;
    assert_eq!(seen.chunks, 40);
    assert!(seen.pauses >= 40 / 4 - 1, "paused about every W tokens: {}", seen.pauses);
    let owed = seen.prompt_tokens + 2 * 40;
    let sub = payer.sub(&payee).await;
    let accepted: u64 = sub["accumulated"].as_str().and_then(|s| s.parse().ok()).expect("accepted");
    assert!(accepted + 2 * 4 + seen.prompt_tokens >= owed && accepted <= owed, "unpaid at the end within the window");
}

/// Like [`paid_stream`], but pays only when the stream pauses.
async fn paid_stream_pausing_only(payee: &Payee, payer: &mut Payer, body: Value) -> Streamed {
    let mut resp = start_paid_stream(payee, payer, &body).await;
    let (mut buffer, mut seen, mut pause) = (String::new(), Streamed::default(), false);
    while let Some(bytes) = resp.chunk().await.expect("read") {
        buffer.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = buffer.find('\n') {
            let line: String = buffer.drain(..=end).collect();
            let line = line.trim_end();
            if line == "event: payment_required" {
                pause = true;
                continue;
            }
            let Some(data) = line.strip_prefix("data: ").filter(|d| *d != "[DONE]") else { continue };
            let v: Value = serde_json::from_str(data).expect("json");
            if std::mem::take(&mut pause) {
                seen.pauses += 1;
                let due: PaymentDue = serde_json::from_value(v).expect("PaymentDue");
                let signed = payer.sign(&due.proposal);
                assert_eq!(payee.receipt(&payer.channel, &signed).await.0, 200);
            } else if v["choices"][0]["delta"]["content"].as_str().is_some_and(|c| !c.is_empty()) {
                seen.chunks += 1;
            } else if let Some(usage) = v.get("usage").filter(|u| u.is_object()) {
                seen.prompt_tokens = usage["prompt_tokens"].as_u64().expect("p");
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adversarial_receipts_are_refused_with_their_codes_and_change_nothing() {
    let payee = spawn(1_000_000, 16, 30).await;
    let mut payer = Payer::open(&payee, 1_000, 4).await;
    let other = Payer::open(&payee, 1_000, 5).await;
    // An honest first receipt (signed directly: the payer may pay ahead).
    let first = SubRav { nonce: 1, accumulated: Amount::new(100), ..payer.last };
    let good = first.sign(&payer.key);
    assert_eq!(payee.receipt(&payer.channel, &good).await, (200, json!({"nonce": 1, "accepted": "100", "replay": false})));
    payer.last = first;
    let before = payer.sub(&payee).await;
    let rav = |nonce: u64, amount: u128| SubRav { nonce, accumulated: Amount::new(amount), ..first };
    let stranger = PayerKey::from_bytes([99; 32]).expect("key");
    let cases: Vec<(&str, SignedSubRav, u16, &str)> = vec![
        ("replayed", good, 200, ""),
        ("the same nonce, another amount", rav(1, 150).sign(&payer.key), 409, "idempotency_conflict"),
        ("stale nonce", rav(0, 150).sign(&payer.key), 409, "nonce_stale"),
        ("lower amount", rav(2, 50).sign(&payer.key), 409, "amount_decreased"),
        ("wrong key", rav(2, 150).sign(&stranger), 403, "signature_invalid"),
        ("another epoch", SubRav { epoch: 0, ..rav(2, 150) }.sign(&payer.key), 409, "epoch_mismatch"),
        ("another chain", SubRav { chain_id: 1, ..rav(2, 150) }.sign(&payer.key), 409, "wrong_chain"),
        ("over collateral", rav(2, 1_001).sign(&payer.key), 402, "exceeds_collateral"),
    ];
    for (name, receipt, status, code) in cases {
        let (got, v) = payee.receipt(&payer.channel, &receipt).await;
        assert_eq!(got, status, "{name}: {v}");
        if status == 200 {
            assert_eq!(v["replay"], true, "{name}");
        } else {
            assert_eq!(v["error"]["code"], code, "{name}");
        }
        assert_eq!(payer.sub(&payee).await, before, "{name} changed nothing");
    }
    // Another channel's receipt, posted to this channel or its own.
    let theirs = SubRav { channel_id: other.channel, ..rav(2, 150) }.sign(&payer.key);
    assert_eq!(payee.receipt(&payer.channel, &theirs).await.1["error"]["code"], "channel_mismatch");
    assert_eq!(payee.receipt(&other.channel, &theirs).await.1["error"]["code"], "unknown_sub_channel");
    let nowhere = SubRav { channel_id: ChannelId([7; 32]), ..rav(2, 150) }.sign(&payer.key);
    assert_eq!(payee.receipt(&nowhere.rav.channel_id, &nowhere).await, (404, json!({"error": {"code": "unknown_channel", "message": "no such channel"}})));
    // Garbage.
    let url = payee.url(&format!("/api/channels/{}/receipts", payer.channel));
    for body in [&b"\x00\xff garbage"[..], b"{}", b"{\"receipt\":\"0x00\"}", b"[1,2,3]"] {
        let r = payee.http.post(&url).body(body.to_vec()).send().await.expect("send");
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["error"]["code"], "malformed_payment");
    }
    let bad_header = payee
        .http
        .post(payee.url("/v1/chat/completions"))
        .bearer_auth(&payee.user)
        .header("x-tollway-channel", "%%%")
        .json(&ask("hi", 2))
        .send()
        .await
        .expect("send");
    assert_eq!(bad_header.status(), 400);
    assert_eq!(payer.sub(&payee).await, before, "state unchanged after every refusal");
    // Someone else's channel is not there for this user.
    let (_, eve) = payee.post(&payee.admin.clone(), "/api/admin/users", json!({"handle": "eve"})).await;
    let eve_key = eve["api_key"].as_str().expect("key");
    let v = payee.get(eve_key, &format!("/api/channels/{}", payer.channel)).await;
    assert_eq!(v["error"]["code"], "unknown_channel");
}

/// A whole answer is made, held, and handed over only once paid: the
/// attacker's move (ask, never sign, close) gets no answer and costs
/// nothing, and the deposit comes back whole because nothing was
/// delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_answers_are_handed_over_only_once_paid() {
    let payee = spawn(1_000_000, 16, 30).await;
    let mut payer = Payer::open(&payee, 100_000, 6).await;
    let mut body = ask("What is the capital of France?", 12);
    body["stream"] = json!(false);
    let send = |header: String, body: &Value| {
        payee.http.post(payee.url("/v1/chat/completions")).bearer_auth(&payee.user).header("x-tollway-channel", header).json(body).send()
    };
    let r = send(payer.header(None), &body).await.expect("send");
    assert_eq!(r.status(), 402);
    let due: PaymentDue = decode_header(r.headers()["x-tollway-channel"].as_bytes()).expect("a proposal in the header");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "payment_required");
    assert!(v.get("choices").is_none(), "no answer before payment: {v}");
    assert_eq!(serde_json::from_value::<PaymentDue>(v["tollway"].clone()).expect("body"), due);
    // Asked again unpaid: the same proposal, no new answer made.
    let r = send(payer.header(None), &body).await.expect("send");
    assert_eq!(r.status(), 402);
    let again: PaymentDue = decode_header(r.headers()["x-tollway-channel"].as_bytes()).expect("header");
    assert_eq!(again.proposal, due.proposal);
    // Another request meanwhile: the held answer's proposal first.
    let mut other = body.clone();
    other["messages"][0]["content"] = json!("Name a colour.");
    let r = send(payer.header(None), &other).await.expect("send");
    assert_eq!(r.status(), 402);
    assert_eq!(decode_header::<PaymentDue>(r.headers()["x-tollway-channel"].as_bytes()).expect("header").proposal, due.proposal);
    // Paid with the same request again: the answer, with nothing more to sign.
    let signed = payer.sign(&due.proposal);
    let r = send(payer.header(Some(signed)), &body).await.expect("send");
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-tollway-channel").is_none());
    let v: Value = r.json().await.expect("json");
    let cost = v["usage"]["prompt_tokens"].as_u64().expect("p") + 2 * v["usage"]["completion_tokens"].as_u64().expect("c");
    assert_eq!(due.proposal.accumulated, Amount::new(u128::from(cost)), "the proposal is the answer's cost");
    assert!(!v["choices"][0]["message"]["content"].as_str().expect("content").is_empty());
    // The same request once more (a lost response): the same answer, free.
    let r = send(payer.header(None), &body).await.expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json"), v);
    assert_eq!(payer.sub(&payee).await["accumulated"], cost.to_string());

    // The attacker: a fresh channel, a request, no signature, close.
    let attacker = Payer::open(&payee, 50_000, 16).await;
    let balance = payee.balance().await;
    // The same request as the paid one: held answers are per channel and
    // sub-channel, so the victim's paid answer is not the attacker's.
    let r = send(attacker.header(None), &body).await.expect("send");
    assert_eq!(r.status(), 402);
    let (status, closed) = payee.post(&payee.user.clone(), &format!("/api/channels/{}/close", attacker.channel), json!({})).await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!((closed["claimed"].as_str(), closed["refunded"].as_str()), (Some("0"), Some("50000")), "nothing delivered, nothing owed");
    assert_eq!(payee.balance().await, balance + 50_000);
    let r = send(attacker.header(None), &body).await.expect("send");
    assert_eq!(r.json::<Value>().await.expect("json")["error"]["code"], "channel_closed", "a closed channel hands over nothing");
    let audit = payee.get(&payee.admin, "/api/admin/ledger/audit").await;
    assert_eq!(audit["ok"], true, "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_post_exactly_what_was_accepted_once_and_close_refunds_the_rest() {
    let payee = spawn(1_000_000, 16, 30).await;
    let mut payer = Payer::open(&payee, 10_000, 7).await;
    let seen = paid_stream(&payee, &mut payer, ask(STORY, 30), true).await;
    let owed = seen.prompt_tokens + 2 * seen.completion_tokens;
    let claim = payee.post(&payee.admin.clone(), "/api/admin/channels/claims", json!({})).await;
    assert_eq!(claim, (200, json!({"sub_channels": 1, "amount": owed.to_string()})));
    let again = payee.post(&payee.admin.clone(), "/api/admin/channels/claims", json!({})).await;
    assert_eq!(again, (200, json!({"sub_channels": 0, "amount": "0"})), "never claimed twice");
    let (status, closed) = payee.post(&payee.user.clone(), &format!("/api/channels/{}/close", payer.channel), json!({})).await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["open"], false);
    assert_eq!(closed["claimed"], owed.to_string());
    assert_eq!(closed["refunded"], (10_000 - owed).to_string());
    assert_eq!(payee.balance().await, 1_000_000 - owed, "the rest of the deposit is back in the wallet");
    let (status, v) = payee.post(&payee.user.clone(), &format!("/api/channels/{}/close", payer.channel), json!({})).await;
    assert_eq!((status, &v["refunded"]), (200, &closed["refunded"]), "closing twice changes nothing");
    assert_eq!(payee.balance().await, 1_000_000 - owed);
    let late = SubRav { nonce: payer.last.nonce + 1, accumulated: payer.last.accumulated.checked_add(Amount::new(1)).expect("sum"), ..payer.last };
    let (status, v) = payee.receipt(&payer.channel, &late.sign(&payer.key)).await;
    assert_eq!((status, v["error"]["code"].as_str()), (409, Some("channel_closed")));
    let audit = payee.get(&payee.admin, "/api/admin/ledger/audit").await;
    assert_eq!(audit["ok"], true, "{audit}");
}
