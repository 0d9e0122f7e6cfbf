//! The checkout's admin endpoints: sessions, unmatched transfers, webhook
//! deliveries and their redelivery.

use super::extract::{Path, Query};
use super::payments::payment_view;
use crate::auth::Admin;
use crate::evm::view::PaymentView;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollway_store::evm::{TransferRow, WebhookDelivery};
use tollway_store::now_ms;
use utoipa::ToSchema;

/// Paging of the session list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionsQuery {
    /// 1-200, default 50.
    limit: Option<i64>,
    /// `created_at` (Unix ms) of the last session of the previous page.
    before: Option<i64>,
}

/// Payment sessions, newest first.
#[utoipa::path(get, path = "/api/v1/admin/payments", tag = "checkout", params(SessionsQuery), security(("api_key" = [])),
    responses((status = 200, body = [PaymentView]), (status = 403, description = "`admin_required`", body = crate::error::ErrorBody),
        (status = 422, description = "`invalid_limit`", body = crate::error::ErrorBody),
        (status = 503, description = "`checkout_disabled`", body = crate::error::ErrorBody)))]
pub async fn list_payments(State(s): State<AppState>, _: Admin, Query(q): Query<SessionsQuery>) -> Result<Json<Vec<PaymentView>>, ApiError> {
    let evm = s.evm()?.clone();
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::unprocessable("invalid_limit", "limit must be 1-200"));
    }
    let mut views = Vec::new();
    for session in s.store.payment_sessions(limit, q.before).await? {
        views.push(payment_view(&s, &evm, &session).await?);
    }
    Ok(Json(views))
}

/// A transfer as listed for an admin.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferView {
    chain_id: u64,
    tx_hash: String,
    log_index: u64,
    network: String,
    token_address: String,
    from: String,
    to: String,
    /// Exact token units.
    value_units: String,
    block_number: u64,
    block_hash: String,
    /// `seen`, `confirmed`, `dropped`.
    state: &'static str,
    /// The session it pays, or null (unmatched).
    payment_id: Option<String>,
    /// `watcher` or `process`.
    found_by: String,
    found_at: i64,
}

impl From<TransferRow> for TransferView {
    fn from(t: TransferRow) -> Self {
        TransferView {
            chain_id: t.chain_id,
            tx_hash: t.tx_hash.to_string(),
            log_index: t.log_index,
            network: t.network_id,
            token_address: t.token_address.to_string(),
            from: t.from.to_string(),
            to: t.to.to_string(),
            value_units: t.value_units,
            block_number: t.block_number,
            block_hash: t.block_hash.to_string(),
            state: t.state.as_str(),
            payment_id: t.session_id,
            found_by: t.found_by,
            found_at: t.found_at,
        }
    }
}

/// Transfers to a deposit address that matched no session (a wrong
/// amount, a payment after the amount was released), newest first.
#[utoipa::path(get, path = "/api/v1/admin/payments/unmatched", tag = "checkout", security(("api_key" = [])),
    responses((status = 200, body = [TransferView]), (status = 403, description = "`admin_required`", body = crate::error::ErrorBody),
        (status = 503, description = "`checkout_disabled`", body = crate::error::ErrorBody)))]
pub async fn unmatched(State(s): State<AppState>, _: Admin) -> Result<Json<Vec<TransferView>>, ApiError> {
    s.evm()?;
    Ok(Json(s.store.unmatched_evm_transfers(500).await?.into_iter().map(TransferView::from).collect()))
}

/// A webhook delivery as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    id: i64,
    payment_id: String,
    event: String,
    url: String,
    /// The exact body sent (its HMAC-SHA256 is the `Tollway-Signature`).
    body: String,
    /// `pending`, `delivered`, `failed`.
    state: String,
    attempts: i64,
    next_attempt_at: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    delivered_at: Option<i64>,
}

impl From<WebhookDelivery> for DeliveryView {
    fn from(d: WebhookDelivery) -> Self {
        DeliveryView {
            id: d.id,
            payment_id: d.session_id,
            event: d.event,
            url: d.url,
            body: d.body,
            state: d.state,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}

/// Which deliveries to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Only this payment's.
    payment_id: Option<String>,
}

/// Webhook deliveries, newest first (at most 500).
#[utoipa::path(get, path = "/api/v1/admin/webhooks", tag = "checkout", params(DeliveriesQuery), security(("api_key" = [])),
    responses((status = 200, body = [DeliveryView]), (status = 403, description = "`admin_required`", body = crate::error::ErrorBody),
        (status = 503, description = "`checkout_disabled`", body = crate::error::ErrorBody)))]
pub async fn deliveries(State(s): State<AppState>, _: Admin, Query(q): Query<DeliveriesQuery>) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    s.evm()?;
    Ok(Json(s.store.webhook_deliveries(q.payment_id.as_deref(), 500).await?.into_iter().map(DeliveryView::from).collect()))
}

/// A delivery's id in a path.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeliveryPath {
    /// The delivery's id.
    delivery_id: i64,
}

/// Sends a delivery again (a new delivery with the same body, due now).
#[utoipa::path(post, path = "/api/v1/admin/webhooks/{delivery_id}/redeliver", tag = "checkout", params(DeliveryPath), security(("api_key" = [])),
    responses((status = 200, body = DeliveryView), (status = 400, description = "`invalid_path`", body = crate::error::ErrorBody),
        (status = 403, description = "`admin_required`", body = crate::error::ErrorBody),
        (status = 404, description = "`unknown_delivery`", body = crate::error::ErrorBody),
        (status = 503, description = "`checkout_disabled`", body = crate::error::ErrorBody)))]
pub async fn redeliver(State(s): State<AppState>, _: Admin, Path(p): Path<DeliveryPath>) -> Result<Json<DeliveryView>, ApiError> {
    s.evm()?;
    let delivery = s.store.redeliver_webhook(p.delivery_id, now_ms()).await?;
    delivery.map(|d| Json(d.into())).ok_or_else(|| ApiError::not_found("unknown_delivery", format!("no webhook delivery {}", p.delivery_id)))
}
