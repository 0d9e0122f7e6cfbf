//! The admin console's list of payment channels on the ledger rail: every
//! user's, newest first, with their sub-channels, what is owed and what
//! was claimed (the claims themselves run at `POST /api/admin/channels/claims`).

use super::channels::channel_json;
use super::extract::Query;
use crate::auth::Admin;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;

/// Filters of the channel list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChannelQuery {
    /// Only this user's channels.
    user: Option<i64>,
    /// At most this many, 1-500 (default 100).
    limit: Option<i64>,
}

/// Every user's channels, newest first (`{"channels": [...]}`, each as
/// `GET /api/channels/{id}` shows it, with its `user_id`).
#[utoipa::path(get, path = "/api/admin/channels", tag = "admin", params(ChannelQuery), security(("api_key" = [])),
    responses((status = 200, description = "{\"channels\": [...]}, newest first"),
        (status = 400, description = "`invalid_query`: limit outside 1-500", body = crate::error::ErrorBody)))]
pub async fn list_channels(State(s): State<AppState>, _: Admin, Query(q): Query<ChannelQuery>) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("invalid_query", "limit must be 1-500"));
    }
    let channels = s.store.channels_newest(q.user, limit).await?;
    let channels: Vec<Value> = channels
        .iter()
        .map(|c| {
            let mut v = channel_json(c);
            v["user_id"] = json!(c.user_id);
            v
        })
        .collect();
    Ok(Json(json!({"channels": channels})))
}
