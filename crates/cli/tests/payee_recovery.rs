//! The payee killed with SIGKILL in the middle of a paid stream: after a
//! restart on the same database no acknowledged receipt is lost, the
//! payer's last receipt (acknowledged or not) is accepted or a no-op, the
//! channel goes on, and claims post exactly the accepted total, once,
//! even across another kill. Real `tollway serve` processes, the real
//! embedded model (`TOLLWAY_TEST_MODEL`), SQLite.

use serde_json::{json, Value};
use std::time::Duration;
use tollway_core::channel::wire::{encode_header, public_key_hex, PaymentData, PaymentDue};
use tollway_core::channel::{review, ChannelId, PayerKey, PayerLimits, SignedSubRav, SubRav, SUBRAV_VERSION};
use tollway_core::Amount;
use tollway_server::ops;
use tollway_store::testing::{fresh_database_url, Backend};
use tollway_store::Store;

mod common;
use common::Server;

const MODEL: &str = "smollm2-135m-instruct";

fn model() -> String {
    std::env::var("TOLLWAY_TEST_MODEL").expect("TOLLWAY_TEST_MODEL (run scripts/test.sh)")
}

struct Payer {
    key: PayerKey,
    channel: ChannelId,
    /// The latest receipt signed.
    signed: SubRav,
    /// The latest receipt the payee answered 200 for.
    confirmed: SubRav,
}

async fn post(http: &reqwest::Client, url: String, key: Option<&str>, body: Value) -> Result<(u16, Value), reqwest::Error> {
    let mut req = http.post(url).json(&body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let r = req.send().await?;
    Ok((r.status().as_u16(), r.json().await.unwrap_or(Value::Null)))
}

impl Payer {
    fn sign(&mut self, proposal: &SubRav) -> SignedSubRav {
        let limits = PayerLimits { max_amount: Amount::new(10_000), entitled: Amount::new(10_000), budget: Amount::new(1_000_000) };
        review(&self.signed, &limits, proposal).expect("an honest proposal");
        self.signed = *proposal;
        proposal.sign(&self.key)
    }

    /// Posts a receipt; `None` when the payee is gone.
    async fn pay(&mut self, http: &reqwest::Client, server: &Server, receipt: &SignedSubRav) -> Option<Value> {
        let url = server.url(&format!("/api/channels/{}/receipts", self.channel));
        match post(http, url, None, json!({"receipt": receipt})).await {
            Ok((200, v)) => {
                self.confirmed = receipt.rav;
                Some(v)
            }
            Ok((status, v)) => panic!("receipt refused: {status} {v}"),
            Err(_) => None,
        }
    }
}

/// Streams an answer paying every chunk; stops reading after `stop_after`
/// paid chunks (returns early) or when the stream or the server ends.
async fn stream(http: &reqwest::Client, server: &Server, user: &str, payer: &mut Payer, max_tokens: u64, stop_after: Option<u64>) -> u64 {
    let header = encode_header(&PaymentData { channel: payer.channel, sub_channel: payer.key.id(), max_amount: None, receipt: None });
    let body = json!({"model": MODEL, "messages": [{"role": "user", "content": "Tell a long story about a ship."}], "max_tokens": max_tokens, "stream": true});
    let mut resp = http.post(server.url("/v1/chat/completions")).bearer_auth(user).header("x-tollway-channel", header).json(&body).send().await.expect("send");
    assert_eq!(resp.status(), 200);
    let (mut buffer, mut paid, mut pause) = (String::new(), 0u64, false);
    while let Ok(Some(bytes)) = resp.chunk().await {
        buffer.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = buffer.find('\n') {
            let line: String = buffer.drain(..=end).collect();
            if line.trim_end() == "event: payment_required" {
                pause = true;
                continue;
            }
            let Some(data) = line.trim_end().strip_prefix("data: ").filter(|d| *d != "[DONE]") else { continue };
            let v: Value = serde_json::from_str(data).expect("json");
            if std::mem::take(&mut pause) {
                // The prompt (dearer than the window) is asked for first.
                let due: PaymentDue = serde_json::from_value(v).expect("PaymentDue");
                let receipt = payer.sign(&due.proposal);
                if payer.pay(http, server, &receipt).await.is_none() {
                    return paid;
                }
                continue;
            }
            if v["choices"][0]["delta"]["content"].as_str().is_none_or(str::is_empty) {
                continue;
            }
            let due: PaymentDue = serde_json::from_value(v["tollway"].clone()).expect("PaymentDue");
            let receipt = payer.sign(&due.proposal);
            if payer.pay(http, server, &receipt).await.is_none() {
                return paid;
            }
            paid += 1;
            if stop_after.is_some_and(|n| paid >= n) {
                return paid;
            }
        }
    }
    paid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payee_killed_mid_stream_loses_no_receipt_and_claims_exactly_once() {
    let url = fresh_database_url(Backend::Sqlite).await.expect("database");
    let store = Store::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let (_, admin) = ops::create_user(&store, "admin", true).await.expect("admin");
    let (_, user) = ops::create_user(&store, "ann", false).await.expect("user");
    ops::set_price(&store, MODEL, "1000", "2000", None, true, "test", None).await.expect("price");
    let env = [("TOLLWAY_MODEL_PATH", model())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("client");
    let mut server = Server::start_with(&url, &env).await;
    let grant = json!({"user": "ann", "amount": "100000", "reason": "test", "id": "g1"});
    assert_eq!(post(&http, server.url("/api/admin/points/grant"), Some(&admin), grant).await.expect("grant").0, 200);

    let key = PayerKey::from_bytes([42; 32]).expect("key");
    let open = json!({"deposit": "50000", "key": public_key_hex(&key.public())});
    let (status, v) = post(&http, server.url("/api/channels"), Some(&user), open).await.expect("open");
    assert_eq!(status, 201, "{v}");
    let channel: ChannelId = v["id"].as_str().expect("id").parse().expect("channel id");
    let zero = SubRav { version: SUBRAV_VERSION, chain_id: v["chain_id"].as_u64().expect("chain"), channel_id: channel, epoch: 1, sub_channel: key.id(), nonce: 0, accumulated: Amount::ZERO };
    let mut payer = Payer { key, channel, signed: zero, confirmed: zero };

    // Pay 12 chunks; then, with the stream still running, post receipts
    // back to back and kill the payee with SIGKILL while they flow: the
    // receipt being written when it dies may or may not have landed.
    let paid = stream(&http, &server, &user, &mut payer, 300, Some(12)).await;
    assert_eq!(paid, 12);
    let receipts_url = server.url(&format!("/api/channels/{channel}/receipts"));
    let (mut acknowledged, mut unanswered) = (0u32, None);
    let flood = async {
        loop {
            let next = SubRav { nonce: payer.signed.nonce + 1, accumulated: payer.signed.accumulated.checked_add(Amount::new(2)).expect("sum"), ..payer.signed };
            let receipt = payer.sign(&next);
            match post(&http, receipts_url.clone(), None, json!({"receipt": receipt})).await {
                Ok((200, _)) => {
                    payer.confirmed = receipt.rav;
                    acknowledged += 1;
                }
                Ok((status, v)) => panic!("receipt refused: {status} {v}"),
                Err(_) => {
                    unanswered = Some(receipt);
                    break;
                }
            }
        }
    };
    let kill = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        server.kill();
    };
    tokio::join!(flood, kill);
    assert!(acknowledged >= 5, "the kill came while receipts were flowing ({acknowledged} acknowledged before it)");
    let unacknowledged = unanswered.expect("the receipt posted when the payee died got no answer");
    assert_eq!(unacknowledged.rav, payer.signed);

    let mut server = Server::start_with(&url, &env).await;
    let sub_url = server.url(&format!("/api/channels/{channel}/subs/{}", payer.key.id()));
    let sub: Value = http.get(&sub_url).bearer_auth(&user).send().await.expect("send").json().await.expect("json");
    let latest: SignedSubRav = serde_json::from_value(sub["latest"].clone()).expect("latest receipt");
    assert!(
        latest.rav == payer.confirmed || latest.rav == payer.signed,
        "the payee holds the last acknowledged receipt or the one in flight, nothing else: {:?}",
        latest.rav
    );
    // Recovery: the payer sends its last receipt again (accepted, or a
    // no-op if it had landed).
    let again = payer.pay(&http, &server, &unacknowledged).await.expect("payee is back");
    assert_eq!(again["accepted"], payer.signed.accumulated.to_string());
    assert_eq!(payer.pay(&http, &server, &unacknowledged).await.expect("replay")["replay"], true, "sending it twice is a no-op");
    // The channel goes on from there.
    assert!(stream(&http, &server, &user, &mut payer, 10, None).await > 0);
    let owed = payer.confirmed.accumulated;

    let (status, claim) = post(&http, server.url("/api/admin/channels/claims"), Some(&admin), json!({})).await.expect("claim");
    assert_eq!((status, claim["amount"].as_str()), (200, Some(owed.to_string().as_str())), "{claim}");
    server.kill();
    let server = Server::start_with(&url, &env).await;
    let (_, claim) = post(&http, server.url("/api/admin/channels/claims"), Some(&admin), json!({})).await.expect("claim");
    assert_eq!(claim["amount"], "0", "nothing is claimed twice, across a kill");
    let audit: Value = http.get(server.url("/api/admin/ledger/audit")).bearer_auth(&admin).send().await.expect("send").json().await.expect("json");
    assert_eq!(audit["ok"], true, "{audit}");
    let channel_view: Value = http.get(server.url(&format!("/api/channels/{channel}"))).bearer_auth(&user).send().await.expect("send").json().await.expect("json");
    assert_eq!(channel_view["claimed"], owed.to_string());
}
