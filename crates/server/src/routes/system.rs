//! Health, metrics, the OpenAPI document and the API browser.

use crate::metrics::MetricsReader;
use crate::{ApiError, AppState};
use axum::Extension;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// Liveness and database reachability.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    status: String,
    /// `sqlite` or `postgres`.
    database: String,
}

/// Reports health after a database round trip.
#[utoipa::path(get, path = "/health", tag = "system", responses((status = 200, body = Health), (status = 503, body = crate::error::ErrorBody)))]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    sqlx_ping(&state).await?;
    let database = match state.store.dialect() {
        tollway_store::Dialect::Sqlite => "sqlite",
        tollway_store::Dialect::Postgres => "postgres",
    };
    Ok(Json(Health { status: "ok".into(), database: database.into() }))
}

async fn sqlx_ping(state: &AppState) -> Result<(), ApiError> {
    state.store.ping().await.map_err(|e| {
        ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", e.to_string())
    })
}

/// Prometheus metrics, for an admin key or the configured `metrics_token`
/// (both sent as `Authorization: Bearer …`).
#[utoipa::path(get, path = "/metrics", tag = "system", security(("api_key" = [])),
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
              (status = 401, description = "No token, or an unknown one", body = crate::error::ErrorBody),
              (status = 403, description = "A user key that is not an admin's", body = crate::error::ErrorBody)))]
pub async fn metrics(State(state): State<AppState>, _: MetricsReader) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// The OpenAPI 3.1 document (this document).
#[utoipa::path(get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object, content_type = "application/json")))]
pub async fn openapi(Extension(Document(document)): Extension<Document>) -> impl IntoResponse {
    Json(document)
}

/// The OpenAPI document served at `/openapi.json`, built once with the router.
#[derive(Clone)]
pub struct Document(pub std::sync::Arc<serde_json::Value>);

/// The API browser (a self-contained page; no network needed).
#[utoipa::path(get, path = "/docs", tag = "system",
    responses((status = 200, description = "The API browser page", body = String, content_type = "text/html")))]
pub async fn docs() -> Html<&'static str> {
    Html(include_str!("../../../../web/api.html"))
}

/// Unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::not_found("route_not_found", "no such endpoint; see /docs")
}

/// Paths no route takes: the browser app's files (`web_dir`, its
/// `index.html` for the app's own paths) for a `GET` outside `/api/` and
/// `/v1/`; `route_not_found` otherwise, or when the app is not built.
pub async fn app_or_not_found(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let path = request.uri().path();
    let api = path.starts_with("/api/") || path.starts_with("/v1/") || path == "/api" || path == "/v1";
    let dir = std::path::Path::new(&state.config.web_dir);
    if api || request.method() != axum::http::Method::GET || !dir.join("index.html").is_file() {
        return not_found().await.into_response();
    }
    let files = tower_http::services::ServeDir::new(dir).fallback(tower_http::services::ServeFile::new(dir.join("index.html")));
    match tower::ServiceExt::oneshot(files, request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

/// A known path with another method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not take that method; see /docs")
}
