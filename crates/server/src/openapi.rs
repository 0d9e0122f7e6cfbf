//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use crate::routes::{admin, channels, ckb, dify, keys, points, system};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Tollway", description = "Self-hosted payment gateway for pay-per-use AI. Amounts are decimal strings of exact integers in the asset's unit (points are whole). Errors are {\"error\":{\"code\",\"message\"}} with stable codes."),
    paths(
        system::health, system::metrics,
        dify::webhook,
        points::balance, points::estimate, points::check_balance, points::history,
        admin::create_user, admin::list_users, admin::patch_user, admin::create_key, admin::create_app,
        admin::grant, admin::adjust,
        admin::list_models, admin::set_model, admin::delete_model, admin::model_history,
        admin::recent, admin::hourly, admin::usage_unknown, admin::arrears, admin::audit,
        keys::get_key, keys::set_limits, keys::admin_requests, keys::user_requests,
        channels::open, channels::list, channels::show, channels::add_key, channels::sub_channel,
        channels::receipt, channels::close, channels::claim,
        ckb::info, ckb::offer, ckb::funding, ckb::confirm, ckb::list, ckb::show, ckb::settle, ckb::refund, ckb::tasks,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "dify", description = "Usage ingestion from Dify"),
        (name = "points", description = "A user's points: balance, estimates, reservations, history"),
        (name = "channels", description = "Payment channels: signed receipts (SubRAV), per-chunk paid streams"),
        (name = "ckb", description = "Spilman channels on CKB: offer, funding, settle, refund; receipts carry their commitment"),
        (name = "user", description = "A user's own gateway requests"),
        (name = "admin", description = "Operator endpoints (admin API key)"),
        (name = "system", description = "Health and metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
