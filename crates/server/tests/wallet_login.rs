//! Wallet login under attack, on SQLite and PostgreSQL: a challenge is
//! answered once, by its own key, before it expires; a session stops at
//! its expiry; a wallet never adopts a user it is not linked to. The key
//! signs here, in the test, as the browser does; the server only ever sees
//! the public key and signatures.

use serde_json::{json, Value};
use std::time::Duration;
use tollway_core::channel::wire::public_key_hex;
use tollway_core::channel::PayerKey;
use tollway_core::login::login_signing_hash;

mod common;
use common::{assert_refusals, spawn_configured, Backend, Resp, Server};

async fn setup(backend: Backend, challenge_secs: u64, session_secs: u64) -> Server {
    spawn_configured(backend, |config| {
        config.auth.public_url = Some("https://pay.example".into());
        config.auth.challenge_secs = challenge_secs;
        config.auth.session_secs = session_secs;
    })
    .await
}

fn key(byte: u8) -> PayerKey {
    PayerKey::from_bytes([byte; 32]).expect("key")
}

async fn challenge(s: &Server, key: &PayerKey) -> Value {
    let r = s.post("/api/auth/challenge", None, &json!({"public_key": public_key_hex(&key.public())})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

fn signature(key: &PayerKey, challenge: &Value) -> [u8; 65] {
    key.sign_digest(login_signing_hash(challenge["challenge"].as_str().expect("text")))
}

async fn answer(s: &Server, key: &PayerKey, challenge: &Value, signature: [u8; 65]) -> Resp {
    let body = json!({"public_key": public_key_hex(&key.public()), "nonce": challenge["nonce"], "signature": format!("0x{}", hex::encode(signature))});
    s.post("/api/auth/wallet", None, &body).await
}

async fn log_in(s: &Server, key: &PayerKey) -> Value {
    let c = challenge(s, key).await;
    let r = answer(s, key, &c, signature(key, &c)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

/// The challenge names the site and the key; its signature opens a
/// session that works as an API key; the same wallet is the same user.
async fn a_wallet_logs_in_and_is_always_the_same_user(backend: Backend) {
    let s = setup(backend, 300, 3_600).await;
    let wallet = key(1);
    let c = challenge(&s, &wallet).await;
    let text = c["challenge"].as_str().expect("text");
    assert!(text.contains("site: https://pay.example") && text.contains(&format!("key: {}", wallet.id())), "{text}");
    let session = log_in(&s, &wallet).await;
    let token = session["api_key"].as_str().expect("api key");
    assert!(token.starts_with("tws_"));
    assert_eq!(session["key_id"], wallet.id().to_string());
    let balance = s.get("/api/user/points/balance", Some(token)).await;
    assert_eq!(balance.status, 200, "{}", balance.text);
    let again = log_in(&s, &wallet).await;
    assert_eq!(again["user_id"], session["user_id"], "one wallet, one user");
    assert_ne!(log_in(&s, &key(2)).await["user_id"], session["user_id"], "another wallet, another user");
}

/// The attacker's moves against a challenge: replay it, answer it with
/// another key, with another key's public key, with a recovery-id twin,
/// with garbage; none opens a session, and the refusals have their codes.
async fn a_challenge_is_answered_once_by_its_own_key_only(backend: Backend) {
    let s = setup(backend, 300, 3_600).await;
    let (victim, attacker) = (key(3), key(4));
    let c = challenge(&s, &victim).await;
    let good = signature(&victim, &c);
    let mut twin = good;
    twin[64] ^= 1;
    let forged_body = json!({"public_key": public_key_hex(&attacker.public()), "nonce": c["nonce"], "signature": format!("0x{}", hex::encode(signature(&attacker, &c)))});
    assert_refusals(&[
        ("another key's signature", 403, "signature_invalid", answer(&s, &victim, &c, signature(&attacker, &c)).await),
        ("the attacker's own key", 409, "challenge_key_mismatch", s.post("/api/auth/wallet", None, &forged_body).await),
        ("a recovery-id twin", 403, "signature_invalid", answer(&s, &victim, &c, twin).await),
        ("an unknown nonce", 404, "unknown_challenge", answer(&s, &victim, &json!({"nonce": "nope", "challenge": "x"}), good).await),
        ("a short signature", 400, "invalid_signature", s.post("/api/auth/wallet", None, &json!({"public_key": public_key_hex(&victim.public()), "nonce": c["nonce"], "signature": "0x00"})).await),
        ("not a key", 400, "invalid_key", s.post("/api/auth/challenge", None, &json!({"public_key": "0x02"})).await),
        ("an unknown field", 400, "malformed_json", s.post("/api/auth/challenge", None, &json!({"public_key": public_key_hex(&victim.public()), "site": "evil"})).await),
    ]);
    // The failed attempts did not burn it: the victim's own answer works, once.
    assert_eq!(answer(&s, &victim, &c, good).await.status, 200);
    assert_refusals(&[("the same answer again", 409, "challenge_used", answer(&s, &victim, &c, good).await)]);
    // Two answers racing: exactly one session.
    let c = challenge(&s, &victim).await;
    let sig = signature(&victim, &c);
    let results = futures::future::join_all((0..8).map(|_| answer(&s, &victim, &c, sig))).await;
    let opened = results.iter().filter(|r| r.status == 200).count();
    assert_eq!(opened, 1, "{:?}", results.iter().map(|r| (r.status, r.code())).collect::<Vec<_>>());
    assert!(results.iter().filter(|r| r.status != 200).all(|r| r.code() == "challenge_used"));
}

/// Expiry: a challenge answered late is refused; a session stops working
/// at its end.
async fn challenges_and_sessions_expire(backend: Backend) {
    let s = setup(backend, 1, 1).await;
    let wallet = key(5);
    let late = challenge(&s, &wallet).await;
    let session = log_in(&s, &wallet).await;
    let token = session["api_key"].as_str().expect("api key").to_owned();
    assert_eq!(s.get("/api/user/points/balance", Some(&token)).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_refusals(&[
        ("a late answer", 401, "challenge_expired", answer(&s, &wallet, &late, signature(&wallet, &late)).await),
        ("an expired session", 401, "session_expired", s.get("/api/user/points/balance", Some(&token)).await),
    ]);
}

/// The handle a wallet's user would get is taken by someone else first:
/// the wallet gets a user of its own, never that one.
async fn a_wallet_never_adopts_a_user_it_is_not_linked_to(backend: Backend) {
    let s = setup(backend, 300, 3_600).await;
    let wallet = key(6);
    let squatter = s.create_user(&format!("w-{}", wallet.id().to_string().trim_start_matches("0x"))).await;
    let session = log_in(&s, &wallet).await;
    assert_ne!(session["user_id"], json!(squatter.id));
    assert_eq!(log_in(&s, &wallet).await["user_id"], session["user_id"]);
}

/// `GET /api/user/me` tells the page who is signed in: the wallet's user
/// with its key and no admin rights, the admin as admin; nobody without a
/// key.
async fn me_names_the_caller_and_its_rights(backend: Backend) {
    let s = setup(backend, 300, 3_600).await;
    let wallet = key(7);
    let session = log_in(&s, &wallet).await;
    let me = s.get("/api/user/me", session["api_key"].as_str()).await;
    assert_eq!(me.status, 200, "{}", me.text);
    let me = me.json();
    assert_eq!((me["user_id"].clone(), me["is_admin"].clone()), (session["user_id"].clone(), json!(false)));
    assert_eq!(me["wallet"], json!(wallet.id().to_string()));
    assert_eq!(me["handle"], session["handle"]);
    let admin = s.get("/api/user/me", Some(&s.admin)).await.json();
    assert_eq!((admin["is_admin"].clone(), admin["wallet"].clone()), (json!(true), Value::Null));
    let nobody = s.get("/api/user/me", None).await;
    assert_eq!(nobody.status, 401, "{}", nobody.text);
}

on_both_backends!(by_backend:
    me_names_the_caller_and_its_rights,
    a_wallet_logs_in_and_is_always_the_same_user,
    a_challenge_is_answered_once_by_its_own_key_only,
    challenges_and_sessions_expire,
    a_wallet_never_adopts_a_user_it_is_not_linked_to,
);
