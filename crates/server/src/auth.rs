//! Bearer API key authentication for users and administrators.

use crate::{ApiError, AppState};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tollway_store::directory::{ApiKey, User};

/// The enabled user whose API key authenticated the request.
pub struct CurrentUser(pub User);

/// The enabled user and the API key (with its limits) that authenticated
/// the request.
pub struct Caller {
    /// The user.
    pub user: User,
    /// The key.
    pub key: ApiKey,
}

/// An authenticated administrator.
pub struct Admin(pub User);

/// The bearer token of a request, if any.
pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    parts.headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let secret = bearer(parts)
            .ok_or_else(|| ApiError::unauthorized("api_key_missing", "send Authorization: Bearer <api key>"))?;
        let (user, key) = state
            .store
            .key_by_secret(secret)
            .await?
            .ok_or_else(|| ApiError::unauthorized("api_key_invalid", "unknown or revoked API key"))?;
        if key.expires_at.is_some_and(|at| tollway_store::now_ms() >= at) {
            return Err(ApiError::unauthorized("session_expired", "this session expired; log in again"));
        }
        if !user.enabled {
            return Err(ApiError::forbidden("user_disabled", "this user is disabled"));
        }
        Ok(Caller { user, key })
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Caller::from_request_parts(parts, state).await.map(|c| CurrentUser(c.user))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let CurrentUser(user) = CurrentUser::from_request_parts(parts, state).await?;
        if !user.is_admin() {
            return Err(ApiError::forbidden("admin_required", "this endpoint needs an admin key"));
        }
        Ok(Admin(user))
    }
}
