//! The router.

pub mod admin;
pub mod channels;
pub mod ckb;
pub mod dify;
pub mod dify_admin;
pub mod keys;
pub mod points;
pub mod signature;
pub mod system;
pub mod usage_report;

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, patch, post, put};
use axum::Router;

/// Every route, with request metrics and tracing.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(system::health))
        .route("/metrics", get(system::metrics))
        .route("/openapi.json", get(system::openapi))
        .route("/docs", get(system::docs))
        .route("/v1/models", get(crate::gateway::models))
        .route("/v1/chat/completions", post(crate::gateway::chat_completions))
        .route("/api/channels", post(channels::open).get(channels::list))
        .route("/api/channels/{id}", get(channels::show))
        .route("/api/channels/{id}/keys", post(channels::add_key))
        .route("/api/channels/{id}/subs/{sub}", get(channels::sub_channel))
        .route("/api/channels/{id}/receipts", post(channels::receipt))
        .route("/api/channels/{id}/close", post(channels::close))
        .route("/api/admin/channels/claims", post(channels::claim))
        .route("/api/ckb", get(ckb::info))
        .route("/api/ckb/channels", post(ckb::offer).get(ckb::list))
        .route("/api/ckb/channels/{id}", get(ckb::show))
        .route("/api/ckb/channels/{id}/funding", post(ckb::funding))
        .route("/api/ckb/channels/{id}/confirm", post(ckb::confirm))
        .route("/api/ckb/channels/{id}/settle", post(ckb::settle))
        .route("/api/ckb/channels/{id}/refund", get(ckb::refund))
        .route("/api/admin/ckb/tasks", get(ckb::tasks))
        .route("/api/dify/webhook", post(dify::webhook))
        .merge(dify_admin::routes())
        .route("/api/user/points/balance", get(points::balance))
        .route("/api/user/points/estimate", get(points::estimate))
        .route("/api/user/points/check-balance", post(points::check_balance))
        .route("/api/user/points/history", get(points::history))
        .route("/api/admin/users", post(admin::create_user).get(admin::list_users))
        .route("/api/admin/users/{id}", patch(admin::patch_user))
        .route("/api/admin/users/{id}/keys", post(admin::create_key))
        .route("/api/admin/keys/{id}", get(keys::get_key))
        .route("/api/admin/keys/{id}/limits", put(keys::set_limits))
        .route("/api/admin/requests", get(keys::admin_requests))
        .route("/api/user/requests", get(keys::user_requests))
        .route("/api/admin/apps", post(admin::create_app))
        .route("/api/admin/points/grant", post(admin::grant))
        .route("/api/admin/points/adjust", post(admin::adjust))
        .route("/api/admin/models", get(admin::list_models))
        .route("/api/admin/models/{model}", put(admin::set_model).delete(admin::delete_model))
        .route("/api/admin/models/{model}/history", get(admin::model_history))
        .route("/api/admin/consumption/recent", get(admin::recent))
        .route("/api/admin/consumption/hourly", get(admin::hourly))
        .route("/api/admin/usage-unknown", get(admin::usage_unknown))
        .route("/api/admin/arrears", get(admin::arrears))
        .route("/api/admin/ledger/audit", get(admin::audit))
        .fallback(system::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    state.metrics.requests.with_label_values(&[&route, response.status().as_str()]).inc();
    response
}
