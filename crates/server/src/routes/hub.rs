//! The CKB hub over HTTP (docs/hub.md, "HTTP API"), on the seed's paths:
//! prepare, transfer, the payment queries, the hub's terms, a party's
//! balance, and the operator's pool and payouts.

use super::extract::{body, ClientIp, JsonBody, MaybeCaller, Path, Query};
use crate::auth::Admin;
use crate::hub::{Hub, PrepareInput};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tollway_core::ckb::parse_sighash;
use tollway_store::hub::{HubPaymentRow, PaymentsOf};
use utoipa::ToSchema;

/// A payment asked for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrepareRequest {
    /// Who pays: a CKB address or `0x` + 40 hex digits of lock args.
    sender: String,
    /// Who is paid (the same forms).
    receiver: String,
    /// Shannons: a JSON integer or a string of digits.
    #[schema(value_type = Object)]
    amount: Value,
}

/// The sender-signed transaction of a prepared payment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The payment's id.
    payment_id: i64,
    /// The transaction, `0x` hex, signed by the sender (alias `signed_tx`).
    #[serde(alias = "signed_tx")]
    tx: String,
}

/// Paging.
#[derive(Debug, Deserialize)]
pub struct Page {
    limit: Option<u32>,
    before: Option<i64>,
}

/// Operator's pool request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolRequest {
    /// Free cells wanted (default `hub.pool_cells`).
    cells: Option<u32>,
}

fn amount_of(v: &Value) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_amount",
            "amount is shannons: a whole number from 1 to 18446744073709551615, as a JSON integer or a string of digits",
        )
    };
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(bad),
        Value::String(s) if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// A payment as the API shows it (never the user it credits).
fn payment_json(hub: &Hub, p: &HubPaymentRow) -> Value {
    let rules = hub.rules();
    json!({
        "payment_id": p.id,
        "sender": rules.address(&p.sender),
        "sender_lock_args": p.sender.to_hex(),
        "receiver": rules.address(&p.receiver),
        "receiver_lock_args": p.receiver.to_hex(),
        "amount": p.amount.to_string(),
        "fee": p.fee.to_string(),
        "change": p.change.to_string(),
        "state": p.state.name(),
        "is_complete": p.state == tollway_core::ckb::hub::HubPaymentState::Complete,
        "tx_hash": super::ckb::hash_hex(&p.tx_hash),
        "block_number": p.block_number,
        "points": p.points.map(|n| n.to_string()),
        "failure": p.failure,
        "expires_at": p.expires_at,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    })
}

async fn with_splits(s: &AppState, hub: &Hub, p: &HubPaymentRow) -> Result<Value, ApiError> {
    let mut v = payment_json(hub, p);
    let shares = s.store.hub_payment_shares(p.id).await?;
    v["splits"] = json!(shares
        .iter()
        .map(|r| json!({
            "receiver": hub.rules().address(&r.party),
            "role": r.role.name(),
            "amount": r.amount.to_string(),
            "is_payed": r.is_payed,
            "tx_hash": r.tx_hash.as_ref().map(super::ckb::hash_hex),
        }))
        .collect::<Vec<_>>());
    Ok(v)
}

/// The hub's terms.
#[utoipa::path(get, path = "/api/hub", tag = "hub", responses((status = 200, description = "The hub's address, parties, fees and pool"),
    (status = 404, description = "`hub_disabled`", body = crate::error::ErrorBody)))]
pub async fn info(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let hub = s.hub()?;
    let rules = hub.rules();
    let c = hub.config();
    let pool = hub.pool_stats().await?;
    Ok(Json(json!({
        "hub_address": rules.address(&rules.hub),
        "hub_lock_args": rules.hub.to_hex(),
        "platform_address": rules.address(&rules.platform),
        "gateway_address": rules.address(&rules.gateway),
        "address_prefix": c.address_prefix,
        "fee_bps": c.fee_bps,
        "fee_rate": hub.fee_rate(),
        "shannons_per_point": hub.shannons_per_point(),
        "payout_threshold": c.payout_threshold.to_string(),
        "prepare_ttl_secs": c.prepare_ttl_secs,
        "max_open_per_sender": c.max_open_per_sender,
        "pool": {"free_cells": pool.free_cells, "free_capacity": pool.free_capacity.to_string(),
                 "leased_cells": pool.leased_cells, "leased_capacity": pool.leased_capacity.to_string()},
    })))
}

/// Prepares a payment: the 2-in-2-out transaction for the sender to sign.
#[utoipa::path(post, path = "/api/payment/prepare", tag = "hub", request_body = PrepareRequest, security((), ("api_key" = [])),
    responses((status = 201, description = "`{payment_id, tx_hash, raw_tx, fee, change, sender_inputs, hub_input, expires_at, …}`"),
        (status = 400, description = "`malformed_json`, `invalid_amount`, `amount_zero`, `amount_below_fee`, `invalid_address`, `unsupported_lock`, \
            `wrong_network`, `sender_is_hub`, `insufficient_funds`, `too_many_inputs`, `amount_below_one_point`", body = crate::error::ErrorBody),
        (status = 401, description = "`api_key_missing` (a payment to the gateway buys points), `api_key_invalid`", body = crate::error::ErrorBody),
        (status = 404, description = "`hub_disabled`", body = crate::error::ErrorBody),
        (status = 429, description = "`too_many_open_payments`", body = crate::error::ErrorBody),
        (status = 503, description = "`hub_busy` (every pool cell leased), `sender_cell_taken`, `chain_unreachable`", body = crate::error::ErrorBody)))]
pub async fn prepare(
    State(s): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ClientIp(ip): ClientIp,
    b: JsonBody<PrepareRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let hub = s.hub()?;
    let req = body(b)?;
    let amount = amount_of(&req.amount)?;
    let creator = super::extract::client_label(caller.as_ref(), ip);
    let input = PrepareInput { sender: req.sender, receiver: req.receiver, amount, user_id: caller.map(|c| c.user.id), creator };
    let row = hub.prepare(&input).await?;
    let mut v = payment_json(hub, &row);
    v["raw_tx"] = json!(format!("0x{}", hex::encode(&row.prepared_tx)));
    v["sender_inputs"] = json!(row.sender_cells);
    v["hub_input"] = json!(row.pool_cell);
    Ok((StatusCode::CREATED, Json(v)))
}

/// Takes the sender-signed transaction: checked, signed by the hub, stored,
/// sent.
#[utoipa::path(post, path = "/api/payment/transfer", tag = "hub", request_body = TransferRequest, security((), ("api_key" = [])),
    responses((status = 200, description = "The payment (`state: sent`)"),
        (status = 400, description = "`malformed_json`, `malformed_transaction`", body = crate::error::ErrorBody),
        (status = 403, description = "`bad_signature`", body = crate::error::ErrorBody),
        (status = 404, description = "`hub_disabled`, `unknown_payment`", body = crate::error::ErrorBody),
        (status = 409, description = "`payment_not_prepared` (already sent, complete or failed), `tx_*` (the node refused it)", body = crate::error::ErrorBody),
        (status = 410, description = "`payment_expired`", body = crate::error::ErrorBody),
        (status = 422, description = "`tx_mismatch` (not the prepared transaction)", body = crate::error::ErrorBody),
        (status = 503, description = "`chain_unreachable`, `storage_busy`", body = crate::error::ErrorBody)))]
pub async fn transfer(State(s): State<AppState>, b: JsonBody<TransferRequest>) -> Result<Json<Value>, ApiError> {
    let hub = s.hub()?;
    let req = body(b)?;
    let bytes = super::ckb::hex_bytes(&req.tx)?;
    let row = hub.transfer(req.payment_id, &bytes).await?;
    Ok(Json(payment_json(hub, &row)))
}

/// One payment, with its splits once complete.
#[utoipa::path(get, path = "/api/payment/{id}", tag = "hub", params(("id" = i64, Path, description = "Payment id")),
    responses((status = 200, description = "The payment"), (status = 400, description = "`invalid_id`", body = crate::error::ErrorBody),
        (status = 404, description = "`hub_disabled`, `unknown_payment`", body = crate::error::ErrorBody)))]
pub async fn show(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let hub = s.hub()?;
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("invalid_id", "a payment id is a whole number"))?;
    let row = s.store.hub_payment(id).await?.ok_or(crate::hub::HubError::UnknownPayment)?;
    Ok(Json(with_splits(&s, hub, &row).await?))
}

async fn list(s: &AppState, of: PaymentsOf, page: Page) -> Result<Json<Value>, ApiError> {
    let hub = s.hub()?;
    let limit = i64::from(page.limit.unwrap_or(50).clamp(1, 200));
    let rows = s.store.hub_payments(of, limit, page.before).await?;
    let next = if rows.len() as i64 == limit { rows.last().map(|r| r.id) } else { None };
    Ok(Json(json!({"payments": rows.iter().map(|r| payment_json(hub, r)).collect::<Vec<_>>(), "next_before": next})))
}

fn party(s: &AppState, text: &str) -> Result<tollway_core::ckb::SighashArgs, ApiError> {
    let hub = s.hub()?;
    parse_sighash(text, hub.rules().network).map_err(|e| ApiError::bad_request(e.code(), e.to_string()))
}

/// Every payment, newest first.
#[utoipa::path(get, path = "/api/payment/all", tag = "hub", params(("limit" = Option<u32>, Query), ("before" = Option<i64>, Query)),
    responses((status = 200, description = "`{payments, next_before}`"), (status = 404, description = "`hub_disabled`", body = crate::error::ErrorBody)))]
pub async fn all(State(s): State<AppState>, Query(page): Query<Page>) -> Result<Json<Value>, ApiError> {
    list(&s, PaymentsOf::All, page).await
}

/// A sender's payments, newest first.
#[utoipa::path(get, path = "/api/payment/sender/{address}", tag = "hub", params(("address" = String, Path), ("limit" = Option<u32>, Query), ("before" = Option<i64>, Query)),
    responses((status = 200, description = "`{payments, next_before}`"), (status = 400, description = "`invalid_address`, `unsupported_lock`, `wrong_network`", body = crate::error::ErrorBody),
        (status = 404, description = "`hub_disabled`", body = crate::error::ErrorBody)))]
pub async fn by_sender(State(s): State<AppState>, Path(address): Path<String>, Query(page): Query<Page>) -> Result<Json<Value>, ApiError> {
    let who = party(&s, &address)?;
    list(&s, PaymentsOf::Sender(who), page).await
}

/// A receiver's payments, newest first.
#[utoipa::path(get, path = "/api/payment/receiver/{address}", tag = "hub", params(("address" = String, Path), ("limit" = Option<u32>, Query), ("before" = Option<i64>, Query)),
    responses((status = 200, description = "`{payments, next_before}`"), (status = 400, description = "`invalid_address`, `unsupported_lock`, `wrong_network`", body = crate::error::ErrorBody),
        (status = 404, description = "`hub_disabled`", body = crate::error::ErrorBody)))]
pub async fn by_receiver(State(s): State<AppState>, Path(address): Path<String>, Query(page): Query<Page>) -> Result<Json<Value>, ApiError> {
    let who = party(&s, &address)?;
    list(&s, PaymentsOf::Receiver(who), page).await
}

/// A party's balance at the hub.
#[utoipa::path(get, path = "/api/hub/balance/{address}", tag = "hub", params(("address" = String, Path)),
    responses((status = 200, description = "`{address, unpaid, in_payout, paid}`"), (status = 400, description = "`invalid_address`, `unsupported_lock`, `wrong_network`", body = crate::error::ErrorBody),
        (status = 404, description = "`hub_disabled`", body = crate::error::ErrorBody)))]
pub async fn balance(State(s): State<AppState>, Path(address): Path<String>) -> Result<Json<Value>, ApiError> {
    let who = party(&s, &address)?;
    let hub = s.hub()?;
    let b = s.store.hub_party_balance(&who).await?;
    Ok(Json(
        json!({"address": hub.rules().address(&who), "unpaid": b.unpaid.to_string(), "in_payout": b.in_payout.to_string(), "paid": b.paid.to_string()}),
    ))
}

/// Operator: adopts the hub's new cells and tops the pool up.
#[utoipa::path(post, path = "/api/admin/hub/pool", tag = "hub", request_body = PoolRequest, security(("api_key" = [])),
    responses((status = 200, description = "`{adopted, split_tx_hash, free_cells, …}`"), (status = 403, description = "`admin_required`", body = crate::error::ErrorBody),
        (status = 404, description = "`hub_disabled`", body = crate::error::ErrorBody)))]
pub async fn pool(State(s): State<AppState>, Admin(_): Admin, b: JsonBody<PoolRequest>) -> Result<Json<Value>, ApiError> {
    let hub = s.hub()?;
    let req = body(b)?;
    let adopted = hub.adopt_cells().await?;
    let target = req.cells.unwrap_or(hub.config().pool_cells).min(1_000);
    let split = hub.keep_pool(target).await?;
    let pool = hub.pool_stats().await?;
    Ok(Json(json!({"adopted": adopted, "split_tx_hash": split, "free_cells": pool.free_cells, "free_capacity": pool.free_capacity.to_string(),
        "leased_cells": pool.leased_cells})))
}

/// Operator: payouts and rebalances, newest first.
#[utoipa::path(get, path = "/api/admin/hub/payouts", tag = "hub", params(("limit" = Option<u32>, Query), ("before" = Option<i64>, Query)), security(("api_key" = [])),
    responses((status = 200, description = "`{payouts}`"), (status = 403, description = "`admin_required`", body = crate::error::ErrorBody),
        (status = 404, description = "`hub_disabled`", body = crate::error::ErrorBody)))]
pub async fn payouts(State(s): State<AppState>, Admin(_): Admin, Query(page): Query<Page>) -> Result<Json<Value>, ApiError> {
    s.hub()?;
    let rows = s.store.hub_payouts(i64::from(page.limit.unwrap_or(50).clamp(1, 200)), page.before).await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"id": r.id, "kind": r.kind.name(), "state": r.state.name(), "tx_hash": super::ckb::hash_hex(&r.tx_hash), "total": r.total.to_string(),
            "fee": r.fee.to_string(), "outputs": r.outputs.len(), "block_number": r.block_number, "created_at": r.created_at})
        })
        .collect();
    Ok(Json(json!({"payouts": list})))
}
