//! The router and the OpenAPI document, from one list of routes.
//!
//! Every endpoint is declared once, in [`api`], as `.routes(routes!(module::handler))`:
//! the handler's `#[utoipa::path(...)]` annotation gives both its place in
//! the router (method and path) and its operation in `/openapi.json`, so the
//! two cannot drift apart. Handlers sharing a path (different methods) go in
//! one `routes!`. A new route file: write the handlers with their
//! annotations, add `pub mod file;` below and one `.routes(...)` line per
//! path in [`api`] (and its tag to `openapi.rs` if it is a new one).

pub mod admin;
pub mod admin_channels;
pub mod channels;
pub mod ckb;
pub mod hub;
pub mod dify;
pub mod dify_admin;
pub mod dify_charge;
pub mod extract;
pub mod keys;
pub mod me;
pub mod payments;
pub mod payments_admin;
pub mod payments_process;
pub mod payments_stats;
pub mod payments_ws;
pub mod points;
pub mod prices;
pub mod signature;
pub mod system;
pub mod usage_report;
pub mod wallet_login;

use crate::{gateway, ApiError, AppState};
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every route with its documentation (no state, layers or fallback yet).
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::base())
        .routes(routes!(system::health))
        .routes(routes!(system::metrics))
        .routes(routes!(system::openapi))
        .routes(routes!(system::docs))
        .routes(routes!(gateway::models))
        .routes(routes!(gateway::chat_completions))
        .routes(routes!(channels::open, channels::list))
        .routes(routes!(channels::show))
        .routes(routes!(channels::add_key))
        .routes(routes!(channels::sub_channel))
        .routes(routes!(channels::receipt))
        .routes(routes!(channels::close))
        .routes(routes!(channels::claim))
        .routes(routes!(admin_channels::list_channels))
        .routes(routes!(prices::price_list))
        .routes(routes!(wallet_login::challenge))
        .routes(routes!(wallet_login::wallet))
        .routes(routes!(ckb::info))
        .routes(routes!(ckb::offer, ckb::list))
        .routes(routes!(ckb::show))
        .routes(routes!(ckb::funding))
        .routes(routes!(ckb::confirm))
        .routes(routes!(ckb::settle))
        .routes(routes!(ckb::refund))
        .routes(routes!(ckb::tasks))
        .routes(routes!(hub::info))
        .routes(routes!(hub::prepare))
        .routes(routes!(hub::transfer))
        .routes(routes!(hub::all))
        .routes(routes!(hub::show))
        .routes(routes!(hub::by_sender))
        .routes(routes!(hub::by_receiver))
        .routes(routes!(hub::balance))
        .routes(routes!(hub::pool))
        .routes(routes!(hub::payouts))
        .routes(routes!(dify::webhook))
        .routes(routes!(dify_admin::get_sources, dify_admin::put_sources))
        .routes(routes!(dify_admin::list))
        .routes(routes!(dify_admin::resolve))
        .routes(routes!(dify_admin::dismiss))
        .routes(routes!(me::me))
        .routes(routes!(points::balance))
        .routes(routes!(points::estimate))
        .routes(routes!(points::check_balance))
        .routes(routes!(points::history))
        .routes(routes!(admin::create_user, admin::list_users))
        .routes(routes!(admin::patch_user))
        .routes(routes!(admin::create_key))
        .routes(routes!(keys::get_key))
        .routes(routes!(keys::set_limits))
        .routes(routes!(keys::admin_requests))
        .routes(routes!(keys::user_requests))
        .routes(routes!(admin::create_app))
        .routes(routes!(admin::grant))
        .routes(routes!(admin::adjust))
        .routes(routes!(admin::list_models))
        .routes(routes!(admin::set_model, admin::delete_model))
        .routes(routes!(admin::model_history))
        .routes(routes!(admin::recent))
        .routes(routes!(admin::hourly))
        .routes(routes!(admin::usage_unknown))
        .routes(routes!(admin::arrears))
        .routes(routes!(admin::audit))
        .routes(routes!(payments::networks))
        .routes(routes!(payments::tokens))
        .routes(routes!(payments::products))
        .routes(routes!(payments::create_payment))
        .routes(routes!(payments::get_payment))
        .routes(routes!(payments_process::process_payment))
        .routes(routes!(payments_ws::payment_socket))
        .routes(routes!(payments_stats::payment_stats))
        .routes(routes!(payments_stats::monitoring))
        .routes(routes!(payments_stats::system))
        .routes(routes!(payments_stats::websocket))
        .routes(routes!(payments_stats::messages))
        .routes(routes!(payments_admin::list_payments))
        .routes(routes!(payments_admin::unmatched))
        .routes(routes!(payments_admin::deliveries))
        .routes(routes!(payments_admin::redeliver))
}

/// Every route, with the body limit, request metrics and tracing.
pub fn router(state: AppState) -> Router {
    let (router, spec) = api().split_for_parts();
    let document = system::Document(std::sync::Arc::new(crate::openapi::finish(spec)));
    router
        .fallback(system::app_or_not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), limit_body))
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(axum::Extension(document))
        .with_state(state)
}

async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state.metrics.requests.with_label_values(&[&route, response.status().as_str()]).inc();
    state.metrics.request_micros.inc_by(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    if response.status().is_server_error() {
        state.metrics.server_errors.inc();
    }
    response
}

/// `max_body_bytes` for every route: a larger body (declared or sent) is
/// 413 `body_too_large` before any handler runs.
async fn limit_body(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.config.max_body_bytes;
    let too_large = || {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("body exceeds {limit} bytes")).into_response()
    };
    let declared = request.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(e) if is_length_limit(&e) => return too_large(),
        Err(e) => return ApiError::bad_request("malformed_body", format!("cannot read the body: {e}")).into_response(),
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// Whether reading a body failed on the length limit (not on the connection).
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}
