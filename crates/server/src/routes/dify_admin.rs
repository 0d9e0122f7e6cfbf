//! The admin side of the Dify integration: where each app's reports name
//! the user and the model, and the usage kept `unattributed` (its user
//! unknown or disabled), which an admin resolves to a user (charged once,
//! through the normal charge path) or dismisses with a reason.

use super::dify_charge::{attribute, event_at, not_unattributed};
use super::usage_report::AppSources;
use crate::auth::Admin;
use super::extract::{body, JsonBody, Path, Query};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollway_core::usage_report::Source;
use tollway_store::attribution::{StoredSources, DISMISSED, RESOLVING};
use tollway_store::usage::{UsageEvent, UNATTRIBUTED};
use utoipa::{IntoParams, ToSchema};

/// One place: exactly one of `field` (a dotted path into the body),
/// `header` (users only) or `fixed` (models only).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// A dotted path into the body (1-8 names of `[A-Za-z0-9_-]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    /// A request header name (users only; signed with the body).
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<String>,
    /// One model name for every report (models only).
    #[serde(skip_serializing_if = "Option::is_none")]
    fixed: Option<String>,
}

/// Where an app's reports name the user and the model; `null` for the
/// built-in places.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourcesBody {
    /// `{"field": "from_end_user_id"}` or `{"header": "X-Dify-User"}`.
    #[serde(default)]
    user: Option<SourceSpec>,
    /// `{"fixed": "gpt-4"}` or `{"field": "model"}`.
    #[serde(default)]
    model: Option<SourceSpec>,
}

fn spec(source: &Source) -> Option<SourceSpec> {
    let (kind, value) = source.parts()?;
    let value = Some(value.to_owned());
    Some(match kind {
        "field" => SourceSpec { field: value, ..SourceSpec::default() },
        "header" => SourceSpec { header: value, ..SourceSpec::default() },
        _ => SourceSpec { fixed: value, ..SourceSpec::default() },
    })
}

fn source(spec: Option<SourceSpec>, build: fn(&str, &str) -> Result<Source, tollway_core::usage_report::SourceError>, what: &str) -> Result<Source, ApiError> {
    let invalid = |why: String| ApiError::unprocessable("invalid_field", why).with_field(what);
    let Some(spec) = spec else { return Ok(Source::Default) };
    match (spec.field, spec.header, spec.fixed) {
        (Some(v), None, None) => build("field", &v),
        (None, Some(v), None) => build("header", &v),
        (None, None, Some(v)) => build("fixed", &v),
        _ => return Err(invalid(format!("{what} must name exactly one place"))),
    }
    .map_err(|e| invalid(e.to_string()))
}

fn view(s: &AppSources) -> SourcesBody {
    SourcesBody { user: spec(&s.user), model: spec(&s.model) }
}

/// Where an app's reports name the user and the model.
#[utoipa::path(get, path = "/api/admin/apps/{id}/sources", tag = "admin", security(("api_key" = [])),
    params(("id" = i64, Path, description = "App id")),
    responses((status = 200, body = SourcesBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_sources(State(s): State<AppState>, _: Admin, Path(id): Path<i64>) -> Result<Json<SourcesBody>, ApiError> {
    if s.store.app_sources(id).await?.is_none() {
        return Err(ApiError::not_found("unknown_app", format!("no app {id}")));
    }
    Ok(Json(view(&AppSources::of(&s, id).await?)))
}

/// Sets where an app's reports name the user and the model (both at once).
#[utoipa::path(put, path = "/api/admin/apps/{id}/sources", tag = "admin", request_body = SourcesBody, security(("api_key" = [])),
    params(("id" = i64, Path, description = "App id")),
    responses((status = 200, body = SourcesBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn put_sources(State(s): State<AppState>, _: Admin, Path(id): Path<i64>, b: JsonBody<SourcesBody>) -> Result<Json<SourcesBody>, ApiError> {
    let req = body(b)?;
    let sources = AppSources { user: source(req.user, Source::user, "user")?, model: source(req.model, Source::model, "model")? };
    let stored = StoredSources { user: sources.user.encode(), model: sources.model.encode() };
    s.store.set_app_sources(id, &stored).await.map_err(|e| match e {
        tollway_store::StoreError::NotFound(_) => ApiError::not_found("unknown_app", format!("no app {id}")),
        other => other.into(),
    })?;
    Ok(Json(view(&sources)))
}

/// Which events to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `unattributed` (default), `resolving` or `dismissed`.
    status: Option<String>,
    /// Events before this position (`seq`).
    cursor: Option<i64>,
    /// Page size, 1-500 (default 100).
    limit: Option<i64>,
}

/// Usage kept unattributed (or being resolved, or dismissed), newest first.
#[utoipa::path(get, path = "/api/admin/unattributed", tag = "admin", params(ListQuery), security(("api_key" = [])),
    responses((status = 200, body = [serde_json::Value]), (status = 400, body = crate::error::ErrorBody)))]
pub async fn list(State(s): State<AppState>, _: Admin, Query(q): Query<ListQuery>) -> Result<Json<Vec<UsageEvent>>, ApiError> {
    let status = q.status.as_deref().unwrap_or(UNATTRIBUTED);
    if ![UNATTRIBUTED, RESOLVING, DISMISSED].contains(&status) {
        return Err(ApiError::bad_request("invalid_query", "status must be unattributed, resolving or dismissed"));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("invalid_query", "limit must be 1-500"));
    }
    Ok(Json(s.store.usage_events(Some(status), q.cursor, limit).await?))
}

/// The user to charge.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    /// User handle.
    user: String,
    /// Why (kept with the event).
    #[serde(default)]
    note: String,
}

/// Attributes unattributed usage to a user and charges it once, at the
/// price recorded when it was reported (settling its reservation if that
/// user's is still open). A disabled user may be named: the admin decides.
#[utoipa::path(post, path = "/api/admin/unattributed/{seq}/resolve", tag = "admin", request_body = Resolution, security(("api_key" = [])),
    params(("seq" = i64, Path, description = "The event's position (`seq`)")),
    responses((status = 200, body = serde_json::Value), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody, description = "not_unattributed, usage_dismissed, idempotency_conflict (another user)")))]
pub async fn resolve(State(s): State<AppState>, Admin(admin): Admin, Path(seq): Path<i64>, b: JsonBody<Resolution>) -> Result<Json<UsageEvent>, ApiError> {
    let req = body(b)?;
    if req.note.len() > 500 {
        return Err(ApiError::unprocessable("invalid_field", "note must be at most 500 characters").with_field("note"));
    }
    let event = event_at(&s, seq).await?;
    let user = s
        .store
        .user_by_handle(&req.user)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_user", format!("no user with handle {:?}", req.user)))?;
    Ok(Json(attribute(&s, event, user.id, Some(admin.id), &req.note).await?))
}

/// Why usage is dismissed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dismissal {
    /// Required, 1-500 characters; kept with the event.
    reason: String,
}

/// Dismisses unattributed usage (nothing is charged, the event is kept
/// with the reason). Dismissing again with the same reason answers the
/// same event.
#[utoipa::path(post, path = "/api/admin/unattributed/{seq}/dismiss", tag = "admin", request_body = Dismissal, security(("api_key" = [])),
    params(("seq" = i64, Path, description = "The event's position (`seq`)")),
    responses((status = 200, body = serde_json::Value), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody, description = "not_unattributed, idempotency_conflict (another reason)"),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn dismiss(State(s): State<AppState>, Admin(admin): Admin, Path(seq): Path<i64>, b: JsonBody<Dismissal>) -> Result<Json<UsageEvent>, ApiError> {
    let req = body(b)?;
    if req.reason.trim().is_empty() || req.reason.len() > 500 {
        return Err(ApiError::unprocessable("invalid_field", "reason must be 1-500 characters").with_field("reason"));
    }
    let event = event_at(&s, seq).await?;
    if event.status == UNATTRIBUTED {
        if let Some(done) = s.store.dismiss_usage(seq, admin.id, &req.reason, tollway_store::now_ms()).await? {
            return Ok(Json(done));
        }
    }
    let event = event_at(&s, seq).await?;
    match event.status.as_str() {
        DISMISSED if event.resolution.as_deref() == Some(req.reason.as_str()) => Ok(Json(event)),
        DISMISSED => Err(ApiError::conflict("idempotency_conflict", "this event was dismissed with another reason").with_field("reason")),
        _ => Err(not_unattributed(&event)),
    }
}
