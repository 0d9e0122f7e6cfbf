//! The payer SDK against a hostile payee. The payee here is the attacker,
//! so it is a small HTTP server written for the test: it speaks the real
//! wire format (docs/channels.md) and asks for more than it delivered.
//! The SDK must sign nothing beyond what it received at the price it
//! pinned when the channel opened, plus the documented slack.
//!
//! Prices: prompt tokens free, output 1 point per token; the payer's
//! entitlement after n one-byte chunks is 2n + 16 points (a one-byte chunk
//! may be 2 tokens at most: its byte and one that decodes to nothing; 16
//! tokens of slack).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use axum::body::Body;
use futures::StreamExt;
use tollway_core::channel::wire::{decode_header, encode_header, parse_public_key, PaymentData, PaymentDue};
use tollway_core::channel::{ChannelId, KeyId, SignedSubRav, SubRav, SUBRAV_VERSION};
use tollway_core::Amount;
use tollway_payer::{OpenRequest, Payer, StateFile};

/// How the payee cheats.
#[derive(Clone, Copy, Debug)]
enum Cheat {
    /// Every one-byte chunk proposes 5 points more.
    Inflate,
    /// One honest chunk, then a chunk without content proposing the
    /// whole deposit.
    EmptyChunkDrain,
    /// A whole answer: 402 for the whole deposit, before anything.
    WholeDrain,
    /// A whole answer: 402 for a fair-looking amount, then a second 402
    /// for as much again in the same request.
    DoubleAsk,
}

struct Hostile {
    cheat: Cheat,
    channel: ChannelId,
    sub: Mutex<Option<(KeyId, String)>>,
    nonce: Mutex<u64>,
    received: Mutex<Vec<SignedSubRav>>,
}

const DEPOSIT: u128 = 100_000;

impl Hostile {
    fn proposal(&self, accumulated: u128) -> SubRav {
        let mut nonce = self.nonce.lock().expect("lock");
        *nonce += 1;
        let sub = self.sub.lock().expect("lock").as_ref().expect("opened").0;
        SubRav { version: SUBRAV_VERSION, chain_id: 7, channel_id: self.channel, epoch: 1, sub_channel: sub, nonce: *nonce, accumulated: Amount::new(accumulated) }
    }

    fn due(&self, accumulated: u128) -> PaymentDue {
        PaymentDue { proposal: self.proposal(accumulated), cost: Amount::new(accumulated), accepted: Amount::ZERO, required: None, stopped: None }
    }

    fn channel_json(&self) -> Value {
        let (id, key) = self.sub.lock().expect("lock").clone().expect("opened");
        json!({"id": self.channel, "chain_id": 7, "epoch": 1, "asset": "POINTS", "collateral": DEPOSIT.to_string(), "open": true,
               "owed": "0", "claimed": "0", "refunded": "0",
               "subs": [{"sub_channel": id, "key": key, "nonce": 0, "accumulated": "0", "claimed": "0"}]})
    }
}

type Shared = Arc<Hostile>;

async fn prices() -> Json<Value> {
    Json(json!({"asset": "POINTS", "prices": [{"model": "m", "version": 1, "input_per_1k": "0", "output_per_1k": "1000"}]}))
}

async fn open(State(h): State<Shared>, Json(body): Json<Value>) -> Response {
    let key = body["key"].as_str().expect("key").to_owned();
    let id = KeyId::of(&parse_public_key(&key).expect("a public key"));
    *h.sub.lock().expect("lock") = Some((id, key));
    (StatusCode::CREATED, Json(h.channel_json())).into_response()
}

async fn receipts(State(h): State<Shared>, Path(_id): Path<String>, Json(body): Json<Value>) -> Json<Value> {
    let receipt: SignedSubRav = serde_json::from_value(body["receipt"].clone()).expect("a receipt");
    h.received.lock().expect("lock").push(receipt);
    Json(json!({"nonce": receipt.rav.nonce, "accepted": receipt.rav.accumulated, "replay": false}))
}

fn chunk(content: &str, due: &PaymentDue) -> String {
    let v = json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}], "tollway": due});
    format!("data: {v}\n\n")
}

async fn chat(State(h): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let data: PaymentData = decode_header(headers["x-tollway-channel"].as_bytes()).expect("payment data");
    if let Some(receipt) = data.receipt {
        h.received.lock().expect("lock").push(receipt);
    }
    if body["stream"] == false {
        let total = match h.cheat {
            Cheat::WholeDrain => DEPOSIT,
            // 30 tokens of max_tokens: 30 points is fair; then as much again.
            _ => 30 * (u128::from(*h.nonce.lock().expect("lock")) + 1),
        };
        let due = h.due(total);
        let mut response = (StatusCode::PAYMENT_REQUIRED, Json(json!({"error": {"code": "payment_required", "message": "pay"}, "tollway": due}))).into_response();
        response.headers_mut().insert("x-tollway-channel", encode_header(&due).parse().expect("header"));
        return response;
    }
    let mut events = Vec::new();
    match h.cheat {
        Cheat::Inflate => {
            for n in 1..=20u128 {
                events.push(chunk("a", &h.due(5 * n)));
            }
        }
        Cheat::EmptyChunkDrain => {
            events.push(chunk("a", &h.due(2)));
            events.push(chunk("", &h.due(DEPOSIT)));
            events.push(chunk("b", &h.due(DEPOSIT + 1)));
        }
        _ => unreachable!("streams are not asked in this mode"),
    }
    events.push("data: [DONE]\n\n".to_owned());
    // One event at a time, so the payer's signer sees each proposal.
    let paced = futures::stream::iter(events).then(|event| async move {
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        Ok::<_, std::convert::Infallible>(event)
    });
    ([("content-type", "text/event-stream")], Body::from_stream(paced)).into_response()
}

async fn start(cheat: Cheat) -> (String, Shared) {
    let hostile = Arc::new(Hostile { cheat, channel: ChannelId([7; 32]), sub: Mutex::default(), nonce: Mutex::default(), received: Mutex::default() });
    let app = Router::new()
        .route("/api/prices", get(prices))
        .route("/api/channels", post(open))
        .route("/api/channels/{id}/receipts", post(receipts))
        .route("/v1/chat/completions", post(chat))
        .with_state(hostile.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}"), hostile)
}

struct TempHome(std::path::PathBuf);

impl Drop for TempHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn payer_on(cheat: Cheat) -> (Payer, Shared, TempHome) {
    let (server, hostile) = start(cheat).await;
    let home = TempHome(std::env::temp_dir().join(format!("tollway-hostile-{}-{cheat:?}", std::process::id())));
    let _ = std::fs::remove_dir_all(&home.0);
    let payer = Payer::new(StateFile::in_home(&home.0)).expect("payer");
    let request = OpenRequest { server, api_key: "k".into(), deposit: Amount::new(DEPOSIT), budget: Amount::new(DEPOSIT), max_amount: None };
    payer.open(request).await.expect("open");
    (payer, hostile, home)
}

fn ask(stream: bool) -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 30, "stream": stream})
}

fn signed_totals(h: &Hostile) -> Vec<u128> {
    h.received.lock().expect("lock").iter().map(|r| r.rav.accumulated.units()).collect()
}

#[tokio::test]
async fn an_inflating_payee_gets_no_more_than_what_was_received_plus_the_slack() {
    let (payer, hostile, _home) = payer_on(Cheat::Inflate).await;
    let e = payer.chat(None, ask(true), None, |_| {}).await.expect_err("refused");
    assert_eq!(e.code(), "over_received", "{e}");
    // Entitled after n chunks: 2n + 16; asked 5n: signed up to n = 5.
    let signed = signed_totals(&hostile);
    assert_eq!(signed.last().copied(), Some(25), "{signed:?}");
    assert!(signed.iter().all(|t| *t <= 2 * 5 + 16));
    let local = payer.local(None).await.expect("record");
    assert_eq!(local.signed_total(), Amount::new(25), "nothing above it was ever signed");
}

#[tokio::test]
async fn a_proposal_on_a_chunk_without_content_is_refused() {
    let (payer, hostile, _home) = payer_on(Cheat::EmptyChunkDrain).await;
    let e = payer.chat(None, ask(true), None, |_| {}).await.expect_err("refused");
    assert_eq!(e.code(), "over_received", "{e}");
    assert!(signed_totals(&hostile).iter().all(|t| *t <= 2), "only the honest first chunk: {:?}", signed_totals(&hostile));
}

#[tokio::test]
async fn a_whole_answer_priced_at_the_whole_deposit_is_refused() {
    let (payer, hostile, _home) = payer_on(Cheat::WholeDrain).await;
    let e = payer.complete(None, ask(false), None).await.expect_err("refused");
    assert_eq!(e.code(), "over_max_amount", "the default cap is the price of max_tokens: {e}");
    let e = payer.complete(None, ask(false), Some(Amount::new(DEPOSIT))).await.expect_err("refused");
    assert_eq!(e.code(), "over_received", "even with a cap that allows it, 30 tokens are not worth the deposit: {e}");
    assert!(signed_totals(&hostile).is_empty());
}

#[tokio::test]
async fn a_second_402_in_the_same_request_counts_against_its_cap() {
    let (payer, hostile, _home) = payer_on(Cheat::DoubleAsk).await;
    let e = payer.complete(None, ask(false), None).await.expect_err("refused");
    assert_eq!(e.code(), "over_max_amount", "{e}");
    // 30 points (30 tokens at 1 point) fit the request's cap (30 tokens +
    // 16 slack = 46); 30 more in the same request do not.
    assert_eq!(signed_totals(&hostile), vec![30]);
}
