//! Who the caller is: what the browser app shows after a login with a
//! wallet or an API key, and whether it offers the admin console.

use crate::auth::CurrentUser;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// The caller's user.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// Numeric user id.
    user_id: i64,
    /// Handle (`w-{key id}` for a wallet's user).
    handle: String,
    /// Whether the admin console's endpoints answer this user.
    is_admin: bool,
    /// The wallet key id linked to the user (`0x` hex), if one is.
    wallet: Option<String>,
}

/// The caller's user.
#[utoipa::path(get, path = "/api/user/me", tag = "points", security(("api_key" = [])),
    responses((status = 200, body = Me), (status = 401, body = crate::error::ErrorBody)))]
pub async fn me(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Result<Json<Me>, ApiError> {
    let wallet = state.store.wallet_of_user(user.id).await?;
    Ok(Json(Me { user_id: user.id, is_admin: user.role == "admin", handle: user.handle, wallet }))
}
