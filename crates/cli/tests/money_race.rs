//! Issue 12's cross-process proof: one balance attacked at once from two
//! `tollway serve` processes on one PostgreSQL database, by 100 webhook
//! charges (each delivered to both processes at the same moment) and by
//! streamed chat answers from the real embedded model. The balance never
//! goes below zero, every charge is taken exactly once, every point that
//! left the wallet is accounted for by a charge or a request record, what
//! the balance could not cover is owed as arrears, and the ledger audit is
//! clean.
//!
//! Needs `TOLLWAY_TEST_PG_URL` (`scripts/pg.sh start`) and
//! `TOLLWAY_TEST_MODEL` (`scripts/fetch-model.sh`).

use futures::future::join_all;
use serde_json::{json, Value};
use std::sync::Arc;
use tollway_server::ops;
use tollway_store::testing::Backend;

mod common;
mod ledger_env;
use common::Server;
use ledger_env::*;

const MODEL: &str = "smollm2-135m-instruct";
/// Points at the start.
const START: u128 = 3000;
/// Webhook charges, each of 500 in + 250 out gpt-4 tokens = 30 points:
/// alone they would take the whole balance.
const CHARGES: usize = 100;
/// Streamed answers, half from each process.
const STREAMS: usize = 6;

/// Reads a streamed answer to its end: (status, error code or the last
/// chunk's finish reason).
async fn stream_chat(env: &Env, server: &Server, key: &str, i: usize) -> (u16, String) {
    let body = json!({
        "model": MODEL,
        "stream": true,
        "max_tokens": 48,
        "messages": [{"role": "user", "content": format!("Count from {i} to {} in words.", i + 20)}],
    });
    let resp = env.http.post(server.url("/v1/chat/completions")).bearer_auth(key).json(&body).send().await.expect("chat sent");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("chat body");
    if status != 200 {
        let code = serde_json::from_str::<Value>(&text).ok().and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
        return (status, code.unwrap_or(text));
    }
    assert!(text.trim_end().ends_with("data: [DONE]"), "stream {i} ended without [DONE]: {text}");
    let finish = text
        .lines()
        .rev()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find_map(|c| c["choices"][0]["finish_reason"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("stream {i} has no finish reason: {text}"));
    (status, finish)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn charges_and_streams_from_two_processes_never_overspend_one_balance() {
    let model = std::env::var("TOLLWAY_TEST_MODEL").expect("TOLLWAY_TEST_MODEL (scripts/fetch-model.sh)");
    let env = Arc::new(bootstrap(Backend::Postgres).await);
    // 1 point per prompt token and per output token.
    ops::set_price(&env.store, MODEL, "1000", "1000", None, true, "test", None).await.expect("model price");
    let with_model = [("TOLLWAY_MODEL_PATH", model.as_str())];
    let (a, b) = tokio::join!(Server::start_with(&env.database_url, &with_model), Server::start_with(&env.database_url, &with_model));
    let servers = Arc::new([a, b]);
    let key = env.new_user("racer").await;
    env.grant(&servers[0], "racer", START).await;

    let charges = (0..CHARGES).map(|i| {
        let (env, servers) = (Arc::clone(&env), Arc::clone(&servers));
        async move {
            let event = usage_event(&format!("race-{i:03}"), "racer", 500, 250, None);
            let (first, second) = tokio::join!(env.webhook(&servers[0], &event), env.webhook(&servers[1], &event));
            assert_eq!(first.1, second.1, "both deliveries of race-{i:03} get the same answer");
            first.0
        }
    });
    let streams = (0..STREAMS).map(|i| {
        let (env, servers, key) = (Arc::clone(&env), Arc::clone(&servers), key.clone());
        async move { stream_chat(&env, &servers[i % 2], &key, i).await }
    });
    let (answers, streamed) =
        with_deadline("charges and streams", BURST, async { tokio::join!(join_all(charges), join_all(streams)) }).await;

    // Every charge exactly once, for exactly its cost.
    let (mut deducted, mut owed) = (0u128, 0u128);
    for (i, answer) in answers.iter().enumerate() {
        let d = &answer["data"];
        assert_eq!(amount(&d["cost"]), 30, "race-{i:03}: {answer}");
        assert_eq!(amount(&d["points_deducted"]) + amount(&d["shortfall"]), 30, "race-{i:03}: {answer}");
        deducted += amount(&d["points_deducted"]);
        owed += amount(&d["shortfall"]);
    }
    let events = env.usage_events(&servers[1]).await;
    assert_eq!(events.len(), CHARGES, "one usage event per message");
    let charge_rows = env.get(&servers[0], "/api/user/points/history?type=charge&limit=500", &key).await;
    let charge_rows = charge_rows["items"].as_array().expect("items").clone();
    let mut charged_messages: Vec<&str> = charge_rows.iter().filter_map(|t| t["request_id"].as_str()).filter(|r| r.starts_with("race-")).collect();
    let taken = charged_messages.len();
    charged_messages.sort_unstable();
    charged_messages.dedup();
    assert_eq!(charged_messages.len(), taken, "no message was charged twice: {charge_rows:?}");

    // Streams either ran (and ended with an OpenAI finish reason) or were
    // refused before the model ran because the money was gone.
    for (i, (status, how)) in streamed.iter().enumerate() {
        match status {
            200 => assert!(["stop", "length"].contains(&how.as_str()), "stream {i} finished with {how}"),
            402 => assert!(["insufficient_points", "arrears_outstanding"].contains(&how.as_str()), "stream {i}: {how}"),
            _ => panic!("stream {i} answered {status}: {how}"),
        }
    }
    let served = streamed.iter().filter(|(status, _)| *status == 200).count();
    println!("streams served: {served} of {STREAMS}: {streamed:?}");
    let requests = env.get(&servers[1], "/api/user/requests?limit=500", &key).await;
    let stream_cost: u128 = requests.as_array().expect("requests").iter().map(|r| amount(&r["cost"])).sum();

    // Not a point unaccounted for, nothing negative, nothing still held.
    let (balance, available, arrears) = env.balance(&servers[0], &key).await;
    assert_eq!(balance, available, "no hold is left open");
    assert_eq!(START - balance, deducted + stream_cost, "every point that left the wallet is a charge or a request");
    assert_eq!(arrears, owed, "what the balance could not cover is owed, exactly");
    assert!(deducted + stream_cost <= START, "never more than the balance was taken");
    assert!(owed > 0, "the attack did exhaust the balance (demand {} > {START})", 30 * CHARGES);
    for s in servers.iter() {
        env.assert_audit_ok(s).await;
    }
}
