//! Payment channels over HTTP (docs/channels.md, "HTTP API"): open, show,
//! add a key, recover, submit receipts, close, claim.

use crate::auth::{Admin, CurrentUser};
use crate::channels::ChannelError;
use crate::{ops, ApiError, AppState};
use axum::body::Bytes;
use super::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tollway_core::channel::wire::{decode_json, parse_public_key, public_key_hex, PaymentDue, ReceiptSubmission};
use tollway_core::channel::{ChannelId, KeyId, SUBRAV_VERSION};
use tollway_core::{Amount, Asset};
use tollway_store::channels::{ClaimRequest, NewChannel, StoredChannel, StoredSubChannel};
use utoipa::ToSchema;

/// Opening a channel.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenChannel {
    /// Points moved from the wallet into the channel's escrow (decimal string).
    deposit: String,
    /// The first sub-channel's compressed secp256k1 public key (`0x` + 66 hex digits).
    key: String,
}

/// Adding a sub-channel.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddKey {
    /// A compressed secp256k1 public key (`0x` + 66 hex digits).
    key: String,
}

pub(crate) fn channel_id(text: &str) -> Result<ChannelId, ApiError> {
    text.parse().map_err(|e| ApiError::not_found("unknown_channel", format!("not a channel id: {e}")))
}

fn key(text: &str) -> Result<secp256k1::PublicKey, ApiError> {
    parse_public_key(text).map_err(|e| ApiError::bad_request("invalid_key", e))
}

pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: Result<Json<T>, axum::extract::rejection::JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|e| ApiError::bad_request("malformed_json", e.body_text()))
}

/// The pending proposal of a sub-channel as the payer sees it.
fn pending_json(sub: &StoredSubChannel, pending: Option<tollway_core::channel::SubRav>) -> Value {
    match pending.or(sub.pending).filter(|p| p.accumulated > sub.accumulated) {
        Some(p) => json!(PaymentDue {
            proposal: p,
            cost: p.accumulated.saturating_sub(sub.accumulated),
            accepted: sub.accumulated,
            required: None,
            stopped: None,
        }),
        None => Value::Null,
    }
}

fn sub_json(sub: &StoredSubChannel, pending: Option<tollway_core::channel::SubRav>) -> Value {
    json!({
        "sub_channel": sub.id,
        "key": public_key_hex(&sub.key),
        "nonce": sub.nonce,
        "accumulated": sub.accumulated,
        "claimed": sub.claimed,
        "latest": sub.latest,
        "pending": pending_json(sub, pending),
    })
}

/// A channel as the API shows it (pending proposals as stored).
pub fn channel_json(c: &StoredChannel) -> Value {
    json!({
        "id": c.id,
        "chain_id": c.chain_id,
        "epoch": c.epoch,
        "asset": c.asset.code,
        "collateral": c.collateral,
        "open": c.open,
        "owed": c.owed(),
        "claimed": c.claimed(),
        "refunded": c.refunded,
        "created_at": c.created_at,
        "closed_at": c.closed_at,
        "subs": c.subs.iter().map(|s| sub_json(s, None)).collect::<Vec<_>>(),
    })
}

/// The caller's channel `id`; another user's is `unknown_channel`.
async fn own(state: &AppState, user_id: i64, id: &ChannelId) -> Result<StoredChannel, ApiError> {
    match state.store.channel(id).await? {
        Some(c) if c.user_id == user_id => Ok(c),
        _ => Err(ChannelError::UnknownChannel.into()),
    }
}

/// Opens a channel: moves `deposit` points from the caller's wallet into
/// the channel's escrow.
#[utoipa::path(post, path = "/api/channels", tag = "channels", request_body = OpenChannel, security(("api_key" = [])),
    responses((status = 201, description = "The channel"), (status = 400, body = crate::error::ErrorBody),
        (status = 402, description = "`insufficient_points` for the deposit", body = crate::error::ErrorBody),
        (status = 409, description = "`channel_exists`, `wrong_chain`", body = crate::error::ErrorBody),
        (status = 422, description = "`invalid_amount`: the deposit is not a whole number", body = crate::error::ErrorBody)))]
pub async fn open(
    State(s): State<AppState>,
    CurrentUser(user): CurrentUser,
    body: Result<Json<OpenChannel>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = json_body(body)?;
    let deposit = ops::parse_points(&body.deposit, "deposit")?;
    if deposit.is_zero() {
        return Err(ApiError::bad_request("invalid_amount", "deposit must be above 0"));
    }
    let key = key(&body.key)?;
    let id = ChannelId(rand::random());
    let new = NewChannel {
        id,
        user_id: user.id,
        asset: Asset::POINTS,
        chain_id: s.config.channels.chain_id,
        epoch: 1,
        collateral: deposit,
        key,
    };
    let channel = s.store.open_channel(&new).await?;
    Ok((StatusCode::CREATED, Json(channel_json(&channel))))
}

/// The caller's channels.
#[utoipa::path(get, path = "/api/channels", tag = "channels", security(("api_key" = [])),
    responses((status = 200, description = "{\"channels\": [...]}")))]
pub async fn list(State(s): State<AppState>, CurrentUser(user): CurrentUser) -> Result<Json<Value>, ApiError> {
    let channels = s.store.channels_of(user.id).await?;
    Ok(Json(json!({"channels": channels.iter().map(channel_json).collect::<Vec<_>>()})))
}

/// One of the caller's channels.
#[utoipa::path(get, path = "/api/channels/{id}", tag = "channels", security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id, 0x-hex")),
    responses((status = 200, description = "The channel"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn show(State(s): State<AppState>, CurrentUser(user): CurrentUser, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = channel_id(&id)?;
    Ok(Json(channel_json(&own(&s, user.id, &id).await?)))
}

/// Adds a sub-channel for another payer key (idempotent).
#[utoipa::path(post, path = "/api/channels/{id}/keys", tag = "channels", request_body = AddKey, security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id, 0x-hex")),
    responses((status = 200, description = "The channel"), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
pub async fn add_key(
    State(s): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    body: Result<Json<AddKey>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = channel_id(&id)?;
    let body = json_body(body)?;
    let key = key(&body.key)?;
    own(&s, user.id, &id).await?;
    if s.store.ckb_channel(&id).await?.is_some() {
        return Err(ApiError::conflict("ckb_single_key", "a CKB channel has one key: the buyer's, one of the channel cell's two"));
    }
    let channel = s.store.add_sub_channel(&id, key).await?;
    s.channels.reload(&id).await?;
    Ok(Json(channel_json(&channel)))
}

/// Recovery for a payer who lost its state: the latest accepted signed
/// receipt and the pending proposal of one sub-channel.
#[utoipa::path(get, path = "/api/channels/{id}/subs/{sub}", tag = "channels", security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id, 0x-hex"), ("sub" = String, Path, description = "Sub-channel (key id), 0x-hex")),
    responses((status = 200, description = "The sub-channel"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn sub_channel(
    State(s): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((id, sub)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id = channel_id(&id)?;
    let sub: KeyId = sub.parse().map_err(|e| ApiError::not_found("unknown_sub_channel", format!("not a sub-channel id: {e}")))?;
    let channel = own(&s, user.id, &id).await?;
    let stored = channel.subs.iter().find(|x| x.id == sub).ok_or(ChannelError::UnknownSubChannel)?;
    let (pending, _) = s.channels.pending(&id, &sub).await?;
    Ok(Json(sub_json(stored, pending)))
}

/// Verifies and durably accepts a signed receipt. The signature is the
/// authentication: no API key is needed.
#[utoipa::path(post, path = "/api/channels/{id}/receipts", tag = "channels",
    params(("id" = String, Path, description = "Channel id, 0x-hex")),
    responses((status = 200, description = "{\"nonce\", \"accepted\", \"replay\"}"),
        (status = 400, body = crate::error::ErrorBody), (status = 402, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
pub async fn receipt(State(s): State<AppState>, Path(id): Path<String>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let id = channel_id(&id)?;
    let submission: ReceiptSubmission = decode_json(&body).map_err(ChannelError::from)?;
    if submission.receipt.rav.version != SUBRAV_VERSION {
        return Err(ChannelError::Receipt(tollway_core::channel::ReceiptError::UnsupportedVersion).into());
    }
    if submission.receipt.rav.channel_id != id {
        return Err(ApiError::bad_request("channel_mismatch", "the receipt is for another channel than the URL's"));
    }
    let kept = match s.ckb.as_deref() {
        Some(ckb) => match ckb.backs(&id).await? {
            Some(channel) => Some(ckb.check_commitment(&channel, &submission.receipt, submission.commitment.as_ref())?),
            None => None,
        },
        None => None,
    };
    if kept.is_none() && submission.commitment.is_some() {
        return Err(crate::ckb::CkbError::CommitmentNotExpected.into());
    }
    let acceptance = s.channels.accept_with(&submission.receipt, kept).await?;
    Ok(Json(json!({"nonce": acceptance.nonce, "accepted": acceptance.accepted, "replay": acceptance.replay})))
}

/// Closes a channel: claims everything accepted and returns the rest of
/// the escrow to the wallet (idempotent).
#[utoipa::path(post, path = "/api/channels/{id}/close", tag = "channels", security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id, 0x-hex")),
    responses((status = 200, description = "The closed channel"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn close(State(s): State<AppState>, CurrentUser(user): CurrentUser, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = channel_id(&id)?;
    own(&s, user.id, &id).await?;
    let channel = s.channels.close(&id).await?;
    Ok(Json(channel_json(&channel)))
}

/// Claims every accepted receipt not yet claimed, in one batch.
#[utoipa::path(post, path = "/api/admin/channels/claims", tag = "admin", security(("api_key" = [])),
    responses((status = 200, description = "{\"sub_channels\", \"amount\"}")))]
pub async fn claim(State(s): State<AppState>, _: Admin) -> Result<Json<Value>, ApiError> {
    let report = s.store.claim(&ClaimRequest { channels: None, min_unclaimed: Amount::ZERO }).await?;
    Ok(Json(json!({"sub_channels": report.sub_channels, "amount": report.amount})))
}
