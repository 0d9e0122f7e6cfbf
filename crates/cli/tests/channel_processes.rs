//! Issue 13 across processes: two `tollway serve` processes on one
//! PostgreSQL database, the real embedded model. A whole answer made by
//! one process is held in the database: unpaid, neither process hands it
//! over (nor makes another); paid through the other process, it is handed
//! over there, once made and never twice charged; a payer who never pays
//! and closes gets its deposit back and no answer.
//!
//! Needs `TOLLWAY_TEST_PG_URL` (`scripts/pg.sh start`) and
//! `TOLLWAY_TEST_MODEL` (`scripts/fetch-model.sh`).

use serde_json::{json, Value};
use tollway_core::channel::wire::{decode_header, encode_header, public_key_hex, PaymentData, PaymentDue};
use tollway_core::channel::{ChannelId, PayerKey, SignedSubRav};
use tollway_server::ops;
use tollway_store::testing::Backend;

mod common;
mod ledger_env;
use common::Server;
use ledger_env::*;

const MODEL: &str = "smollm2-135m-instruct";

/// Sends a whole chat request paid from `channel`: (status, the
/// `X-Tollway-Channel` answer if any, the body).
async fn ask(env: &Env, server: &Server, key: &str, data: &PaymentData, body: &Value) -> (u16, Option<PaymentDue>, Value) {
    let resp = env
        .http
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(key)
        .header("x-tollway-channel", encode_header(data))
        .json(body)
        .send()
        .await
        .expect("chat sent");
    let status = resp.status().as_u16();
    let due = resp.headers().get("x-tollway-channel").map(|h| decode_header::<PaymentDue>(h.as_bytes()).expect("a PaymentDue"));
    (status, due, resp.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_held_answer_is_handed_over_by_either_process_once_paid_and_never_unpaid() {
    let model = std::env::var("TOLLWAY_TEST_MODEL").expect("TOLLWAY_TEST_MODEL (scripts/fetch-model.sh)");
    let env = bootstrap(Backend::Postgres).await;
    ops::set_price(&env.store, MODEL, "1000", "2000", None, true, "test", None).await.expect("model price");
    let with_model = [("TOLLWAY_MODEL_PATH", model.as_str())];
    let (a, b) = tokio::join!(Server::start_with(&env.database_url, &with_model), Server::start_with(&env.database_url, &with_model));
    let key = env.new_user("payer").await;
    env.grant(&a, "payer", 100_000).await;

    let payer = PayerKey::from_bytes([21; 32]).expect("key");
    let (status, opened) = env.post(&a, "/api/channels", &key, &json!({"deposit": "20000", "key": public_key_hex(&payer.public())})).await;
    assert_eq!(status, 201, "{opened}");
    let channel: ChannelId = opened["id"].as_str().expect("id").parse().expect("channel id");
    let unpaid = PaymentData { channel, sub_channel: payer.id(), max_amount: None, receipt: None };
    let body = json!({"model": MODEL, "messages": [{"role": "user", "content": "Name three rivers."}], "max_tokens": 24});

    // Made by A, held: neither process hands it over unpaid.
    let (status, due, made) = ask(&env, &a, &key, &unpaid, &body).await;
    assert_eq!(status, 402, "{made}");
    let due = due.expect("the proposal");
    for server in [&a, &b] {
        let (status, again, v) = ask(&env, server, &key, &unpaid, &body).await;
        assert_eq!((status, again.map(|d| d.proposal)), (402, Some(due.proposal)), "the same proposal, no new answer: {v}");
    }
    let requests = env.get(&b, "/api/user/requests?limit=50", &key).await;
    assert_eq!(requests.as_array().expect("requests").len(), 1, "one answer made, however often it was asked for");

    // Paid through B: B hands over the answer A made; A too, afterwards.
    let receipt: SignedSubRav = due.proposal.sign(&payer);
    let paid = PaymentData { receipt: Some(receipt), ..unpaid.clone() };
    let (status, none, answer) = ask(&env, &b, &key, &paid, &body).await;
    assert_eq!((status, none), (200, None), "{answer}");
    let cost = u128::from(answer["usage"]["prompt_tokens"].as_u64().expect("p")) + 2 * u128::from(answer["usage"]["completion_tokens"].as_u64().expect("c"));
    assert_eq!(due.proposal.accumulated.units(), cost);
    let (status, _, again) = ask(&env, &a, &key, &unpaid, &body).await;
    assert_eq!((status, &again), (200, &answer), "the same answer from the other process, nothing more to pay");
    let sub = env.get(&a, &format!("/api/channels/{channel}/subs/{}", payer.id()), &key).await;
    assert_eq!(amount(&sub["accumulated"]), cost);

    // A stream from A paid through B: A sees B's receipts (at its pauses
    // it reads the channel again) and the stream runs to its end.
    let mut stream_body = body.clone();
    stream_body["stream"] = json!(true);
    stream_body["max_tokens"] = json!(40);
    let mut resp = env.http.post(a.url("/v1/chat/completions")).bearer_auth(&key).header("x-tollway-channel", encode_header(&unpaid)).json(&stream_body).send().await.expect("stream");
    assert_eq!(resp.status(), 200);
    let (mut buffer, mut pause, mut last, mut chunks, mut stopped) = (String::new(), false, due.proposal, 0, None);
    while let Some(bytes) = resp.chunk().await.expect("read") {
        buffer.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = buffer.find('\n') {
            let line: String = buffer.drain(..=end).collect();
            if line.trim_end() == "event: payment_required" {
                pause = true;
                continue;
            }
            let Some(data) = line.trim_end().strip_prefix("data: ").filter(|d| *d != "[DONE]") else { continue };
            let v: Value = serde_json::from_str(data).expect("json");
            let due = if std::mem::take(&mut pause) {
                Some(serde_json::from_value::<PaymentDue>(v).expect("pause"))
            } else if v["choices"][0]["delta"]["content"].as_str().is_some_and(|c| !c.is_empty()) {
                chunks += 1;
                Some(serde_json::from_value::<PaymentDue>(v["tollway"].clone()).expect("chunk"))
            } else {
                if v["choices"][0]["finish_reason"].is_string() {
                    stopped = v["tollway"]["stopped"].as_str().map(str::to_owned);
                }
                None
            };
            if let Some(due) = due.filter(|d| d.proposal.nonce > last.nonce) {
                let (status, v) = env.post(&b, &format!("/api/channels/{channel}/receipts"), &key, &json!({"receipt": due.proposal.sign(&payer)})).await;
                assert_eq!(status, 200, "{v}");
                last = due.proposal;
            }
        }
    }
    assert_eq!((chunks, stopped), (40, None), "paid through the other process, the stream was never stopped");

    // A second payer asks and never pays, then closes: no answer, whole deposit back.
    let cheat = PayerKey::from_bytes([22; 32]).expect("key");
    let (_, opened) = env.post(&b, "/api/channels", &key, &json!({"deposit": "20000", "key": public_key_hex(&cheat.public())})).await;
    let cheat_channel: ChannelId = opened["id"].as_str().expect("id").parse().expect("channel id");
    let cheat_data = PaymentData { channel: cheat_channel, sub_channel: cheat.id(), max_amount: None, receipt: None };
    let (status, _, v) = ask(&env, &b, &key, &cheat_data, &body).await;
    assert!(status == 402 && v.get("choices").is_none(), "{v}");
    let (before, _, _) = env.balance(&a, &key).await;
    let (status, closed) = env.post(&a, &format!("/api/channels/{cheat_channel}/close"), &key, &json!({})).await;
    assert_eq!((status, amount(&closed["refunded"]), amount(&closed["claimed"])), (200, 20_000, 0), "{closed}");
    let (after, _, _) = env.balance(&b, &key).await;
    assert_eq!(after, before + 20_000);
    for s in [&a, &b] {
        env.assert_audit_ok(s).await;
    }
}
