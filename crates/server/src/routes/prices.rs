//! The published price list: what every model costs now. A payer pins it
//! when it opens a channel and signs no increase beyond what it received
//! at these prices (docs/channels.md, "What each side risks").

use crate::auth::CurrentUser;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use tollway_core::pricing::{rule_at, DEFAULT_RULE};
use tollway_core::Asset;
use utoipa::ToSchema;

/// One model's price in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedPrice {
    /// The model (`*`: any model without a price of its own).
    model: String,
    /// The price's version.
    version: i64,
    /// Points per 1,000 prompt tokens (decimal).
    input_per_1k: String,
    /// Points per 1,000 output tokens (decimal).
    output_per_1k: String,
}

/// The price list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceList {
    /// The asset prices are in (`POINTS`; a CKB channel pays them in
    /// shannons at `GET /api/ckb`'s `shannons_per_point`).
    asset: String,
    /// Every priced model, by name.
    prices: Vec<PublishedPrice>,
}

/// `GET /api/prices`: every model's price in force now.
#[utoipa::path(get, path = "/api/prices", tag = "channels", security(("api_key" = [])),
    responses((status = 200, body = PriceList), (status = 401, body = crate::error::ErrorBody)))]
pub async fn price_list(State(s): State<AppState>, _: CurrentUser) -> Result<Json<PriceList>, ApiError> {
    let rules = s.price_rules().await?;
    let now = tollway_store::now_ms();
    let mut names: Vec<&str> = rules.iter().map(|r| r.model.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let prices = names
        .into_iter()
        .filter_map(|name| rule_at(&rules, name, now).ok().filter(|r| r.model == name || name == DEFAULT_RULE))
        .map(|r| PublishedPrice {
            model: r.model.clone(),
            version: r.version,
            input_per_1k: r.input_per_1k.format(Asset::POINTS),
            output_per_1k: r.output_per_1k.format(Asset::POINTS),
        })
        .collect();
    Ok(Json(PriceList { asset: Asset::POINTS.code.to_owned(), prices }))
}
