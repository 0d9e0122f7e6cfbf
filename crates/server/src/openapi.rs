//! The OpenAPI 3.1 document: this header (info, tags, security scheme)
//! plus every route declared in `routes::api`, each with its handler's
//! annotation.

pub mod gateway;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Tollway", description = "Self-hosted payment gateway for pay-per-use AI. Amounts are decimal strings of exact integers in the asset's unit (points are whole). Errors are {\"error\":{\"code\",\"message\"}} with stable codes (docs/api.md)."),
    modifiers(&BearerAuth),
    tags(
        (name = "gateway", description = "OpenAI-compatible chat, billed per chunk"),
        (name = "dify", description = "Usage ingestion from Dify"),
        (name = "points", description = "A user's points: balance, estimates, reservations, history"),
        (name = "channels", description = "Payment channels: signed receipts (SubRAV), per-chunk paid streams"),
        (name = "ckb", description = "Spilman channels on CKB: offer, funding, settle, refund; receipts carry their commitment"),
        (name = "hub", description = "CKB hub (seed 002): payments below 61 CKB through 2-in-2-out transactions, splits, payouts (docs/hub.md)"),
        (name = "user", description = "A user's own gateway requests"),
        (name = "admin", description = "Operator endpoints (admin API key)"),
        (name = "checkout", description = "Stablecoin checkout on BNB Smart Chain: payment sessions, live status, stats"),
        (name = "system", description = "Health, metrics and this document"),
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

/// The document's header, before any route is added.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The whole document as served, from the routes' own (`routes::api`):
/// unique operation ids and the answers every route shares.
pub fn finish(routes: utoipa::openapi::OpenApi) -> Value {
    let mut document = serde_json::to_value(routes).unwrap_or_default();
    let mut ids = BTreeMap::<String, usize>::new();
    for_each_operation(&mut document, |op| *ids.entry(operation_id(op)).or_default() += 1);
    for_each_operation(&mut document, |op| {
        // Operation ids are the handlers' names; where two modules use
        // the same name (`channels::list`, `ckb::list`), each becomes
        // `{tag}_{name}`.
        let id = operation_id(op);
        if ids.get(&id).is_some_and(|n| *n > 1) {
            op["operationId"] = Value::String(format!("{}_{id}", op["tags"][0].as_str().unwrap_or("")));
        }
        common_responses(op);
    });
    document
}

fn operation_id(op: &Value) -> String {
    op["operationId"].as_str().unwrap_or("").to_owned()
}

/// Calls `f` with every operation of every path.
fn for_each_operation(document: &mut Value, mut f: impl FnMut(&mut Value)) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in item.values_mut().filter(|op| op.get("responses").is_some()) {
            f(op);
        }
    }
}

/// The answers that come from the layers every route shares rather than
/// from its handler, added where the handler's annotation has none:
/// 413 from the body limit (every route); 400 from the path, query and
/// body extractors (routes that take any); 401 and 403 from the key
/// extractors (routes with a security requirement); 503 from the storage
/// (routes that look a key or a signature up).
fn common_responses(op: &mut Value) {
    let secured = op.get("security").is_some();
    let takes_input = op.get("parameters").is_some() || op.get("requestBody").is_some();
    let checks_credentials = secured || op["responses"].get("401").is_some();
    let common = [
        ("413", true, "`body_too_large`: the body exceeds `max_body_bytes`"),
        ("400", takes_input, "`invalid_path`, `invalid_query`, `malformed_json` or another refusal of the request's form"),
        ("401", secured, "`api_key_missing`, `api_key_invalid`"),
        ("403", secured, "`user_disabled`, or `admin_required` on admin routes"),
        ("503", checks_credentials, "`storage_busy` or `database_unavailable` (with `Retry-After`)"),
    ];
    for (status, applies, description) in common {
        if applies && op["responses"].get(status).is_none() {
            op["responses"][status] = json!({
                "description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            });
        }
    }
}
