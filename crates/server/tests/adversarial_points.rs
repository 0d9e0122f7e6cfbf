//! Issue 12, holes 1, 2, 3 and 5, as the attacker plays them against the
//! points API: ids chosen to collide with ids the system derives or with
//! another user's, keys replayed with other fields, reservations built to
//! jam the expiry sweep, and a race between a charge that books arrears and
//! new reservations. Each move must be refused (or be harmless), nothing
//! may be lost, and the ledger audit must stay clean. Every test runs on
//! SQLite and on PostgreSQL.

mod common;

use common::*;
use futures::future::join_all;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;
use tollway_store::Store;

/// A user with `points`, a gpt-4 price (30 / 60 points per 1,000 tokens)
/// and a Dify app.
async fn setup(s: &Server, handle: &str, points: &str) -> (User, App) {
    s.set_price("gpt-4", "30", "60", "").await;
    let user = s.create_user(handle).await;
    s.grant(handle, points, &format!("seed-{handle}")).await;
    (user, s.create_app(&format!("app-{handle}")).await)
}

fn reserve(model: &str, input: u64, output: u64, id: &str) -> Value {
    json!({"model": model, "input_tokens": input, "output_tokens": output, "reserve": true, "reservation_id": id})
}

async fn assert_audit_clean(s: &Server) {
    let audit = s.audit().await;
    assert_eq!(audit["ok"], true, "ledger audit: {audit}");
}

// ---------------------------------------------------------------------------
// Hole 1: client ids cannot reach the system's ids or another user's.
// ---------------------------------------------------------------------------

/// The attacker reserves, under ids the system derives for its own
/// transfers, before the system needs them. Every such id is refused, and
/// the real charge then happens in full.
async fn reserving_a_system_id_is_refused_and_the_real_charge_happens(s: Server) {
    let (mallory, app) = setup(&s, "mallory", "1000").await;
    let message = "msg-owned";
    let dify_id = format!("dify:1:{}", &hex::encode(Sha256::digest(message.as_bytes()))[..40]);
    let victim = s.create_user("victim").await;
    let stolen = [
        dify_id.clone(),
        format!("{dify_id}:post"),
        "chatcmpl-abc:settle".to_owned(),
        "chatcmpl-abc:h1".to_owned(),
        "expire:rsv_x".to_owned(),
        "rsv_x:expire".to_owned(),
        format!("u{}/rsv/theirs", victim.id),
        "op/welcome".to_owned(),
        "channel/1/POINTS/escrow".to_owned(),
        "x".repeat(65),
        String::new(),
    ];
    for id in &stolen {
        let r = s.post("/api/user/points/check-balance", Some(&mallory.key), &reserve("gpt-4", 1000, 0, id)).await;
        assert_eq!((r.status, r.code().as_str()), (422, "invalid_field"), "reservation id {id:?}: {}", r.text);
    }
    assert_eq!(s.balance(&mallory).await, json!({"balance": "1000", "available": "1000", "arrears": "0"}));
    // The charge the attacker tried to pre-empt is taken in full.
    let charged = s.webhook_json(&app, &relay(message, "mallory", "gpt-4", 1500, 800)).await.ok();
    assert_eq!(charged["data"]["points_deducted"], "93", "{charged}");
    assert_eq!(s.balance(&mallory).await["balance"], "907");
    assert_audit_clean(&s).await;
}

/// Two users choose the same reservation id: each gets their own hold; a
/// webhook naming one user's reservation for another user settles nothing
/// of the first, and a user cannot learn whether someone else used an id.
async fn reservation_ids_are_per_user(s: Server) {
    let (alice, app) = setup(&s, "alice", "1000").await;
    let bob = s.create_user("bob").await;
    s.grant("bob", "1000", "seed-bob").await;
    let a = s.check_balance(&alice, &reserve("gpt-4", 1000, 0, "same")).await;
    let b = s.check_balance(&bob, &reserve("gpt-4", 2000, 0, "same")).await;
    assert_eq!((a["reservation"]["id"].as_str(), a["reservation"]["amount"].as_str()), (Some("same"), Some("30")));
    assert_eq!((b["reservation"]["id"].as_str(), b["reservation"]["amount"].as_str()), (Some("same"), Some("60")), "{b}");
    assert_eq!(s.balance(&alice).await["available"], "970");
    assert_eq!(s.balance(&bob).await["available"], "940");
    // Bob's usage reported with "same" settles Bob's own hold, never Alice's.
    let mut report = relay("m-bob", "bob", "gpt-4", 1000, 0);
    report["data"]["reservation_id"] = json!("same");
    assert_eq!(s.webhook_json(&app, &report).await.ok()["data"]["points_deducted"], "30");
    assert_eq!(s.balance(&bob).await, json!({"balance": "970", "available": "970", "arrears": "0"}));
    assert_eq!(s.balance(&alice).await, json!({"balance": "1000", "available": "970", "arrears": "0"}));
    // Alice's hold is still hers to settle.
    let mut report = relay("m-alice", "alice", "gpt-4", 1000, 0);
    report["data"]["reservation_id"] = json!("same");
    assert_eq!(s.webhook_json(&app, &report).await.ok()["data"]["points_deducted"], "30");
    assert_eq!(s.balance(&alice).await, json!({"balance": "970", "available": "970", "arrears": "0"}));
    assert_audit_clean(&s).await;
}

// ---------------------------------------------------------------------------
// Hole 2: the same key with other fields is a conflict, never the old answer.
// ---------------------------------------------------------------------------

async fn a_reservation_key_reused_with_other_terms_is_a_conflict(s: Server) {
    let (carol, _) = setup(&s, "carol", "1000").await;
    let first = s.check_balance(&carol, &reserve("gpt-4", 1000, 1000, "r1")).await;
    assert_eq!(first["reservation"]["amount"], "90", "{first}");
    let again = s.check_balance(&carol, &reserve("gpt-4", 1000, 1000, "r1")).await;
    assert_eq!(again["reservation"], first["reservation"], "a replay is the original reservation");
    s.set_price("gpt-3", "30", "60", "").await;
    let moves = [
        (reserve("gpt-4", 1000, 999, "r1"), "input_tokens/output_tokens"),
        (reserve("gpt-4", 999, 1000, "r1"), "input_tokens/output_tokens"),
        (reserve("gpt-3", 1000, 1000, "r1"), "model"),
        (json!({"model": "gpt-4", "input_tokens": 1000, "output_tokens": 1000, "reserve": true, "reservation_id": "r1", "reservation_ttl_secs": 7}), "reservation_ttl_secs"),
    ];
    for (body, field) in moves {
        let r = s.post("/api/user/points/check-balance", Some(&carol.key), &body).await;
        assert_eq!((r.status, r.code().as_str()), (409, "idempotency_conflict"), "{body}: {}", r.text);
        assert!(r.text.contains(field), "the conflict names {field}: {}", r.text);
        assert!(r.json()["error"]["field"].as_str().is_some_and(|f| field.contains(f)), "error.field: {}", r.text);
    }
    assert_eq!(s.balance(&carol).await, json!({"balance": "1000", "available": "910", "arrears": "0"}), "one hold only");
    assert_audit_clean(&s).await;
}

async fn a_grant_key_reused_with_other_fields_is_a_conflict(s: Server) {
    let (dave, _) = setup(&s, "dave", "100").await;
    s.create_user("erin").await;
    let grant = |user: &str, amount: &str, reason: &str| json!({"user": user, "amount": amount, "reason": reason, "id": "bonus-1"});
    let ok = s.post("/api/admin/points/grant", Some(&s.admin), &grant("dave", "50", "bonus")).await.ok();
    assert_eq!(ok["balance"], "150");
    let replay = s.post("/api/admin/points/grant", Some(&s.admin), &grant("dave", "50", "bonus")).await.ok();
    assert_eq!(replay["balance"], "150", "a replay moves nothing");
    let moves = [
        ("/api/admin/points/grant", grant("dave", "51", "bonus"), "amount"),
        ("/api/admin/points/grant", grant("erin", "50", "bonus"), "user"),
        ("/api/admin/points/grant", grant("dave", "50", "other reason"), "reason"),
        ("/api/admin/points/adjust", grant("dave", "50", "bonus"), "kind of change (grant or adjust)"),
        ("/api/admin/points/adjust", grant("dave", "-50", "bonus"), "kind of change (grant or adjust)"),
    ];
    for (path, body, field) in moves {
        let r = s.post(path, Some(&s.admin), &body).await;
        assert_eq!((r.status, r.code().as_str()), (409, "idempotency_conflict"), "{path} {body}: {}", r.text);
        assert!(r.text.contains(field), "the conflict names {field}: {}", r.text);
        assert!(r.json()["error"]["field"].as_str().is_some_and(|f| field.contains(f)), "error.field: {}", r.text);
    }
    for bad in ["op/x", "a:b", "", &"k".repeat(65)] {
        let body = json!({"user": "dave", "amount": "1", "reason": "r", "id": bad});
        let r = s.post("/api/admin/points/grant", Some(&s.admin), &body).await;
        assert_eq!((r.status, r.code().as_str()), (422, "invalid_field"), "id {bad:?}: {}", r.text);
    }
    assert_eq!(s.balance(&dave).await["balance"], "150");
    assert_audit_clean(&s).await;
}

// ---------------------------------------------------------------------------
// Hole 3: nothing a client sends can jam the expiry sweep.
// ---------------------------------------------------------------------------

/// The longest ids a client may choose still expire; ids longer than that
/// are refused up front.
async fn the_longest_reservation_ids_still_expire(s: Server) {
    let (fay, _) = setup(&s, "fay", "1000").await;
    let r = s.post("/api/user/points/check-balance", Some(&fay.key), &reserve("gpt-4", 1000, 0, &"k".repeat(128))).await;
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_field"), "{}", r.text);
    for i in 0..20 {
        let key = format!("{i:02}{}", "k".repeat(62));
        let body = json!({"model": "gpt-4", "input_tokens": 1000, "output_tokens": 0, "reserve": true, "reservation_id": key, "reservation_ttl_secs": 1});
        assert_eq!(s.check_balance(&fay, &body).await["reservation"]["amount"], "30");
    }
    assert_eq!(s.balance(&fay).await["available"], "400");
    wait_for_available(&s, &fay, "1000").await;
    assert_audit_clean(&s).await;
}

/// Holds that cannot be expired (corrupt rows, more than a page of them,
/// all expiring first) are passed over: every ordinary hold behind them is
/// still released.
async fn holds_that_cannot_expire_never_block_the_others(s: Server) {
    let (gus, _) = setup(&s, "gus", "1000").await;
    let store = Store::connect(&s.database_url).await.expect("connect");
    // 600 poisoned holds: pending, long expired, for more than the wallet
    // ever held, so releasing one fails. They are written by hand; no API
    // can make one.
    for i in 0..600 {
        sqlx::query(
            "INSERT INTO transfers (id, debit, credit, amount, asset, kind, timeout_secs, expires_at, status, reason, user_id, ts) \
             VALUES ($1, $2, 'system/revenue/POINTS', '99999999999999999999', 'POINTS', 'pending', 1, $3, 'pending', 'reservation', $4, 0)",
        )
        .bind(format!("poison-{i:04}"))
        .bind(format!("user/{}/POINTS", gus.id))
        .bind(1000 + i64::from(i))
        .bind(gus.id)
        .execute(store.pool())
        .await
        .expect("insert a poisoned hold");
    }
    let body = json!({"model": "gpt-4", "input_tokens": 1000, "output_tokens": 0, "reserve": true, "reservation_ttl_secs": 1});
    assert_eq!(s.check_balance(&gus, &body).await["reservation"]["amount"], "30");
    wait_for_available(&s, &gus, "1000").await;
    sqlx::query("DELETE FROM transfers WHERE id LIKE 'poison-%'").execute(store.pool()).await.expect("clean up");
    assert_audit_clean(&s).await;
}

async fn wait_for_available(s: &Server, user: &User, expected: &str) {
    for _ in 0..60 {
        if s.balance(user).await["available"] == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the expiry sweep did not release the holds: {}", s.balance(user).await);
}

// ---------------------------------------------------------------------------
// Hole 5: the arrears check and the hold are one step.
// ---------------------------------------------------------------------------

/// A charge that books arrears races 60 reservations. Whatever the order,
/// no reservation is made after the arrears exist: every granted hold comes
/// before the arrears in the ledger, and every refusal after it says why.
async fn no_reservation_is_granted_once_arrears_exist(s: Server) {
    let (hal, app) = setup(&s, "hal", "100").await;
    let charge = {
        let (s, app) = (s.clone(), app.clone());
        tokio::spawn(async move { s.webhook_json(&app, &relay("m-debt", "hal", "gpt-4", 10_000, 0)).await })
    };
    let reservations = (0..60).map(|i| {
        let (s, hal) = (s.clone(), hal.clone());
        tokio::spawn(async move {
            let body = json!({"model": "gpt-4", "input_tokens": 10, "output_tokens": 0, "reserve": true, "reservation_id": format!("race-{i}")});
            s.post("/api/user/points/check-balance", Some(&hal.key), &body).await
        })
    });
    let answers: Vec<Resp> = join_all(reservations).await.into_iter().map(|r| r.expect("task")).collect();
    let charged = charge.await.expect("task").ok();
    assert_eq!(charged["data"]["status"], "arrears", "{charged}");
    let history = s.get("/api/user/points/history?type=reservation,arrears&limit=500", Some(&hal.key)).await.ok();
    let items = history["items"].as_array().expect("items");
    let arrears_seq = items.iter().find(|i| i["type"] == "arrears").and_then(|i| i["seq"].as_i64()).expect("arrears booked");
    let holds: Vec<i64> = items
        .iter()
        .filter(|i| i["type"] == "reservation" && i["transfer_kind"] == "pending")
        .filter_map(|i| i["seq"].as_i64())
        .collect();
    assert!(holds.iter().all(|&seq| seq < arrears_seq), "a hold was granted after the arrears: {holds:?} vs {arrears_seq}");
    let granted = answers.iter().filter(|a| a.status == 200 && a.json()["reservation"].is_object()).count();
    assert_eq!(granted, holds.len(), "every granted reservation is a hold in the ledger");
    for a in answers.iter().filter(|a| a.status == 200 && !a.json()["reservation"].is_object()) {
        assert_eq!(a.json()["reason"], "arrears_outstanding", "{}", a.text);
    }
    assert!(answers.iter().all(|a| a.status == 200), "{:?}", answers.iter().find(|a| a.status != 200));
    assert_audit_clean(&s).await;
}

/// Funds released after arrears were booked (reservations that expired)
/// cannot be reserved again until the arrears are repaid: the hold itself
/// is refused by the ledger, not just by an earlier read.
async fn released_funds_stay_blocked_while_arrears_are_owed(s: Server) {
    let (ivy, app) = setup(&s, "ivy", "100").await;
    for i in 0..3 {
        let body = json!({"model": "gpt-4", "input_tokens": 1000, "output_tokens": 0, "reserve": true,
            "reservation_id": format!("short-{i}"), "reservation_ttl_secs": 1});
        assert_eq!(s.check_balance(&ivy, &body).await["reservation"]["amount"], "30");
    }
    let charged = s.webhook_json(&app, &relay("m-over", "ivy", "gpt-4", 10_000, 0)).await.ok();
    assert_eq!((charged["data"]["points_deducted"].as_str(), charged["data"]["shortfall"].as_str()), (Some("10"), Some("290")));
    wait_for_available(&s, &ivy, "90").await;
    assert_eq!(s.balance(&ivy).await, json!({"balance": "90", "available": "90", "arrears": "290"}));
    let tries = (0..30).map(|i| {
        let (s, ivy) = (s.clone(), ivy.clone());
        tokio::spawn(async move {
            let body = json!({"model": "gpt-4", "input_tokens": 10, "output_tokens": 0, "reserve": true, "reservation_id": format!("after-{i}")});
            s.check_balance(&ivy, &body).await
        })
    });
    for answer in join_all(tries).await.into_iter().map(|r| r.expect("task")) {
        assert_eq!((answer["can_proceed"].as_bool(), answer["reason"].as_str()), (Some(false), Some("arrears_outstanding")), "{answer}");
        assert!(answer["reservation"].is_null(), "{answer}");
    }
    assert_eq!(s.balance(&ivy).await["available"], "90", "nothing held");
    // A grant repays the arrears first; only then can the user reserve.
    assert_eq!(s.grant("ivy", "250", "repay").await, json!({"balance": "50", "arrears": "0"}));
    let ok = s.check_balance(&ivy, &reserve("gpt-4", 1000, 0, "after-repay")).await;
    assert_eq!(ok["reservation"]["amount"], "30", "{ok}");
    assert_audit_clean(&s).await;
}

on_both_backends!(
    released_funds_stay_blocked_while_arrears_are_owed,
    reserving_a_system_id_is_refused_and_the_real_charge_happens,
    reservation_ids_are_per_user,
    a_reservation_key_reused_with_other_terms_is_a_conflict,
    a_grant_key_reused_with_other_fields_is_a_conflict,
    the_longest_reservation_ids_still_expire,
    holds_that_cannot_expire_never_block_the_others,
    no_reservation_is_granted_once_arrears_exist,
);
