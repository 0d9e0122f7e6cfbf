//! Wallet login (docs/web.md, "Wallet login"): the server hands out a
//! challenge naming its site, the wallet's key and a random nonce,
//! answerable once and for `auth.challenge_secs`; a canonical signature of
//! it by that key links the wallet to a user (created on its first login)
//! and opens a session: an API key that stops working after
//! `auth.session_secs`. The secret key never reaches the server.

use super::extract::{body, JsonBody};
use crate::{ops, ApiError, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollway_core::channel::wire::{parse_hex, parse_public_key, public_key_hex};
use tollway_core::channel::KeyId;
use tollway_core::login::{verify_login, LoginChallenge};
use tollway_store::{now_ms, StoreError};
use utoipa::ToSchema;

/// Asking for a challenge.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The wallet's compressed secp256k1 public key, `0x` + 66 hex digits.
    public_key: String,
}

/// A challenge to sign.
#[derive(Debug, Serialize, ToSchema)]
pub struct Challenge {
    /// Its identity, sent back with the signature.
    nonce: String,
    /// The exact text to sign (`blake2b-256/ckb("tollway/login/v1" ‖ text)`).
    challenge: String,
    /// The site it names.
    site: String,
    /// When it stops being accepted (Unix ms).
    expires_at: i64,
}

/// A signed challenge.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WalletLogin {
    /// The wallet's public key (the one the challenge was asked for).
    public_key: String,
    /// The challenge's nonce.
    nonce: String,
    /// r ‖ s ‖ recovery id, `0x` + 130 hex digits.
    signature: String,
}

/// An open session.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// The session's API key (send as `Authorization: Bearer`).
    api_key: String,
    /// When it stops working (Unix ms).
    expires_at: i64,
    /// The user the wallet belongs to.
    user_id: i64,
    /// Their handle (`w-` + the wallet's key id for a wallet's own user).
    handle: String,
    /// The wallet's key id (a CKB lock's args).
    key_id: String,
}

/// The site challenges name.
fn site(state: &AppState) -> String {
    state.config.auth.public_url.clone().unwrap_or_else(|| format!("http://{}", state.config.listen))
}

fn invalid_key(e: String) -> ApiError {
    ApiError::bad_request("invalid_key", e)
}

/// The user `key_id`'s wallet belongs to, created (handle `w-` + key id)
/// and linked on its first login. A user the wallet is not linked to is
/// never adopted, even one whose handle is the one this would choose.
async fn wallet_owner(s: &AppState, key_id: &str, public_key: &str) -> Result<tollway_store::directory::User, ApiError> {
    let user_of = |id: i64| async move { s.store.user(id).await?.ok_or_else(|| ApiError::from(StoreError::Corrupt(format!("user {id} vanished")))) };
    if let Some(id) = s.store.wallet_user(key_id).await? {
        return user_of(id).await;
    }
    let handle = format!("w-{}", key_id.trim_start_matches("0x"));
    let user = match s.store.create_user(&handle, false).await {
        Ok(user) => user,
        Err(StoreError::Conflict(_)) => {
            // A login racing this one linked it, or the handle is someone else's.
            if let Some(id) = s.store.wallet_user(key_id).await? {
                return user_of(id).await;
            }
            s.store.create_user(&format!("{handle}-{}", ops::new_secret("").get(..8).unwrap_or("x")), false).await?
        }
        Err(e) => return Err(e.into()),
    };
    let owner = s.store.link_wallet(key_id, public_key, user.id).await?;
    user_of(owner).await
}

/// `POST /api/auth/challenge`.
#[utoipa::path(post, path = "/api/auth/challenge", tag = "user", request_body = ChallengeRequest,
    responses((status = 201, body = Challenge), (status = 400, description = "`invalid_key`, `malformed_json`", body = crate::error::ErrorBody)))]
pub async fn challenge(State(s): State<AppState>, b: JsonBody<ChallengeRequest>) -> Result<(StatusCode, Json<Challenge>), ApiError> {
    let key = parse_public_key(&body(b)?.public_key).map_err(invalid_key)?;
    let expires_at = now_ms().saturating_add(i64::try_from(s.config.auth.challenge_secs.saturating_mul(1_000)).unwrap_or(i64::MAX));
    let nonce = ops::new_secret("");
    let challenge = LoginChallenge { site: site(&s), key_id: KeyId::of(&key), nonce: nonce.clone(), expires_at };
    let text = challenge.text();
    s.store.add_login_challenge(&nonce, &challenge.key_id.to_string(), &text, expires_at).await?;
    Ok((StatusCode::CREATED, Json(Challenge { nonce, challenge: text, site: challenge.site, expires_at })))
}

/// `POST /api/auth/wallet`.
#[utoipa::path(post, path = "/api/auth/wallet", tag = "user", request_body = WalletLogin,
    responses((status = 200, body = Session),
              (status = 400, description = "`invalid_key`, `invalid_signature`, `malformed_json`", body = crate::error::ErrorBody),
              (status = 401, description = "`challenge_expired`", body = crate::error::ErrorBody),
              (status = 403, description = "`signature_invalid`, `user_disabled`", body = crate::error::ErrorBody),
              (status = 404, description = "`unknown_challenge`", body = crate::error::ErrorBody),
              (status = 409, description = "`challenge_used`, `challenge_key_mismatch`", body = crate::error::ErrorBody)))]
pub async fn wallet(State(s): State<AppState>, b: JsonBody<WalletLogin>) -> Result<Json<Session>, ApiError> {
    let req = body(b)?;
    let key = parse_public_key(&req.public_key).map_err(invalid_key)?;
    let signature: [u8; 65] = parse_hex(&req.signature).map_err(|e| ApiError::bad_request("invalid_signature", e))?;
    let stored = s.store.login_challenge(&req.nonce).await?.ok_or_else(|| ApiError::not_found("unknown_challenge", "no such challenge; ask for one at /api/auth/challenge"))?;
    let key_id = KeyId::of(&key).to_string();
    if stored.key_id != key_id {
        return Err(ApiError::conflict("challenge_key_mismatch", "this challenge was issued for another key"));
    }
    if stored.used_at.is_some() {
        return Err(ApiError::conflict("challenge_used", "this challenge was answered already; ask for a new one"));
    }
    if now_ms() >= stored.expires_at {
        return Err(ApiError::unauthorized("challenge_expired", "this challenge expired; ask for a new one"));
    }
    if !verify_login(&stored.text, &signature, &key) {
        return Err(ApiError::forbidden("signature_invalid", "not this key's signature of the challenge"));
    }
    // Once: of two answers racing with the same signature, one wins.
    if !s.store.use_login_challenge(&req.nonce).await? {
        return Err(ApiError::conflict("challenge_used", "this challenge was answered already; ask for a new one"));
    }
    let user = wallet_owner(&s, &key_id, &public_key_hex(&key)).await?;
    if !user.enabled {
        return Err(ApiError::forbidden("user_disabled", "this user is disabled"));
    }
    let expires_at = now_ms().saturating_add(i64::try_from(s.config.auth.session_secs.saturating_mul(1_000)).unwrap_or(i64::MAX));
    let api_key = ops::new_secret("tws_");
    s.store.add_expiring_key(user.id, &api_key, "wallet session", Some(expires_at)).await?;
    Ok(Json(Session { api_key, expires_at, user_id: user.id, handle: user.handle, key_id }))
}
