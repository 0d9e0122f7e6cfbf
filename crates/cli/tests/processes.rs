//! Process-level end-to-end tests: real `tollway serve` processes on a
//! shared database, driven over HTTP.
//!
//! * Two server processes on one PostgreSQL database must not oversell
//!   reservations, must settle them exactly, and must charge a webhook
//!   delivered to both of them at once only once.
//! * A server killed with SIGKILL in the middle of a webhook burst must
//!   leave the database consistent: every acknowledged event stored exactly
//!   once, no charge without its record, no record without its charge.
//!
//! PostgreSQL tests need `TOLLWAY_TEST_PG_URL` (`scripts/pg.sh start`).

use futures::future::join_all;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tollway_store::testing::Backend;

mod common;
mod ledger_env;
use common::Server;
use ledger_env::*;

// ---------------------------------------------------------------------------
// Two processes on one PostgreSQL
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_server_processes_share_one_postgres() {
    let env = Arc::new(bootstrap(Backend::Postgres).await);
    let (a, b) = tokio::join!(Server::start_with(&env.database_url, &[]), Server::start_with(&env.database_url, &[]));
    let servers = Arc::new([a, b]);
    assert_ne!(servers[0].base, servers[1].base, "two processes, two addresses");

    let alice_key = env.new_user("alice").await;
    env.grant(&servers[0], "alice", 1000).await;
    assert_eq!(env.balance(&servers[1], &alice_key).await, (1000, 1000, 0), "the grant is seen by the other process");

    // One call of 1000 input + 1166 output tokens: 30 + 69.96 -> 100 points.
    let (input, output) = (1000u64, 1166u64);
    assert_eq!(expected_cost(input, output), 100);
    for s in servers.iter() {
        let est = env
            .get(
                s,
                &format!("/api/user/points/estimate?model=gpt-4&input_tokens={input}&output_tokens={output}"),
                &alice_key,
            )
            .await;
        assert_eq!(est["estimated_cost"], json!("100"), "estimate: {est}");
    }

    // 100 concurrent reservations of 100 points against 1000 points,
    // alternating between the processes: exactly 10 may succeed.
    let request = json!({ "model": "gpt-4", "input_tokens": input, "output_tokens": output, "reserve": true });
    let answers = with_deadline(
        "100 concurrent reservations",
        BURST,
        join_all((0..100).map(|i| {
            let (env, servers, key, request) =
                (Arc::clone(&env), Arc::clone(&servers), alice_key.clone(), request.clone());
            async move { env.post(&servers[i % 2], "/api/user/points/check-balance", &key, &request).await }
        })),
    )
    .await;
    let mut reservations = Vec::new();
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "check-balance: {answer}");
        assert_eq!(answer["estimated_cost"], json!("100"), "check-balance: {answer}");
        match &answer["reservation"] {
            Value::Null => {
                assert_eq!(answer["can_proceed"], json!(false), "no reservation but can_proceed: {answer}");
                assert_eq!(answer["reason"], json!("insufficient_points"), "refusal reason: {answer}");
            }
            r => {
                assert_eq!(answer["can_proceed"], json!(true), "reservation but not can_proceed: {answer}");
                assert_eq!(r["amount"], json!("100"), "reservation amount: {answer}");
                assert!(r["expires_at"].as_i64().is_some_and(|t| t > 0), "expires_at: {answer}");
                reservations.push(r["id"].as_str().expect("reservation id").to_owned());
            }
        }
    }
    assert_eq!(reservations.len(), 10, "exactly 10 reservations of 100 fit in 1000 points (across two processes)");
    let mut unique = reservations.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10, "reservation ids are distinct: {reservations:?}");
    assert_eq!(env.balance(&servers[0], &alice_key).await, (1000, 0, 0), "everything is held, nothing posted yet");

    // Settle all ten through webhooks, alternating between the processes.
    let settled = with_deadline(
        "settling 10 reservations",
        BURST,
        join_all(reservations.iter().enumerate().map(|(k, rid)| {
            let (env, servers) = (Arc::clone(&env), Arc::clone(&servers));
            let event = usage_event(&format!("settle-{k}"), "alice", input, output, Some(rid));
            async move { env.webhook(&servers[k % 2], &event).await.0 }
        })),
    )
    .await;
    let mut consumption_ids = Vec::new();
    for (answer, rid) in settled.iter().zip(&reservations) {
        let d = &answer["data"];
        assert_eq!(d["status"], json!("charged"), "settle: {answer}");
        assert_eq!(d["points_deducted"], json!("100"), "settle: {answer}");
        assert_eq!(d["shortfall"], json!("0"), "settle: {answer}");
        assert_eq!(d["cost"], json!("100"), "settle: {answer}");
        assert_eq!(d["reservation_id"], json!(rid), "settle: {answer}");
        consumption_ids.push(d["consumption_id"].as_str().expect("consumption_id").to_owned());
    }
    consumption_ids.sort();
    consumption_ids.dedup();
    assert_eq!(consumption_ids.len(), 10, "ten distinct consumption records");
    for s in servers.iter() {
        assert_eq!(env.balance(s, &alice_key).await, (0, 0, 0), "all 1000 points spent through the 10 reservations");
    }
    let holds = env.get(&servers[1], "/api/user/points/history?type=reservation&limit=500", &alice_key).await;
    let holds = holds["items"].as_array().expect("history items").clone();
    assert_eq!(holds.len(), 10, "ten holds in the history: {holds:?}");
    assert!(holds.iter().all(|h| h["status"] == json!("posted")), "every hold posted: {holds:?}");
    env.assert_audit_ok(&servers[0]).await;

    // The same webhook delivered 20 times at once to both processes is
    // charged once and answered identically every time.
    let bob_key = env.new_user("bob").await;
    env.grant(&servers[1], "bob", 1000).await;
    let (din, dout) = (500u64, 250u64);
    let cost = expected_cost(din, dout);
    assert_eq!(cost, 30);
    let event = usage_event("dup-1", "bob", din, dout, None);
    let bodies = with_deadline(
        "20 concurrent deliveries of one webhook",
        BURST,
        join_all((0..20).map(|i| {
            let (env, servers, event) = (Arc::clone(&env), Arc::clone(&servers), event.clone());
            async move { env.webhook(&servers[i % 2], &event).await }
        })),
    )
    .await;
    let (first, first_text) = &bodies[0];
    assert_eq!(first["data"]["points_deducted"], json!(cost.to_string()), "dup: {first}");
    assert_eq!(first["data"]["status"], json!("charged"), "dup: {first}");
    assert_eq!(first["data"]["balance"], json!((1000 - cost).to_string()), "dup: {first}");
    for (i, (_, text)) in bodies.iter().enumerate() {
        assert_eq!(text, first_text, "delivery {i} (server {}) answered differently", i % 2);
    }
    for s in servers.iter() {
        assert_eq!(env.balance(s, &bob_key).await, (1000 - cost, 1000 - cost, 0), "charged exactly once");
    }
    let events = env.usage_events(&servers[0]).await;
    let dup = events.iter().filter(|e| e["message_id"] == json!("dup-1")).count();
    assert_eq!(dup, 1, "one stored usage event for dup-1");
    assert_eq!(events.len(), 11, "10 settlements + 1 deduplicated event: {events:?}");
    let charges = env.get(&servers[0], "/api/user/points/history?type=charge&limit=500", &bob_key).await;
    assert_eq!(charges["items"].as_array().map(Vec::len), Some(1), "one charge transfer for bob: {charges}");
    env.assert_audit_ok(&servers[1]).await;
}

// ---------------------------------------------------------------------------
// SIGKILL in the middle of a burst
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_burst_then_restart_sqlite() {
    kill_9_mid_burst_then_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_burst_then_restart_postgres() {
    kill_9_mid_burst_then_restart(Backend::Postgres).await;
}

const EVENTS: usize = 400;
const SENDERS: usize = 16;
const KILL_AFTER: usize = 100;
const START_BALANCE: u128 = 1_000_000;

/// Token counts of burst message `i` (varied so every cost is different
/// enough for a lost or doubled charge to show in the sums).
fn burst_tokens(i: usize) -> (u64, u64) {
    let i = i as u64;
    (100 + i * 3, 50 + (i * 7) % 300)
}

fn burst_event(i: usize) -> Value {
    let (input, output) = burst_tokens(i);
    usage_event(&format!("burst-{i:03}"), "carol", input, output, None)
}

#[derive(Default)]
struct Burst {
    next: AtomicUsize,
    acked: AtomicUsize,
    stop: AtomicBool,
    /// Senders that ran out of events (all of them: the kill never came).
    finished: AtomicUsize,
    /// (message index, raw body) of every 200 answer.
    acks: Mutex<Vec<(usize, String)>>,
    /// Unexpected outcomes while the server was alive.
    failures: Mutex<Vec<String>>,
}

async fn kill_9_mid_burst_then_restart(backend: Backend) {
    let env = Arc::new(bootstrap(backend).await);
    let mut first = Server::start_with(&env.database_url, &[]).await;
    let carol_key = env.new_user("carol").await;
    env.grant(&first, "carol", START_BALANCE).await;

    // 16 senders share 400 distinct events; the 100th acknowledgement
    // wakes the killer while the other senders still have requests out.
    let burst = Arc::new(Burst::default());
    let hundred = Arc::new(tokio::sync::Notify::new());
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (env, burst, hundred, base) =
                (Arc::clone(&env), Arc::clone(&burst), Arc::clone(&hundred), first.base.clone());
            tokio::spawn(async move {
                loop {
                    if burst.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let i = burst.next.fetch_add(1, Ordering::SeqCst);
                    if i >= EVENTS {
                        break;
                    }
                    match env.try_webhook(&base, &burst_event(i)).await {
                        Ok((200, text)) => {
                            burst.acks.lock().expect("acks").push((i, text));
                            if burst.acked.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                                hundred.notify_one();
                            }
                        }
                        Ok((status, text)) => {
                            burst.failures.lock().expect("failures").push(format!("burst-{i:03}: {status} {text}"));
                        }
                        // After the kill, connection errors are expected.
                        Err(_) if burst.stop.load(Ordering::SeqCst) => break,
                        Err(e) => burst.failures.lock().expect("failures").push(format!("burst-{i:03}: {e}")),
                    }
                }
                // Wake the killer even if 100 acknowledgements never come,
                // so the failures below are reported instead of a timeout.
                if burst.finished.fetch_add(1, Ordering::SeqCst) + 1 == SENDERS {
                    hundred.notify_one();
                }
            })
        })
        .collect();
    with_deadline("100 acknowledged webhooks", BURST, hundred.notified()).await;
    assert!(
        burst.acked.load(Ordering::SeqCst) >= KILL_AFTER,
        "the burst ended before {KILL_AFTER} acknowledgements: {:?}\n{}",
        burst.failures.lock().expect("failures"),
        first.diagnostics()
    );
    burst.stop.store(true, Ordering::SeqCst);
    first.kill();
    for s in senders {
        with_deadline("sender to stop after the kill", BURST, s).await.expect("sender task");
    }
    let failures = burst.failures.lock().expect("failures").clone();
    assert!(failures.is_empty(), "unexpected answers while the server was up: {failures:?}\n{}", first.diagnostics());
    let acks: Vec<(usize, Value)> = burst
        .acks
        .lock()
        .expect("acks")
        .iter()
        .map(|(i, text)| (*i, serde_json::from_str(text).unwrap_or_else(|e| panic!("ack body: {e}: {text}"))))
        .collect();
    assert!(acks.len() >= KILL_AFTER, "at least {KILL_AFTER} acknowledged before the kill, got {}", acks.len());
    eprintln!(
        "{backend:?}: SIGKILL after {} acknowledged, {} of {EVENTS} events sent",
        acks.len(),
        burst.next.load(Ordering::SeqCst).min(EVENTS)
    );
    for (i, answer) in &acks {
        let (input, output) = burst_tokens(*i);
        let d = &answer["data"];
        assert_eq!(d["message_id"], json!(format!("burst-{i:03}")), "ack: {answer}");
        assert_eq!(d["status"], json!("charged"), "ack: {answer}");
        assert_eq!(d["points_deducted"], json!(expected_cost(input, output).to_string()), "ack: {answer}");
    }

    // A new process on the same database.
    let second = Server::start_with(&env.database_url, &[]).await;
    let second = &second;

    // (a) every acknowledged event was stored once: its replay gets the
    // very same answer and charges nothing more.
    let before_replays = env.balance(second, &carol_key).await;
    let replays = with_deadline(
        "replaying acknowledged events",
        BURST,
        join_all(acks.iter().map(|(i, _)| {
            let (env, event) = (Arc::clone(&env), burst_event(*i));
            async move { env.webhook(second, &event).await.0 }
        })),
    )
    .await;
    for ((i, original), replay) in acks.iter().zip(&replays) {
        for field in ["consumption_id", "points_deducted", "status", "cost", "balance"] {
            assert_eq!(
                replay["data"][field], original["data"][field],
                "burst-{i:03}: replay after restart changed {field}\nfirst:  {original}\nreplay: {replay}"
            );
        }
    }
    assert_eq!(env.balance(second, &carol_key).await, before_replays, "replays charged nothing");

    // (b) the ledger is consistent.
    env.assert_audit_ok(second).await;

    // (c) + (d) stored events and charges match one to one.
    let events = env.usage_events(second).await;
    let mut stored: Vec<usize> = Vec::new();
    let mut charged_total: u128 = 0;
    for e in &events {
        let id = e["message_id"].as_str().unwrap_or_else(|| panic!("event without message_id: {e}"));
        let i: usize =
            id.strip_prefix("burst-").and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("unexpected event {e}"));
        let (input, output) = burst_tokens(i);
        assert_eq!(e["status"], json!("charged"), "event: {e}");
        assert_eq!(amount(&e["charged"]), expected_cost(input, output), "event {id} charged: {e}");
        assert_eq!(amount(&e["shortfall"]), 0, "event {id}: {e}");
        charged_total += amount(&e["charged"]);
        stored.push(i);
    }
    let mut unique = stored.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), stored.len(), "a message stored twice: {stored:?}");
    for (i, _) in &acks {
        assert!(stored.contains(i), "acknowledged burst-{i:03} is not stored");
    }
    assert!(
        (acks.len()..=EVENTS).contains(&events.len()),
        "{} events stored for {} acknowledged of {EVENTS} sent",
        events.len(),
        acks.len()
    );
    eprintln!("{backend:?}: {} events stored after the restart for {} acknowledged", events.len(), acks.len());
    let (balance, available, arrears) = env.balance(second, &carol_key).await;
    assert_eq!(
        balance,
        START_BALANCE - charged_total,
        "balance must be {START_BALANCE} minus the {} stored charges ({charged_total})",
        events.len()
    );
    assert_eq!((available, arrears), (balance, 0));
    let charges = env.get(second, "/api/user/points/history?type=charge&limit=500", &carol_key).await;
    let charges = charges["items"].as_array().expect("history items").clone();
    assert_eq!(charges.len(), events.len(), "one charge transfer per stored usage event");
    let transferred: u128 = charges.iter().map(|t| amount(&t["amount"])).sum();
    assert_eq!(transferred, charged_total, "charge transfers sum to the recorded charges");

    // Finally deliver the whole burst again: what was lost is charged now,
    // what was stored is only replayed.
    let sem = Arc::new(tokio::sync::Semaphore::new(SENDERS));
    let all = with_deadline(
        "redelivering the whole burst",
        BURST,
        join_all((0..EVENTS).map(|i| {
            let (env, sem) = (Arc::clone(&env), Arc::clone(&sem));
            async move {
                let _permit = sem.acquire().await.expect("semaphore");
                env.webhook(second, &burst_event(i)).await.0
            }
        })),
    )
    .await;
    let full_total: u128 = (0..EVENTS)
        .map(|i| {
            let (input, output) = burst_tokens(i);
            expected_cost(input, output)
        })
        .sum();
    for (i, answer) in all.iter().enumerate() {
        let (input, output) = burst_tokens(i);
        assert_eq!(
            answer["data"]["points_deducted"],
            json!(expected_cost(input, output).to_string()),
            "redelivery: {answer}"
        );
    }
    assert_eq!(env.usage_events(second).await.len(), EVENTS, "every message stored exactly once");
    assert_eq!(env.balance(second, &carol_key).await, (START_BALANCE - full_total, START_BALANCE - full_total, 0));
    env.assert_audit_ok(second).await;
}
