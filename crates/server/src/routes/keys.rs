//! API key limits (requests and tokens per minute, spending cap) and the
//! per-request usage log of the gateway.

use crate::auth::{Admin, CurrentUser};
use crate::spend_cap::{self, KeyView};
use crate::{ops, ApiError, AppState};
use super::extract::{Path, Query};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use tollway_store::directory::ApiKey;
use tollway_store::requests::{RequestFilter, StoredRequest};
use utoipa::{IntoParams, ToSchema};

/// A key's limits; an absent field means no limit of that kind.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyLimits {
    /// Requests per minute (at least 1).
    rpm_limit: Option<u32>,
    /// Prompt and completion tokens per minute (at least 1).
    tpm_limit: Option<u64>,
    /// Most points charged through the key while capped (decimal string).
    spend_cap: Option<String>,
}

async fn key(state: &AppState, id: i64) -> Result<ApiKey, ApiError> {
    state.store.api_key(id).await?.ok_or_else(|| ApiError::not_found("unknown_key", format!("no API key {id}")))
}

/// A key with its limits and, when capped, what it spent.
#[utoipa::path(get, path = "/api/admin/keys/{id}", tag = "admin", security(("api_key" = [])),
    params(("id" = i64, Path, description = "Key id")),
    responses((status = 200, body = KeyView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_key(State(s): State<AppState>, _: Admin, Path(id): Path<i64>) -> Result<Json<KeyView>, ApiError> {
    let k = key(&s, id).await?;
    Ok(Json(spend_cap::view(&s, k).await?))
}

/// Sets all of a key's limits at once. Lowering a spending cap below what
/// the key has spent and holds is refused (409 `spend_cap_below_spent`).
#[utoipa::path(put, path = "/api/admin/keys/{id}/limits", tag = "admin", request_body = KeyLimits, security(("api_key" = [])),
    params(("id" = i64, Path, description = "Key id")),
    responses((status = 200, body = KeyView), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn set_limits(
    State(s): State<AppState>,
    _: Admin,
    Path(id): Path<i64>,
    b: Result<Json<KeyLimits>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<KeyView>, ApiError> {
    let Json(limits) = b.map_err(|e| ApiError::bad_request("malformed_json", e.body_text()))?;
    if limits.rpm_limit == Some(0) || limits.tpm_limit == Some(0) {
        return Err(ApiError::unprocessable("invalid_field", "limits must be at least 1 (omit a field for no limit)"));
    }
    if limits.tpm_limit.is_some_and(|t| i64::try_from(t).is_err()) {
        return Err(ApiError::unprocessable("invalid_field", "tpm_limit is too large"));
    }
    let cap = limits.spend_cap.as_deref().map(|c| ops::parse_points(c, "spend_cap")).transpose()?;
    let k = key(&s, id).await?;
    if cap.is_some() || k.spend_cap.is_some() {
        spend_cap::set(&s, &k, cap).await?;
    }
    let k = s.store.set_key_limits(id, limits.rpm_limit, limits.tpm_limit, cap).await?;
    Ok(Json(spend_cap::view(&s, k).await?))
}

/// Paging and filters of the request log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestQuery {
    /// Only this user's requests (admin only).
    user: Option<i64>,
    /// Only requests made with this key.
    key: Option<i64>,
    /// Requests before this cursor (`seq`).
    cursor: Option<i64>,
    /// Page size, 1-500 (default 100).
    limit: Option<i64>,
}

fn page_size(q: &RequestQuery) -> Result<i64, ApiError> {
    match q.limit.unwrap_or(100) {
        l @ 1..=500 => Ok(l),
        _ => Err(ApiError::bad_request("invalid_query", "limit must be 1-500")),
    }
}

/// Gateway requests, newest first: tokens, cost, usage source, upstream,
/// duration and how each ended.
#[utoipa::path(get, path = "/api/admin/requests", tag = "admin", params(RequestQuery), security(("api_key" = [])),
    responses((status = 200, body = [serde_json::Value])))]
pub async fn admin_requests(State(s): State<AppState>, _: Admin, Query(q): Query<RequestQuery>) -> Result<Json<Vec<StoredRequest>>, ApiError> {
    let filter = RequestFilter { user_id: q.user, key_id: q.key };
    Ok(Json(s.store.requests(&filter, q.cursor, page_size(&q)?).await?))
}

/// The caller's own gateway requests, newest first.
#[utoipa::path(get, path = "/api/user/requests", tag = "user", params(RequestQuery), security(("api_key" = [])),
    responses((status = 200, body = [serde_json::Value]), (status = 400, body = crate::error::ErrorBody)))]
pub async fn user_requests(State(s): State<AppState>, CurrentUser(user): CurrentUser, Query(q): Query<RequestQuery>) -> Result<Json<Vec<StoredRequest>>, ApiError> {
    if q.user.is_some_and(|u| u != user.id) {
        return Err(ApiError::bad_request("invalid_query", "user is for administrators"));
    }
    let filter = RequestFilter { user_id: Some(user.id), key_id: q.key };
    Ok(Json(s.store.requests(&filter, q.cursor, page_size(&q)?).await?))
}
