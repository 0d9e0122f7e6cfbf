//! HTTP integration tests: a real server (`tollway_server::start`) on a
//! fresh database, driven over HTTP with reqwest. Every test runs on
//! SQLite and on PostgreSQL (`TOLLWAY_TEST_PG_URL`, see `scripts/pg.sh`).

mod common;

use common::*;
use futures::future::join_all;
use serde_json::{json, Value};
use std::time::Duration;
use tollway_server::signature::sign;

// ---------------------------------------------------------------------------
// 1. Happy path
// ---------------------------------------------------------------------------

async fn happy_path(s: Server) {
    s.set_price("gpt-4", "30", "60", "launch").await;
    let alice = s.create_user("alice").await;
    let granted = s.grant("alice", "1000", "welcome").await;
    assert_eq!(granted, json!({"balance": "1000", "arrears": "0"}));
    let app = s.create_app("relay").await;

    // 1500 × 30/1000 + 800 × 60/1000 = 45 + 48 = 93.
    let body = to_bytes(&relay("msg-1", "alice", "gpt-4", 1500, 800));
    let ts = now_secs();
    let sig = sign(&app.secret, ts, &body);
    let first = s.webhook_raw(Some(&app.key), Some(ts), Some(&sig), &body).await;
    let v = first.ok();
    assert_eq!(v["success"], true);
    let d = &v["data"];
    assert_eq!(d["status"], "charged");
    assert_eq!(d["points_deducted"], "93");
    assert_eq!(d["cost"], "93");
    assert_eq!(d["shortfall"], "0");
    assert_eq!(d["balance"], "907");
    assert_eq!(d["message_id"], "msg-1");
    assert_eq!(d["model"], "gpt-4");
    assert_eq!((d["input_tokens"].as_i64(), d["output_tokens"].as_i64(), d["tokens_used"].as_i64()), (Some(1500), Some(800), Some(2300)));
    assert_eq!(d["price_version"], 1);
    assert_eq!(d["usage_source"], "upstream");

    // The same request again: the same answer, byte for byte, and no second charge.
    let again = s.webhook_raw(Some(&app.key), Some(ts), Some(&sig), &body).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.text, first.text, "a replay must get the original answer");

    assert_eq!(s.balance(&alice).await, json!({"balance": "907", "available": "907", "arrears": "0"}));

    // History: the charge (newest) then the grant.
    let page = s.get("/api/user/points/history", Some(&alice.key)).await.ok();
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{page}");
    assert_eq!(items[0]["type"], "charge");
    assert_eq!(items[0]["amount"], "93");
    assert_eq!(items[0]["balance_effect"], "-93");
    assert_eq!(items[0]["model"], "gpt-4");
    assert_eq!(items[0]["request_id"], "msg-1");
    assert_eq!(items[0]["price_version"], 1);
    assert_eq!(items[1]["type"], "grant");
    assert_eq!(items[1]["balance_effect"], "+1000");
    assert_eq!(items[1]["memo"], "test grant");
    assert!(page["next_cursor"].is_null(), "{page}");

    let grants = s.get("/api/user/points/history?type=grant", Some(&alice.key)).await.ok();
    let grant_items = grants["items"].as_array().expect("items");
    assert_eq!(grant_items.len(), 1, "{grants}");
    assert_eq!(grant_items[0]["type"], "grant");

    let csv = s.get("/api/user/points/history?format=csv", Some(&alice.key)).await;
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert!(csv.content_type.starts_with("text/csv"), "content type {:?}", csv.content_type);
    let lines: Vec<&str> = csv.text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 3, "header + 2 rows expected:\n{}", csv.text);
    assert!(lines[0].starts_with("seq,id,type,transfer_kind,amount,balance_effect"), "header: {}", lines[0]);
    assert!(lines[1].contains(",charge,") && lines[1].contains(",93,-93,"), "row: {}", lines[1]);
    assert!(lines[2].contains(",grant,") && lines[2].contains(",1000,+1000,"), "row: {}", lines[2]);

    let est = s.get("/api/user/points/estimate?model=gpt-4&input_tokens=1500&output_tokens=800", Some(&alice.key)).await.ok();
    assert_eq!(est["estimated_cost"], "93");
    assert_eq!(est["rule"], "gpt-4");
    assert_eq!(est["price_version"], 1);

    // Dify's own shape: ceil((1033 × 30 + 128 × 60) / 1000) = ceil(38.67) = 39.
    let v = s.webhook_json(&app, &dify("msg-2", "alice", "gpt-4", 1033, 128)).await.ok();
    let d = &v["data"];
    assert_eq!(d["status"], "charged");
    assert_eq!(d["message_id"], "msg-2");
    assert_eq!(d["points_deducted"], "39");
    assert_eq!(d["balance"], "868");
    assert_eq!((d["input_tokens"].as_i64(), d["output_tokens"].as_i64()), (Some(1033), Some(128)));
    assert_eq!(s.balance(&alice).await["balance"], "868");
    let events = s.recent().await;
    let dify_event = events_for(&events, "msg-2");
    assert_eq!(dify_event.len(), 1, "{events:?}");
    assert_eq!(dify_event[0]["reported_price"], "0.0012890");
    assert_eq!(dify_event[0]["reported_currency"], "USD");
    assert_eq!(dify_event[0]["model"], "gpt-4");
    assert_eq!(dify_event[0]["conversation_id"], "conv-msg-2");
    assert_eq!(s.audit().await["ok"], true);
}

// ---------------------------------------------------------------------------
// 2. The same webhook 50 times at once
// ---------------------------------------------------------------------------

async fn concurrent_replays_charge_once(s: Server) {
    s.set_price("gpt-4", "30", "60", "").await;
    let bob = s.create_user("bob").await;
    s.grant("bob", "1000", "g").await;
    let app = s.create_app("relay").await;
    let body = to_bytes(&relay("msg-burst", "bob", "gpt-4", 1500, 800));
    let ts = now_secs();
    let sig = sign(&app.secret, ts, &body);

    let tasks = (0..50).map(|_| {
        let (s, key, sig, body) = (s.clone(), app.key.clone(), sig.clone(), body.clone());
        tokio::spawn(async move { s.webhook_raw(Some(&key), Some(ts), Some(&sig), &body).await })
    });
    let answers: Vec<Resp> = join_all(tasks).await.into_iter().map(|r| r.expect("task")).collect();

    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert!(statuses.iter().all(|&st| st == 200), "statuses {statuses:?}; e.g. {:?}", answers.iter().find(|a| a.status != 200));
    let first = &answers[0].text;
    assert!(answers.iter().all(|a| &a.text == first), "bodies differ");
    let d = &answers[0].json()["data"];
    assert_eq!((d["points_deducted"].as_str(), d["balance"].as_str()), (Some("93"), Some("907")));

    assert_eq!(s.balance(&bob).await["balance"], "907", "charged more than once");
    let events = s.recent().await;
    assert_eq!(events_for(&events, "msg-burst").len(), 1, "{events:?}");
    let charges = s.get("/api/user/points/history?type=charge", Some(&bob.key)).await.ok();
    assert_eq!(charges["items"].as_array().map(Vec::len), Some(1), "{charges}");
    assert_eq!(s.audit().await["ok"], true);
}

// ---------------------------------------------------------------------------
// 3. Bad input: the right 4xx, and nothing written
// ---------------------------------------------------------------------------

async fn bad_input_is_refused_and_writes_nothing(s: Server) {
    s.set_price("gpt-4", "30", "60", "").await;
    let carol = s.create_user("carol").await;
    s.grant("carol", "1000", "g").await;
    let app = s.create_app("relay").await;

    // An accepted message, to conflict with later: 100 × 30/1000 + 100 × 60/1000 = 9.
    let ok = s.webhook_json(&app, &relay("msg-ok", "carol", "gpt-4", 100, 100)).await.ok();
    assert_eq!(ok["data"]["points_deducted"], "9");

    let transfers_before = s.audit().await["transfers"].as_u64().expect("transfers");
    let events_before = s.recent().await.len();
    let balance_before = s.balance(&carol).await;
    assert_eq!(balance_before["balance"], "991");

    let good = to_bytes(&relay("msg-new", "carol", "gpt-4", 10, 10));
    let ts = now_secs();
    let good_sig = sign(&app.secret, ts, &good);
    let signed = |body: &[u8]| sign(&app.secret, ts, body);

    let mut cases: Vec<(&str, u16, &str, Resp)> = Vec::new();

    let malformed = br#"{"event":"message_end","data":{"message_id":"m""#;
    cases.push(("malformed JSON", 400, "malformed_json", s.webhook_raw(Some(&app.key), Some(ts), Some(&signed(malformed)), malformed).await));
    cases.push(("no signature headers", 401, "signature_missing", s.webhook_raw(Some(&app.key), None, None, &good).await));
    cases.push(("signature without timestamp", 401, "signature_missing", s.webhook_raw(Some(&app.key), None, Some(&good_sig), &good).await));
    let wrong = sign("not-the-secret", ts, &good);
    cases.push(("wrong signature", 401, "signature_invalid", s.webhook_raw(Some(&app.key), Some(ts), Some(&wrong), &good).await));
    let other_body = sign(&app.secret, ts, &to_bytes(&relay("msg-new", "carol", "gpt-4", 1, 1)));
    cases.push(("signature of another body", 401, "signature_invalid", s.webhook_raw(Some(&app.key), Some(ts), Some(&other_body), &good).await));
    let stale = ts - 600;
    cases.push(("timestamp 10 minutes old", 401, "timestamp_stale", s.webhook_raw(Some(&app.key), Some(stale), Some(&sign(&app.secret, stale, &good)), &good).await));
    cases.push(("no app key", 401, "api_key_missing", s.webhook_raw(None, Some(ts), Some(&good_sig), &good).await));
    cases.push(("unknown app key", 401, "api_key_invalid", s.webhook_raw(Some("twapp_NoSuchKey0000000000000000000000"), Some(ts), Some(&good_sig), &good).await));

    for (name, input, output) in [
        ("negative tokens", "-5", "10"),
        ("fractional tokens", "1.5", "10"),
        ("1e30 tokens", "1e30", "10"),
        ("30-digit tokens", "123456789012345678901234567890", "10"),
        ("string tokens", r#""1500""#, "10"),
        ("negative output tokens", "10", "-1"),
        ("output above the maximum", "10", "100000001"),
    ] {
        let body = relay_raw_tokens("msg-tok", "carol", "gpt-4", input, output);
        cases.push((name, 422, "invalid_tokens", s.webhook_raw(Some(&app.key), Some(ts), Some(&signed(&body)), &body).await));
    }
    cases.push(("total is not input + output", 422, "invalid_tokens", {
        let mut v = relay("msg-total", "carol", "gpt-4", 10, 10);
        v["data"]["total_tokens"] = json!(21);
        s.webhook_json(&app, &v).await
    }));
    cases.push(("unknown model", 422, "unknown_model", s.webhook_json(&app, &relay("msg-um", "carol", "no-such-model", 10, 10)).await));
    cases.push(("event other than message_end", 422, "unsupported_event", {
        let mut v = relay("msg-ev", "carol", "gpt-4", 10, 10);
        v["event"] = json!("message");
        s.webhook_json(&app, &v).await
    }));
    cases.push(("oversized body, correctly signed", 413, "body_too_large", {
        let mut v = relay("msg-big", "carol", "gpt-4", 10, 10);
        v["padding"] = json!("x".repeat(70 * 1024));
        s.webhook_json(&app, &v).await
    }));
    cases.push(("same message id, different usage", 409, "idempotency_conflict", s.webhook_json(&app, &relay("msg-ok", "carol", "gpt-4", 200, 100)).await));

    // User API.
    cases.push(("check-balance, malformed JSON", 400, "malformed_json", s.post_raw("/api/user/points/check-balance", Some(&carol.key), "{\"model\": ").await));
    cases.push(("check-balance, no Bearer key", 401, "api_key_missing", s.post("/api/user/points/check-balance", None, &json!({"model": "gpt-4", "input_tokens": 1, "output_tokens": 1})).await));
    cases.push(("balance, unknown Bearer key", 401, "api_key_invalid", s.get("/api/user/points/balance", Some("tw_nope")).await));
    cases.push(("admin endpoint, non-admin key", 403, "admin_required", s.get("/api/admin/users", Some(&carol.key)).await));
    cases.push(("grant, non-admin key", 403, "admin_required", s.post("/api/admin/points/grant", Some(&carol.key), &json!({"user": "carol", "amount": "5", "reason": "self", "id": "x"})).await));
    cases.push(("unknown route", 404, "route_not_found", s.get("/api/no/such/route", Some(&carol.key)).await));

    assert_refusals(&cases);

    let audit = s.audit().await;
    assert_eq!(audit["transfers"].as_u64(), Some(transfers_before), "a refused request wrote transfers");
    assert_eq!(audit["ok"], true);
    assert_eq!(s.recent().await.len(), events_before, "a refused request recorded a usage event");
    assert_eq!(s.balance(&carol).await, balance_before);
}

// ---------------------------------------------------------------------------
// 4. Reservations under contention, then settlement
// ---------------------------------------------------------------------------

async fn reservations_exactly_ten_then_settle(s: Server) {
    // 1000 × 50/1000 + 1000 × 50/1000 = 100 points per call.
    s.set_price("rsv-model", "50", "50", "").await;
    let dave = s.create_user("dave").await;
    s.grant("dave", "1000", "g").await;
    let app = s.create_app("relay").await;
    let ask = json!({"model": "rsv-model", "input_tokens": 1000, "output_tokens": 1000, "reserve": true});

    let tasks = (0..100).map(|_| {
        let (s, key, ask) = (s.clone(), dave.key.clone(), ask.clone());
        tokio::spawn(async move { s.post("/api/user/points/check-balance", Some(&key), &ask).await })
    });
    let answers: Vec<Value> = join_all(tasks).await.into_iter().map(|r| r.expect("task").ok()).collect();

    let (granted, refused): (Vec<&Value>, Vec<&Value>) = answers.iter().partition(|a| !a["reservation"].is_null());
    assert_eq!(granted.len(), 10, "exactly ten holds of 100 fit in 1000");
    for a in &granted {
        assert_eq!(a["can_proceed"], true, "{a}");
        assert_eq!(a["estimated_cost"], "100", "{a}");
        assert_eq!(a["reservation"]["amount"], "100", "{a}");
        assert!(a["reason"].is_null(), "{a}");
    }
    for a in &refused {
        assert_eq!(a["can_proceed"], false, "{a}");
        assert_eq!(a["reason"], "insufficient_points", "{a}");
        assert_eq!(a["estimated_cost"], "100", "{a}");
    }
    assert_eq!(s.balance(&dave).await, json!({"balance": "1000", "available": "0", "arrears": "0"}));

    let ids: Vec<String> = granted.iter().map(|a| a["reservation"]["id"].as_str().expect("id").to_owned()).collect();
    for (i, id) in ids.iter().enumerate() {
        let mut body = relay(&format!("settle-{i}"), "dave", "rsv-model", 1000, 1000);
        body["data"]["reservation_id"] = json!(id);
        let v = s.webhook_json(&app, &body).await.ok();
        assert_eq!(v["data"]["status"], "charged", "{v}");
        assert_eq!(v["data"]["points_deducted"], "100", "{v}");
        assert_eq!(v["data"]["reservation_id"], json!(id), "{v}");
    }
    assert_eq!(s.balance(&dave).await, json!({"balance": "0", "available": "0", "arrears": "0"}));
    let holds = s.get("/api/user/points/history?type=reservation", Some(&dave.key)).await.ok();
    let holds = holds["items"].as_array().expect("items");
    assert_eq!(holds.len(), 10);
    assert!(holds.iter().all(|h| h["status"] == "posted"), "{holds:?}");
    assert_eq!(s.audit().await["ok"], true);
}

// ---------------------------------------------------------------------------
// 5. Arrears
// ---------------------------------------------------------------------------

async fn arrears_block_then_grant_repays(s: Server) {
    s.set_price("gpt-4", "30", "60", "").await;
    let erin = s.create_user("erin").await;
    s.grant("erin", "50", "g1").await;
    let app = s.create_app("relay").await;

    let v = s.webhook_json(&app, &relay("msg-arrears", "erin", "gpt-4", 1500, 800)).await.ok();
    let d = &v["data"];
    assert_eq!(d["status"], "arrears");
    assert_eq!(d["cost"], "93");
    assert_eq!(d["points_deducted"], "50");
    assert_eq!(d["shortfall"], "43");
    assert_eq!(d["balance"], "0");
    assert_eq!(s.balance(&erin).await, json!({"balance": "0", "available": "0", "arrears": "43"}));
    let owing = s.admin_get("/api/admin/arrears").await;
    assert_eq!(owing, json!([{"user_id": erin.id, "owed": "43"}]));

    let small = json!({"model": "gpt-4", "input_tokens": 10, "output_tokens": 0});
    let c = s.check_balance(&erin, &small).await;
    assert_eq!(c["can_proceed"], false, "{c}");
    assert_eq!(c["reason"], "arrears_outstanding", "{c}");
    assert_eq!(c["arrears"], "43", "{c}");

    assert_eq!(s.grant(&erin.handle, "100", "g2").await, json!({"balance": "57", "arrears": "0"}));
    assert_eq!(s.balance(&erin).await, json!({"balance": "57", "available": "57", "arrears": "0"}));
    let owing = s.admin_get("/api/admin/arrears").await;
    assert!(owing.as_array().is_some_and(|a| a.iter().all(|e| e["user_id"] != erin.id)), "{owing}");

    let c = s.check_balance(&erin, &small).await;
    assert_eq!(c["can_proceed"], true, "{c}");
    assert!(c["reason"].is_null(), "{c}");
    assert_eq!(c["estimated_cost"], "1", "{c}");
    assert_eq!(s.audit().await["ok"], true);
}

// ---------------------------------------------------------------------------
// 6. All-zero usage
// ---------------------------------------------------------------------------

async fn zero_usage_is_recorded_as_unknown(s: Server) {
    s.set_price("gpt-4", "30", "60", "").await;
    let fay = s.create_user("fay").await;
    s.grant("fay", "1000", "g").await;
    let app = s.create_app("relay").await;
    let transfers_before = s.audit().await["transfers"].as_u64();

    let v = s.webhook_json(&app, &relay("msg-zero", "fay", "gpt-4", 0, 0)).await.ok();
    let d = &v["data"];
    assert_eq!(d["status"], "usage_unknown");
    assert_eq!(d["points_deducted"], "0");
    assert_eq!(d["cost"], "0");
    // SERVER BUG (see report): `data.balance` is "0" here, not the
    // user's balance: dify.rs submits an empty chain for unknown usage, so
    // the writer reports no accounts and `balance_after` defaults to 0.
    assert_eq!(d["balance"], "1000", "data.balance must be the user's balance after this event");

    assert_eq!(s.balance(&fay).await, json!({"balance": "1000", "available": "1000", "arrears": "0"}));
    assert_eq!(s.audit().await["transfers"].as_u64(), transfers_before, "unknown usage must not move points");
    let unknown = s.admin_get("/api/admin/usage-unknown").await;
    let listed = events_for(unknown.as_array().expect("array"), "msg-zero");
    assert_eq!(listed.len(), 1, "{unknown}");
    assert_eq!(listed[0]["status"], "usage_unknown");
    assert_eq!(listed[0]["user_id"], fay.id);
}

// ---------------------------------------------------------------------------
// 7. System endpoints
// ---------------------------------------------------------------------------

async fn system_endpoints(s: Server) {
    let health = s.get("/health", None).await.ok();
    assert_eq!(health["status"], "ok");

    let metrics = s.get("/metrics", Some(&s.admin)).await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.text.contains("tollway_http_requests_total"), "{}", metrics.text);
    // The /health request above was counted.
    assert!(metrics.text.contains(r#"route="/health""#), "{}", metrics.text);

    let doc = s.get("/openapi.json", None).await.ok();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "openapi = {}", doc["openapi"]);
    assert!(doc["paths"]["/api/dify/webhook"]["post"].is_object(), "webhook path missing");
    assert!(doc["paths"]["/api/user/points/check-balance"].is_object());

    let docs = s.get("/docs", None).await;
    assert_eq!(docs.status, 200);
    assert!(docs.content_type.starts_with("text/html"), "content type {:?}", docs.content_type);
    assert!(docs.text.contains("openapi.json"));
}

// ---------------------------------------------------------------------------
// 8. Price versions
// ---------------------------------------------------------------------------

async fn price_versions_and_withdrawal(s: Server) {
    let v1 = s.set_price("gpt-4", "30", "60", "launch").await;
    assert_eq!((v1["model"].as_str(), v1["version"].as_i64(), v1["active"].as_bool()), (Some("gpt-4"), Some(1), Some(true)));
    let v2 = s.set_price("gpt-4", "10", "20", "price cut").await;
    assert_eq!(v2["version"], 2);

    let history = s.admin_get("/api/admin/models/gpt-4/history").await;
    let versions: Vec<(Option<i64>, Option<&str>)> = history
        .as_array()
        .expect("array")
        .iter()
        .map(|r| (r["version"].as_i64(), r["note"].as_str()))
        .collect();
    assert_eq!(versions, vec![(Some(1), Some("launch")), (Some(2), Some("price cut"))]);

    s.create_user("gus").await;
    s.grant("gus", "1000", "g").await;
    let app = s.create_app("relay").await;
    // Under version 2: 1500 × 10/1000 + 800 × 20/1000 = 15 + 16 = 31.
    let v = s.webhook_json(&app, &relay("msg-v2", "gus", "gpt-4", 1500, 800)).await.ok();
    assert_eq!(v["data"]["price_version"], 2);
    assert_eq!(v["data"]["points_deducted"], "31");

    let withdrawn = s.delete("/api/admin/models/gpt-4", Some(&s.admin)).await.ok();
    assert_eq!(withdrawn["active"], false);
    assert_eq!(withdrawn["version"], 3);
    let after = s.webhook_json(&app, &relay("msg-after", "gus", "gpt-4", 1500, 800)).await;
    assert_eq!((after.status, after.code().as_str()), (422, "unknown_model"), "{}", after.text);
    let missing = s.delete("/api/admin/models/never-priced", Some(&s.admin)).await;
    assert_eq!((missing.status, missing.code().as_str()), (404, "unknown_model"), "{}", missing.text);
}

/// A reservation nobody settles is released by the expiry job, without any
/// request; a late report for it is then charged from the balance.
async fn unused_reservation_expires(s: Server) {
    s.set_price("gpt-4", "30", "60", "initial").await;
    let app = s.create_app("dify").await;
    let u = s.create_user("ivy").await;
    s.grant("ivy", "500", "g1").await;
    let body = json!({"model": "gpt-4", "input_tokens": 1500, "output_tokens": 800, "reserve": true, "reservation_ttl_secs": 1});
    let r = s.check_balance(&u, &body).await;
    assert_eq!(r["can_proceed"], true, "{r}");
    let id = r["reservation"]["id"].as_str().expect("reservation id").to_owned();
    assert_eq!(s.balance(&u).await["available"], "407");
    let mut released = false;
    for _ in 0..60 {
        if s.balance(&u).await["available"] == "500" {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(released, "the expiry job did not release the reservation");
    let history = s.get("/api/user/points/history?type=reservation", Some(&u.key)).await.ok();
    // History shows ledger ids: a reservation lives in its user's namespace.
    assert_eq!(history["items"][0]["id"], format!("u{}/rsv/{id}", u.id));
    assert_eq!(history["items"][0]["status"], "expired");
    let mut late = relay("late-1", "ivy", "gpt-4", 1500, 800);
    late["data"]["reservation_id"] = json!(id);
    let charged = s.webhook_json(&app, &late).await.ok();
    assert_eq!((charged["data"]["points_deducted"].as_str(), charged["data"]["balance"].as_str()), (Some("93"), Some("407")));
    assert_eq!(s.audit().await["ok"], true);
}

// ---------------------------------------------------------------------------
// Every test on both backends.
// ---------------------------------------------------------------------------

on_both_backends!(
    happy_path,
    concurrent_replays_charge_once,
    bad_input_is_refused_and_writes_nothing,
    reservations_exactly_ten_then_settle,
    arrears_block_then_grant_repays,
    zero_usage_is_recorded_as_unknown,
    system_endpoints,
    price_versions_and_withdrawal,
    unused_reservation_expires,
);
