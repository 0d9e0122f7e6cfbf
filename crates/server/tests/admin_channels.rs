//! `GET /api/admin/channels` on SQLite and PostgreSQL: every user's
//! channels, newest first, with their owner; filtered by user; limited;
//! a closed channel shows closed and refunded; only for admins.

use serde_json::{json, Value};
use tollway_core::channel::wire::public_key_hex;
use tollway_core::channel::PayerKey;

mod common;
use common::{assert_refusals, Server, User};

async fn open(s: &Server, user: &User, byte: u8, deposit: &str) -> Value {
    let key = PayerKey::from_bytes([byte; 32]).expect("key");
    let r = s.post("/api/channels", Some(&user.key), &json!({"deposit": deposit, "key": public_key_hex(&key.public())})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

fn ids(v: &Value) -> Vec<Value> {
    v["channels"].as_array().expect("channels").iter().map(|c| c["id"].clone()).collect()
}

/// Two users' channels, newest first, each with its owner; the user
/// filter and the limit; a closed channel.
async fn admins_see_every_users_channels_newest_first(s: Server) {
    let (alice, bob) = (s.create_user("alice").await, s.create_user("bob").await);
    s.grant("alice", "1000", "g-alice").await;
    s.grant("bob", "1000", "g-bob").await;
    let empty = s.admin_get("/api/admin/channels").await;
    assert_eq!(empty, json!({"channels": []}));
    let a1 = open(&s, &alice, 1, "100").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let b1 = open(&s, &bob, 2, "200").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let a2 = open(&s, &alice, 3, "300").await;

    let all = s.admin_get("/api/admin/channels").await;
    assert_eq!(ids(&all), vec![a2["id"].clone(), b1["id"].clone(), a1["id"].clone()], "newest first");
    let first = &all["channels"][0];
    assert_eq!((first["user_id"].clone(), first["collateral"].clone(), first["open"].clone()), (json!(alice.id), json!("300"), json!(true)));
    assert_eq!(first["subs"].as_array().map(Vec::len), Some(1), "{first}");
    assert_eq!((first["owed"].clone(), first["claimed"].clone()), (json!("0"), json!("0")));

    let mine = s.admin_get(&format!("/api/admin/channels?user={}", alice.id)).await;
    assert_eq!(ids(&mine), vec![a2["id"].clone(), a1["id"].clone()], "only alice's");
    let one = s.admin_get("/api/admin/channels?limit=1").await;
    assert_eq!(ids(&one), vec![a2["id"].clone()], "limit");

    let closed = s.post(&format!("/api/channels/{}/close", a1["id"].as_str().expect("id")), Some(&alice.key), &json!({})).await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    let all = s.admin_get("/api/admin/channels").await;
    let a1_now = all["channels"].as_array().expect("channels").iter().find(|c| c["id"] == a1["id"]).expect("a1").clone();
    assert_eq!((a1_now["open"].clone(), a1_now["refunded"].clone()), (json!(false), json!("100")), "{a1_now}");
}

/// A user (not an admin), no key, a bad limit: refused with their codes.
async fn only_admins_list_channels(s: Server) {
    let carol = s.create_user("carol").await;
    assert_refusals(&[
        ("a user", 403, "admin_required", s.get("/api/admin/channels", Some(&carol.key)).await),
        ("no key", 401, "api_key_missing", s.get("/api/admin/channels", None).await),
        ("limit 0", 400, "invalid_query", s.get("/api/admin/channels?limit=0", Some(&s.admin)).await),
        ("limit 501", 400, "invalid_query", s.get("/api/admin/channels?limit=501", Some(&s.admin)).await),
        ("user not a number", 400, "invalid_query", s.get("/api/admin/channels?user=x", Some(&s.admin)).await),
    ]);
}

on_both_backends!(admins_see_every_users_channels_newest_first, only_admins_list_channels,);
