//! CKB channels over HTTP (docs/ckb.md, "HTTP API"): offer, funding,
//! confirmation, list, show, settle, refund data, the seller's terms and
//! the task log. Receipts go to `POST /api/channels/{id}/receipts` with
//! their commitment.

use super::channels::{channel_id, json_body};
use crate::auth::{Admin, CurrentUser};
use crate::ckb::{funds_of, tx_hex};
use crate::{ApiError, AppState};
use super::extract::{Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tollway_chain::ckb::spilman::out_point_text;
use tollway_core::channel::wire::{parse_public_key, public_key_hex};
use tollway_store::StoredCkbChannel;
use utoipa::ToSchema;

/// Asking for a channel.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferRequest {
    /// The buyer's compressed secp256k1 public key (`0x` + 66 hex digits):
    /// one of the channel cell's two keys, and the key that signs receipts.
    key: String,
    /// What the buyer puts in, shannons (decimal string; 61 CKB of it
    /// come back as its change cell at the close).
    deposit: String,
    /// How long the channel lives, seconds.
    duration_secs: u64,
}

/// A transaction sent to the seller.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TxBody {
    /// The serialized transaction, `0x` hex.
    tx: String,
}

/// Task log filter.
#[derive(Debug, Deserialize)]
pub struct TaskQuery {
    task: Option<String>,
    limit: Option<u32>,
}

/// A transaction's bytes from `0x` hex (`malformed_transaction` otherwise).
pub(crate) fn hex_bytes(text: &str) -> Result<Vec<u8>, ApiError> {
    text.strip_prefix("0x").and_then(|h| hex::decode(h).ok()).ok_or_else(|| ApiError::bad_request("malformed_transaction", "a transaction is 0x + hex"))
}

/// A 32-byte hash as `0x` hex.
pub(crate) fn hash_hex(hash: &[u8; 32]) -> String {
    format!("0x{}", hex::encode(hash))
}

/// A CKB channel as the API shows it.
pub fn ckb_json(c: &StoredCkbChannel) -> Value {
    let funds = funds_of(c);
    json!({
        "id": c.id,
        "state": c.state.name(),
        "buyer_key": public_key_hex(&c.buyer_key),
        "seller_key": public_key_hex(&c.seller_key),
        "deposit": c.buyer_deposit.to_string(),
        "cofund": c.seller_cofund.to_string(),
        "fee": c.fee.to_string(),
        "max_payment": funds.max_payment().to_string(),
        "expiry_block": c.expiry_block,
        "seller_cells": c.seller_cells,
        "funding_tx_hash": c.funding_tx_hash.as_ref().map(hash_hex),
        "cell": c.cell,
        "paid": c.latest_cumulative.to_string(),
        "closing_tx_hash": c.closing_tx_hash.as_ref().map(hash_hex),
        "pay_until": c.pay_until,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

/// The seller's terms: its key, co-funding, fees and the chain's locks.
#[utoipa::path(get, path = "/api/ckb", tag = "ckb", responses((status = 200, description = "The seller's terms"), (status = 404, description = "`ckb_disabled` (the rail is off)", body = crate::error::ErrorBody)))]
pub async fn info(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let ckb = s.ckb()?;
    let c = ckb.config();
    let (min_duration, max_duration) = ckb.duration_bounds();
    Ok(Json(json!({
        "seller_key": public_key_hex(&ckb.seller_key()),
        "chain_id": c.chain_id,
        "cofund": c.cofund.to_string(),
        "commitment_fee": ckb.commitment_fee().to_string(),
        "fee_rate": c.fee_rate,
        "shannons_per_point": c.shannons_per_point,
        "block_interval_secs": c.block_interval_secs,
        "settle_margin_secs": c.settle_margin_secs,
        "min_duration_secs": min_duration,
        "max_duration_secs": max_duration,
        "funding_confirmations": c.funding_confirmations,
    })))
}

/// Offers a channel: the seller reserves its co-funding cells and fixes
/// the expiry block.
#[utoipa::path(post, path = "/api/ckb/channels", tag = "ckb", request_body = OfferRequest, security(("api_key" = [])),
    responses((status = 201, description = "The offer: the channel and the seller's cells"),
        (status = 404, description = "`ckb_disabled` (the rail is off), `unknown_channel`", body = crate::error::ErrorBody),
        (status = 409, description = "The channel's state or the node refused it (docs/api.md)", body = crate::error::ErrorBody),
        (status = 422, description = "A transaction that does not match the channel", body = crate::error::ErrorBody),
        (status = 502, description = "`chain_rpc_error`, `settle_failed`", body = crate::error::ErrorBody),
        (status = 503, description = "`chain_unreachable`, `seller_funds_unavailable`, `storage_busy`", body = crate::error::ErrorBody)))]
pub async fn offer(
    State(s): State<AppState>,
    CurrentUser(user): CurrentUser,
    body: Result<Json<OfferRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ckb = s.ckb()?;
    let body = json_body(body)?;
    let key = parse_public_key(&body.key).map_err(|e| ApiError::bad_request("invalid_key", e))?;
    let deposit: u64 = body.deposit.parse().map_err(|_| ApiError::bad_request("invalid_amount", "deposit must be a whole number of shannons"))?;
    let offer = ckb.offer(user.id, key, deposit, body.duration_secs).await?;
    let cells: Vec<Value> = offer.seller_cells.iter().map(|c| json!({"out_point": out_point_text(&c.out_point), "capacity": c.capacity.to_string()})).collect();
    let mut answer = ckb_json(&offer.channel);
    answer["seller_cells"] = json!(cells);
    answer["fee_rate"] = json!(ckb.config().fee_rate);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The buyer's funding transaction: checked; the answer carries it with
/// the seller's inputs signed, and the seller's refund signature.
#[utoipa::path(post, path = "/api/ckb/channels/{id}/funding", tag = "ckb", request_body = TxBody, security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id, 0x-hex")),
    responses((status = 200, description = "{\"funding\", \"refund_signature\"}"),
        (status = 404, description = "`ckb_disabled` (the rail is off), `unknown_channel`", body = crate::error::ErrorBody),
        (status = 409, description = "The channel's state or the node refused it (docs/api.md)", body = crate::error::ErrorBody),
        (status = 422, description = "A transaction that does not match the channel", body = crate::error::ErrorBody),
        (status = 502, description = "`chain_rpc_error`, `settle_failed`", body = crate::error::ErrorBody),
        (status = 503, description = "`chain_unreachable`, `seller_funds_unavailable`, `storage_busy`", body = crate::error::ErrorBody)))]
pub async fn funding(
    State(s): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    body: Result<Json<TxBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let ckb = s.ckb()?;
    let id = channel_id(&id)?;
    let body = json_body(body)?;
    let signed = ckb.fund(user.id, &id, &hex_bytes(&body.tx)?).await?;
    Ok(Json(json!({"funding": tx_hex(&signed.funding), "refund_signature": format!("0x{}", hex::encode(signed.refund_signature))})))
}

/// The fully signed funding: sent to the node; the channel is active
/// once it commits.
#[utoipa::path(post, path = "/api/ckb/channels/{id}/confirm", tag = "ckb", request_body = TxBody, security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id, 0x-hex")),
    responses((status = 200, description = "The channel"),
        (status = 404, description = "`ckb_disabled` (the rail is off), `unknown_channel`", body = crate::error::ErrorBody),
        (status = 409, description = "The channel's state or the node refused it (docs/api.md)", body = crate::error::ErrorBody),
        (status = 422, description = "A transaction that does not match the channel", body = crate::error::ErrorBody),
        (status = 502, description = "`chain_rpc_error`, `settle_failed`", body = crate::error::ErrorBody),
        (status = 503, description = "`chain_unreachable`, `seller_funds_unavailable`, `storage_busy`", body = crate::error::ErrorBody)))]
pub async fn confirm(
    State(s): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    body: Result<Json<TxBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let ckb = s.ckb()?;
    let id = channel_id(&id)?;
    let body = json_body(body)?;
    Ok(Json(ckb_json(&ckb.confirm(user.id, &id, &hex_bytes(&body.tx)?).await?)))
}

/// The caller's CKB channels.
#[utoipa::path(get, path = "/api/ckb/channels", tag = "ckb", security(("api_key" = [])), responses((status = 200, description = "{\"channels\": [...]}"), (status = 404, description = "`ckb_disabled` (the rail is off), `unknown_channel`", body = crate::error::ErrorBody)))]
pub async fn list(State(s): State<AppState>, CurrentUser(user): CurrentUser) -> Result<Json<Value>, ApiError> {
    s.ckb()?;
    let channels = s.store.ckb_channels_of(user.id).await?;
    Ok(Json(json!({"channels": channels.iter().map(ckb_json).collect::<Vec<_>>()})))
}

/// One of the caller's CKB channels.
#[utoipa::path(get, path = "/api/ckb/channels/{id}", tag = "ckb", security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id, 0x-hex")),
    responses((status = 200, description = "The channel"), (status = 404, description = "`ckb_disabled` (the rail is off), `unknown_channel`", body = crate::error::ErrorBody)))]
pub async fn show(State(s): State<AppState>, CurrentUser(user): CurrentUser, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = channel_id(&id)?;
    Ok(Json(ckb_json(&s.ckb()?.own(Some(user.id), &id).await?)))
}

/// Settles now with the latest commitment (the buyer is done).
#[utoipa::path(post, path = "/api/ckb/channels/{id}/settle", tag = "ckb", security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id, 0x-hex")),
    responses((status = 200, description = "The channel, settling"),
        (status = 404, description = "`ckb_disabled` (the rail is off), `unknown_channel`", body = crate::error::ErrorBody),
        (status = 409, description = "The channel's state or the node refused it (docs/api.md)", body = crate::error::ErrorBody),
        (status = 422, description = "A transaction that does not match the channel", body = crate::error::ErrorBody),
        (status = 502, description = "`chain_rpc_error`, `settle_failed`", body = crate::error::ErrorBody),
        (status = 503, description = "`chain_unreachable`, `channel_contended` (receipts kept coming while settling), `storage_busy`", body = crate::error::ErrorBody)))]
pub async fn settle(State(s): State<AppState>, CurrentUser(user): CurrentUser, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = channel_id(&id)?;
    let channel = s.ckb()?.settle(&s.channels, Some(user.id), &id).await?;
    s.channels.reload(&id).await?;
    Ok(Json(ckb_json(&channel)))
}

/// What the buyer needs to take its refund from the expiry on.
#[utoipa::path(get, path = "/api/ckb/channels/{id}/refund", tag = "ckb", security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id, 0x-hex")),
    responses((status = 200, description = "{\"refund\", \"seller_signature\", \"expiry_block\"}"),
        (status = 404, description = "`ckb_disabled` (the rail is off), `unknown_channel`", body = crate::error::ErrorBody),
        (status = 409, description = "The channel's state or the node refused it (docs/api.md)", body = crate::error::ErrorBody),
        (status = 422, description = "A transaction that does not match the channel", body = crate::error::ErrorBody),
        (status = 502, description = "`chain_rpc_error`, `settle_failed`", body = crate::error::ErrorBody),
        (status = 503, description = "`chain_unreachable`, `seller_funds_unavailable`, `storage_busy`", body = crate::error::ErrorBody)))]
pub async fn refund(State(s): State<AppState>, CurrentUser(user): CurrentUser, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = channel_id(&id)?;
    let data = s.ckb()?.refund_data(Some(user.id), &id).await?;
    Ok(Json(json!({
        "refund": tx_hex(&data.refund),
        "seller_signature": format!("0x{}", hex::encode(data.seller_signature)),
        "expiry_block": data.expiry_block,
    })))
}

/// The CKB jobs' log, newest first.
#[utoipa::path(get, path = "/api/admin/ckb/tasks", tag = "admin", security(("api_key" = [])),
    params(("task" = Option<String>, Query, description = "ckb_track, ckb_auto_settle or ckb_mark_expired"), ("limit" = Option<u32>, Query, description = "At most this many (default 100)")),
    responses((status = 200, description = "{\"runs\": [...]}"), (status = 404, description = "`ckb_disabled` (the rail is off)", body = crate::error::ErrorBody)))]
pub async fn tasks(State(s): State<AppState>, _: Admin, Query(q): Query<TaskQuery>) -> Result<Json<Value>, ApiError> {
    s.ckb()?;
    let runs = s.store.task_runs(q.task.as_deref(), q.limit.unwrap_or(100).min(1_000)).await?;
    let runs: Vec<Value> = runs
        .iter()
        .map(|r| json!({"task": r.task, "started_at": r.started_at, "finished_at": r.finished_at, "ok": r.ok, "detail": r.detail}))
        .collect();
    Ok(Json(json!({"runs": runs})))
}
