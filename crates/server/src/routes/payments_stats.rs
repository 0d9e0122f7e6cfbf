//! `/api/v1/stats/*`: the seed's figures, each measured from the running
//! system (the store for payments, this process for connections, timings
//! and resources). Admin key required: they describe the whole business.

use super::extract::Query;
use crate::auth::Admin;
use crate::evm::stats::{decimal_number, percent, rfc3339, FrontendCounters, LogMessage};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::Json;
use chrono::{TimeZone, Utc};
use prometheus::core::Collector;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tollway_store::now_ms;
use utoipa::ToSchema;

/// Payment figures (the seed's shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentFigures {
    total_payments: i64,
    successful_payments: i64,
    /// Expired unpaid or failed.
    failed_payments: i64,
    /// Waiting or confirming now.
    open_payments: i64,
    /// Percent of finished sessions that were paid.
    #[schema(value_type = f64)]
    success_rate: Value,
    payments_by_token: BTreeMap<String, i64>,
    payments_by_period: BTreeMap<&'static str, i64>,
    /// Mean seconds from creation to paid.
    #[schema(value_type = f64)]
    average_processing_time: Value,
    failure_reasons: BTreeMap<&'static str, i64>,
    exceptions: BTreeMap<&'static str, i64>,
}

/// Payment counts and rates over every session.
#[utoipa::path(get, path = "/api/v1/stats/payments", tag = "checkout", security(("api_key" = [])),
    responses((status = 200, body = PaymentFigures), (status = 403, description = "`admin_required`", body = crate::error::ErrorBody),
        (status = 503, description = "`checkout_disabled`", body = crate::error::ErrorBody)))]
pub async fn payment_stats(State(s): State<AppState>, _: Admin) -> Result<Json<PaymentFigures>, ApiError> {
    s.evm()?;
    let p = s.store.payment_stats(now_ms()).await?;
    let finished = u128::try_from(p.paid + p.failed + p.expired).unwrap_or(0);
    let mean_ms = p.mean_ms_to_paid.and_then(|ms| u128::try_from(ms).ok());
    Ok(Json(PaymentFigures {
        total_payments: p.total,
        successful_payments: p.paid,
        failed_payments: p.failed + p.expired,
        open_payments: p.open,
        success_rate: percent(u128::try_from(p.paid).unwrap_or(0), finished),
        payments_by_token: p.paid_by_token.into_iter().collect(),
        payments_by_period: [("24h", p.created_24h), ("7d", p.created_7d), ("30d", p.created_30d)].into_iter().collect(),
        average_processing_time: mean_ms.map_or(json!(0), |ms| decimal_number(ms / 100, 1)),
        failure_reasons: [("expired", p.expired), ("failed", p.failed), ("unmatched_transfers", p.unmatched_transfers)].into_iter().collect(),
        exceptions: [("paid_late", p.paid_late), ("paid_partial", p.paid_partial), ("paid_over", p.paid_over)].into_iter().collect(),
    }))
}

/// Watcher and validation figures.
#[utoipa::path(get, path = "/api/v1/stats/monitoring", tag = "checkout", security(("api_key" = [])),
    responses((status = 200, description = "The seed's shape: websocket_connections, blockchain_monitoring, validation_performance", body = Object),
        (status = 403, description = "`admin_required`", body = crate::error::ErrorBody),
        (status = 503, description = "`checkout_disabled`", body = crate::error::ErrorBody)))]
pub async fn monitoring(State(s): State<AppState>, _: Admin) -> Result<Json<Value>, ApiError> {
    let evm = s.evm()?;
    let endpoints: Vec<_> = evm.networks.values().flat_map(|n| n.client.endpoints()).collect();
    let healthy = endpoints.iter().filter(|e| e.healthy).count();
    let mut last_block = 0u64;
    let mut behind = 0u64;
    for id in evm.networks.keys() {
        let cursor = s.store.evm_cursor(id).await?.map_or(0, |c| c.0);
        last_block = last_block.max(cursor);
        behind = behind.max(evm.hub.head(id).unwrap_or(cursor).saturating_sub(cursor));
    }
    let (events, latency) = evm.stats.detection();
    let (checks, ok, ms) = evm.stats.validations();
    Ok(Json(json!({
        "websocket_connections": { "active": evm.hub.active(), "healthy": healthy, "degraded": endpoints.len() - healthy },
        "blockchain_monitoring": {
            "average_latency": latency.unwrap_or(0),
            "last_block_processed": last_block,
            "blocks_behind": behind,
            "events_detected": events,
        },
        "validation_performance": {
            "average_validation_time": if checks == 0 { json!(0) } else { json!(ms / u128::from(checks)) },
            "validation_success_rate": percent(u128::from(ok), u128::from(checks)),
            "validations": checks,
        },
    })))
}

/// Process and host figures.
#[utoipa::path(get, path = "/api/v1/stats/system", tag = "checkout", security(("api_key" = [])),
    responses((status = 200, description = "The seed's shape: uptime, cpu_usage, memory_usage, disk_usage, api_response_time, error_rate, database_health, blockchain_connection", body = Object),
        (status = 403, description = "`admin_required`", body = crate::error::ErrorBody),
        (status = 503, description = "`checkout_disabled`", body = crate::error::ErrorBody)))]
pub async fn system(State(s): State<AppState>, _: Admin) -> Result<Json<Value>, ApiError> {
    let evm = s.evm()?;
    let uptime = evm.stats.uptime_secs();
    let requests: u64 = s.metrics.requests.collect().iter().flat_map(|f| f.get_metric()).map(|m| m.get_counter().get_value() as u64).sum();
    let database = s.store.networks().await.is_ok();
    let connected = evm.networks.values().any(|n| n.client.endpoints().iter().any(|e| e.healthy));
    Ok(Json(json!({
        "uptime": uptime,
        "cpu_usage": crate::evm::host::cpu_percent(uptime),
        "memory_usage": crate::evm::host::memory_percent(),
        "disk_usage": crate::evm::host::disk_percent(),
        "api_response_time": s.metrics.request_micros.get().checked_div(requests).map_or(0, |us| us / 1_000),
        "error_rate": percent(u128::from(s.metrics.server_errors.get()), u128::from(requests)),
        "database_health": if database { "healthy" } else { "unhealthy" },
        "blockchain_connection": if connected { "connected" } else { "disconnected" },
    })))
}

fn ms_time(ms: Option<u64>) -> Option<String> {
    ms.and_then(|ms| i64::try_from(ms).ok()).and_then(|ms| Utc.timestamp_millis_opt(ms).single()).map(rfc3339)
}

/// Browser and chain connection figures.
#[utoipa::path(get, path = "/api/v1/stats/websocket", tag = "checkout", security(("api_key" = [])),
    responses((status = 200, description = "The seed's shape: frontend and blockchain (plus every network's endpoints)", body = Object),
        (status = 403, description = "`admin_required`", body = crate::error::ErrorBody),
        (status = 503, description = "`checkout_disabled`", body = crate::error::ErrorBody)))]
pub async fn websocket(State(s): State<AppState>, _: Admin) -> Result<Json<Value>, ApiError> {
    let evm = s.evm()?;
    let FrontendCounters { total_connections, connection_errors, reconnect_attempts, last_connection_time, last_disconnection_time } = evm.stats.frontend();
    let mut networks = Vec::new();
    let mut all = Vec::new();
    for (id, n) in &evm.networks {
        let endpoints = n.client.endpoints();
        networks.push(json!({ "network": id, "currentEndpoint": n.client.url(), "endpoints": endpoints.iter().map(|e| json!({
            "url": e.url, "isCurrent": e.is_current, "healthy": e.healthy, "requests": e.requests, "failures": e.failures,
            "switchesAway": e.switches_away, "lastError": e.last_error, "lastOk": ms_time(e.last_ok_ms), "lastFailure": ms_time(e.last_failure_ms),
        })).collect::<Vec<_>>() }));
        all.extend(endpoints);
    }
    let current = evm.networks.values().next().map(|n| n.client.url());
    Ok(Json(json!({
        "frontend": {
            "totalConnections": total_connections,
            "activeConnections": evm.hub.active(),
            "connectionErrors": connection_errors,
            "reconnectAttempts": reconnect_attempts,
            "lastConnectionTime": last_connection_time,
            "lastDisconnectionTime": last_disconnection_time,
        },
        "blockchain": {
            "isConnected": all.iter().any(|e| e.is_current && e.healthy),
            "currentEndpoint": current,
            "totalConnectionAttempts": all.iter().map(|e| e.requests).sum::<u64>(),
            "reconnectAttempts": all.iter().map(|e| e.switches_away).sum::<u64>(),
            "activeSubscriptions": evm.networks.len(),
            "lastConnectionTime": ms_time(all.iter().filter_map(|e| e.last_ok_ms).max()),
            "lastDisconnectionTime": ms_time(all.iter().filter_map(|e| e.last_failure_ms).max()),
            "networks": networks,
        },
    })))
}

/// How many log messages to return.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// 1-2000, default 50.
    limit: Option<usize>,
}

/// The message log.
#[derive(Debug, Serialize, ToSchema)]
pub struct Messages {
    messages: Vec<LogMessage>,
    count: usize,
}

/// Browser and chain messages, newest first.
#[utoipa::path(get, path = "/api/v1/stats/websocket/messages", tag = "checkout", params(MessagesQuery), security(("api_key" = [])),
    responses((status = 200, body = Messages), (status = 400, description = "`invalid_query`", body = crate::error::ErrorBody),
        (status = 403, description = "`admin_required`", body = crate::error::ErrorBody),
        (status = 422, description = "`invalid_limit`", body = crate::error::ErrorBody),
        (status = 503, description = "`checkout_disabled`", body = crate::error::ErrorBody)))]
pub async fn messages(State(s): State<AppState>, _: Admin, Query(q): Query<MessagesQuery>) -> Result<Json<Messages>, ApiError> {
    let evm = s.evm()?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=2_000).contains(&limit) {
        return Err(ApiError::unprocessable("invalid_limit", "limit must be 1-2000"));
    }
    let messages = evm.stats.messages(limit);
    Ok(Json(Messages { count: messages.len(), messages }))
}
