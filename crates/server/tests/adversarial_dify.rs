//! Issue 12, the Dify webhook (seed 004): each test is an attacker's (or a
//! careless relay's) move, the refusal it gets (status and code) or its
//! exact outcome, and the proof nothing was lost: exact balances and a
//! clean ledger audit after each. Every test runs on SQLite and PostgreSQL.

mod common;

use common::*;
use futures::future::join_all;
use serde_json::{json, Value};
use tollway_server::signature::{sign, sign_with_user};

/// Registers an app and returns its id with its credentials.
async fn app_with_id(s: &Server, name: &str) -> (i64, App) {
    let v = s.post("/api/admin/apps", Some(&s.admin), &json!({"name": name})).await.ok();
    let app = App { key: v["api_key"].as_str().expect("key").into(), secret: v["signing_secret"].as_str().expect("secret").into() };
    (v["app_id"].as_i64().expect("app_id"), app)
}

async fn set_sources(s: &Server, app_id: i64, sources: &Value) -> Resp {
    s.put(&format!("/api/admin/apps/{app_id}/sources"), Some(&s.admin), sources).await
}

/// Sends `body` with the user in `X-Dify-User` (if any), signed over
/// `signed_user` (if any, else the plain body signature).
async fn webhook_as(s: &Server, app: &App, user: Option<&str>, signed_user: Option<&str>, body: &[u8]) -> Resp {
    let ts = now_secs();
    let sig = match signed_user {
        Some(u) => sign_with_user(&app.secret, ts, u, body),
        None => sign(&app.secret, ts, body),
    };
    let mut request = s
        .http
        .post(s.url("/api/dify/webhook"))
        .header("content-type", "application/json")
        .header("X-Tollway-Key", &app.key)
        .header("X-Tollway-Timestamp", ts.to_string())
        .header("X-Tollway-Signature", sig)
        .body(body.to_vec());
    if let Some(u) = user {
        request = request.header("X-Dify-User", u);
    }
    s.send(request).await
}

/// Dify's `message_end` exactly as Dify emits it: no user, no model.
fn message_end(message: &str, prompt: u64, completion: u64) -> Value {
    let mut v = dify(message, "-", "-", prompt, completion);
    let o = v.as_object_mut().expect("object");
    o.remove("user");
    o.remove("model");
    v
}

#[track_caller]
fn refused(r: &Resp, status: u16, code: &str) {
    assert_eq!((r.status, r.code().as_str()), (status, code), "{}", r.text);
}

fn field(r: &Resp) -> Value {
    r.json()["error"]["field"].clone()
}

async fn audit_ok(s: &Server) -> u64 {
    let audit = s.audit().await;
    assert_eq!(audit["ok"], true, "{audit}");
    audit["transfers"].as_u64().expect("transfers")
}

// ---------------------------------------------------------------------------

/// Dify's own event, forwarded verbatim: the user comes from a signed
/// header, the model is the app's fixed model, priced as `GPT-4` (the
/// seed's spelling) while the app says `gpt-4`. The response has the seed's
/// camelCase fields. Moving the header to another user breaks the
/// signature.
async fn dify_event_verbatim_with_header_user(s: Server) {
    s.set_price("GPT-4", "30", "60", "seed").await;
    let alice = s.create_user("alice").await;
    let bob = s.create_user("bob").await;
    s.grant("alice", "1000", "g-a").await;
    s.grant("bob", "1000", "g-b").await;
    let (id, app) = app_with_id(&s, "dify").await;
    let set = set_sources(&s, id, &json!({"user": {"header": "X-Dify-User"}, "model": {"fixed": "gpt-4"}})).await.ok();
    assert_eq!(set, json!({"user": {"header": "x-dify-user"}, "model": {"fixed": "gpt-4"}}));
    assert_eq!(s.admin_get(&format!("/api/admin/apps/{id}/sources")).await, set);
    let body = to_bytes(&message_end("m-1", 1500, 800));

    // 1500 × 30/1000 + 800 × 60/1000 = 93.
    let ok = webhook_as(&s, &app, Some("alice"), Some("alice"), &body).await;
    let d = &ok.ok()["data"];
    assert_eq!((d["status"].as_str(), d["model"].as_str(), d["points_deducted"].as_str()), (Some("charged"), Some("GPT-4"), Some("93")));
    assert_eq!(d["pointsDeducted"], json!(93), "a JSON number");
    assert_eq!((d["tokensUsed"].as_i64(), d["tokens_used"].as_i64()), (Some(2300), Some(2300)));
    assert_eq!(d["consumptionId"], d["consumption_id"]);
    assert!(d["consumptionId"].as_str().is_some_and(|c| c.starts_with("cons_")), "{d}");

    // Attacker: replays the signed body with the header naming bob.
    refused(&webhook_as(&s, &app, Some("bob"), Some("alice"), &body).await, 401, "signature_invalid");
    // Attacker: signs the body alone (a relay that ignores the header rule).
    let other = to_bytes(&message_end("m-2", 10, 10));
    refused(&webhook_as(&s, &app, Some("bob"), None, &other).await, 401, "signature_invalid");
    // A relay that forgets the header.
    let missing = webhook_as(&s, &app, None, Some(""), &other).await;
    refused(&missing, 422, "missing_user");
    assert_eq!(field(&missing), "header x-dify-user");

    assert_eq!(s.balance(&alice).await["balance"], "907");
    assert_eq!(s.balance(&bob).await["balance"], "1000");
    audit_ok(&s).await;
}

/// Sources in body fields; malformed source settings are refused.
async fn field_sources_and_bad_settings(s: Server) {
    s.set_price("gpt-4", "30", "60", "").await;
    let carol = s.create_user("carol").await;
    s.grant("carol", "100", "g").await;
    let (id, app) = app_with_id(&s, "relay").await;
    set_sources(&s, id, &json!({"user": {"field": "from_end_user_id"}, "model": {"field": "inputs.model"}})).await.ok();
    let mut body = message_end("m-f", 1000, 0);
    body["from_end_user_id"] = json!("carol");
    body["inputs"] = json!({"model": "GPT-4"});
    let d = s.webhook_json(&app, &body).await.ok()["data"].clone();
    assert_eq!((d["points_deducted"].as_str(), d["balance"].as_str()), (Some("30"), Some("70")));

    for (bad, code, status) in [
        (json!({"user": {"field": "a", "header": "b"}}), "invalid_field", 422),
        (json!({"user": {"fixed": "carol"}}), "invalid_field", 422),
        (json!({"model": {"header": "x-model"}}), "invalid_field", 422),
        (json!({"user": {"field": "a..b"}}), "invalid_field", 422),
        (json!({"user": {"header": "bad header"}}), "invalid_field", 422),
        (json!({"model": {"fixed": ""}}), "invalid_field", 422),
        (json!({"user": {}}), "invalid_field", 422),
        (json!({"user": {"path": "x"}}), "malformed_json", 400),
    ] {
        refused(&set_sources(&s, id, &bad).await, status, code);
    }
    refused(&set_sources(&s, 999_999, &json!({})).await, 404, "unknown_app");
    let sneaky = s.put(&format!("/api/admin/apps/{id}/sources"), Some(&carol.key), &json!({})).await;
    refused(&sneaky, 403, "admin_required");
    // The refused settings changed nothing.
    assert_eq!(
        s.admin_get(&format!("/api/admin/apps/{id}/sources")).await,
        json!({"user": {"field": "from_end_user_id"}, "model": {"field": "inputs.model"}})
    );
    audit_ok(&s).await;
}

/// `GPT-4` and `gpt-4` are one model: a second spelling cannot be priced,
/// and every spelling is charged by the one rule.
async fn model_names_cannot_collide(s: Server) {
    s.set_price("GPT-4", "30", "60", "").await;
    let clash = s.put("/api/admin/models/gpt-4", Some(&s.admin), &json!({"input_per_1k": "0", "output_per_1k": "0"})).await;
    refused(&clash, 409, "already_exists");
    assert!(s.admin_get("/api/admin/models/gpt-4/history").await.as_array().is_some_and(Vec::is_empty));
    s.set_price("GPT-4", "10", "20", "v2 under the same spelling").await;
    let dan = s.create_user("dan").await;
    s.grant("dan", "100", "g").await;
    let est = s.get("/api/user/points/estimate?model=gpt-4&input_tokens=1000&output_tokens=1000", Some(&dan.key)).await.ok();
    assert_eq!((est["rule"].as_str(), est["price_version"].as_i64(), est["estimated_cost"].as_str()), (Some("GPT-4"), Some(2), Some("30")));
    let app = s.create_app("relay").await;
    let v = s.webhook_json(&app, &relay("m-case", "dan", "gPt-4", 1000, 1000)).await.ok();
    assert_eq!((v["data"]["model"].as_str(), v["data"]["points_deducted"].as_str()), (Some("GPT-4"), Some("30")));
    assert_eq!(s.balance(&dan).await["balance"], "70");
    audit_ok(&s).await;
}

/// A change to a report.
type Edit = fn(&mut Value);

/// A retry must repeat every field: each different field is 409
/// `idempotency_conflict` naming it, and charges nothing.
async fn idempotency_names_the_field(s: Server) {
    s.set_price("gpt-4", "30", "60", "").await;
    s.set_price("gpt-3", "1", "1", "").await;
    let erin = s.create_user("erin").await;
    s.create_user("frank").await;
    s.grant("erin", "1000", "g").await;
    let app = s.create_app("dify").await;
    let mut base = dify("m-id", "erin", "gpt-4", 1500, 800);
    base["reservation_id"] = json!("never-made");
    let first = s.webhook_json(&app, &base).await;
    assert_eq!(first.ok()["data"]["points_deducted"], "93");
    let transfers = audit_ok(&s).await;

    let variants: [(&str, Edit); 10] = [
        ("user", |v| v["user"] = json!("frank")),
        ("user", |v| v["user"] = json!("nobody-at-all")),
        ("model", |v| v["model"] = json!("gpt-3")),
        ("input_tokens", |v| { v["metadata"]["usage"]["prompt_tokens"] = json!(1501); v["metadata"]["usage"]["total_tokens"] = json!(2301); }),
        ("output_tokens", |v| { v["metadata"]["usage"]["completion_tokens"] = json!(0); v["metadata"]["usage"]["total_tokens"] = json!(1500); }),
        ("reservation_id", |v| v["reservation_id"] = json!("other")),
        ("reservation_id", |v| { v.as_object_mut().map(|o| o.remove("reservation_id")); }),
        ("conversation_id", |v| v["conversation_id"] = json!("conv-x")),
        ("total_price", |v| v["metadata"]["usage"]["total_price"] = json!("0.0012891")),
        ("currency", |v| v["metadata"]["usage"]["currency"] = json!("RMB")),
    ];
    for (name, change) in &variants {
        let mut v = base.clone();
        change(&mut v);
        let r = s.webhook_json(&app, &v).await;
        refused(&r, 409, "idempotency_conflict");
        assert_eq!(field(&r), *name, "{}", r.text);
    }
    // Transport details are not usage: a new request id or latency is a retry.
    let mut retry = base.clone();
    retry["task_id"] = json!("another-task");
    retry["metadata"]["usage"]["latency"] = json!(9.9);
    retry["model"] = json!("GPT-4");
    assert_eq!(s.webhook_json(&app, &retry).await.text, first.text);
    assert_eq!(s.webhook_json(&app, &base).await.text, first.text);
    assert_eq!(s.balance(&erin).await["balance"], "907");
    assert_eq!(audit_ok(&s).await, transfers, "a conflict wrote transfers");
}

/// Unknown and disabled users: the usage is kept (nothing charged), listed
/// for admins, resolved to a user once (charged once, however often and
/// however concurrently resolved) or dismissed with a reason.
async fn unattributed_usage_is_kept_then_resolved_once(s: Server) {
    s.set_price("gpt-4", "30", "60", "").await;
    let ann = s.create_user("ann").await;
    let dora = s.create_user("dora").await;
    s.grant("ann", "1000", "g-ann").await;
    s.grant("dora", "500", "g-dora").await;
    let app = s.create_app("relay").await;
    let transfers = audit_ok(&s).await;

    // An unknown user.
    let ghost = s.webhook_json(&app, &relay("m-ghost", "ghost", "gpt-4", 1500, 800)).await;
    let d = ghost.ok()["data"].clone();
    assert_eq!((d["status"].as_str(), d["points_deducted"].as_str(), d["pointsDeducted"].as_u64(), d["cost"].as_str()), (Some("unattributed"), Some("0"), Some(0), Some("93")));
    assert_eq!(s.webhook_json(&app, &relay("m-ghost", "ghost", "gpt-4", 1500, 800)).await.text, ghost.text, "replay");
    let r = s.webhook_json(&app, &relay("m-ghost", "ghost", "gpt-4", 1500, 801)).await;
    refused(&r, 409, "idempotency_conflict");
    assert_eq!(field(&r), "output_tokens");

    // A disabled user.
    let off = s.send(Server::with_key(s.http.patch(s.url(&format!("/api/admin/users/{}", dora.id))), Some(&s.admin)).json(&json!({"enabled": false}))).await;
    assert_eq!(off.status, 200, "{}", off.text);
    let kept = s.webhook_json(&app, &relay("m-dora", "dora", "gpt-4", 1000, 0)).await.ok();
    assert_eq!(kept["data"]["status"], "unattributed");
    assert_eq!(audit_ok(&s).await, transfers, "unattributed usage moved points");

    let listed = s.admin_get("/api/admin/unattributed").await;
    let listed = listed.as_array().expect("array");
    assert_eq!(listed.len(), 2, "{listed:?}");
    let seq_of = |m: &str| listed.iter().find(|e| e["message_id"] == m).and_then(|e| e["seq"].as_i64()).expect("listed");
    let (ghost_seq, dora_seq) = (seq_of("m-ghost"), seq_of("m-dora"));
    assert_eq!(listed.iter().find(|e| e["message_id"] == "m-ghost").map(|e| e["user_ref"].clone()), Some(json!("ghost")));

    // Ten admins resolve the ghost's usage to ann at once: one charge.
    let path = format!("/api/admin/unattributed/{ghost_seq}/resolve");
    let tasks = (0..10).map(|_| {
        let (s, path) = (s.clone(), path.clone());
        tokio::spawn(async move { s.post(&path, Some(&s.admin), &json!({"user": "ann", "note": "ghost is ann's relay id"})).await })
    });
    for r in join_all(tasks).await {
        let v = r.expect("task").ok();
        assert_eq!((v["status"].as_str(), v["charged"].as_str(), v["user_id"].as_i64()), (Some("charged"), Some("93"), Some(ann.id)), "{v}");
    }
    assert_eq!(s.balance(&ann).await["balance"], "907");
    let charges = s.get("/api/user/points/history?type=charge", Some(&ann.key)).await.ok();
    assert_eq!(charges["items"].as_array().map(Vec::len), Some(1), "{charges}");
    // Attacker (or a confused admin): the same event to someone else.
    let r = s.post(&path, Some(&s.admin), &json!({"user": "dora"})).await;
    refused(&r, 409, "idempotency_conflict");
    assert_eq!(field(&r), "user");
    refused(&s.post(&format!("/api/admin/unattributed/{ghost_seq}/dismiss"), Some(&s.admin), &json!({"reason": "x"})).await, 409, "not_unattributed");
    // The relay retries after the resolution: the record as it stands, no new charge.
    let again = s.webhook_json(&app, &relay("m-ghost", "ghost", "gpt-4", 1500, 800)).await.ok();
    assert_eq!((again["data"]["status"].as_str(), again["data"]["pointsDeducted"].as_u64()), (Some("charged"), Some(93)));
    assert_eq!(s.balance(&ann).await["balance"], "907");

    // Dora's usage is dismissed; a dismissal is final.
    let dismiss = format!("/api/admin/unattributed/{dora_seq}/dismiss");
    refused(&s.post(&dismiss, Some(&s.admin), &json!({"reason": "  "})).await, 422, "invalid_field");
    let done = s.post(&dismiss, Some(&s.admin), &json!({"reason": "test traffic"})).await.ok();
    assert_eq!((done["status"].as_str(), done["resolution"].as_str()), (Some("dismissed"), Some("test traffic")));
    assert_eq!(s.post(&dismiss, Some(&s.admin), &json!({"reason": "test traffic"})).await.ok(), done);
    let r = s.post(&dismiss, Some(&s.admin), &json!({"reason": "other"})).await;
    refused(&r, 409, "idempotency_conflict");
    assert_eq!(field(&r), "reason");
    refused(&s.post(&format!("/api/admin/unattributed/{dora_seq}/resolve"), Some(&s.admin), &json!({"user": "dora"})).await, 409, "usage_dismissed");

    // Wrong targets.
    refused(&s.post("/api/admin/unattributed/999999/resolve", Some(&s.admin), &json!({"user": "ann"})).await, 404, "unknown_event");
    refused(&s.post(&path, Some(&s.admin), &json!({"user": "nobody"})).await, 404, "unknown_user");
    let charged_seq = s.recent().await.iter().find(|e| e["status"] == "charged").and_then(|e| e["seq"].as_i64()).expect("a charged event");
    let normal = s.webhook_json(&app, &relay("m-ann", "ann", "gpt-4", 1000, 0)).await.ok();
    assert_eq!(normal["data"]["points_deducted"], "30");
    let normal_seq = s.recent().await.iter().find(|e| e["message_id"] == "m-ann").and_then(|e| e["seq"].as_i64()).expect("m-ann");
    assert_ne!(normal_seq, charged_seq);
    refused(&s.post(&format!("/api/admin/unattributed/{normal_seq}/resolve"), Some(&s.admin), &json!({"user": "ann"})).await, 409, "not_unattributed");
    refused(&s.post(&path, Some(&ann.key), &json!({"user": "ann"})).await, 403, "admin_required");
    assert!(s.admin_get("/api/admin/unattributed").await.as_array().is_some_and(Vec::is_empty));
    assert_eq!(s.admin_get("/api/admin/unattributed?status=dismissed").await.as_array().map(Vec::len), Some(1));

    assert_eq!(s.balance(&ann).await["balance"], "877");
    audit_ok(&s).await;
}

/// A report's `reservation_id` is the reporting user's own key: it cannot
/// settle someone else's hold, and a key outside the client-key rule is
/// refused.
async fn reservations_stay_in_their_owners_namespace(s: Server) {
    s.set_price("gpt-4", "30", "60", "").await;
    let gail = s.create_user("gail").await;
    let mal = s.create_user("mal").await;
    s.grant("gail", "1000", "g1").await;
    s.grant("mal", "1000", "g2").await;
    let app = s.create_app("relay").await;
    let held = s.check_balance(&gail, &json!({"model": "gpt-4", "input_tokens": 1500, "output_tokens": 800, "reserve": true, "reservation_id": "k1"})).await;
    assert_eq!(held["reservation"]["id"], "k1", "{held}");
    assert_eq!(s.balance(&gail).await["available"], "907");

    // Mallory reports her usage against gail's key: her own balance pays.
    let mut theirs = relay("m-mal", "mal", "gpt-4", 1500, 800);
    theirs["data"]["reservation_id"] = json!("k1");
    assert_eq!(s.webhook_json(&app, &theirs).await.ok()["data"]["balance"], "907");
    assert_eq!(s.balance(&gail).await, json!({"balance": "1000", "available": "907", "arrears": "0"}));
    for key in [format!("u{}/rsv/k1", gail.id), "k1:post".into(), "a b".into(), "x".repeat(65)] {
        let mut v = relay("m-bad", "mal", "gpt-4", 1, 1);
        v["data"]["reservation_id"] = json!(key);
        let r = s.webhook_json(&app, &v).await;
        refused(&r, 422, "invalid_field");
        assert_eq!(field(&r), "reservation_id");
    }
    // Gail settles her own hold.
    let mut own = relay("m-gail", "gail", "gpt-4", 1500, 800);
    own["data"]["reservation_id"] = json!("k1");
    assert_eq!(s.webhook_json(&app, &own).await.ok()["data"]["points_deducted"], "93");
    assert_eq!(s.balance(&gail).await, json!({"balance": "907", "available": "907", "arrears": "0"}));
    assert_eq!(s.balance(&mal).await["balance"], "907");
    let holds = s.get("/api/user/points/history?type=reservation", Some(&gail.key)).await.ok();
    assert_eq!(holds["items"][0]["status"], "posted", "{holds}");
    audit_ok(&s).await;
}

/// Extremes in every numeric field a client sends: refused with 4xx,
/// never a panic (the server stays up), never a wrap, nothing written.
async fn hostile_numbers_are_refused(s: Server) {
    s.set_price("gpt-4", "30", "60", "").await;
    s.set_price("dear", "300000000000000000000000000000000", "0", "").await;
    let hal = s.create_user("hal").await;
    s.grant("hal", "1000", "g").await;
    let app = s.create_app("relay").await;
    let transfers = audit_ok(&s).await;
    let body = to_bytes(&relay("m-x", "hal", "gpt-4", 1, 1));
    for ts in [i64::MIN, i64::MAX, i64::MIN + 1, -1, 0] {
        let r = s.webhook_raw(Some(&app.key), Some(ts), Some(&sign(&app.secret, ts, &body)), &body).await;
        refused(&r, 401, "timestamp_stale");
    }
    let raw_ts = s.send(s.http.post(s.url("/api/dify/webhook")).header("X-Tollway-Key", &app.key)
        .header("X-Tollway-Timestamp", "99999999999999999999").header("X-Tollway-Signature", "sha256=00").body(body.clone())).await;
    refused(&raw_ts, 401, "timestamp_invalid");

    let mut cases: Vec<(String, u16, &str, Resp)> = Vec::new();
    for n in ["-9223372036854775808", "18446744073709551615", "1e308", "-1", "100000001", "1.0", "-0"] {
        let b = relay_raw_tokens("m-t", "hal", "gpt-4", n, "1");
        cases.push((format!("tokens {n}"), 422, "invalid_tokens", s.webhook(&app, &b).await));
    }
    let edits: Vec<(&str, Value, &str)> = vec![
        ("metadata.usage.total_tokens", json!(u64::MAX), "invalid_tokens"),
        ("created_at", json!(-1), "invalid_field"),
        ("created_at", json!(1e308), "invalid_field"),
        ("created_at", json!(u64::MAX), "invalid_field"),
        ("metadata.usage.latency", json!(-1e308), "invalid_field"),
        ("metadata.usage.total_price", json!("1e308"), "invalid_price"),
        ("metadata.usage.prompt_price", json!("9".repeat(60)), "invalid_price"),
        ("metadata.usage.completion_unit_price", json!("-0.1"), "invalid_price"),
        ("message_id", json!("m".repeat(201)), "invalid_field"),
        ("user", json!(1.5), "invalid_field"),
        ("reservation_id", json!(i64::MIN), "invalid_field"),
    ];
    for (path, v, code) in edits {
        let mut b = dify("m-e", "hal", "gpt-4", 1, 1);
        *path.split('.').fold(&mut b, |slot, key| &mut slot[key]) = v.clone();
        cases.push((format!("{path} = {v}"), 422, code, s.webhook_json(&app, &b).await));
    }
    cases.push(("cost overflows".into(), 422, "amount_overflow", s.webhook_json(&app, &relay("m-o", "hal", "dear", 100_000_000, 0)).await));
    let q = |input: &str| format!("/api/user/points/estimate?model=gpt-4&input_tokens={input}&output_tokens=1");
    cases.push(("estimate u64::MAX".into(), 422, "invalid_tokens", s.get(&q("18446744073709551615"), Some(&hal.key)).await));
    cases.push(("estimate 2^64".into(), 400, "invalid_query", s.get(&q("18446744073709551616"), Some(&hal.key)).await));
    cases.push(("estimate negative".into(), 400, "invalid_query", s.get(&q("-1"), Some(&hal.key)).await));
    let check = |input: Value, ttl: Value| json!({"model": "gpt-4", "input_tokens": input, "output_tokens": 1, "reserve": true, "reservation_ttl_secs": ttl});
    cases.push(("check-balance u64::MAX".into(), 422, "invalid_tokens", s.post("/api/user/points/check-balance", Some(&hal.key), &check(json!(u64::MAX), json!(60))).await));
    cases.push(("check-balance ttl 2^32".into(), 400, "malformed_json", s.post("/api/user/points/check-balance", Some(&hal.key), &check(json!(1), json!(4_294_967_296u64))).await));
    cases.push(("check-balance ttl 0".into(), 422, "invalid_field", s.post("/api/user/points/check-balance", Some(&hal.key), &check(json!(1), json!(0))).await));
    assert_refusals(&cases);

    assert_eq!(s.get("/health", None).await.ok()["status"], "ok");
    assert_eq!(s.balance(&hal).await, json!({"balance": "1000", "available": "1000", "arrears": "0"}));
    assert!(s.recent().await.is_empty(), "a refused report was recorded");
    assert_eq!(audit_ok(&s).await, transfers);
}

on_both_backends!(
    dify_event_verbatim_with_header_user,
    field_sources_and_bad_settings,
    model_names_cannot_collide,
    idempotency_names_the_field,
    unattributed_usage_is_kept_then_resolved_once,
    reservations_stay_in_their_owners_namespace,
    hostile_numbers_are_refused,
);
